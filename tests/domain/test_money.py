"""Tests for parsing and formatting money (tui_crm.domain.money)."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tui_crm.domain.errors import ValidationError
from tui_crm.domain.money import detect_currency, format_money, parse_decimal, parse_money


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("1500000", "1500000.00"),
        ("1 500 000", "1500000.00"),
        ("1\u00a0500\u00a0000", "1500000.00"),
        ("1\u202f500\u202f000", "1500000.00"),
        ("1 500 000,50", "1500000.50"),
        ("1,500,000.50", "1500000.50"),
        ("1.500.000,50", "1500000.50"),
        ("1'500'000", "1500000.00"),
        ("1.5m", "1500000.00"),
        ("1.5M", "1500000.00"),
        ("150k", "150000.00"),
        ("150K", "150000.00"),
        ("12.5к", "12500.00"),
        ("1,5 млн", "1500000.00"),
        ("1,5 млн руб.", "1500000.00"),
        ("150 тыс", "150000.00"),
        ("150 тыс.", "150000.00"),
        ("2 млрд", "2000000000.00"),
        ("1,500 млн", "1500000.00"),
        ("1 500 000 ₽", "1500000.00"),
        ("₽1500", "1500.00"),
        ("100 руб", "100.00"),
        ("100 руб.", "100.00"),
        ("100 рублей", "100.00"),
        ("100 р.", "100.00"),
        ("$12,500", "12500.00"),
        ("USD 100", "100.00"),
        ("100 usd", "100.00"),
        ("€3,000.50", "3000.50"),
        ("+100", "100.00"),
        ("0", "0.00"),
        ("1,5", "1.50"),
        ("0,5", "0.50"),
        ("1,500", "1500.00"),  # a single separator + 3 digits groups thousands
        ("1.500", "1500.00"),
        ("0,500", "0.50"),  # ... but not after a leading zero
        ("1 500,125", "1500.13"),  # ... nor when spaces already group; half up
        ("0.005", "0.01"),
        ("0.004", "0.00"),
    ],
)
def test_parse_money_examples(raw: str, expected: str) -> None:
    value = parse_money(raw)
    assert value == Decimal(expected)
    assert str(value) == expected  # always two places


@pytest.mark.parametrize(
    ("raw", "fragment"),
    [
        ("", "empty"),
        ("   ", "empty"),
        ("-5", "negative"),
        ("−5 ₽", "negative"),
        ("$-5", "negative"),
        ("abc", "not an amount"),
        ("1e5", "not an amount"),
        ("12 apples", "not an amount"),
        ("1,5,6", "grouped wrongly"),
        ("15 00", "grouped wrongly"),
        ("1,234,56", "grouped wrongly"),
        ("1.000,000.5", "more than one decimal"),
        ("$100 ₽", "currency more than once"),
        ("1 000 000 000 000 000", "too large"),
        ("1000000 млрд", "too large"),
    ],
)
def test_parse_money_rejects(raw: str, fragment: str) -> None:
    with pytest.raises(ValidationError, match=fragment) as info:
        parse_money(raw, field_name="Бюджет")
    assert info.value.field_name == "Бюджет"


def test_messages_show_valid_examples() -> None:
    with pytest.raises(ValidationError) as info:
        parse_money("много")
    assert "1 500 000" in info.value.message


@pytest.mark.parametrize(
    ("raw", "code"),
    [("100 ₽", "RUB"), ("100 руб", "RUB"), ("$100", "USD"), ("100 USD", "USD"), ("€5", "EUR"), ("100", None)],
)
def test_detect_currency(raw: str, code: str | None) -> None:
    assert detect_currency(raw) == code


@pytest.mark.parametrize(
    ("amount", "currency", "expected"),
    [
        ("1500000", "RUB", "1 500 000 ₽"),
        ("1500000.50", "RUB", "1 500 000,50 ₽"),
        ("1500000.00", "rub", "1 500 000 ₽"),
        ("0.05", "RUB", "0,05 ₽"),
        ("999", "RUB", "999 ₽"),
        ("12500", "USD", "$12,500"),
        ("12500.5", "USD", "$12,500.50"),
        ("3000", "EUR", "€3,000"),
        ("1500", "CNY", "1 500 CNY"),
        ("-1234.5", "RUB", "-1 234,50 ₽"),
        ("-1234.5", "USD", "-$1,234.50"),
    ],
)
def test_format_money(amount: str, currency: str, expected: str) -> None:
    assert format_money(Decimal(amount), currency) == expected


def test_format_none_is_dash() -> None:
    assert format_money(None) == "—"
    assert format_money(None, "USD") == "—"


amounts = st.decimals(min_value=0, max_value=Decimal("999999999999999.99"), places=2)


@given(amounts, st.sampled_from(["RUB", "USD", "EUR"]))
def test_format_then_parse_round_trips(amount: Decimal, currency: str) -> None:
    assert parse_money(format_money(amount, currency)) == amount


@given(amounts)
def test_plain_and_grouped_forms_agree(amount: Decimal) -> None:
    plain = f"{amount:f}"
    grouped_en = f"{amount:,.2f}"
    grouped_ru = grouped_en.replace(",", " ").replace(".", ",")
    assert parse_money(plain) == parse_money(grouped_en) == parse_money(grouped_ru) == amount


@given(st.text(max_size=30))
def test_parse_money_returns_non_negative_cents_or_validation_error(raw: str) -> None:
    try:
        value = parse_money(raw)
    except ValidationError:
        return
    assert value >= 0
    assert value.as_tuple().exponent == -2


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("1 000", "1000"), ("1,5", "1.5"), ("-2.75", "-2.75"), ("1,000,000", "1000000"), ("−3", "-3")],
)
def test_parse_decimal(raw: str, expected: str) -> None:
    assert parse_decimal(raw) == Decimal(expected)


def test_parse_decimal_can_refuse_negatives() -> None:
    with pytest.raises(ValidationError, match="negative"):
        parse_decimal("-1", "count", allow_negative=False)
