"""The card shows a record's mail; Enter opens a message as text; m writes one (Pilot + real servers)."""

from __future__ import annotations

import pytest

from tests.mail.card_keys import reply_from_card
from tests.mail.conftest import make_mail
from tests.mail.hostile import ANSI_SUBJECT, MESSAGES
from tests.tui.screens_fixtures import SIZE, ScreensApp, screen_text, settle
from tui_crm.screens.card import CardScreen
from tui_crm.services.deals import LeadInput, capture_lead, get_deal
from tui_crm.services.mail_fetch import fetch_mail
from tui_crm.services.mail_messages import messages_of
from tui_crm.widgets.timeline_view import TimelineView

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


async def test_mail_on_the_card_opens_as_text_and_saves_its_attachment(crm, add_box, imap_account, load, smtp):
    from tests.mail.hostile import big_attachment
    from tui_crm.screens.mail_message import MessageScreen

    deal = capture_lead(crm, LeadInput(name="Ёлка", email="olga@client.test", contact_name="Ольга"))
    add_box("work", imap_account, smtp=smtp)
    load(imap_account, "INBOX", make_mail(subject="Бриф", sender="Ольга <olga@client.test>", body="Нужен сайт к весне"),
         MESSAGES["ansi"], big_attachment(size=50_000))
    fetch_mail(crm)
    app = ScreensApp(crm, lambda: CardScreen("deal", deal.id))
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        text = screen_text(app)
        assert "Бриф" in text and "Нужен сайт к весне" in text and "\x1b" not in text
        view = app.screen.query_one(TimelineView)
        view.focus()
        view.highlighted = next(i for i, item in enumerate(view.items) if item.kind == "email" and "big file" in item.text)
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, MessageScreen)
        assert "plan.png" in screen_text(app)
        await pilot.press("s")
        await settle(pilot, rounds=6)
        assert get_deal(crm, deal.id).files == ["plan.png"]
        await pilot.press("escape")
        await settle(pilot)
        view.highlighted = next(i for i, item in enumerate(view.items) if item.kind == "email" and "Red" in item.text)
        await pilot.press("enter")
        await settle(pilot)
        shown = screen_text(app)
        assert "[bold]markup[/bold]" in shown and "\x1b" not in shown and ANSI_SUBJECT not in shown


async def test_m_on_the_card_sends_a_reply_with_the_thread(crm, add_box, imap_account, load, smtp):
    deal = capture_lead(crm, LeadInput(name="Ёлка", email="olga@client.test", contact_name="Ольга"))
    add_box("work", imap_account, smtp=smtp)
    load(imap_account, "INBOX", make_mail(subject="Бриф", sender="olga@client.test", message_id="<brief@client.test>"))
    fetch_mail(crm)
    app = ScreensApp(crm, lambda: CardScreen("deal", deal.id))
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await reply_from_card(pilot, "Спасибо, смотрим")
    [(_, rcpts, raw)] = smtp.messages
    assert rcpts == ["olga@client.test"] and b"In-Reply-To: <brief@client.test>" in raw
    assert [m.subject for m in messages_of(crm, "deal", deal.id)] == ["Re: Бриф", "Бриф"]
