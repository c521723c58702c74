"""The outbox in the app: queued and uncertain messages listed, send now, cancel (the database checked after)."""

from __future__ import annotations

import pytest

from tests.mail.servers import free_port, start_smtp
from tests.tui.screens_fixtures import ScreensApp, screen_text, settle
from tests.tui.screens_fixtures import screens_crm as screens_crm  # noqa: F401 - the fixture
from tui_crm.app import CrmApp
from tui_crm.screens.outbox import OutboxScreen
from tui_crm.services.mail_send import OutgoingMail, list_outbox, send_mail
from tui_crm.services.mailboxes import MailboxInput, add_mailbox
from tui_crm.storage.mail_tables import MailOutbox
from tui_crm.widgets.form_dialog import ConfirmDialog

pytestmark = pytest.mark.anyio
SIZE = (110, 24)


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def offline_outbox(crm, dovecot, account, smtp_port: int) -> dict[str, str]:  # noqa: ANN001
    """Three messages sent while SMTP is down: two queued, one left uncertain by a «crash»; ids by subject."""
    add_mailbox(crm, MailboxInput(name="work", imap=f"127.0.0.1:{dovecot.port}", smtp=f"127.0.0.1:{smtp_port}",
                                  login=account[0], password=account[1], security="none"))
    ids = {}
    for subject, to in (("КП для Ёлки", "olga@client.test"), ("[bold]Смета[/bold] \x1b[2J", "ivan@client.test"),
                        ("Договор", "boss@client.test")):
        ids[subject] = send_mail(crm, OutgoingMail(to=[to], subject=subject, body="Текст")).outbox_id
    with crm.uow() as work:  # a fixed error text (the real one names the free port) and one «crash while sending»
        for row_id in ids.values():
            row = work.session.get(MailOutbox, row_id)
            row.last_error = "Cannot connect to SMTP 127.0.0.1: Connection refused"
            work.session.add(row)
        row = work.session.get(MailOutbox, ids["Договор"])
        row.status, row.last_error = "uncertain", "the app stopped while sending; check with the recipient, then retry or cancel"
        work.session.add(row)
    return ids


def test_outbox_snapshot(snap_compare, screens_crm, dovecot, imap_account, memory_keyring):  # noqa: F811
    offline_outbox(screens_crm, dovecot, imap_account, free_port())

    async def run_before(pilot) -> None:  # noqa: ANN001
        await settle(pilot)
        await pilot.press("down", "down")
        await settle(pilot)

    assert snap_compare(ScreensApp(screens_crm, OutboxScreen), terminal_size=SIZE, run_before=run_before)


async def test_cancel_and_send_now_from_the_outbox(screens_crm, dovecot, imap_account, memory_keyring):  # noqa: F811
    port = free_port()
    ids = offline_outbox(screens_crm, dovecot, imap_account, port)
    config = screens_crm.settings.config_dir
    config.mkdir(parents=True, exist_ok=True)
    (config / "config.toml").write_text("mail_interval_minutes = 0\n", encoding="utf-8")  # only the keys send
    app = CrmApp(screens_crm)
    server = None
    try:
        async with app.run_test(size=SIZE) as pilot:
            await settle(pilot)
            await pilot.press("O")  # from the board
            await settle(pilot)
            assert isinstance(app.screen, OutboxScreen)
            text = screen_text(app)
            assert "3 not sent · 2 queued" in text and "[bold]Смета[/bold]" in text and "\x1b" not in text
            # the newest first: Договор (uncertain), then Смета, then КП
            await pilot.press("x")
            await settle(pilot)
            assert isinstance(app.screen, ConfirmDialog)
            await pilot.press("y")
            await settle(pilot, rounds=20, until=lambda: "2 not sent · 2 queued" in screen_text(app))  # cancel, re-read
            assert isinstance(app.screen, OutboxScreen)
            assert {o.subject: o.status for o in list_outbox(screens_crm, include_done=True)}["Договор"] == "cancelled"
            assert "2 not sent · 2 queued" in screen_text(app)

            server = start_smtp(port=port)  # back online
            await pilot.press("s")  # the highlighted one, now Смета
            smeta = ids["[bold]Смета[/bold] \x1b[2J"]

            def sent_and_shown() -> bool:
                sent = {o.id: o.status for o in list_outbox(screens_crm, include_done=True)}[smeta] == "sent"
                return sent and "1 not sent · 1 queued" in screen_text(app)

            await settle(pilot, rounds=20, until=sent_and_shown)  # the send, then the list's re-read
            statuses = {o.id: o.status for o in list_outbox(screens_crm, include_done=True)}
            assert statuses == {ids["Договор"]: "cancelled", ids["[bold]Смета[/bold] \x1b[2J"]: "sent",
                                ids["КП для Ёлки"]: "queued"}
            assert [rcpts for _, rcpts, _ in server.messages] == [["ivan@client.test"]]
            assert "1 not sent · 1 queued" in screen_text(app)
    finally:
        if server is not None:
            server.stop()
