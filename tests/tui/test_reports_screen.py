"""The Reports screen: the service's figures in tables with their charts;
keys switch reports, periods and pipelines; nothing is written."""

from __future__ import annotations

from datetime import timedelta

import pytest
from screens_fixtures import NOW, SIZE, ScreensApp, screen_text, seed_screens, settle
from screens_fixtures import screens_crm as screens_crm  # noqa: F401 - the fixture
from textual.widgets import Static

from tui_crm.app import CrmApp
from tui_crm.screens.reports import ReportsScreen
from tui_crm.services.context import Crm
from tui_crm.services.deals import move_deal
from tui_crm.services.reports import ReportFilter, funnel_report, losses_report

pytestmark = pytest.mark.anyio

QUALIFY = {"budget_usd": "20000", "segment": "A", "territory": "РФ", "city": "Москва"}


def seed_reports(crm: Crm) -> dict[str, str]:
    """The screens' records (made in the last three hours), then one deal qualified and one lost."""
    ids = seed_screens(crm)
    crm.clock = lambda: NOW - timedelta(minutes=90)
    move_deal(crm, ids["deal"], "qualification", set_values=QUALIFY)
    crm.clock = lambda: NOW - timedelta(minutes=30)
    move_deal(crm, ids["deal3"], "lost", set_values={"loss_reason": "Дорого"})
    crm.clock = lambda: NOW
    return ids


def reports(crm: Crm) -> ScreensApp:
    return ScreensApp(crm, lambda: ReportsScreen("sales20"))


def change_rows(crm: Crm) -> int:
    from sqlalchemy import text

    with crm.read() as session:
        return int(session.execute(text("SELECT count(*) FROM change_log")).scalar_one())


def shown(app: ScreensApp, widget_id: str) -> str:
    """What one table or chart of the screen holds, as plain text."""
    import io

    from rich.console import Console

    console = Console(width=200, file=io.StringIO())
    console.print(app.screen.query_one(f"#{widget_id}", Static).content)
    return console.file.getvalue()  # type: ignore[attr-defined]


async def test_reports_show_the_services_figures_and_switch_with_keys(screens_crm: Crm) -> None:
    seed_reports(screens_crm)
    before = change_rows(screens_crm)
    funnel = funnel_report(screens_crm, ReportFilter(pipeline="sales20"))
    lead = next(s for s in funnel.stages if s.key == "lead")
    qualification = next(s for s in funnel.stages if s.key == "qualification")
    assert (lead.entered, lead.went_on, qualification.entered) == (3, 1, 1)
    app = reports(screens_crm)
    async with app.run_test(size=(140, 40)) as pilot:
        await settle(pilot)
        text = screen_text(app)
        assert "Отчёты · Продажи 2.0 · этот месяц" in text, text
        assert "Воронка:" in text, text
        assert "Воронка" in text and "Вошло" in text and "Взвешено, ₽" in text
        assert "300 000 ₽" in text  # 1 500 000 ₽ in qualification × 20 %
        assert str(funnel.weighted_forecast) == "380000.00"  # + 800 000 ₽ in the lead stage × 10 %
        assert "380 000 ₽" in text
        await pilot.press("3")
        await settle(pilot)
        losses = losses_report(screens_crm, ReportFilter(pipeline="sales20"))
        assert [(r.label, r.deals) for r in losses.by_reason] == [("Дорого", 1)]
        table = shown(app, "table-losses_reason")
        assert "Дорого" in table and "Причина" in table
        assert "Дорого" in app.screen.query_one("#chart-losses_reason").render().plain
        await pilot.press("t")  # last month: nothing happened then
        await settle(pilot)
        assert "прошлый месяц" in screen_text(app)
        assert "Дорого" not in shown(app, "table-losses_reason")
        await pilot.press("p")  # the next pipeline
        await settle(pilot)
        assert "Тендеры" in screen_text(app)
    assert change_rows(screens_crm) == before  # a report reads, it never writes


async def test_reports_open_from_the_app_with_R(screens_crm: Crm) -> None:
    seed_reports(screens_crm)
    app = CrmApp(screens_crm)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        await pilot.press("R")
        await settle(pilot)
        assert isinstance(app.screen, ReportsScreen)
        assert "Отчёты · Продажи 2.0" in screen_text(app)


def test_reports_snapshot(snap_compare, screens_crm: Crm) -> None:
    from test_screens_snapshots import settled

    seed_reports(screens_crm)
    assert snap_compare(reports(screens_crm), terminal_size=(130, 36), run_before=settled())


def test_activity_snapshot(snap_compare, screens_crm: Crm) -> None:
    from test_screens_snapshots import settled

    seed_reports(screens_crm)
    assert snap_compare(reports(screens_crm), terminal_size=SIZE, run_before=settled("4"))
