"""The app fetches mail in a worker and the status bar counts what arrived."""

from __future__ import annotations

import pytest

from tests.mail.conftest import make_mail
from tests.tui.screens_fixtures import screen_text, settle
from tui_crm.app import CrmApp, mail_interval_minutes
from tui_crm.services.deals import LeadInput, capture_lead
from tui_crm.services.mail_messages import messages_of

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


async def test_the_background_fetch_brings_mail_and_the_status_bar_counts_it(crm, clock, add_box, imap_account, load):
    capture_lead(crm, LeadInput(name="Ёлка", email="olga@client.test", contact_name="Ольга"))
    add_box("work", imap_account)
    app = CrmApp(crm)
    async with app.run_test(size=(120, 30)) as pilot:
        await settle(pilot)
        assert "new mail" not in screen_text(app)
        load(imap_account, "INBOX", make_mail(subject="Один", sender="olga@client.test"),
             make_mail(subject="Два", sender="olga@client.test"))
        clock.advance(minutes=5)
        app.fetch_mail_now()
        await settle(pilot, rounds=6)
        assert "✉ 2 new mail" in screen_text(app)
    assert sorted(m.subject for m in messages_of(crm, "contact", "Ольга")) == ["Два", "Один"]


def test_the_fetch_interval_comes_from_config(tmp_path):
    assert mail_interval_minutes(tmp_path) == 5
    (tmp_path / "config.toml").write_text("mail_interval_minutes = 0\n", encoding="utf-8")
    assert mail_interval_minutes(tmp_path) == 0


async def wait_until(pilot, condition, seconds: float = 60.0) -> bool:  # noqa: ANN001
    """Poll ``condition`` while the app runs; a generous bound, not a speed assertion."""
    import time

    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        await pilot.pause(0.2)
    return condition()


@pytest.mark.slow
async def test_new_mail_reaches_the_status_bar_through_imap_idle_without_a_key(crm, clock, add_box, imap_account, load):
    """The interval fetch is an hour away: only IDLE can bring the message while the app waits."""
    (crm.settings.config_dir / "config.toml").parent.mkdir(parents=True, exist_ok=True)
    (crm.settings.config_dir / "config.toml").write_text("mail_interval_minutes = 60\n", encoding="utf-8")
    capture_lead(crm, LeadInput(name="Ёлка", email="olga@client.test", contact_name="Ольга"))
    add_box("work", imap_account)
    app = CrmApp(crm)
    async with app.run_test(size=(120, 30)) as pilot:
        await settle(pilot)
        assert await wait_until(pilot, lambda: "work" in app.mail_idling), "the INBOX never went into IDLE"
        assert "new mail" not in screen_text(app)
        clock.advance(minutes=1)
        load(imap_account, "INBOX", make_mail(subject="Срочно", sender="olga@client.test"))

        assert await wait_until(pilot, lambda: "✉ 1 new mail" in screen_text(app)), screen_text(app)
    assert [m.subject for m in messages_of(crm, "contact", "Ольга")] == ["Срочно"]
    assert app.mail_idling == set()  # the watcher let go of the connection when the app stopped
