"""Intake: corporate mail from strangers into Unsorted, web forms into Лид, the private lock."""

from __future__ import annotations

import json

import pytest

from tests.mail.conftest import make_mail
from tests.mail.hostile import big_attachment
from tui_crm.domain.errors import ValidationError
from tui_crm.services.deals import LeadInput, capture_lead, get_deal
from tui_crm.services.intake import parse_form_json, set_config, submit_form
from tui_crm.services.mail_fetch import fetch_mail
from tui_crm.services.mail_messages import messages_of, open_message
from tui_crm.services.unsorted import accept, list_unsorted


def test_corporate_mail_from_a_stranger_becomes_one_unsorted_request_and_accept_makes_the_lead(
    crm, add_box, imap_account, load
):
    capture_lead(crm, LeadInput(name="Ёлка", email="olga@client.test", contact_name="Ольга"))
    add_box("develop", imap_account, corporate=True)
    stranger = make_mail(subject="Нужен сайт", sender="Иван Петров <ivan@new.test>", body="Сделайте нам сайт.")
    known = make_mail(subject="Про смету", sender="olga@client.test")
    load(imap_account, "INBOX", stranger, known)

    report = fetch_mail(crm)[0]
    fetch_mail(crm)  # a second fetch files nothing twice

    assert report.unsorted == 1
    [request] = list_unsorted(crm)
    assert (request.pipeline, request.source, request.sender_email, request.subject) == (
        "Продажи 2.0", "mail", "ivan@new.test", "Нужен сайт"
    )
    assert request.body.startswith("Сделайте нам сайт.") and request.sender_name == "Иван Петров"

    deal = accept(crm, request.id)

    assert deal.stage == "Лид" and [c.name for c in deal.contacts] == ["Иван Петров"]
    assert [m.subject for m in messages_of(crm, "deal", deal.id)] == ["Нужен сайт"]
    assert [m.subject for m in messages_of(crm, "contact", deal.contacts[0].id)] == ["Нужен сайт"]


def test_attachments_of_a_strangers_mail_become_the_requests_files_then_the_deals(crm, add_box, imap_account, load):
    add_box("develop", imap_account, corporate=True)
    load(imap_account, "INBOX", big_attachment(size=200_000))
    fetch_mail(crm)
    [request] = list_unsorted(crm)
    deal = accept(crm, request.id)
    assert get_deal(crm, deal.id).files == ["plan.png"]


FORM = {
    "name": "Мария Соколова",
    "phone": "+7 916 123-45-67",
    "email": "maria@shop.test",
    "company": "Магазин",
    "message": "Хотим мобильное приложение",
    "site": "omega-r.ru",
    "page_url": "https://omega-r.ru/contacts?x=1",
    "utm": {"source": "yandex", "campaign": "apps"},
    "referrer_id": 42,
}


def test_a_web_form_lands_in_lead_with_site_territory_source_link_and_the_contact_matched(crm):
    existing = capture_lead(crm, LeadInput(name="Старая сделка", phone="8 (916) 123 45 67", contact_name="Мария"))

    result = submit_form(crm, parse_form_json(json.dumps(FORM)))

    deal = get_deal(crm, result.id)
    assert (result.kind, deal.stage, deal.pipeline) == ("lead", "Лид", "Продажи 2.0")
    assert (deal.source_site, deal.source_url, deal.source_message) == (
        "RU", "https://omega-r.ru/contacts?x=1", "Хотим мобильное приложение"
    )
    assert deal.custom.get("territory") == "РФ"
    assert [c.id for c in deal.contacts] == [existing.contacts[0].id]  # matched by phone, not duplicated
    from tui_crm.services.notes import timeline

    notes = "\n".join(i.text for i in timeline(crm, "deal", deal.id))
    assert "utm_source: yandex" in notes and "referrer_id: 42" in notes


def test_a_com_form_can_land_in_unsorted_with_its_keys_kept(crm):
    set_config(crm, form_target="unsorted")
    result = submit_form(crm, parse_form_json(json.dumps({**FORM, "site": "COM", "page_url": "https://omega-r.com/"})))
    [request] = list_unsorted(crm)
    assert (result.kind, request.id) == ("unsorted", result.id)
    assert (request.site, request.territory, request.url) == ("COM", "Запад", "https://omega-r.com/")
    assert request.extra["referrer_id"] == 42 and request.extra["utm"] == {"source": "yandex", "campaign": "apps"}
    deal = accept(crm, request.id)
    assert (deal.source_site, deal.custom.get("territory")) == ("COM", "Запад")


@pytest.mark.parametrize(
    ("text", "message"),
    [("not json", "not JSON"), ("[1, 2]", "one JSON object"), ('{"name": "x", "utm": 5}', "utm must be an object"),
     ('{"utm": {}}', "no name, e-mail, phone or message"),
     ('{"name": "x", "site": "RU", "page_url": "javascript:alert(1)"}', "url")],
)
def test_a_bad_form_is_refused_and_nothing_is_saved(crm, count_rows, text, message):
    before = count_rows(crm, "deal", "contact", "unsorted_entry")
    with pytest.raises(ValidationError, match=message):
        submit_form(crm, parse_form_json(text))
    assert count_rows(crm, "deal", "contact", "unsorted_entry") == before


def test_a_form_email_from_the_configured_sender_becomes_a_lead(crm, add_box, imap_account, load):
    set_config(crm, add_sender=["forms@omega-r.com"])
    add_box("develop", imap_account, corporate=True)
    body = (
        "Новая заявка с сайта\n\nИмя: Пётр Иванов\nТелефон: +7 903 555-12-34\nEmail: petr@corp.test\n"
        "Сайт: omega-r.com\nСтраница: https://omega-r.com/services\nСообщение: Нужна CRM\nи интеграция с 1С\n"
    )
    load(imap_account, "INBOX", make_mail(subject="Заявка с сайта", sender="Сайт <forms@omega-r.com>", body=body))

    report = fetch_mail(crm)[0]

    assert (report.leads, report.unsorted) == (1, 0)
    assert list_unsorted(crm) == []
    from tui_crm.services.contacts import get_contact

    contact = get_contact(crm, "Пётр Иванов")
    [deal_link] = contact.deals
    deal = get_deal(crm, deal_link.id)
    assert (deal.stage, deal.source_site, deal.custom.get("territory")) == ("Лид", "COM", "Запад")
    assert deal.source_message == "Нужна CRM\nи интеграция с 1С" and deal.source_url == "https://omega-r.com/services"


def test_personal_mail_is_private_to_its_owner(crm, open_store, add_box, imap_account, load):
    from tui_crm.services.users import add_user

    deal = capture_lead(crm, LeadInput(name="Ёлка", email="olga@client.test", contact_name="Ольга"))
    add_user(crm, "Борис")
    add_box("anna", imap_account)  # Анна's personal mailbox
    load(imap_account, "INBOX", make_mail(subject="Секрет", sender="olga@client.test", body="тайна"))
    fetch_mail(crm)
    boris = open_store(user="Борис")

    [seen] = messages_of(boris, "deal", deal.id)

    assert seen.private and seen.heading == "private, Анна"
    assert (seen.subject, seen.snippet, seen.attachments) == ("", "", [])
    with pytest.raises(ValidationError, match="private, Анна"):
        open_message(boris, seen.id)
    [mine] = messages_of(crm, "deal", deal.id)
    assert (mine.private, mine.subject) == (False, "Секрет")


def test_accepting_a_request_links_the_company_its_domain_names(crm):
    from tui_crm.services.contacts import ContactInput, add_contact
    from tui_crm.services.unsorted import IncomingRequest, add_incoming

    add_contact(crm, ContactInput(name="Пётр", emails=["petr@acme.test"], company="Acme"))
    mine = add_incoming(crm, IncomingRequest(source="mail", sender_email="john@ACME.test", subject="Портал"))
    free = add_incoming(crm, IncomingRequest(source="mail", sender_email="someone@gmail.com", subject="Сайт"))

    assert accept(crm, mine.id).company.name == "Acme"
    assert accept(crm, free.id).company is None


def test_a_crash_after_a_form_lead_is_made_never_makes_a_second_lead(crm, add_box, imap_account, load, monkeypatch):
    """The form e-mail's lead and the «filed» mark on the e-mail are one commit (or the e-mail is filed again)."""
    import subprocess
    import sys
    from pathlib import Path

    from tui_crm.services import intake
    from tui_crm.services.deal_queries import list_deals

    set_config(crm, add_sender=["forms@omega-r.com"])
    add_box("develop", imap_account, corporate=True)
    body = "Имя: Пётр Иванов\nТелефон: +7 903 555-12-34\nСообщение: Нужна CRM\n"
    load(imap_account, "INBOX", make_mail(subject="Заявка с сайта", sender="Сайт <forms@omega-r.com>", body=body))
    with monkeypatch.context() as patch:  # fetch only: the e-mail waits for intake
        patch.setattr(intake, "process_pending_mail", lambda crm, limit=500: {})
        fetch_mail(crm)

    helper = Path(__file__).with_name("intake_crash_proc.py")
    root = str(Path(__file__).resolve().parents[2])
    crashed = subprocess.run(
        [sys.executable, str(helper), str(crm.settings.db_path), "after-lead"],
        capture_output=True, text=True, timeout=120, env={**__import__("os").environ, "PYTHONPATH": root},
    )
    assert crashed.returncode == 9, crashed.stdout + crashed.stderr

    fetch_mail(crm)  # the next fetch files what is still pending
    fetch_mail(crm)

    leads = [d for d in list_deals(crm) if d.name.startswith("Заявка с сайта")]
    assert [d.name for d in leads] == ["Заявка с сайта: Пётр Иванов"]
