"""amoCRM's export files, column by column.

amoCRM writes its exports with Russian column names (its help pages
"Экспорт сделок" and "Экспорт контактов или компаний"): the deals export
carries the main contact's and the company's columns with a suffix
(``Рабочий телефон (контакт)``), the contacts export is one file for
contacts and companies told apart by ``Тип`` (``контакт`` / ``компания``),
a column name may repeat (two ``Рабочий телефон`` columns, several
``Примечание``), and the budget's header names its currency
(``Бюджет, руб.``, ``Бюджет $``). This module turns such a header row into
the target field of every column; it reads no file.

Targets: ``name``, ``first_name``, ``last_name``, ``kind``, ``phone``,
``email``, ``position``, ``department``, ``company``, ``company_inn``,
``inn``, ``web``, ``address``, ``responsible``, ``created_at``,
``closed_at``, ``tags``, ``note``, ``pipeline``, ``stage``, ``budget_rub``,
``budget_usd``, ``loss_reason``, ``contact``, ``contact_phone``,
``contact_email``, ``contact_position``, ``external_id``, ``birthday``,
and ``custom.<key>`` for a custom field of ours with that label.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from tui_crm.domain.text import fold

# Targets that collect every non-empty cell (a repeated column adds to them).
LIST_TARGETS = frozenset({"phone", "email", "note", "tags", "contact_phone", "contact_email"})

_PHONE_WORDS = ("рабочий телефон", "мобильный телефон", "домашний телефон", "другой телефон", "рабочий прямой", "факс", "телефон")
_EMAIL_WORDS = ("рабочий email", "личный email", "другой email", "email", "e-mail", "почта")

# folded column name -> target (both exports); checked after the suffixes are split off
COMMON: dict[str, str] = {
    "id": "external_id",
    "ответственный": "responsible",
    "дата создания": "created_at",
    "дата создания сделки": "created_at",
    "дата создания контакта": "created_at",
    "дата создания компании": "created_at",
    "теги": "tags",
    "тег": "tags",
    "примечание": "note",
    "примечания": "note",
    "комментарий": "note",
    "компания": "company",
    "название компании": "company",
    "должность": "position",
    "отдел": "department",
    "web": "web",
    "сайт": "web",
    "адрес": "address",
    "инн": "inn",
    "день рождения": "birthday",
}
DEALS: dict[str, str] = {
    "название сделки": "name",
    "сделка": "name",
    "воронка": "pipeline",
    "этап сделки": "stage",
    "этап": "stage",
    "статус": "stage",
    "дата закрытия": "closed_at",
    "причина отказа": "loss_reason",
    "основной контакт": "contact",
    "контакт": "contact",
}
PARTIES: dict[str, str] = {
    "тип": "kind",
    "наименование": "name",
    "полное имя": "name",
    "имя контакта": "name",
    "название": "name",
    "имя": "first_name",
    "фамилия": "last_name",
}
# "(контакт)" / "(компания)" suffixes of the deals export
_SUFFIX = re.compile(r"^(?P<base>.*?)\s*\((?P<who>контакт|компания|contact|company)\)$")
_NUMBERED = re.compile(r"^(?P<base>.*?)\s*(?:№\s*)?\(?\d{1,2}\)?$")


@dataclass
class Layout:
    """What each column of a file holds."""

    kind: str | None  # "deals" | "contacts" | None (not an amoCRM file)
    targets: list[str | None]
    headers: list[str]
    ignored: list[str] = field(default_factory=list)

    @property
    def mapping(self) -> list[tuple[str, str | None]]:
        """(header, target) for a preview."""
        return list(zip(self.headers, self.targets, strict=True))


def _clean(header: str) -> str:
    return " ".join(fold(header.replace("\ufeff", "")).split())


def _channel_target(base: str) -> str | None:
    if any(base == w or base.startswith(w) for w in _PHONE_WORDS):
        return "phone"
    if any(base == w or base.startswith(w) for w in _EMAIL_WORDS):
        return "email"
    return None


def budget_target(base: str) -> str | None:
    """``Бюджет`` with its currency in the header: RUB unless it says dollars."""
    if not (base.startswith("бюджет") or base.startswith("budget") or base.startswith("сумма")):
        return None
    rest = base.split(" ", 1)[1] if " " in base else base[6:]
    if any(m in rest for m in ("$", "usd", "долл", "dollar")):
        return "budget_usd"
    if any(m in rest for m in ("€", "eur", "евро")):
        return None  # we keep RUB and USD only; reported as an ignored column
    return "budget_rub"


def target_of(header: str, kind: str | None, custom: Mapping[str, str]) -> str | None:
    """The target of one column in a file of ``kind`` ("deals"/"contacts")."""
    name = _clean(header)
    if not name:
        return None
    suffix = _SUFFIX.match(name)
    who = suffix.group("who") if suffix else None
    base = suffix.group("base") if suffix else name
    for candidate in (base, (_NUMBERED.match(base) or re.match(r"(?P<base>.*)", base)).group("base")):
        found = _plain_target(candidate, kind, custom, who)
        if found:
            return found
    return None


def _plain_target(base: str, kind: str | None, custom: Mapping[str, str], who: str | None) -> str | None:
    channel = _channel_target(base)
    if who in ("контакт", "contact"):
        if channel:
            return f"contact_{channel}"
        if base == "должность":
            return "contact_position"
        if base in ("полное имя", "имя", "наименование", "основной контакт"):
            return "contact"
        return None
    if who in ("компания", "company"):
        if base == "инн":
            return "company_inn"
        if base in ("наименование", "название", "компания"):
            return "company"
        return None
    if channel:
        return channel
    if kind == "deals":
        budget = budget_target(base)
        if budget:
            return budget
        if base in DEALS:
            return DEALS[base]
    else:
        if base in PARTIES:
            return PARTIES[base]
    if base in COMMON:
        return COMMON[base]
    if base in custom:
        return f"custom.{custom[base]}"
    return None


def detect_kind(headers: list[str]) -> str | None:
    names = {_clean(h) for h in headers}
    if names & {"название сделки", "сделка", "этап сделки", "воронка"}:
        return "deals"
    if names & {"тип", "наименование", "полное имя", "имя", "имя контакта", "фамилия"}:
        return "contacts"
    return None


def read_layout(headers: list[str], custom_labels: Mapping[str, Mapping[str, str]], kind: str | None = None) -> Layout:
    """The layout of an amoCRM header row.

    ``custom_labels`` maps "deal"/"contact"/"company" to {label: key} of our
    custom fields, so a column named like one of them fills it.
    """
    kind = kind or detect_kind(headers)
    entity = "deal" if kind == "deals" else "contact"
    custom = {_clean(label): key for label, key in custom_labels.get(entity, {}).items()}
    if kind == "contacts":
        custom.update({_clean(label): key for label, key in custom_labels.get("company", {}).items()})
    targets = [target_of(h, kind, custom) for h in headers]
    ignored = [h for h, t in zip(headers, targets, strict=True) if t is None and h.strip()]
    return Layout(kind=kind, targets=targets, headers=list(headers), ignored=ignored)


def mapped_layout(headers: list[str], columns: Mapping[str, str], kind: str) -> Layout:
    """A layout from a saved profile: {column name as in the file: target}."""
    wanted = {_clean(k): v for k, v in columns.items()}
    targets = [wanted.get(_clean(h)) for h in headers]
    ignored = [h for h, t in zip(headers, targets, strict=True) if t is None and h.strip()]
    return Layout(kind=kind, targets=targets, headers=list(headers), ignored=ignored)


# -- writing the same layout (the exporter) ------------------------------------

DEAL_EXPORT_COLUMNS: tuple[tuple[str, str], ...] = (
    ("ID", "external_id"),
    ("Название сделки", "name"),
    ("Бюджет, руб.", "budget_rub"),
    ("Бюджет, $", "budget_usd"),
    ("Ответственный", "responsible"),
    ("Дата создания", "created_at"),
    ("Дата закрытия", "closed_at"),
    ("Теги", "tags"),
    ("Воронка", "pipeline"),
    ("Этап сделки", "stage"),
    ("Причина отказа", "loss_reason"),
    ("Компания", "company"),
    ("ИНН (компания)", "company_inn"),
    ("Основной контакт", "contact"),
    ("Рабочий телефон (контакт)", "contact_phone"),
    ("Рабочий email (контакт)", "contact_email"),
    ("Должность (контакт)", "contact_position"),
)
PARTY_EXPORT_COLUMNS: tuple[tuple[str, str], ...] = (
    ("ID", "external_id"),
    ("Тип", "kind"),
    ("Наименование", "name"),
    ("Компания", "company"),
    ("Ответственный", "responsible"),
    ("Дата создания", "created_at"),
    ("Теги", "tags"),
    ("Рабочий телефон", "phone"),
    ("Рабочий email", "email"),
    ("Должность", "position"),
    ("Отдел", "department"),
    ("Web", "web"),
    ("Адрес", "address"),
    ("ИНН", "inn"),
)
KIND_CONTACT = "контакт"
KIND_COMPANY = "компания"
