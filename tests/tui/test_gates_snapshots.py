"""SVG snapshots of the gate form's new parts: the Won form with the closing
sum proposed at the day's rate (fake Bank of Russia on loopback), and the
mass close asking one loss reason, «Другое» with its words.

Look at the SVG before accepting a change with ``--snapshot-update``.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from decimal import Decimal
from typing import Any

from screens_fixtures import SIZE, ScreensApp, settle
from screens_fixtures import screens_crm as screens_crm  # noqa: F401 - the fixture
from textual.pilot import Pilot
from textual.widgets import Input, Select

from tui_crm.domain.gates import missing_fields
from tui_crm.services.context import Crm
from tui_crm.services.deals import LeadInput, capture_lead, move_deal
from tui_crm.widgets.gate_form import GateForm, field_id

SnapCompare = Callable[..., bool]
CONTRACT = {
    "budget_rub": "1 500 000", "budget_usd": "20000", "segment": "B", "territory": "РФ", "city": "Казань",
    "scope": "Приложение", "work_model": "Fixed price", "project_folder": "https://disk.example.com/a",
    "estimate_link": "https://disk.example.com/a/e",
}  # fmt: skip


async def _quiet(pilot: Pilot[None]) -> None:
    await settle(pilot)
    for box in pilot.app.screen.query(Input):
        box.cursor_blink = False
    await pilot.pause()


def test_won_form_proposes_the_closing_sum(snap_compare: SnapCompare, screens_crm: Crm, cbr: Any) -> None:
    screens_crm.settings.rates_url = cbr.url
    cbr.rates[date(2026, 11, 26)] = Decimal("92.5058")
    deal = capture_lead(screens_crm, LeadInput(name="Приложение для Ёлки"))
    move_deal(screens_crm, deal.id, "contract", CONTRACT)
    missing = missing_fields(screens_crm.pipelines, "sales20", "won", {})[-1:]
    app = ScreensApp(screens_crm, lambda: GateForm(deal.name, "Успешно реализовано", missing, deal_id=deal.id))
    assert snap_compare(app, terminal_size=SIZE, run_before=_quiet)


def test_mass_close_asks_one_reason(snap_compare: SnapCompare, screens_crm: Crm) -> None:
    missing = missing_fields(screens_crm.pipelines, "sales20", "lost", {})

    async def choose_other(pilot: Pilot[None]) -> None:
        await settle(pilot)
        form = pilot.app.screen
        form.query_one(f"#{field_id('loss_reason')}", Select).value = "Другое"
        await pilot.pause()
        await pilot.press(*"заказчик закрылся")
        await _quiet(pilot)

    form = lambda: GateForm("3 deals", "Закрыто и не реализовано", missing,  # noqa: E731
                            title="Close 3 deals as «Закрыто и не реализовано»: one answer for all")
    assert snap_compare(ScreensApp(screens_crm, form), terminal_size=SIZE, run_before=choose_other)
