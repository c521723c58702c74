"""One gate-move flow (``widgets.gate_move``) on the card, the board and the copy.

``]``/``[`` on a deal's card move it a stage on or back through the gate
form, as on the board; a value the service refuses after the form (an INN
for a deal without a company) is shown under that field, matched by the
field key the service puts on the error, in the card, the board and the
copy dialog alike. Each test presses keys and reads the database.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import pytest
from screens_fixtures import SIZE, ScreensApp, screen_text
from screens_fixtures import settle as settle_screens
from textual.pilot import Pilot
from textual.widgets import Input, Label, Select

from tests.services.test_move_one_step import NEGOTIATION
from tui_crm.app import make_app
from tui_crm.screens.board import BoardScreen
from tui_crm.screens.card import CardScreen
from tui_crm.services.context import Crm
from tui_crm.services.deals import LeadInput, capture_lead, get_deal, move_deal
from tui_crm.widgets.gate_form import GateForm, field_id

pytestmark = pytest.mark.anyio

Settle = Callable[..., Awaitable[None]]


def no_company_at_negotiation(crm: Crm) -> str:
    """A RUS deal one step before «Договор», whose gate wants the company's INN; it has no company."""
    deal = capture_lead(crm, LeadInput(name="Без компании", pipeline="sales_rus"))
    move_deal(crm, deal.id, "negotiation", set_values=NEGOTIATION)
    return deal.id


def card_app(crm: Crm, deal_id: str) -> ScreensApp:
    return ScreensApp(crm, lambda: CardScreen("deal", deal_id))


async def test_bracket_on_the_card_moves_through_the_gate_form(crm: Crm) -> None:
    deal = capture_lead(crm, LeadInput(name="Карточка", budget="500 000"))
    app = card_app(crm, deal.id)
    async with app.run_test(size=SIZE) as pilot:
        await settle_screens(pilot)
        await pilot.press("right_square_bracket")
        await settle_screens(pilot)
        form = app.screen
        assert isinstance(form, GateForm)
        assert [m.key for m in form.missing] == ["budget_usd", "segment", "territory", "city"]
        assert get_deal(crm, deal.id).stage_key == "lead"
        await pilot.press(*"6000")
        form.query_one(f"#{field_id('segment')}", Select).value = "B"
        form.query_one(f"#{field_id('territory')}", Select).value = "РФ"
        form.query_one(f"#{field_id('city')}", Input).value = "Омск"
        await pilot.press("ctrl+s")
        await settle_screens(pilot)
        assert isinstance(app.screen, CardScreen)
        moved = get_deal(crm, deal.id)
        assert (moved.stage_key, moved.custom["city"], str(moved.budget_usd)) == ("qualification", "Омск", "6000.00")
        assert "Квалификация" in screen_text(app)  # the card shows where the deal is now
        await pilot.press("left_square_bracket")  # back needs no gate
        await settle_screens(pilot)
        assert get_deal(crm, deal.id).stage_key == "lead"


async def test_the_card_lists_the_stage_keys_in_help(crm: Crm) -> None:
    from tui_crm.commands import screen_actions

    deal = capture_lead(crm, LeadInput(name="Справка"))
    app = card_app(crm, deal.id)
    async with app.run_test(size=SIZE) as pilot:
        await settle_screens(pilot)
        entries = {e.description: e.key for e in screen_actions(app.screen)}
        assert entries.get("Next stage") == "]" and entries.get("Prev stage") == "["


async def inn_refused_under_its_field(pilot: Pilot[None]) -> GateForm:
    """In the gate form asking for the INN: type one, save; the service's refusal
    (no company) comes back under that field, with what was typed."""
    form = pilot.app.screen
    assert isinstance(form, GateForm) and [m.key for m in form.missing] == ["company.inn"]
    await pilot.press(*"7707083893", "ctrl+s")
    await settle_screens(pilot)
    again = pilot.app.screen
    assert isinstance(again, GateForm) and again is not form
    assert "no company" in str(again.query_one(f"#{field_id('company.inn')}-error", Label).render())
    assert again.raw_value("company.inn") == "7707083893"
    return again


async def test_a_refused_inn_on_the_card_is_shown_under_its_field(crm: Crm) -> None:
    deal_id = no_company_at_negotiation(crm)
    app = card_app(crm, deal_id)
    async with app.run_test(size=SIZE) as pilot:
        await settle_screens(pilot)
        await pilot.press("right_square_bracket")
        await settle_screens(pilot)
        await inn_refused_under_its_field(pilot)
        await pilot.press("escape")
        await settle_screens(pilot)
        assert isinstance(app.screen, CardScreen)
    assert get_deal(crm, deal_id).stage_key == "negotiation"


async def test_a_refused_inn_in_the_copy_is_shown_under_its_field(crm: Crm) -> None:
    """The copy's gate form used to show the service's refusal above the fields."""
    app = card_app(crm, no_company_at_negotiation(crm))
    async with app.run_test(size=SIZE) as pilot:
        await settle_screens(pilot)
        await pilot.press("y")
        await settle_screens(pilot)
        app.screen.query_one("#field-target", Select).value = "sales_rus/contract"
        await pilot.press("ctrl+s")
        await settle_screens(pilot)
        await inn_refused_under_its_field(pilot)


async def test_bracket_back_on_the_first_stage_says_so(crm: Crm, settle: Settle) -> None:
    deal = capture_lead(crm, LeadInput(name="Первый"))
    app = make_app(crm)
    async with app.run_test(size=(120, 35)) as pilot:
        await settle(pilot)
        assert app.board.current_deal() is not None
        await pilot.press("left_square_bracket")
        await settle(pilot)
        assert isinstance(app.screen, BoardScreen)
        assert any("already in the first working stage" in str(n.message) for n in app._notifications)
    assert get_deal(crm, deal.id).stage_key == "lead"
