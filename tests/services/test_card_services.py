"""What the contact, company and deal cards change: channels, tags, deal contacts.

Each write must go through one ``UnitOfWork``: the record touched, a
change-log row, the search index current. These tests read the change log
and the search results back from the real SQLite file.
"""

from __future__ import annotations

import json
import sqlite3

import pytest

from tui_crm.domain.errors import NotFoundError
from tui_crm.services.companies import CompanyInput, add_company, edit_company, get_company, set_company_tags
from tui_crm.services.contacts import ContactInput, add_contact, edit_contact, get_contact, set_contact_tags
from tui_crm.services.deal_contacts import unlink_contact
from tui_crm.services.deals import LeadInput, capture_lead, get_deal, link_contact
from tui_crm.services.search import search, search_parties


def _log(crm, entity_id: str) -> list[dict]:
    conn = sqlite3.connect(crm.settings.db_path)
    try:
        rows = conn.execute("SELECT changes FROM change_log WHERE entity_id = ? ORDER BY seq", (entity_id,)).fetchall()
    finally:
        conn.close()
    return [json.loads(r[0]) for r in rows]


# -- channels ---------------------------------------------------------------------


def test_company_phone_and_email_are_removed_and_logged(crm, clock):
    company = add_company(crm, CompanyInput(name="Магнит", phones=["+7 495 123-45-67", "+7 916 000-00-01"],
                                            emails=["info@magnit.example.ru"]))
    clock.advance(minutes=1)
    after = edit_company(crm, company.id, {}, remove={"phone": "+74951234567"})
    assert after.phones == ["+79160000001"]
    assert after.updated_at > company.updated_at
    assert _log(crm, company.id)[-1] == {"phones": ["+74951234567", None]}
    after = edit_company(crm, company.id, {}, remove={"email": "info@magnit.example.ru"})
    assert after.emails == []
    assert _log(crm, company.id)[-1] == {"emails": ["info@magnit.example.ru", None]}
    # the search index follows: the removed phone no longer finds the company
    assert [r.id for r in search(crm, "4951234567", types=("company",))] == []
    assert [r.id for r in search(crm, "9160000001", types=("company",))] == [company.id]


def test_removing_a_channel_the_record_lacks_changes_nothing(crm):
    contact = add_contact(crm, ContactInput(name="Иван Петров", phones=["+7 916 123-45-67"]))
    before = len(_log(crm, contact.id))
    after = edit_contact(crm, contact.id, {}, remove={"phone": "+70000000000"})
    assert after.phones == ["+79161234567"] and after.updated_at == contact.updated_at
    assert len(_log(crm, contact.id)) == before


def test_contact_email_removed(crm):
    contact = add_contact(crm, ContactInput(name="Иван Петров", emails=["ivan@example.com", "i.petrov@example.com"]))
    after = edit_contact(crm, contact.id, {}, remove={"email": "ivan@example.com"})
    assert after.emails == ["i.petrov@example.com"]
    assert _log(crm, contact.id)[-1] == {"emails": ["ivan@example.com", None]}


# -- tags ---------------------------------------------------------------------------


def test_contact_tags_add_remove_case_insensitively_and_log(crm):
    contact = add_contact(crm, ContactInput(name="Иван Петров"))
    assert set_contact_tags(crm, contact.id, ["VIP", "ЛПР"], []) == ["VIP", "ЛПР"]
    assert _log(crm, contact.id)[-1] == {"tags": [[], ["VIP", "ЛПР"]]}
    assert set_contact_tags(crm, contact.id, ["vip"], ["лпр"]) == ["VIP"]  # same tag, first spelling kept
    assert get_contact(crm, contact.id).tags == ["VIP"]
    before = len(_log(crm, contact.id))
    set_contact_tags(crm, contact.id, [], ["нет такого"])
    assert len(_log(crm, contact.id)) == before  # nothing changed, nothing logged


def test_company_tags(crm):
    company = add_company(crm, CompanyInput(name="Ромашка", tags=["партнёр"]))
    assert set_company_tags(crm, company.id, ["Москва"], ["партнёр"]) == ["Москва"]
    assert get_company(crm, company.id).tags == ["Москва"]
    assert _log(crm, company.id)[-1] == {"tags": [["партнёр"], ["Москва"]]}


# -- deal contacts --------------------------------------------------------------------


@pytest.fixture
def deal_with_contacts(crm, clock):
    deal = capture_lead(crm, LeadInput(name="Сайт", contact_name="Борис", phone="+7 916 111-11-11"))
    ids = {"deal": deal.id, "Борис": deal.contacts[0].id}
    for name, phone in (("Яна", "+7 916 222-22-22"), ("Анна", "+7 916 333-33-33")):
        ids[name] = add_contact(crm, ContactInput(name=name, phones=[phone])).id
        link_contact(crm, deal.id, ids[name])
    clock.advance(minutes=1)
    return ids


def test_unlinking_the_main_contact_makes_the_next_one_main(crm, deal_with_contacts):
    ids = deal_with_contacts
    before = get_deal(crm, ids["deal"])
    assert [(c.name, c.is_main) for c in before.contacts] == [("Борис", True), ("Анна", False), ("Яна", False)]
    after = unlink_contact(crm, ids["deal"], ids["Борис"])
    assert [(c.name, c.is_main) for c in after.contacts] == [("Анна", True), ("Яна", False)]
    assert after.updated_at > before.updated_at and after.revision == before.revision + 1
    assert _log(crm, ids["deal"])[-1] == {"contacts": [ids["Борис"], None]}
    # the deal's search entry no longer holds the unlinked contact's phone
    assert [r.id for r in search(crm, "9161111111", types=("deal",))] == []
    assert [r.id for r in search(crm, "9163333333", types=("deal",))] == [ids["deal"]]


def test_unlinking_another_contact_keeps_the_main_one(crm, deal_with_contacts):
    ids = deal_with_contacts
    after = unlink_contact(crm, ids["deal"], ids["Яна"])
    assert [(c.name, c.is_main) for c in after.contacts] == [("Борис", True), ("Анна", False)]


def test_unlinking_the_last_contact_and_a_stranger(crm, deal_with_contacts):
    ids = deal_with_contacts
    for name in ("Борис", "Анна", "Яна"):
        after = unlink_contact(crm, ids["deal"], ids[name])
    assert after.contacts == []
    stranger = add_contact(crm, ContactInput(name="Чужой")).id
    with pytest.raises(NotFoundError):
        unlink_contact(crm, ids["deal"], stranger)


# -- picking a contact ----------------------------------------------------------------------


def test_search_parties_by_name_phone_and_email_with_details(crm):
    company = add_company(crm, CompanyInput(name="Магнит"))
    ivan = add_contact(crm, ContactInput(name="Иван Петров", phones=["+7 916 123-45-67"], emails=["ivan@magnit.ru"],
                                         company=company.id))
    add_contact(crm, ContactInput(name="Пётр Иванов", emails=["petr@example.com"]))
    by_phone = search_parties(crm, "8 916 123 45 67")
    assert [r.id for r in by_phone] == [ivan.id]
    assert (by_phone[0].phone, by_phone[0].email, by_phone[0].company) == ("+79161234567", "ivan@magnit.ru", "Магнит")
    assert [r.id for r in search_parties(crm, "ivan@magnit")] == [ivan.id]
    assert {r.name for r in search_parties(crm, "иван")} == {"Иван Петров", "Пётр Иванов"}
    assert search_parties(crm, "   ") == []
    assert [r.name for r in search_parties(crm, "магнит", "company")] == ["Магнит"]
