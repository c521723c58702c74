"""Tests for custom field definitions and value validation (tui_crm.domain.fields)."""

from __future__ import annotations

import json
from datetime import date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tui_crm.domain.errors import ConfigError, ValidationError
from tui_crm.domain.fields import FieldDef, FieldType, format_value, is_empty, validate_value

NOW = datetime(2026, 11, 26, 15, 0, tzinfo=ZoneInfo("Europe/Moscow"))

SEGMENT = FieldDef("segment", "Сегмент", FieldType.SELECT, ("A", "B", "C", "D"))
SCOPE = FieldDef("scope", "Состав работ", FieldType.MULTISELECT, ("Дизайн", "Разработка", "Тестирование"))
TERRITORY = FieldDef("territory", "Территория", FieldType.SELECT, ("РФ", "Запад"), entity="company")
BUDGET_RUB = FieldDef("budget_rub", "Бюджет (RUB)", FieldType.MONEY, currency="RUB")
BUDGET_USD = FieldDef("budget_usd", "Бюджет ($)", FieldType.MONEY, currency="USD")
EMPLOYEES = FieldDef("employees", "Сотрудники", FieldType.NUMBER, entity="company")
CITY = FieldDef("city", "Город", FieldType.TEXT)
ESTIMATE = FieldDef("estimate_url", "Ссылка на оценку", FieldType.URL)
START = FieldDef("start", "Дата старта", FieldType.DATE)
PHONE = FieldDef("phone", "Телефон", FieldType.PHONE, entity="contact")
EMAIL = FieldDef("email", "Email", FieldType.EMAIL, entity="contact")
NDA = FieldDef("nda", "NDA подписан", FieldType.BOOL)


def check(defn: FieldDef, raw: object) -> object:
    return validate_value(defn, raw, now=NOW)


@pytest.mark.parametrize(
    ("defn", "raw", "expected"),
    [
        (CITY, "  Москва ", "Москва"),
        (CITY, 42, "42"),
        (EMPLOYEES, "1 000", 1000),
        (EMPLOYEES, "1000", 1000),
        (EMPLOYEES, "1,5", 1.5),
        (EMPLOYEES, "2.25", 2.25),
        (EMPLOYEES, "-3", -3),
        (EMPLOYEES, 7, 7),
        (EMPLOYEES, 2.5, 2.5),
        (EMPLOYEES, Decimal("12"), 12),
        (BUDGET_RUB, "1,5 млн", "1500000.00"),
        (BUDGET_RUB, "1 500 000 ₽", "1500000.00"),
        (BUDGET_RUB, "150 тыс руб", "150000.00"),
        (BUDGET_RUB, Decimal("10.5"), "10.50"),
        (BUDGET_RUB, 100, "100.00"),
        (BUDGET_USD, "$12,500", "12500.00"),
        (BUDGET_USD, "12500", "12500.00"),
        (SEGMENT, "b", "B"),
        (SEGMENT, " C ", "C"),
        (TERRITORY, "рф", "РФ"),
        (TERRITORY, "ЗАПАД", "Запад"),
        (SCOPE, "разработка, дизайн", ["Дизайн", "Разработка"]),
        (SCOPE, "Дизайн,,дизайн, ", ["Дизайн"]),
        (SCOPE, ["Тестирование", "дизайн"], ["Дизайн", "Тестирование"]),
        (ESTIMATE, "docs.google.com/x", "https://docs.google.com/x"),
        (START, "2026-12-01", "2026-12-01"),
        (START, "01.12.2026", "2026-12-01"),
        (START, "tomorrow", "2026-11-27"),
        (START, "завтра", "2026-11-27"),
        (START, "в пятницу", "2026-11-27"),
        (START, "1 декабря", "2026-12-01"),
        (START, date(2026, 5, 4), "2026-05-04"),
        (START, datetime(2026, 5, 4, 12, 0), "2026-05-04"),
        (PHONE, "8 (916) 123-45-67", "+79161234567"),
        (EMAIL, " Ivan@Example.COM", "Ivan@example.com"),
        (NDA, "да", True),
        (NDA, "Нет", False),
        (NDA, "yes", True),
        (NDA, "false", False),
        (NDA, "1", True),
        (NDA, "0", False),
        (NDA, True, True),
        (NDA, 0, False),
    ],
)
def test_validate_value(defn: FieldDef, raw: object, expected: object) -> None:
    value = check(defn, raw)
    assert value == expected
    assert type(value) is type(expected)
    json.dumps(value)  # always JSON-serialisable


def test_phone_region_is_passed_through() -> None:
    assert validate_value(PHONE, "(415) 555-2671", phone_region="US") == "+14155552671"


@pytest.mark.parametrize(
    ("defn", "raw", "fragment"),
    [
        (CITY, "   ", "required"),
        (CITY, None, "required"),
        (SEGMENT, "", "choose from: A, B, C, D"),
        (SEGMENT, "E", "choose one of: A, B, C, D"),
        (SEGMENT, 1, "expected one of: A, B, C, D"),
        (SCOPE, "Дизайн, Маркетинг", "choose one of: Дизайн, Разработка, Тестирование"),
        (SCOPE, ",", "choose one or more of"),
        (SCOPE, [], "required"),
        (EMPLOYEES, "много", "not a number"),
        (EMPLOYEES, True, "yes/no"),
        (EMPLOYEES, float("nan"), "finite"),
        (BUDGET_RUB, "$100", "in USD, but this field holds RUB"),
        (BUDGET_USD, "100 ₽", "in RUB, but this field holds USD"),
        (BUDGET_RUB, "-5", "negative"),
        (BUDGET_RUB, "дорого", "not an amount"),
        (ESTIMATE, "javascript:alert(1)", "not allowed"),
        (ESTIMATE, 5, "expected text"),
        (START, "31.02.2026", "not a date"),
        (START, "2026-02-30", "not a real calendar date"),
        (START, "когда-нибудь", "2026-12-01"),
        (PHONE, "123", "not a valid phone"),
        (EMAIL, "ivan@", "domain"),
        (NDA, "maybe", "да/нет"),
        (NDA, 2, "yes/no"),
    ],
)
def test_validate_value_rejects(defn: FieldDef, raw: object, fragment: str) -> None:
    with pytest.raises(ValidationError, match=fragment) as info:
        check(defn, raw)
    assert info.value.field_name == defn.label


def test_field_def_coerces_toml_shapes() -> None:
    defn = FieldDef("segment", "Сегмент", "select", ["A", " B "], currency=None)  # type: ignore[arg-type]
    assert defn.type is FieldType.SELECT
    assert defn.options == ("A", "B")
    assert FieldDef("b", "B", FieldType.MONEY, currency="usd").currency == "USD"


@pytest.mark.parametrize(
    "kwargs",
    [
        {"key": "x", "label": "X", "type": "colour"},
        {"key": "x", "label": "X", "type": "select"},
        {"key": "x", "label": "X", "type": "multiselect", "options": ["A", ""]},
        {"key": "x", "label": "X", "type": "select", "options": ["Ёж", "еж"]},
        {"key": " ", "label": "X", "type": "text"},
    ],
)
def test_field_def_rejects_unusable_definitions(kwargs: dict[str, object]) -> None:
    with pytest.raises(ConfigError):
        FieldDef(**kwargs)  # type: ignore[arg-type]


def test_field_type_values() -> None:
    assert [t.value for t in FieldType] == [
        "text", "number", "money", "select", "multiselect",
        "url", "date", "phone", "email", "bool",
    ]  # fmt: skip
    assert FieldType("money") is FieldType.MONEY
    assert FieldType.MONEY == "money"


@pytest.mark.parametrize(
    ("value", "empty"),
    [
        (None, True),
        ("", True),
        ("  \n\t", True),
        ([], True),
        ((), True),
        ({}, True),
        ("x", False),
        (["A"], False),
        (False, False),
        (0, False),
        (0.0, False),
        (Decimal("0"), False),
    ],
)
def test_is_empty(value: object, empty: bool) -> None:
    assert is_empty(value) is empty


@pytest.mark.parametrize(
    ("defn", "value", "shown"),
    [
        (CITY, None, "—"),
        (CITY, "", "—"),
        (CITY, "Москва\x1b[31m", "Москва"),
        (CITY, "две\nстроки", "две\nстроки"),
        (EMPLOYEES, 1500, "1 500"),
        (EMPLOYEES, 1234567.5, "1 234 567.5"),
        (EMPLOYEES, -12, "-12"),
        (BUDGET_RUB, "1500000.00", "1 500 000 ₽"),
        (BUDGET_USD, "12500.50", "$12,500.50"),
        (FieldDef("m", "M", FieldType.MONEY), "10", "10 ₽"),
        (SEGMENT, "B", "B"),
        (SCOPE, ["Дизайн", "Разработка"], "Дизайн, Разработка"),
        (PHONE, "+79161234567", "+7 916 123-45-67"),
        (NDA, True, "yes"),
        (NDA, False, "no"),
        (START, "2026-12-01", "2026-12-01"),
        (BUDGET_RUB, "not money", "not money"),  # stored before a type change
        (EMPLOYEES, "n/a", "n/a"),
    ],
)
def test_format_value(defn: FieldDef, value: object, shown: str) -> None:
    assert format_value(defn, value) == shown


@given(st.sampled_from([SEGMENT, SCOPE, TERRITORY]), st.data())
def test_select_accepts_options_in_any_case(defn: FieldDef, data: st.DataObject) -> None:
    option = data.draw(st.sampled_from(defn.options))
    typed = data.draw(st.sampled_from([option, option.upper(), option.lower(), f"  {option} "]))
    value = check(defn, typed)
    assert value == ([option] if defn.type is FieldType.MULTISELECT else option)


@given(st.lists(st.sampled_from(SCOPE.options), min_size=1))
def test_multiselect_is_canonical_and_order_independent(chosen: list[str]) -> None:
    forward = check(SCOPE, ", ".join(chosen))
    backward = check(SCOPE, ", ".join(reversed(chosen)))
    assert forward == backward == [o for o in SCOPE.options if o in chosen]


@given(st.decimals(min_value=0, max_value=Decimal("999999999999.99"), places=2))
def test_money_value_round_trips_through_display(amount: Decimal) -> None:
    stored = check(BUDGET_RUB, str(amount))
    assert stored == str(amount.quantize(Decimal("0.01")))
    assert check(BUDGET_RUB, format_value(BUDGET_RUB, stored)) == stored


@given(st.integers(min_value=-(10**12), max_value=10**12))
def test_number_value_round_trips_through_display(number: int) -> None:
    assert check(EMPLOYEES, format_value(EMPLOYEES, number)) == number


@given(st.sampled_from(list(FieldType)), st.text(max_size=30))
def test_validate_value_only_raises_validation_error(kind: FieldType, raw: str) -> None:
    defn = FieldDef("k", "Label", kind, ("A", "B") if kind in ("select", "multiselect") else ())
    try:
        value = check(defn, raw)
    except ValidationError as error:
        assert error.field_name == "Label"
        return
    json.dumps(value)
    assert not is_empty(value)
    format_value(defn, value)
