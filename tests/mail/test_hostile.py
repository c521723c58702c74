"""Hostile mail from a real Dovecot: stored safely, decoded, shown literally, never crashes a fetch."""

from __future__ import annotations

from tests.mail.hostile import ANSI_SUBJECT, MESSAGES, big_attachment
from tui_crm.domain.text import safe_text
from tui_crm.services.deals import LeadInput, capture_lead
from tui_crm.services.mail_fetch import fetch_mail
from tui_crm.services.mail_messages import messages_of, open_message, save_attachment


def _subjects(crm):
    return {m.subject: m for m in messages_of(crm, "contact", "Ольга", limit=100)}


def test_hostile_messages_arrive_decoded_and_none_stops_the_fetch(crm, mailbox, imap_account, load):
    capture_lead(crm, LeadInput(name="Ёлка", email="olga@client.test", contact_name="Ольга"))
    load(imap_account, "INBOX", *MESSAGES.values())

    [report] = fetch_mail(crm)

    assert report.error is None
    by_subject = _subjects(crm)
    # ANSI/OSC and markup are stored as they came (shown through safe_text, never interpreted)
    assert ANSI_SUBJECT in by_subject
    assert "\x1b" not in safe_text(ANSI_SUBJECT)
    assert "[bold]markup[/bold]" in safe_text(ANSI_SUBJECT)
    # charsets: declared, wrong, missing, unknown, raw 8-bit headers, encoded words
    body = {s: open_message(crm, m.id).body for s, m in by_subject.items()}
    assert body["cp1251 declared"].startswith("Добрый день, нужна смета")
    assert by_subject.get("Привет из КОИ-8") and body["Привет из КОИ-8"].startswith("Письмо в кодировке кои-восемь")
    assert body["declared koi8-r, really cp1251"].startswith("Коммерческое предложение")
    assert body["no charset"].startswith("Счёт на оплату")
    assert "Заявка на разработку" in by_subject
    assert "Привет в неизвестной кодировке" in body["Привет"]
    # HTML-only: converted to text, no tags, no script
    html = body["HTML only"]
    assert "Здравствуйте" in html and "https://ex.test/a" in html and "<" not in html.replace("<https", "")
    # missing Date: stored, with the server's date
    assert "no date" in by_subject
    # two different messages with one Message-ID: stored once
    assert ("first with this id" in by_subject) != ("second with the same id" in by_subject)
    assert "broken mime" in by_subject and "multipart without boundary" in by_subject
    assert report.new + report.duplicates + report.skipped == len(MESSAGES)


def test_a_25_mb_attachment_is_listed_and_saved_into_the_deal_files(crm, mailbox, imap_account, load):
    deal = capture_lead(crm, LeadInput(name="Ёлка", email="olga@client.test", contact_name="Ольга"))
    load(imap_account, "INBOX", big_attachment())

    assert fetch_mail(crm)[0].new == 1

    [message] = messages_of(crm, "deal", deal.id)
    assert [a.name for a in message.attachments] == ["plan.png"]
    assert message.attachments[0].size > 25_000_000
    assert save_attachment(crm, message.id, 0, "deal", deal.id) == "plan.png"
    from tui_crm.services.deals import get_deal

    assert "plan.png" in get_deal(crm, deal.id).files


def test_a_message_that_cannot_be_read_is_logged_and_skipped_and_the_rest_arrive(crm, mailbox, imap_account, load,
                                                                                  monkeypatch, caplog):
    from tests.mail.conftest import make_mail
    from tui_crm.mail import parse

    capture_lead(crm, LeadInput(name="Ёлка", email="olga@client.test", contact_name="Ольга"))
    real = parse.parse_message

    def fragile(raw: bytes):  # a parser bug met by one message only
        if b"poison" in raw:
            raise RecursionError("maximum recursion depth exceeded")
        return real(raw)

    monkeypatch.setattr(parse, "parse_message", fragile)  # what parse_many calls for each message
    load(imap_account, "INBOX", make_mail(subject="before", sender="olga@client.test"),
         make_mail(subject="poison", sender="olga@client.test"), make_mail(subject="after", sender="olga@client.test"))

    [report] = fetch_mail(crm)

    assert (report.error, report.new, report.skipped) == (None, 2, 1)
    assert sorted(_subjects(crm)) == ["after", "before"]
    assert "skipped: RecursionError" in caplog.text
    assert fetch_mail(crm)[0].new == 0  # not retried forever


def test_a_large_fetch_parses_in_a_second_process_with_the_same_result(crm, mailbox, imap_account, load, monkeypatch):
    """From PARALLEL_PARSE_BATCHES batches on, parsing runs in a parser process: hostile mail still arrives or is skipped."""
    from tui_crm.services import mail_fetch

    monkeypatch.setattr(mail_fetch, "BATCH", 3)
    monkeypatch.setattr(mail_fetch, "PARALLEL_PARSE_BATCHES", 2)
    started = []
    real_pool = mail_fetch._parser_pool
    monkeypatch.setattr(mail_fetch, "_parser_pool", lambda: started.append(1) or real_pool())
    capture_lead(crm, LeadInput(name="Ёлка", email="olga@client.test", contact_name="Ольга"))
    load(imap_account, "INBOX", *MESSAGES.values())

    [report] = fetch_mail(crm)

    assert started == [1] and report.error is None
    assert report.new + report.skipped + report.duplicates == len(MESSAGES)
    assert ANSI_SUBJECT in _subjects(crm)
    assert open_message(crm, _subjects(crm)["cp1251 declared"].id).body.startswith("Добрый день, нужна смета")
