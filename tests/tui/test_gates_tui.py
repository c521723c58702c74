"""Gates that hold, in the app: the field editor cannot empty a field the
deal's stage requires, the Won form proposes the closing sum at the Bank of
Russia's rate (a fake on loopback) or asks for it offline, closing several
deals as lost asks the reason once, and copying into a gated stage opens
the gate form instead of refusing. Each test presses keys and reads the
database afterwards.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import date
from decimal import Decimal
from typing import Any

import pytest
from screens_fixtures import SIZE, ScreensApp, screen_text
from screens_fixtures import settle as settle_screens
from textual.widgets import Input, Label, Select

from tui_crm.app import CrmApp, make_app
from tui_crm.screens.board import BoardScreen
from tui_crm.screens.card import CardScreen
from tui_crm.screens.mass_action import ChoiceScreen, MassReportScreen
from tui_crm.services.context import Crm
from tui_crm.services.deals import LeadInput, capture_lead, get_deal, move_deal
from tui_crm.services.tasks import TaskInput, add_task, tasks_of
from tui_crm.widgets.field_editor import FieldRow
from tui_crm.widgets.form_dialog import ConfirmDialog, FormDialog
from tui_crm.widgets.gate_form import GateForm, field_id

pytestmark = pytest.mark.anyio

Settle = Callable[..., Awaitable[None]]
CONTRACT = {
    "budget_rub": "1 500 000", "budget_usd": "20000", "segment": "B", "territory": "РФ", "city": "Казань",
    "scope": "Приложение", "work_model": "Fixed price", "project_folder": "https://disk.example.com/a",
    "estimate_link": "https://disk.example.com/a/e",
}  # fmt: skip


def at_contract(crm: Crm, name: str = "Почти выиграли") -> str:
    deal = capture_lead(crm, LeadInput(name=name))
    move_deal(crm, deal.id, "contract", CONTRACT)
    return deal.id


async def focus_first(app: CrmApp, settle: Settle, pilot: Any, stage: str) -> None:
    await settle(pilot)
    column = next(c for c in app.board.columns if c.stage.key == stage)
    column.focus()
    await settle(pilot)
    await pilot.press("home")


async def open_won_form(app: CrmApp, settle: Settle, pilot: Any) -> GateForm:
    """`]` on the deal in Договор: the Won gate asks for the closing sum; its proposal has arrived."""
    await focus_first(app, settle, pilot, "contract")
    await pilot.press("right_square_bracket")
    await settle(pilot)
    form = app.screen
    assert isinstance(form, GateForm) and [m.key for m in form.missing] == ["closing_rub"]
    await settle(pilot)  # the rate is looked up in a worker
    return form


# ---- the field editor -------------------------------------------------------------------------


async def test_the_field_editor_cannot_empty_a_gate_field_of_a_won_deal(crm: Crm) -> None:
    deal_id = at_contract(crm)
    move_deal(crm, deal_id, "won", {"closing_rub": "1 850 000"})
    app = ScreensApp(crm, lambda: CardScreen("deal", deal_id))
    async with app.run_test(size=SIZE) as pilot:
        await settle_screens(pilot)
        budget = next(r for r in app.screen.query(FieldRow) if r.spec.key == "budget_usd")
        budget.focus()
        await pilot.press("e")
        budget.query_one(Input).value = ""
        await pilot.press("enter")
        await settle_screens(pilot)
        assert budget.editing
        shown = screen_text(app)  # the message wraps under the field
        assert "Бюджет ($) (budget_usd) cannot" in shown and "be emptied" in shown
    assert get_deal(crm, deal_id).budget_usd == Decimal("20000.00")


# ---- the Won form: closing sum at the day's rate ----------------------------------------------------


async def test_the_won_form_proposes_the_sum_at_the_days_rate(crm: Crm, cbr: Any, settle: Settle) -> None:
    crm.settings.rates_url = cbr.url
    cbr.rates[date(2026, 11, 26)] = Decimal("92.5058")
    deal_id = at_contract(crm)
    app = make_app(crm)
    async with app.run_test(size=(120, 35)) as pilot:
        form = await open_won_form(app, settle, pilot)
        assert form.query_one(f"#{field_id('closing_rub')}", Input).value == "1850116.00"
        hint = str(form.query_one("#gate-closing-hint", Label).render())
        assert "92.5058" in hint and "26.11.2026" in hint
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert isinstance(app.screen, BoardScreen)
    won = get_deal(crm, deal_id)
    assert (won.stage_key, won.custom["closing_rub"]) == ("won", "1850116.00")
    assert (won.closing_rate, won.closing_rate_date) == (Decimal("92.5058"), date(2026, 11, 26))


async def test_offline_the_won_form_asks_for_the_amount(crm: Crm, cbr: Any, settle: Settle) -> None:
    crm.settings.rates_url = cbr.url
    cbr.down = True
    deal_id = at_contract(crm)
    app = make_app(crm)
    async with app.run_test(size=(120, 35)) as pilot:
        form = await open_won_form(app, settle, pilot)
        box = form.query_one(f"#{field_id('closing_rub')}", Input)
        assert box.value == ""
        assert "No rate: enter the amount" in str(form.query_one("#gate-closing-hint", Label).render())
        box.focus()
        await pilot.press(*"1 800 000", "ctrl+s")
        await settle(pilot)
    won = get_deal(crm, deal_id)
    assert (won.stage_key, won.custom["closing_rub"], won.closing_rate) == ("won", "1800000.00", None)


# ---- mass close: one reason for all ---------------------------------------------------------------


async def test_closing_several_deals_as_lost_asks_the_reason_once(crm: Crm, settle: Settle) -> None:
    """The reason form first, then the question about the tasks people set (answered yes)."""
    ids = [capture_lead(crm, LeadInput(name=f"Сделка {i}")).id for i in range(2)]
    add_task(crm, TaskInput(text="Отправить кейсы", due="+1d", entity_type="deal", entity_ref=ids[1]))
    app = make_app(crm)
    async with app.run_test(size=(120, 35)) as pilot:
        await focus_first(app, settle, pilot, "lead")
        await pilot.press("space", "j", "space")
        assert set(app.board.selected) == set(ids)
        await pilot.press("m")
        await settle(pilot)
        await pilot.press("enter")  # Change stage
        await settle(pilot)
        assert isinstance(app.screen, ChoiceScreen)
        await pilot.press("end", "enter")  # the last stage: Закрыто и не реализовано
        await settle(pilot)
        form = app.screen
        assert isinstance(form, GateForm) and [m.key for m in form.missing] == ["loss_reason"]
        assert "Close 2 deals" in str(form.query_one("#gate-title", Label).render())
        form.query_one(f"#{field_id('loss_reason')}", Select).value = "Другое"
        await pilot.pause()
        other = form.query_one(f"#{field_id('loss_reason')}-other", Input)
        assert other.display
        other.focus()
        await pilot.press(*"заказчик закрылся", "ctrl+s")
        await settle(pilot)
        assert isinstance(app.screen, ConfirmDialog)  # the tasks people set: asked once, after the reason
        await pilot.press("y")  # complete them too
        await settle(pilot)
        report = app.screen
        assert isinstance(report, MassReportScreen) and report.report.changed == 2
    assert {(get_deal(crm, i).stage_key, get_deal(crm, i).loss_reason) for i in ids} == {("lost", "Другое: заказчик закрылся")}
    done = {t.text: t.result for i in ids for t in tasks_of(crm, i) if t.completed_at is not None}
    assert done == {
        "Связаться с лидом": "Сделка закрыта: закрыто и не реализовано",
        "Отправить кейсы": "Сделка закрыта: закрыто и не реализовано",
    }
    assert sorted(t.text for i in ids for t in tasks_of(crm, i) if t.completed_at is None) == ["Фолоуап: как идёт проект?"] * 2


async def test_closing_several_deals_without_tasks_people_set_asks_only_the_reason(crm: Crm, settle: Settle) -> None:
    ids = [capture_lead(crm, LeadInput(name=f"Сделка {i}")).id for i in range(2)]
    app = make_app(crm)
    async with app.run_test(size=(120, 35)) as pilot:
        await focus_first(app, settle, pilot, "lead")
        await pilot.press("space", "j", "space", "m")
        await settle(pilot)
        await pilot.press("enter")  # Change stage
        await settle(pilot)
        await pilot.press("end", "enter")  # Закрыто и не реализовано
        await settle(pilot)
        form = app.screen
        assert isinstance(form, GateForm)
        form.query_one(f"#{field_id('loss_reason')}", Select).value = "Дорого"
        await pilot.press("ctrl+s")
        await settle(pilot)
        report = app.screen
        assert isinstance(report, MassReportScreen) and report.report.changed == 2  # no tasks question
    assert {get_deal(crm, i).loss_reason for i in ids} == {"Дорого"}
    assert all(t.completed_at is not None for i in ids for t in tasks_of(crm, i) if t.text == "Связаться с лидом")


# ---- copy into a gated stage ------------------------------------------------------------------------


async def test_copying_into_a_gated_stage_opens_the_gate_form(crm: Crm) -> None:
    source = capture_lead(crm, LeadInput(name="Счёт, октябрь", budget="100 000"))
    move_deal(crm, source.id, "lost", {"loss_reason": "Дорого"})
    app = ScreensApp(crm, lambda: CardScreen("deal", source.id))
    async with app.run_test(size=SIZE) as pilot:
        await settle_screens(pilot)
        await pilot.press("y")
        await settle_screens(pilot)
        dialog = app.screen
        assert isinstance(dialog, FormDialog)
        dialog.query_one("#field-target", Select).value = "sales20/lost"
        await pilot.press("ctrl+s")
        await settle_screens(pilot)
        form = app.screen
        assert isinstance(form, GateForm), type(form).__name__  # not a refusal in the dialog
        assert [m.key for m in form.missing] == ["loss_reason"]  # the source's reason is not copied
        form.query_one(f"#{field_id('loss_reason')}", Select).value = "Нет бюджета"
        await pilot.press("ctrl+s")
        await settle_screens(pilot)
        card = app.screen
        assert isinstance(card, CardScreen) and card.entity_id != source.id
        copy = get_deal(crm, card.entity_id)
    assert (copy.stage_key, copy.loss_reason, copy.budget_rub) == ("lost", "Нет бюджета", Decimal("100000.00"))


# ---- a broken pipelines file ------------------------------------------------------------------------


async def test_a_broken_pipelines_file_is_a_notice_and_the_board_still_opens(crm: Crm, settle: Settle) -> None:
    from tui_crm.services.context import open_crm

    (crm.settings.config_dir).mkdir(parents=True, exist_ok=True)
    crm.settings.pipelines_file.write_text('[[pipelines]]\nkey = "x\n', encoding="utf-8")
    reopened = open_crm(crm.settings, clock=crm.clock)
    try:
        app = make_app(reopened)
        async with app.run_test(size=(120, 35)) as pilot:
            await settle(pilot)
            assert isinstance(app.screen, BoardScreen)
            messages = [n.message for n in app._notifications]
            assert any("pipelines.toml" in m and "last good" in m for m in messages), messages
            assert [c.stage.key for c in app.board.columns][:2] == ["unsorted", "lead"]
    finally:
        reopened.close()
