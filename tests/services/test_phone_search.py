"""A phone finds its contact however it is typed or copied (issue 8): in
``crm search`` (``services.search``), the lists' search box
(``list_contacts(query=)``, what the TUI list pages) and the contact picker
(``search_parties``); on a real SQLite file with its FTS5 index."""

from __future__ import annotations

import pytest

from tui_crm.services.companies import CompanyInput, add_company, list_companies
from tui_crm.services.contacts import ContactInput, add_contact, list_contacts
from tui_crm.services.deals import LeadInput, capture_lead
from tui_crm.services.search import search, search_parties

TYPED = ["8 916 555-12-34", "89165551234", "+7 (916) 555-12-34", "916 555", "555-12-34", "5551234", "8 916 555", "+7 916"]


@pytest.fixture
def olga(crm) -> str:
    add_contact(crm, ContactInput(name="Пётр Иванов", phones=["+7 495 123-45-67"]))
    return add_contact(crm, ContactInput(name="Ольга Ёлкина", phones=["+7 916 555-12-34"])).id


@pytest.mark.parametrize("typed", TYPED)
def test_crm_search_finds_the_contact_by_any_form_of_its_phone(crm, olga, typed):
    assert [r.id for r in search(crm, typed, types=("contact",))] == [olga]


@pytest.mark.parametrize("typed", TYPED)
def test_the_list_search_finds_it_too(crm, olga, typed):
    assert [r.id for r in list_contacts(crm, query=typed)] == [olga]


@pytest.mark.parametrize("typed", TYPED)
def test_the_contact_picker_finds_it_too(crm, olga, typed):
    assert [r.id for r in search_parties(crm, typed)] == [olga]


def test_a_deal_is_found_by_its_contacts_phone_tail(crm):
    deal = capture_lead(crm, LeadInput(name="Сайт", phone="+7 916 555-12-34", contact_name="Ольга"))
    assert deal.id in [r.id for r in search(crm, "555-12-34", types=("deal",))]


def test_a_company_is_found_by_the_tail_of_its_phone(crm):
    company = add_company(crm, CompanyInput(name="Ромашка", phones=["+7 495 777-88-99"]))
    assert [r.id for r in list_companies(crm, query="777-88-99")] == [company.id]


def test_numbers_in_words_still_search_as_words(crm):
    contact = add_contact(crm, ContactInput(name="Склад 2026"))
    assert [r.id for r in search(crm, "склад 2026")] == [contact.id]
    assert [r.id for r in search(crm, "2026")] == [contact.id]
