"""``crm add lead --contact NAME`` (issue 8): an existing contact is linked
when exactly one matches, an id prefix resolves, a phone or e-mail that is
someone else's is said, and the deal gets the matched contact's company."""

from __future__ import annotations

import pytest

from tui_crm.domain.errors import AmbiguousError
from tui_crm.services.companies import CompanyInput, add_company
from tui_crm.services.contacts import ContactInput, add_contact, get_contact, list_contacts
from tui_crm.services.deals import LeadInput, capture_lead
from tui_crm.services.parties import OnDuplicate
from tui_crm.services.unsorted import IncomingRequest, accept, add_incoming


@pytest.fixture
def ivan(crm):
    add_company(crm, CompanyInput(name="Магнит"))
    return add_contact(crm, ContactInput(name="Иван Петров", phones=["+7 916 111-22-33"], company="Магнит"))


@pytest.mark.parametrize("typed", ["Иван Петров", "иван петров", "  ИВАН  ПЕТРОВ "])
def test_the_one_contact_with_that_name_is_linked_not_duplicated(crm, ivan, typed):
    deal = capture_lead(crm, LeadInput(name="Сайт", contact_name=typed))
    assert [c.id for c in deal.contacts] == [ivan.id]
    assert len(list_contacts(crm)) == 1
    assert deal.notices == []


def test_an_id_prefix_resolves(crm, ivan):
    deal = capture_lead(crm, LeadInput(name="Сайт", contact_name=ivan.id[:6]))
    assert [c.id for c in deal.contacts] == [ivan.id]


def test_the_deal_gets_the_matched_contacts_company(crm, ivan):
    deal = capture_lead(crm, LeadInput(name="Сайт", contact_name="Иван Петров"))
    assert deal.company is not None and deal.company.name == "Магнит"
    by_phone = capture_lead(crm, LeadInput(name="Сайт 2", phone="8 916 111 22 33"))
    assert by_phone.company is not None and by_phone.company.name == "Магнит"


def test_a_first_email_is_added_to_the_named_contact(crm, ivan):
    deal = capture_lead(crm, LeadInput(name="Сайт", contact_name="Иван Петров", email="ivan@magnit.ru"))
    assert [c.id for c in deal.contacts] == [ivan.id]
    assert get_contact(crm, ivan.id).emails == ["ivan@magnit.ru"]


def test_a_namesake_with_another_phone_is_someone_else(crm, ivan):
    deal = capture_lead(crm, LeadInput(name="Сайт", contact_name="Иван Петров", phone="+7 495 765-43-21"))
    assert deal.contacts[0].id != ivan.id and len(list_contacts(crm)) == 2
    assert get_contact(crm, ivan.id).phones == ["+79161112233"]
    [notice] = deal.notices
    assert f"crm contacts merge {ivan.id[:8]} {deal.contacts[0].id[:8]}" in notice


def test_a_phone_that_is_someone_elses_is_said(crm, ivan):
    deal = capture_lead(crm, LeadInput(name="Сайт", contact_name="Пётр Сидоров", phone="8 (916) 111-22-33"))
    assert [c.id for c in deal.contacts] == [ivan.id]  # one person, one record: the number is Иван's
    [notice] = deal.notices
    assert "Иван Петров" in notice and "Пётр Сидоров" in notice and "unlink" in notice
    assert len(list_contacts(crm)) == 1


def test_an_email_that_is_someone_elses_is_said(crm):
    olga = add_contact(crm, ContactInput(name="Ольга Ёлкина", emails=["olga@elka.ru"]))
    deal = capture_lead(crm, LeadInput(name="Сайт", contact_name="Ольга", email="OLGA@elka.ru"))
    assert [c.id for c in deal.contacts] == [olga.id]
    assert "olga@elka.ru".casefold() in deal.notices[0].casefold() and "Ольга Ёлкина" in deal.notices[0]


def test_the_same_person_by_phone_and_name_needs_no_notice(crm, ivan):
    deal = capture_lead(crm, LeadInput(name="Сайт", contact_name="Иван Петров", phone="+79161112233"))
    assert deal.notices == [] and [c.id for c in deal.contacts] == [ivan.id]


def test_two_contacts_with_the_name_are_not_guessed_between(crm, ivan, count_rows):
    add_contact(crm, ContactInput(name="Иван Петров"), OnDuplicate.CREATE)
    before = count_rows(crm, "deal", "contact")
    with pytest.raises(AmbiguousError) as ambiguous:
        capture_lead(crm, LeadInput(name="Сайт", contact_name="Иван Петров"))
    assert "--contact" in str(ambiguous.value) and len(ambiguous.value.candidates) == 2
    assert count_rows(crm, "deal", "contact") == before


def test_a_new_name_makes_a_new_contact(crm, ivan):
    deal = capture_lead(crm, LeadInput(name="Сайт", contact_name="Анна Новая"))
    assert deal.contacts[0].name == "Анна Новая" and deal.contacts[0].id != ivan.id


def test_an_unsorted_senders_name_alone_does_not_pick_a_contact(crm, ivan):
    entry = add_incoming(crm, IncomingRequest(pipeline="sales20", subject="Заявка", sender_name="Иван Петров"))
    deal = accept(crm, entry.id)
    assert deal.contacts[0].id != ivan.id


def test_of_several_namesakes_the_one_the_phone_fits_is_not_guessed_but_others_are_ruled_out(crm, ivan):
    other = add_contact(crm, ContactInput(name="Иван Петров", phones=["+7 903 000-00-01"]), OnDuplicate.CREATE)
    deal = capture_lead(crm, LeadInput(name="Сайт", contact_name="Иван Петров", phone="+7 999 123-45-67"))
    assert deal.contacts[0].id not in (ivan.id, other.id)  # both have other phones: a third Иван Петров
    assert "crm contacts merge" in deal.notices[0]
