"""Unsorted triage: accept makes a deal at the lead stage with its contact
(and offers its card), decline keeps the request with a reason; strangers'
text is shown plainly."""

from __future__ import annotations

import pytest
from screens_fixtures import MARKUP_NAME, SIZE, ScreensApp, screen_text, seed_screens, settle
from screens_fixtures import screens_crm as screens_crm  # noqa: F401 - the fixture

from tui_crm.app import CrmApp
from tui_crm.screens.card import CardScreen
from tui_crm.screens.unsorted import UnsortedScreen
from tui_crm.services.context import Crm
from tui_crm.services.deals import get_deal
from tui_crm.services.unsorted import list_unsorted
from tui_crm.widgets.form_dialog import ConfirmDialog, FormDialog

pytestmark = pytest.mark.anyio


def inbox(crm: Crm) -> ScreensApp:
    return ScreensApp(crm, lambda: UnsortedScreen("sales20"))


async def test_inbox_lists_and_previews_plain_text(screens_crm: Crm) -> None:
    seed_screens(screens_crm)
    app = inbox(screens_crm)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        text = screen_text(app)
        assert "Unsorted · Продажи 2.0" in text and "2 waiting for triage" in text
        assert MARKUP_NAME in text and "[blink]WIN[/blink]" in text  # newest first, literally
        assert "Click here" in text and "pwned" not in text and "\x1b" not in text
        await pilot.press("down")
        await settle(pilot)
        text = screen_text(app)
        assert "olga@romashka.example.ru" in text and "Нужен магазин на 500 товаров." in text


async def test_accept_creates_a_lead_with_its_contact(screens_crm: Crm) -> None:
    ids = seed_screens(screens_crm)
    app = inbox(screens_crm)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("down", "a")
        await settle(pilot)
        assert isinstance(app.screen, ConfirmDialog)
        assert "is now at Лид with contact Ольга" in screen_text(app)
        await pilot.press("y")
        await settle(pilot)
        assert isinstance(app.screen, CardScreen) and app.screen.entity_type == "deal"
        deal_id = app.screen.entity_id
        await pilot.press("escape")
        await settle(pilot)
        assert "1 waiting for triage" in screen_text(app)
    accepted = list_unsorted(screens_crm, "sales20", status="accepted")
    assert [(e.id, e.deal_id) for e in accepted] == [(ids["unsorted_form"], deal_id)]
    deal = get_deal(screens_crm, deal_id)
    assert deal.stage == "Лид" and deal.name == "Нужен интернет-магазин"
    assert [c.name for c in deal.contacts] == ["Ольга Смирнова"]
    assert deal.source_message and "500 товаров" in deal.source_message


async def test_decline_needs_and_keeps_a_reason(screens_crm: Crm) -> None:
    ids = seed_screens(screens_crm)
    app = inbox(screens_crm)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("d")
        await settle(pilot)
        assert isinstance(app.screen, FormDialog)
        await pilot.press("enter")  # no reason yet
        await settle(pilot)
        assert isinstance(app.screen, FormDialog) and "Reason: required" in screen_text(app)
        assert list_unsorted(screens_crm, "sales20", status="declined") == []
        await pilot.press(*"спам")
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, UnsortedScreen)
        assert "1 waiting for triage" in screen_text(app)
        await pilot.press("s")  # show the declined ones
        await settle(pilot)
        assert "Declined спам" in screen_text(app)
    declined = list_unsorted(screens_crm, "sales20", status="declined")
    assert [(e.id, e.decline_reason) for e in declined] == [(ids["unsorted_mail"], "спам")]


async def test_unsorted_on_the_real_app(screens_crm: Crm) -> None:
    seed_screens(screens_crm)
    app = CrmApp(screens_crm)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("u")
        await settle(pilot)
        assert isinstance(app.screen, UnsortedScreen)
        assert "2 waiting for triage" in screen_text(app)
