"""Closing a deal from the board asks about the tasks people set on it
(complete or keep); its automatic tasks go with it. `[` on a Лид card
never puts a deal into the Неразобранное inbox. Checked in the database."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from textual.widgets import Input, SelectionList

from tui_crm.app import make_app
from tui_crm.screens.board import BoardScreen
from tui_crm.services.context import Crm
from tui_crm.services.deals import LeadInput, capture_lead, get_deal, move_deal
from tui_crm.services.tasks import TaskInput, add_task, tasks_of
from tui_crm.widgets.gate_form import GateForm, field_id
from tui_crm.widgets.task_dialogs import ClosingTasksDialog

pytestmark = pytest.mark.anyio
Settle = Callable[..., Awaitable[None]]
CONTRACT = {
    "budget_rub": "1 000 000", "budget_usd": "12000", "segment": "B", "territory": "РФ", "city": "Казань",
    "scope": "Сайт", "work_model": "Fixed price", "project_folder": "https://disk.example.com/p",
    "estimate_link": "https://disk.example.com/e",
}  # fmt: skip


async def focus_only_deal(app: Any, settle: Settle, pilot: Any, stage: str) -> None:
    await settle(pilot)
    board = app.board
    column = next(c for c in board.columns if c.stage.key == stage)
    column.focus()
    await settle(pilot)


def deal_at_contract(crm: Crm) -> tuple[str, str, str]:
    deal = capture_lead(crm, LeadInput(name="Почти продано"))
    move_deal(crm, deal.id, "Договор", CONTRACT)
    invoice = add_task(crm, TaskInput(text="Выставить счёт", due="+1d", entity_type="deal", entity_ref=deal.id))
    thanks = add_task(crm, TaskInput(text="Поблагодарить клиента", due="+2d", entity_type="deal", entity_ref=deal.id))
    return deal.id, invoice.id, thanks.id


async def test_won_from_the_board_asks_then_completes_the_chosen_tasks(crm: Crm, settle: Settle) -> None:
    deal_id, invoice_id, thanks_id = deal_at_contract(crm)
    app = make_app(crm)
    async with app.run_test(size=(120, 35)) as pilot:
        await focus_only_deal(app, settle, pilot, "contract")
        await pilot.press("right_square_bracket")
        await settle(pilot)
        dialog = app.screen
        assert isinstance(dialog, ClosingTasksDialog)
        assert [t.text for t in dialog.open_tasks] == ["Выставить счёт", "Поблагодарить клиента"]
        await pilot.press("space")  # tick «Выставить счёт»: complete it with the deal
        await pilot.press("enter")
        await settle(pilot)
        form = app.screen
        assert isinstance(form, GateForm)  # then the Won gate asks its closing sum
        form.query_one(f"#{field_id('closing_rub')}", Input).value = "1 000 000"
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert isinstance(app.screen, BoardScreen)
    assert get_deal(crm, deal_id).stage_key == "won"
    tasks = {t.id: t for t in tasks_of(crm, deal_id)}
    assert tasks[invoice_id].result == "Сделка закрыта: успешно реализовано"
    assert tasks[thanks_id].completed_at is None
    assert [t.text for t in tasks.values() if t.completed_at is None] == ["Поблагодарить клиента"]


async def test_escape_on_the_closing_question_moves_nothing(crm: Crm, settle: Settle) -> None:
    deal_id, _, _ = deal_at_contract(crm)
    app = make_app(crm)
    async with app.run_test(size=(120, 35)) as pilot:
        await focus_only_deal(app, settle, pilot, "contract")
        await pilot.press("right_square_bracket")
        await settle(pilot)
        assert isinstance(app.screen, ClosingTasksDialog)
        assert app.screen.query_one(SelectionList).selected == []  # kept unless ticked
        await pilot.press("escape")
        await settle(pilot)
        assert isinstance(app.screen, BoardScreen)
    assert get_deal(crm, deal_id).stage_key == "contract"
    assert len([t for t in tasks_of(crm, deal_id) if t.completed_at is None]) == 3


async def test_back_from_lead_never_enters_the_inbox(crm: Crm, settle: Settle) -> None:
    deal = capture_lead(crm, LeadInput(name="Первый шаг"))
    app = make_app(crm)
    async with app.run_test(size=(120, 35)) as pilot:
        await focus_only_deal(app, settle, pilot, "lead")
        assert app.board.current_deal().id == deal.id
        await pilot.press("left_square_bracket")
        await settle(pilot)
        assert isinstance(app.screen, BoardScreen)
    assert get_deal(crm, deal.id).stage_key == "lead"


async def test_lost_from_the_card_asks_then_keeps_what_was_not_ticked(crm: Crm, settle: Settle) -> None:
    from screens_fixtures import ScreensApp

    from tui_crm.screens.card import CardScreen
    from tui_crm.widgets.field_editor import FieldRow

    deal_id, invoice_id, thanks_id = deal_at_contract(crm)
    app = ScreensApp(crm, lambda: CardScreen("deal", deal_id))
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        next(r for r in app.screen.query(FieldRow) if r.spec.key == "stage").focus()
        await pilot.press("e")
        await settle(pilot)
        await pilot.press("end", "enter")  # the last stage: Закрыто и не реализовано
        await settle(pilot)
        assert isinstance(app.screen, ClosingTasksDialog)
        await pilot.press("enter")  # nothing ticked: both stay open
        await settle(pilot)
        form = app.screen
        assert isinstance(form, GateForm)  # the loss reason
        form.query_one(f"#{field_id('loss_reason')}").value = "Дорого"  # type: ignore[attr-defined]
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert isinstance(app.screen, CardScreen)
    assert get_deal(crm, deal_id).stage_key == "lost"
    still_open = sorted(t.text for t in tasks_of(crm, deal_id) if t.completed_at is None)
    assert still_open == ["Выставить счёт", "Поблагодарить клиента", "Фолоуап: как идёт проект?"]


async def test_mass_close_asks_once_about_the_tasks_people_set(crm: Crm, settle: Settle) -> None:
    """The loss reason first (once for all), then the tasks question (once): kept."""
    from textual.widgets import Select

    from tui_crm.screens.mass_action import ChoiceScreen, MassReportScreen
    from tui_crm.widgets.form_dialog import ConfirmDialog

    first, second = (capture_lead(crm, LeadInput(name=n)) for n in ("Первая", "Вторая"))
    add_task(crm, TaskInput(text="Ручная", due="+1d", entity_type="deal", entity_ref=first.id))
    app = make_app(crm)
    async with app.run_test(size=(120, 35)) as pilot:
        await focus_only_deal(app, settle, pilot, "lead")
        await pilot.press("space", "j", "space", "m")
        await settle(pilot)
        await pilot.press("enter")  # Change stage
        await settle(pilot)
        assert isinstance(app.screen, ChoiceScreen)
        assert "Неразобранное" not in [label for _, label in app.screen.options]  # type: ignore[attr-defined]
        await pilot.press("end", "enter")  # Закрыто и не реализовано
        await settle(pilot)
        form = app.screen
        assert isinstance(form, GateForm)  # the loss reason, once for both
        form.query_one(f"#{field_id('loss_reason')}", Select).value = "Нет бюджета"
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert isinstance(app.screen, ConfirmDialog)  # then the tasks people set, once
        await pilot.press("n")  # keep them open
        await settle(pilot)
        assert isinstance(app.screen, MassReportScreen)
        assert app.screen.report.changed == 2
    for deal in (first, second):
        closed = get_deal(crm, deal.id)
        assert (closed.stage_key, closed.loss_reason) == ("lost", "Нет бюджета")
        automatic = [t for t in tasks_of(crm, deal.id) if t.text == "Связаться с лидом"]
        assert [t.result for t in automatic] == ["Сделка закрыта: закрыто и не реализовано"]
    still_open = sorted(t.text for d in (first, second) for t in tasks_of(crm, d.id) if t.completed_at is None)
    assert still_open == ["Ручная", "Фолоуап: как идёт проект?", "Фолоуап: как идёт проект?"]
