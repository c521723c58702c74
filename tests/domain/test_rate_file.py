"""Reading the Bank of Russia's daily file (windows-1251, comma decimals,
nominal per currency) and rounding the closing sum."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from tests.fake_cbr import daily_xml
from tui_crm.domain.rates import RateUnavailable, closing_sum, parse_daily, query_date


def test_usd_from_the_daily_file():
    rate = parse_daily(daily_xml(date(2026, 12, 4), Decimal("92.5058")))
    assert (rate.currency, rate.rate, rate.rate_date) == ("USD", Decimal("92.5058"), date(2026, 12, 4))


def test_nominal_divides_the_value():
    assert parse_daily(daily_xml(date(2026, 12, 4), Decimal("90")), "JPY").rate == Decimal("0.615")


@pytest.mark.parametrize(
    "data",
    [b"<html>503</html", b'<ValCurs Date="x"/>', daily_xml(date(2026, 12, 4), Decimal("90")).replace(b"USD", b"XXX")],
    ids=["not-xml", "no-date", "no-usd"],
)
def test_a_bad_answer_is_no_rate_not_a_crash(data):
    with pytest.raises(RateUnavailable):
        parse_daily(data)


def test_query_date_and_rounding():
    assert query_date(date(2026, 12, 4)) == "04/12/2026"
    assert closing_sum(Decimal("20000"), Decimal("92.5058")) == Decimal("1850116.00")
    assert closing_sum(Decimal("0.05"), Decimal("0.1")) == Decimal("0.01")  # half up, to the kopeck
