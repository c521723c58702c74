"""Search and Cyrillic-aware sorting, as a user types into the search box."""

from __future__ import annotations

import pytest

from tui_crm.services.companies import CompanyInput, add_company
from tui_crm.services.contacts import ContactInput, add_contact, edit_contact, list_contacts
from tui_crm.services.deals import LeadInput, capture_lead
from tui_crm.services.notes import add_note
from tui_crm.services.parties import OnDuplicate
from tui_crm.services.search import search


def _ids(crm, query: str, types: tuple[str, ...] | None = None) -> list[str]:
    return [r.id for r in search(crm, query, types=types)]


@pytest.fixture
def people(crm) -> dict[str, str]:
    olga = add_contact(crm, ContactInput(name="Ольга Ёлкина", phones=["+7 916 555-12-34"], emails=["olga.elkina@elka.ru"]))
    elena = add_contact(crm, ContactInput(name="Елена Федорова", emails=["elena@example.com"]))
    zhanna = add_contact(crm, ContactInput(name="Жанна Смирнова"))
    acme = add_company(crm, CompanyInput(name="Acme Corp"))
    return {"olga": olga.id, "elena": elena.id, "zhanna": zhanna.id, "acme": acme.id}


@pytest.mark.parametrize("query", ["ольга", "ОЛЬГА", "ольга ёлкина", "ёлкина ольга"])
def test_lowercase_or_uppercase_cyrillic_finds_a_capitalized_name(crm, people, query):
    assert _ids(crm, query) == [people["olga"]]


@pytest.mark.parametrize(("query", "who"), [("елкина", "olga"), ("ёлкина", "olga"), ("фёдорова", "elena"), ("федорова", "elena")])
def test_yo_and_ye_match_both_ways(crm, people, query, who):
    assert _ids(crm, query) == [people[who]]


@pytest.mark.parametrize(("query", "who"), [("ж", "zhanna"), ("Жа", "zhanna"), ("ё", "olga"), ("смир", "zhanna")])
def test_every_word_matches_as_a_prefix_from_the_first_letter(crm, people, query, who):
    assert people[who] in _ids(crm, query)
    assert people["acme"] not in _ids(crm, query)


@pytest.mark.parametrize("query", ["acme", "ACME", "Acme co", "aCmE CORP"])
def test_latin_is_case_insensitive(crm, people, query):
    assert _ids(crm, query) == [people["acme"]]


@pytest.mark.parametrize("query", ["79165551234", "+79165551234", "9165551234", "916555", "7916"])
def test_phone_digits_with_and_without_country_code(crm, people, query):
    assert _ids(crm, query) == [people["olga"]]


@pytest.mark.parametrize("query", ["olga.elkina@elka.ru", "olga.elkina@el", "olga.elk", "elka.ru"])
def test_email_and_its_prefix(crm, people, query):
    assert _ids(crm, query) == [people["olga"]]


def test_no_match_returns_nothing(crm, people):
    assert _ids(crm, "щщщ") == []
    assert _ids(crm, "   ") == []


def test_a_name_match_ranks_above_a_note_match(crm):
    in_body = capture_lead(crm, LeadInput(name="Другая сделка"))
    add_note(crm, "deal", in_body.id, "Клиент сравнивает нас с подрядчиком Ёлки")
    in_name = capture_lead(crm, LeadInput(name="Сайт для Ёлки"))
    assert _ids(crm, "ёлки", ("deal",)) == [in_name.id, in_body.id]


def test_a_deal_is_found_by_its_contacts_phone_email_and_company(crm):
    deal = capture_lead(crm, LeadInput(name="Приложение", phone="8 (916) 555-12-34", email="olga@elka.ru", company="Ёлка"))
    for query in ("9165551234", "olga@elka", "ёлка"):
        assert deal.id in _ids(crm, query, ("deal",)), query


def test_search_follows_an_edit(crm, people):
    edit_contact(crm, people["zhanna"], {"name": "Жанна Кузнецова"})
    assert _ids(crm, "смирнова") == []
    assert _ids(crm, "кузнецова") == [people["zhanna"]]


def test_contacts_list_sorts_cyrillic_case_insensitively_with_yo_as_ye(crm):
    for name in ("ёлкин", "Елена", "алексей", "Борис", "Ярослав", "Эдуард", "Юрий"):
        add_contact(crm, ContactInput(name=name), OnDuplicate.CREATE)
    # folding: lower case, ё → е; then Russian alphabetical order
    assert [c.name for c in list_contacts(crm)] == ["алексей", "Борис", "Елена", "ёлкин", "Эдуард", "Юрий", "Ярослав"]


def test_contacts_list_query_uses_the_same_search(crm, people):
    assert [c.id for c in list_contacts(crm, query="ЁЛКИНА")] == [people["olga"]]
