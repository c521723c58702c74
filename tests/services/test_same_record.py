"""One person, one record (issue 8): e-mails match whatever their case,
companies match through legal forms, quotes and a shared INN, and the
duplicate refusal says whose record it is. A real SQLite file throughout."""

from __future__ import annotations

import pytest

from tui_crm.domain.errors import AmbiguousError, DuplicateFound
from tui_crm.services.companies import CompanyInput, add_company, get_company, list_companies
from tui_crm.services.contacts import ContactInput, add_contact, get_contact, list_contacts
from tui_crm.services.deals import LeadInput, capture_lead
from tui_crm.services.parties import OnDuplicate
from tui_crm.services.users import add_user

INN = "7707083893"


# -- e-mail ------------------------------------------------------------------------------------


@pytest.fixture
def olga(crm):
    return add_contact(crm, ContactInput(name="Ольга Ёлкина", emails=["Olga.Elkina@Elka.ru"]))


@pytest.mark.parametrize("typed", ["olga.elkina@elka.ru", "OLGA.ELKINA@ELKA.RU", "Olga.Elkina@elka.RU"])
def test_the_duplicate_check_ignores_the_case_of_an_email(crm, olga, typed, count_rows):
    before = count_rows(crm, "contact", "channel")
    with pytest.raises(DuplicateFound) as found:
        add_contact(crm, ContactInput(name="Кто-то другой", emails=[typed]))
    assert [(c.id, c.reason) for c in found.value.candidates] == [(olga.id, "email")]
    assert count_rows(crm, "contact", "channel") == before


def test_capture_links_the_contact_whatever_the_case_of_the_email(crm, olga):
    deal = capture_lead(crm, LeadInput(name="Сайт", email="OLGA.ELKINA@elka.ru"))
    assert [c.id for c in deal.contacts] == [olga.id]
    assert len(list_contacts(crm)) == 1
    assert get_contact(crm, olga.id).emails == ["olga.elkina@elka.ru"]  # one address, not two


def test_a_company_email_matches_whatever_its_case(crm):
    magnit = add_company(crm, CompanyInput(name="Магнит", emails=["Info@Magnit.ru"]))
    with pytest.raises(DuplicateFound) as found:
        add_company(crm, CompanyInput(name="Тандер", emails=["INFO@magnit.ru"]))
    assert [c.id for c in found.value.candidates] == [magnit.id]


# -- companies ---------------------------------------------------------------------------------


@pytest.fixture
def romashka(crm):
    return add_company(crm, CompanyInput(name="Ромашка", inn=INN))


@pytest.mark.parametrize("typed", ["ООО «Ромашка»", "«ООО «Ромашка»»", "ООО Ромашка", "ромашка, ООО", "АО \"РОМАШКА\""])
def test_a_company_matches_through_legal_form_and_quotes(crm, romashka, typed):
    with pytest.raises(DuplicateFound) as found:
        add_company(crm, CompanyInput(name=typed))
    assert [(c.id, c.reason) for c in found.value.candidates] == [(romashka.id, "name")]


@pytest.mark.parametrize("typed", ["Romashka LLC", "ООО «Ромашка»", "Совсем другое имя"])
def test_the_same_inn_is_the_same_company_whatever_the_name(crm, romashka, typed):
    with pytest.raises(DuplicateFound) as found:
        add_company(crm, CompanyInput(name=typed, inn=INN))
    assert [(c.id, c.reason) for c in found.value.candidates] == [(romashka.id, "inn")]


def test_a_different_brand_is_not_a_duplicate(crm, romashka):
    assert add_company(crm, CompanyInput(name="ООО «Ромашка-Сервис»")).id != romashka.id


@pytest.mark.parametrize("typed", ["ООО «Ромашка»", "ООО Ромашка", INN])
def test_a_lead_is_filed_under_the_existing_company(crm, romashka, typed):
    deal = capture_lead(crm, LeadInput(name="Сайт", company=typed, contact_name="Ольга"))
    assert deal.company is not None and deal.company.id == romashka.id
    assert [c.id for c in list_companies(crm)] == [romashka.id]
    assert get_contact(crm, deal.contacts[0].id).company.id == romashka.id  # type: ignore[union-attr]


def test_two_companies_with_the_same_name_key_are_not_guessed_between(crm, count_rows):
    add_company(crm, CompanyInput(name="Ромашка"))
    add_company(crm, CompanyInput(name="ЗАО Ромашка"), OnDuplicate.CREATE)
    before = count_rows(crm, "deal", "company")
    with pytest.raises(AmbiguousError):
        capture_lead(crm, LeadInput(name="Сайт", company="ООО «Ромашка»"))
    assert count_rows(crm, "deal", "company") == before


# -- whose record it is -------------------------------------------------------------------------


def test_the_refusal_names_the_responsible_and_asks_to_agree_a_transfer(crm, open_store):
    add_user(crm, "Иван Смирнов", "ivan@omega.example")
    ivan = open_store(user="Иван Смирнов")
    theirs = add_contact(ivan, ContactInput(name="Ольга Ёлкина", phones=["+7 916 555-12-34"]))
    with pytest.raises(DuplicateFound) as found:
        add_contact(crm, ContactInput(name="Ольга", phones=["8 916 555 12 34"]))
    [candidate] = found.value.candidates
    assert (candidate.id, candidate.responsible) == (theirs.id, "Иван Смирнов")
    assert "Иван Смирнов" in str(found.value) and "agree a transfer" in str(found.value)


def test_ones_own_record_needs_no_transfer(crm, olga):
    with pytest.raises(DuplicateFound) as found:
        add_contact(crm, ContactInput(name="Ольга", emails=["olga.elkina@elka.ru"]))
    assert found.value.candidates[0].responsible == "Анна"
    assert "transfer" not in str(found.value)


def test_company_detail_is_unchanged_by_a_refusal(crm, romashka):
    with pytest.raises(DuplicateFound):
        add_company(crm, CompanyInput(name="ООО «Ромашка»", web="romashka.ru"))
    assert get_company(crm, romashka.id).web is None


def test_the_name_key_wins_over_a_looser_name_match(crm, romashka):
    add_company(crm, CompanyInput(name="ООО «Ромашка-Сервис»"))
    deal = capture_lead(crm, LeadInput(name="Сайт", company="ООО Ромашка"))
    assert deal.company is not None and deal.company.id == romashka.id


@pytest.mark.parametrize("typed", ["ООО «Ромашка»", "ромашка ооо", "Ромашка LLC"])
def test_search_looks_through_the_legal_form(crm, romashka, typed):
    assert [c.id for c in list_companies(crm, query=typed)] == [romashka.id]
