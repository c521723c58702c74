"""Exchange rates of the Bank of Russia: reading its daily file and the
closing sum they give.

The Bank publishes one XML file per day (``XML_daily.asp?date_req=
DD/MM/YYYY``) in windows-1251 with comma decimals::

    <ValCurs Date="04.12.2026" name="Foreign Currency Market">
      <Valute ID="R01235"><NumCode>840</NumCode><CharCode>USD</CharCode>
        <Nominal>1</Nominal><Name>Доллар США</Name><Value>92,5058</Value></Valute>

``Value`` is RUB for ``Nominal`` units. ``Date`` is the date the rates are
set for: asked for a Sunday, the file says Saturday's date. Pure: the
fetching is ``services.rates``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from tui_crm.domain.errors import CrmError

KOPECK = Decimal("0.01")


class RateUnavailable(CrmError):
    """No rate could be had (offline, the service failed, a bad answer)."""


@dataclass(frozen=True)
class Rate:
    """RUB for one unit of ``currency``, as published for ``rate_date``."""

    currency: str
    rate: Decimal
    rate_date: date


def query_date(day: date) -> str:
    """The ``date_req`` parameter the Bank's service takes: DD/MM/YYYY."""
    return day.strftime("%d/%m/%Y")


def _decimal(text: str | None, what: str) -> Decimal:
    try:
        value = Decimal((text or "").strip().replace(",", ".").replace("\u00a0", "").replace(" ", ""))
    except InvalidOperation:
        raise RateUnavailable(f"the rate file has an unreadable {what}: {text!r}") from None
    if not value.is_finite() or value <= 0:
        raise RateUnavailable(f"the rate file has an impossible {what}: {text!r}")
    return value


def parse_daily(data: bytes, currency: str = "USD") -> Rate:
    """The rate of ``currency`` in one daily file (bytes as served: the
    XML declaration names its encoding)."""
    from xml.etree import ElementTree  # only when a rate is fetched

    try:
        root = ElementTree.fromstring(data)
    except ElementTree.ParseError as exc:
        raise RateUnavailable(f"the rate service answered something that is not its XML ({exc})") from None
    try:
        published = datetime.strptime(root.get("Date", ""), "%d.%m.%Y").date()
    except ValueError:
        raise RateUnavailable(f"the rate file has no readable Date (got {root.get('Date')!r})") from None
    for valute in root.iter("Valute"):
        if (valute.findtext("CharCode") or "").strip().upper() == currency.upper():
            value = _decimal(valute.findtext("Value"), "value")
            nominal = _decimal(valute.findtext("Nominal") or "1", "nominal")
            return Rate(currency.upper(), value / nominal, published)
    raise RateUnavailable(f"the rate file of {published:%d.%m.%Y} has no {currency.upper()}")


def closing_sum(amount: Decimal, rate: Decimal) -> Decimal:
    """``amount`` converted at ``rate``, to the kopeck (half up, as accountants round)."""
    return (amount * rate).quantize(KOPECK, rounding=ROUND_HALF_UP)
