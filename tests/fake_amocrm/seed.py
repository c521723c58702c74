"""Default contents of a fresh fake amoCRM account.

Three pipelines from the product design (each with the "Incoming leads"
status of type 1 and the system statuses 142 won / 143 lost), a small team of
users, custom field definitions with enums for select fields and the
predefined PHONE/EMAIL multitext fields, loss reasons and task types.
"""

from __future__ import annotations

from typing import Any

JSON = dict[str, Any]

ACCOUNT_ID = 31361463

USERS: list[tuple[str, str, bool]] = [
    ("Анна Админова", "admin@example.com", True),
    ("Иван Петров", "ivan@example.com", False),
    ("John Smith", "john@example.com", False),
]

_SALES_STAGES = ["Лид", "Квалификация", "Оценка", "КП отправлено", "Переговоры", "Договор"]

PIPELINES: list[tuple[str, list[str]]] = [
    ("Продажи 2.0", _SALES_STAGES),
    ("Продажи RUS", _SALES_STAGES),
    ("Тендеры", ["Новый тендер", "Анализ документации", "Подготовка заявки", "Заявка подана", "Торги"]),
]

WON_NAME = "Успешно реализовано"
LOST_NAME = "Закрыто и не реализовано"
UNSORTED_NAME = "Неразобранное"

# (name, type, code, enum values)
CUSTOM_FIELDS: dict[str, list[tuple[str, str, str | None, list[str]]]] = {
    "leads": [
        ("Бюджет ($)", "numeric", None, []),
        ("Сегмент", "select", None, ["A", "B", "C", "D"]),
        ("Территория", "select", None, ["РФ", "Запад"]),
        ("Город", "text", None, []),
        ("Состав работ", "textarea", None, []),
        ("Модель работы", "select", None, ["Fixed price", "Time & materials"]),
        ("Ссылка на папку проекта", "url", None, []),
        ("Ссылка на оценку", "url", None, []),
        ("ЛПР/ЛВР/ГПР", "multiselect", None, ["ЛПР", "ЛВР", "ГПР"]),
        ("Сумма в рублях по курсу закрытия", "numeric", None, []),
        ("Дата подписания", "date", None, []),
        ("Тендер", "checkbox", None, []),
    ],
    "contacts": [
        ("Телефон", "multitext", "PHONE", ["WORK", "WORKDD", "MOB", "FAX", "HOME", "OTHER"]),
        ("Email", "multitext", "EMAIL", ["WORK", "PRIV", "OTHER"]),
        ("Должность", "text", "POSITION", []),
        ("Отдел", "text", None, []),
        ("Пол", "select", None, ["Мужской", "Женский"]),
        ("День рождения", "birthday", None, []),
        ("Telegram", "text", None, []),
    ],
    "companies": [
        ("Телефон", "multitext", "PHONE", ["WORK", "WORKDD", "MOB", "FAX", "HOME", "OTHER"]),
        ("Email", "multitext", "EMAIL", ["WORK", "PRIV", "OTHER"]),
        ("Web", "url", "WEB", []),
        ("Адрес", "textarea", "ADDRESS", []),
        ("ИНН", "text", None, []),
        ("Тип", "select", None, ["Новый клиент", "Действующий клиент", "Партнёр"]),
        ("Отрасль", "text", None, []),
        ("Территория", "select", None, ["РФ", "Запад"]),
    ],
}

LOSS_REASONS = ["Дорого", "Выбрали конкурента", "Нет бюджета", "Пропала потребность"]

TASK_TYPES: list[JSON] = [
    {"id": 1, "name": "Связаться", "color": None, "icon_id": None, "code": "FOLLOW_UP"},
    {"id": 2, "name": "Встреча", "color": None, "icon_id": None, "code": "MEETING"},
    {"id": 3, "name": "Письмо", "color": None, "icon_id": 5, "code": None},
]
