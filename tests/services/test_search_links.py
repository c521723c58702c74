"""Search entries that carry another record's name stay true to it.

A deal is found by its company and contacts, a contact by its company: a
rename, a new phone, a deletion or a restore of the contact or company must
show in those entries too (``records.reindex_linked``)."""

from __future__ import annotations

from tui_crm.services import party_bulk
from tui_crm.services.companies import edit_company
from tui_crm.services.contacts import edit_contact
from tui_crm.services.deals import LeadInput, capture_lead
from tui_crm.services.search import search


def found(crm, query: str) -> set[tuple[str, str]]:
    return {(r.entity_type, r.name) for r in search(crm, query)}


def test_a_deal_follows_its_contacts_name_phone_deletion_and_restore(crm):
    deal = capture_lead(crm, LeadInput(name="Портал", contact_name="Ольга Смирнова", email="olga@romashka.ru"))
    contact_id = deal.contacts[0].id
    assert ("deal", "Портал") in found(crm, "смирнова")

    edit_contact(crm, contact_id, {"name": "Ольга Зайцева", "phone": "+7 916 321-54-76"})
    assert ("deal", "Портал") in found(crm, "зайцева")
    assert ("deal", "Портал") not in found(crm, "смирнова")
    assert ("deal", "Портал") in found(crm, "9163215476")  # the contact's new phone

    report = party_bulk.delete(crm, "contact", ids=[contact_id])
    assert found(crm, "зайцева") == set()  # neither the contact nor the deal by her name
    party_bulk.undo_delete(crm, "contact", report.batch_id)
    assert found(crm, "зайцева") == {("contact", "Ольга Зайцева"), ("deal", "Портал")}


def test_deals_and_contacts_follow_a_renamed_or_deleted_company(crm):
    deal = capture_lead(crm, LeadInput(name="Сайт", contact_name="Пётр", email="petr@vector.ru", company="Вектор"))
    company_id = deal.company.id  # type: ignore[union-attr]
    assert {("deal", "Сайт"), ("contact", "Пётр"), ("company", "Вектор")} <= found(crm, "вектор")

    edit_company(crm, company_id, {"name": "Вектор Плюс"})
    assert {("deal", "Сайт"), ("contact", "Пётр")} <= found(crm, "плюс")

    party_bulk.delete(crm, "company", ids=[company_id])
    assert found(crm, "плюс") == set()
