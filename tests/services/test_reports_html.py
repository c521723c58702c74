"""``--html``: the page opened in headless Chromium shows the service's figures.

The test reads what the browser renders (table cells' text, the charts'
bars and value labels) and compares it with the report dataclasses. It is
skipped, saying why, only when Chromium or the playwright package is not
installed (``.ci/run`` installs Chromium).
"""

from __future__ import annotations

import shutil
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from tests.conftest import START
from tests.report_data import make_history
from tui_crm.services.reports import REPORTS, ReportFilter, tables_of
from tui_crm.services.reports.html import write_page
from tui_crm.services.reports.shape import RU

CHROMIUM = Path("/usr/bin/chromium")
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def browser():
    reason = "the playwright package is not installed (pip install playwright)"
    sync_api = pytest.importorskip("playwright.sync_api", reason=reason)
    if not CHROMIUM.exists() and shutil.which("chromium") is None:
        pytest.skip("Chromium is not installed (apt-get install -y chromium); .ci/run installs it")
    with sync_api.sync_playwright() as play:
        browser = play.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        yield browser
        browser.close()


def number(text: str) -> Decimal | str | None:
    """A cell as the page shows it, back to its value: «1 500 000 ₽» → 1500000, «—» → None."""
    text = text.strip()
    if text == "—":
        return None
    plain = text.replace("₽", "").replace("\u00a0", "").replace("\u202f", "").replace(" ", "").replace(",", ".")
    try:
        return Decimal(plain)
    except ArithmeticError:
        return text


def value_of(cell: object) -> Decimal | str | None:
    if cell is None or cell == "—":  # «no source» and «no value» read the same
        return None
    if isinstance(cell, str):
        return cell.strip()  # a browser drops the indent of a sub-row
    return Decimal(str(cell))


@pytest.mark.parametrize("name", ["funnel", "sources", "losses", "activity"])
def test_the_page_shows_the_reports_numbers(name, open_store, clock, browser, tmp_path):
    make_history(open_store, clock, START - timedelta(days=100), deals=30)
    clock.set(START)
    crm = open_store()
    report = REPORTS[name](crm, ReportFilter(period="all" if name != "activity" else "last-quarter"))
    tables = tables_of(report, RU)
    target = write_page(report, tables, tmp_path / f"{name}.html")
    page = browser.new_page()
    requests: list[str] = []
    page.on("request", lambda request: requests.append(request.url))
    page.goto(target.as_uri())
    for part in tables:
        rows = page.locator(f"#table-{part.key} tbody tr")
        shown = [[number(t) for t in rows.nth(i).locator("td").all_inner_texts()] for i in range(rows.count())]
        assert shown == [[value_of(c) for c in row] for row in part.rows], part.key
        if part.chart is not None:
            bars = page.locator(f"#chart-{part.key} rect.bar")
            labels = [bars.nth(i).get_attribute("data-label") for i in range(bars.count())]
            assert labels == part.chart.labels
            assert [Decimal(bars.nth(i).get_attribute("data-value") or "") for i in range(bars.count())] == [
                Decimal(str(v)) for v in part.chart.values
            ]
            if part.chart.kind != "line":  # the value written beside each bar
                texts = page.locator(f"#chart-{part.key} text.value").all_text_contents()
                assert [number(t) for t in texts] == [Decimal(str(v)) for v in part.chart.values]
    assert requests == [target.as_uri()]  # self-contained: nothing else is fetched
    if name == "funnel":  # the forecast is the last cell of the total row
        assert report.weighted_forecast > 0 and report.stages[0].entered > 0
        last_row = page.locator("#table-funnel tbody tr").last.locator("td").all_inner_texts()
        assert number(last_row[-1]) == report.weighted_forecast
    page.close()
