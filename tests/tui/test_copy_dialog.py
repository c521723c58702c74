"""The card's copy dialog preselects where the service would put the copy.

The dialog used to preselect the deal's own stage, so copying a lost deal
with the defaults asked for the Lost gate again (the loss reason is not
copied) and created nothing. It now preselects ``default_copy_stage``: the
deal's own stage while that is open, else Lead. Each test opens the card,
starts the copy with the key or the activity bar, accepts the defaults and
reads the result back from the database.
"""

from __future__ import annotations

import pytest
from screens_fixtures import SIZE, ScreensApp, settle
from screens_fixtures import screens_crm as screens_crm  # noqa: F401 - the fixture
from textual.pilot import Pilot
from textual.widgets import Select

from tui_crm.screens.card import CardScreen
from tui_crm.services.context import Crm
from tui_crm.services.deal_queries import count_deals
from tui_crm.services.deals import LeadInput, capture_lead, get_deal, move_deal
from tui_crm.services.views import DealDetail
from tui_crm.widgets.form_dialog import FormDialog

pytestmark = pytest.mark.anyio


def card_app(crm: Crm, deal_id: str) -> ScreensApp:
    return ScreensApp(crm, lambda: CardScreen("deal", deal_id))


def lost_deal(crm: Crm) -> DealDetail:
    """A monthly invoice that was lost: budget, contact and a tag to carry over."""
    lead = LeadInput(name="Счёт, октябрь", budget="100 000", contact_name="Борис", phone="+7 916 111-11-11", tags=["ежемесячно"])
    deal = capture_lead(crm, lead)
    move_deal(crm, deal.id, "lost", {"loss_reason": "Дорого"})
    return get_deal(crm, deal.id)


async def start_copy(pilot: Pilot[None], how: str) -> FormDialog[DealDetail]:
    if how == "key":
        await pilot.press("y")
    else:
        await pilot.click("#activity-copy-deal")
    await settle(pilot)
    dialog = pilot.app.screen
    assert isinstance(dialog, FormDialog) and dialog.title_text == "Copy deal"
    return dialog


async def accept_defaults(pilot: Pilot[None]) -> DealDetail:
    """Save the dialog untouched; the card of the copy opens."""
    await pilot.press("ctrl+s")
    await settle(pilot)
    screen = pilot.app.screen
    assert isinstance(screen, CardScreen), type(screen).__name__  # not the dialog with a gate error
    return get_deal(pilot.app.crm, screen.entity_id)  # type: ignore[attr-defined]


@pytest.mark.parametrize("how", ["key", "activity bar"])
async def test_copying_a_lost_deal_with_the_defaults_lands_in_lead(screens_crm: Crm, how: str) -> None:
    lost = lost_deal(screens_crm)
    before = count_deals(screens_crm)
    app = card_app(screens_crm, lost.id)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        dialog = await start_copy(pilot, how)
        assert dialog.query_one("#field-target", Select).value == "sales20/lead"
        copy = await accept_defaults(pilot)
    assert count_deals(screens_crm) == before + 1
    assert copy.id != lost.id and copy.name == lost.name
    assert (copy.pipeline_key, copy.stage_key, copy.closed_at, copy.loss_reason) == ("sales20", "lead", None, None)
    assert (copy.budget_rub, copy.tags) == (lost.budget_rub, ["ежемесячно"])
    assert [(c.name, c.is_main) for c in copy.contacts] == [("Борис", True)]
    assert get_deal(screens_crm, lost.id).stage_key == "lost"  # the source stays where it was


async def test_copying_an_open_deal_keeps_its_stage(screens_crm: Crm) -> None:
    deal = capture_lead(screens_crm, LeadInput(name="Тендер на сайт", pipeline="Тендеры"))
    move_deal(screens_crm, deal.id, "Анализ документации")
    app = card_app(screens_crm, deal.id)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        dialog = await start_copy(pilot, "key")
        assert dialog.query_one("#field-target", Select).value == "tenders/analysis"
        copy = await accept_defaults(pilot)
    assert copy.id != deal.id and (copy.pipeline_key, copy.stage_key) == ("tenders", "analysis")
