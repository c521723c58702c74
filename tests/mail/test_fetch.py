"""Fetching INBOX and Sent from a real Dovecot: linking, dedupe, incremental, resume."""

from __future__ import annotations

from tests.mail.conftest import make_mail
from tests.mail.servers import DroppingProxy
from tui_crm.services.deals import LeadInput, capture_lead
from tui_crm.services.mail_fetch import fetch_mail
from tui_crm.services.mail_messages import count_messages, messages_of, open_message, thread_of


def _lead(crm, name="Сайт для Ёлки", email="Olga@Client.test"):
    return capture_lead(crm, LeadInput(name=name, email=email, contact_name="Ольга"))


def test_inbox_and_sent_land_on_the_contact_and_its_open_deal(crm, mailbox, imap_account, load):
    deal = _lead(crm)
    contact_id = deal.contacts[0].id
    first = make_mail(subject="Бриф", sender="Olga <OLGA@client.test>", message_id="<brief@client.test>")
    reply = make_mail(
        subject="Re: Бриф", sender=f"Me <{imap_account[0]}>", to="olga@client.test",
        message_id="<reply@me.test>", in_reply_to="<brief@client.test>", references="<brief@client.test>",
    )
    other = make_mail(subject="Spam", sender="nobody@else.test")
    load(imap_account, "INBOX", first, other)
    load(imap_account, "Sent", reply)
    load(imap_account, "Archive", make_mail(subject="Archived", sender="olga@client.test"))

    [report] = fetch_mail(crm)

    assert report.error is None and report.new == 3
    on_deal = messages_of(crm, "deal", deal.id)
    assert [m.subject for m in on_deal] == ["Re: Бриф", "Бриф"] or sorted(m.subject for m in on_deal) == ["Re: Бриф", "Бриф"]
    assert {m.direction for m in on_deal} == {"in", "out"}
    assert count_messages(crm, "contact", contact_id) == 2
    assert [m.subject for m in thread_of(crm, on_deal[0].id)] == ["Бриф", "Re: Бриф"]
    assert "Archived" not in {m.subject for m in on_deal}  # only INBOX and Sent are read


def test_second_fetch_is_incremental_and_adds_only_new_mail(crm, mailbox, imap_account, load):
    _lead(crm)
    load(imap_account, "INBOX", make_mail(subject="one", sender="olga@client.test"))
    assert fetch_mail(crm)[0].new == 1
    again = fetch_mail(crm)[0]
    assert (again.new, again.duplicates) == (0, 0)
    load(imap_account, "INBOX", make_mail(subject="two", sender="olga@client.test"))
    assert fetch_mail(crm)[0].new == 1
    assert sorted(m.subject for m in messages_of(crm, "contact", "Ольга")) == ["one", "two"]


def test_the_same_message_in_inbox_sent_and_two_mailboxes_is_stored_once(crm, add_box, dovecot, load):
    _lead(crm)
    a, b = dovecot.add_user(), dovecot.add_user()
    add_box("a", a)
    add_box("b", b)
    raw = make_mail(subject="Copy", sender="olga@client.test", message_id="<same@client.test>")
    load(a, "INBOX", raw)
    load(a, "Sent", raw)
    load(b, "INBOX", raw)
    reports = fetch_mail(crm)
    assert sum(r.new for r in reports) == 1 and sum(r.duplicates for r in reports) == 2
    assert count_messages(crm, "contact", "Ольга") == 1


def test_uidvalidity_change_rereads_without_duplicates(crm, mailbox, imap_account, load, dovecot):
    from imapclient import IMAPClient

    _lead(crm)
    kept = make_mail(subject="kept", sender=f"me <{imap_account[0]}>", to="olga@client.test", message_id="<kept@me.test>")
    load(imap_account, "Sent", kept)
    assert fetch_mail(crm)[0].new == 1
    # The folder is re-created: a new UIDVALIDITY, UIDs start again at 1.
    with IMAPClient("127.0.0.1", port=dovecot.port, ssl=False) as client:
        client.login(*imap_account)
        before = client.folder_status("Sent", ["UIDVALIDITY"])[b"UIDVALIDITY"]
        client.delete_folder("Sent")
        client.create_folder("Sent")
    new = make_mail(subject="new", sender=f"me <{imap_account[0]}>", to="olga@client.test")
    load(imap_account, "Sent", kept, new)
    with IMAPClient("127.0.0.1", port=dovecot.port, ssl=False) as client:
        client.login(*imap_account)
        assert client.folder_status("Sent", ["UIDVALIDITY"])[b"UIDVALIDITY"] != before

    report = fetch_mail(crm)[0]

    assert (report.error, report.new, report.duplicates) == (None, 1, 1)
    assert sorted(m.subject for m in messages_of(crm, "contact", "Ольга")) == ["kept", "new"]


def test_a_connection_dropped_mid_fetch_resumes_without_losing_or_doubling(crm, add_box, dovecot, load):
    from tui_crm.services import mail_fetch

    _lead(crm)
    account = dovecot.add_user()
    messages = [make_mail(subject=f"m{i:03}", sender="olga@client.test", body="x" * 2000) for i in range(60)]
    load(account, "INBOX", *messages)
    proxy = DroppingProxy(dovecot.port)
    try:
        add_box("proxied", account, port=proxy.port)
        proxy.cut_after(40_000)  # the first connection dies in the middle of the FETCH
        old_batch, mail_fetch.BATCH = mail_fetch.BATCH, 25
        try:
            report = fetch_mail(crm)[0]
        finally:
            mail_fetch.BATCH = old_batch
    finally:
        proxy.close()
    assert proxy.cuts == 1 and report.reconnects >= 1
    subjects = sorted(m.subject for m in messages_of(crm, "contact", "Ольга", limit=100))
    assert subjects == [f"m{i:03}" for i in range(60)]


def test_open_message_gives_the_text(crm, mailbox, imap_account, load):
    _lead(crm)
    load(imap_account, "INBOX", make_mail(subject="Смета", sender="olga@client.test", body="Добрый день!\nСмета во вложении."))
    fetch_mail(crm)
    [view] = messages_of(crm, "contact", "Ольга")
    opened = open_message(crm, view.id[:8])
    assert opened.body == "Добрый день!\nСмета во вложении.\n"
    assert opened.from_addr == "olga@client.test"
