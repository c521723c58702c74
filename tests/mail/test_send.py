"""Sending through a real SMTP server (aiosmtpd) and appending to Dovecot's Sent; the outbox."""

from __future__ import annotations

import email
import email.policy

import pytest

from tests.mail.conftest import make_mail
from tests.mail.servers import free_port
from tui_crm.domain.errors import ValidationError
from tui_crm.services.deals import LeadInput, capture_lead
from tui_crm.services.mail_fetch import fetch_mail
from tui_crm.services.mail_messages import messages_of
from tui_crm.services.mail_send import OutgoingMail, cancel_outgoing, flush_outbox, list_outbox, send_mail
from tui_crm.services.signatures import set_signature


def _sent_folder(dovecot, account):
    from imapclient import IMAPClient

    with IMAPClient("127.0.0.1", port=dovecot.port, ssl=False) as client:
        client.login(*account)
        client.select_folder("Sent")
        uids = client.search()
        return [email.message_from_bytes(d[b"BODY[]"]) for d in client.fetch(uids, ["BODY[]"]).values()]


def test_a_reply_from_the_card_has_the_signature_thread_headers_and_several_cc(
    crm, add_box, imap_account, load, smtp, dovecot
):
    deal = capture_lead(crm, LeadInput(name="Ёлка", email="olga@client.test", contact_name="Ольга"))
    add_box("work", imap_account, smtp=smtp)
    set_signature(crm, "Анна", "Анна Петрова\nOmega-R, +7 495 000-00-00")
    load(imap_account, "INBOX", make_mail(subject="Смета", message_id="<q1@client.test>", references="<q0@client.test>"))
    fetch_mail(crm)
    [incoming] = messages_of(crm, "deal", deal.id)

    result = send_mail(
        crm, OutgoingMail(to=[], cc=["boss@client.test", "pm@client.test"], body="Смета во вложении.", reply_to=incoming.id)
    )

    assert result.status == "sent"
    [(sender, rcpts, raw)] = smtp.messages
    sent = email.message_from_bytes(raw, policy=email.policy.default)
    assert sender == imap_account[0] and sorted(rcpts) == ["boss@client.test", "olga@client.test", "pm@client.test"]
    assert sent["Subject"] == "Re: Смета" and sent["In-Reply-To"] == "<q1@client.test>"
    assert sent["References"] == "<q0@client.test> <q1@client.test>"
    text = sent.get_content()
    assert text.startswith("Смета во вложении.\n\n-- \nАнна Петрова\nOmega-R")
    # on the timeline (deal and contact) once, and in Sent once, even after the next fetch
    assert [m.subject for m in messages_of(crm, "deal", deal.id)] == ["Re: Смета", "Смета"]
    assert len(_sent_folder(dovecot, imap_account)) == 1
    fetch_mail(crm)
    assert [m.subject for m in messages_of(crm, "contact", "Ольга")] == ["Re: Смета", "Смета"]
    assert len(_sent_folder(dovecot, imap_account)) == 1


def test_offline_the_message_waits_in_the_outbox_and_goes_once_on_the_next_connection(crm, add_box, imap_account, smtp, dovecot):
    from tui_crm.services.mailboxes import MailboxInput, add_mailbox

    capture_lead(crm, LeadInput(name="Ёлка", email="olga@client.test", contact_name="Ольга"))
    port = free_port()  # nothing listens there yet: offline
    add_mailbox(crm, MailboxInput(name="work", imap=f"127.0.0.1:{dovecot.port}", smtp=f"127.0.0.1:{port}",
                                  login=imap_account[0], password=imap_account[1], security="none"))
    result = send_mail(crm, OutgoingMail(to=["olga@client.test"], subject="Привет", body="Текст", entity_type="contact",
                                         entity_ref="Ольга"))
    assert result.status == "queued"
    assert [(o.subject, o.status) for o in list_outbox(crm)] == [("Привет", "queued")]
    assert messages_of(crm, "contact", "Ольга") == []

    from tests.mail.servers import start_smtp

    server = start_smtp(port=port)  # back online
    try:
        assert flush_outbox(crm) == 1
        assert flush_outbox(crm) == 0
    finally:
        server.stop()
    assert len(server.messages) == 1
    assert list_outbox(crm) == []
    assert [m.subject for m in messages_of(crm, "contact", "Ольга")] == ["Привет"]


def test_a_queued_message_can_be_cancelled_and_a_crash_while_sending_never_sends_twice(crm, add_box, imap_account, dovecot):
    from tui_crm.services.mailboxes import MailboxInput, add_mailbox
    from tui_crm.storage.mail_tables import MailOutbox

    add_mailbox(crm, MailboxInput(name="work", imap=f"127.0.0.1:{dovecot.port}", smtp=f"127.0.0.1:{free_port()}",
                                  login=imap_account[0], password=imap_account[1], security="none"))
    first = send_mail(crm, OutgoingMail(to=["a@client.test"], subject="one", body="x"))
    second = send_mail(crm, OutgoingMail(to=["b@client.test"], subject="two", body="y"))
    cancel_outgoing(crm, first.outbox_id[:8])
    # the process died after handing "two" to the server: the row is left 'sending'
    with crm.uow() as work:
        row = work.session.get(MailOutbox, second.outbox_id)
        row.status = "sending"
        work.session.add(row)
    assert flush_outbox(crm) == 0
    statuses = {o.subject: o.status for o in list_outbox(crm, include_done=True)}
    assert statuses == {"one": "cancelled", "two": "uncertain"}
    with pytest.raises(ValidationError):
        cancel_outgoing(crm, first.outbox_id)


def test_signatures_are_set_by_an_admin_only(crm, open_store):
    from tui_crm.services.users import add_user

    add_user(crm, "Борис")
    boris = open_store(user="Борис")
    with pytest.raises(ValidationError, match="only an admin"):
        set_signature(boris, "Борис", "Boris")
    assert set_signature(crm, "Борис", "Борис, отдел продаж") == ("Борис", "Борис, отдел продаж")
