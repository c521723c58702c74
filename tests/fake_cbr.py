"""A fake of the Bank of Russia's daily rates service on loopback.

Serves ``GET /scripts/XML_daily.asp?date_req=DD/MM/YYYY`` the way the real
one does: windows-1251 XML, comma decimals, a ``Nominal``, and the date the
rates are set for in ``ValCurs/@Date`` (asked for a day it has no rate for,
it answers with the latest earlier one, as the Bank does for weekends).

``cbr`` fixture: a running server; ``cbr.url`` goes into ``CRM_RATES_URL``
(set by the fixture for the test), ``cbr.rates[day] = Decimal(...)`` sets
the USD rate of a day, ``cbr.requests`` lists the ``date_req`` values asked
for, and ``cbr.down = True`` makes it answer 503.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import date, datetime
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import pytest

PATH = "/scripts/XML_daily.asp"


def daily_xml(day: date, usd: Decimal) -> bytes:
    """The Bank's file for ``day``: a few currencies, USD at ``usd``."""
    value = f"{usd:.4f}".replace(".", ",")
    return (
        '<?xml version="1.0" encoding="windows-1251"?>'
        f'<ValCurs Date="{day:%d.%m.%Y}" name="Foreign Currency Market">'
        '<Valute ID="R01010"><NumCode>036</NumCode><CharCode>AUD</CharCode><Nominal>1</Nominal>'
        "<Name>Австралийский доллар</Name><Value>60,1234</Value><VunitRate>60,1234</VunitRate></Valute>"
        '<Valute ID="R01235"><NumCode>840</NumCode><CharCode>USD</CharCode><Nominal>1</Nominal>'
        f"<Name>Доллар США</Name><Value>{value}</Value><VunitRate>{value}</VunitRate></Valute>"
        '<Valute ID="R01820"><NumCode>392</NumCode><CharCode>JPY</CharCode><Nominal>100</Nominal>'
        "<Name>Японских иен</Name><Value>61,5000</Value><VunitRate>0,615</VunitRate></Valute>"
        "</ValCurs>"
    ).encode("windows-1251")


class FakeCbr:
    def __init__(self) -> None:
        self.rates: dict[date, Decimal] = {}
        self.requests: list[str] = []
        self.down = False
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - http.server's name
                parts = urlsplit(self.path)
                asked = parse_qs(parts.query).get("date_req", [""])[0]
                fake.requests.append(asked)
                if fake.down:
                    self._send(503, b"Service Unavailable", "text/plain")
                    return
                if parts.path != PATH:
                    self._send(404, b"not found", "text/plain")
                    return
                try:
                    day = datetime.strptime(asked, "%d/%m/%Y").date()
                except ValueError:
                    day = max(fake.rates) if fake.rates else date.today()
                known = [d for d in fake.rates if d <= day]
                if not known:
                    self._send(200, b'<?xml version="1.0" encoding="windows-1251"?><ValCurs Date="" name="x"/>', "text/xml")
                    return
                published = max(known)
                self._send(200, daily_xml(published, fake.rates[published]), "application/xml; charset=windows-1251")

            def _send(self, code: int, body: bytes, kind: str) -> None:
                self.send_response(code)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:  # keep test output clean
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)  # a free port, picked by the OS
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}{PATH}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def cbr(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeCbr]:
    fake = FakeCbr()
    monkeypatch.setenv("CRM_RATES_URL", fake.url)
    yield fake
    fake.close()
