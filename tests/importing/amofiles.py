"""amoCRM-layout test files, written from Python data so the tests stay readable.

``write_csv(path, header, rows, encoding=..., delimiter=..., newline=...)``
writes a file the way amoCRM (or Excel re-saving it) does; ``cut`` drops
the last N bytes to make a cut-off last line.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

CONTACTS_HEADER = [
    "ID", "Тип", "Наименование", "Компания", "Ответственный", "Дата создания", "Теги",
    "Рабочий телефон", "Мобильный телефон", "Рабочий email", "Личный email", "Должность", "ИНН", "Web",
    "Примечание", "Примечание",
]  # fmt: skip
DEALS_HEADER = [
    "ID", "Название сделки", "Бюджет, руб.", "Бюджет $", "Ответственный", "Дата создания", "Дата закрытия", "Теги",
    "Воронка", "Этап сделки", "Компания", "Основной контакт", "Рабочий телефон (контакт)", "Рабочий email (контакт)",
    "Должность (контакт)", "Примечание", "Сегмент",
]  # fmt: skip
ENCODINGS = ("utf-8", "utf-8-sig", "cp1251")
DELIMITERS = (",", ";")
NEWLINES = ("\r\n", "\n")


def contact(name: str, *, kind: str = "контакт", company: str = "", phone: str = "", mobile: str = "", email: str = "",
            email2: str = "", position: str = "", inn: str = "", created: str = "", tags: str = "", note: str = "",
            note2: str = "", responsible: str = "", web: str = "", id_: str = "") -> list[str]:  # fmt: skip
    return [id_, kind, name, company, responsible, created, tags, phone, mobile, email, email2, position, inn, web, note, note2]


def deal(name: str, *, pipeline: str = "Продажи 2.0", stage: str = "Лид", budget: str = "", usd: str = "", responsible: str = "",
         created: str = "", closed: str = "", tags: str = "", company: str = "", contact: str = "", phone: str = "",
         email: str = "", position: str = "", note: str = "", segment: str = "", id_: str = "") -> list[str]:  # fmt: skip
    return [
        id_,
        name,
        budget,
        usd,
        responsible,
        created,
        closed,
        tags,
        pipeline,
        stage,
        company,
        contact,
        phone,
        email,
        position,
        note,
        segment,
    ]


def csv_text(header: list[str], rows: list[list[str]], delimiter: str = ";", newline: str = "\r\n") -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=delimiter, lineterminator=newline)
    writer.writerow(header)
    writer.writerows(rows)
    return buffer.getvalue()


def write_csv(path: Path, header: list[str], rows: list[list[str]], *, encoding: str = "utf-8-sig", delimiter: str = ";",
              newline: str = "\r\n", cut: int = 0) -> Path:  # fmt: skip
    data = csv_text(header, rows, delimiter, newline).encode(encoding)
    path.write_bytes(data[: len(data) - cut] if cut else data)
    return path
