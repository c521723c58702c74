"""Look before creating: contacts by email/phone/name, companies by INN/name;
enrich instead of duplicating; force when it really is someone else."""

from __future__ import annotations

import pytest

from tui_crm.domain.errors import DuplicateFound
from tui_crm.services.companies import CompanyInput, add_company, get_company
from tui_crm.services.contacts import ContactInput, add_contact, get_contact, list_contacts
from tui_crm.services.deals import LeadInput, capture_lead
from tui_crm.services.parties import OnDuplicate

INN = "7707083893"


@pytest.fixture
def olga(crm):
    return add_contact(crm, ContactInput(name="Ольга Ёлкина", phones=["+7 916 555-12-34"], emails=["olga@elka.ru"]))


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        ({"name": "О. Ёлкина", "emails": ["olga@ELKA.RU"]}, "email"),
        ({"name": "Ольга (рабочий)", "phones": ["8 (916) 555 12 34"]}, "phone"),
        ({"name": "Кто-то", "phones": ["9165551234"]}, "phone"),
        ({"name": "ольга ЁЛКИНА"}, "name"),
    ],
)
def test_a_likely_duplicate_contact_is_refused_with_candidates(crm, olga, count_rows, data, reason):
    before = count_rows(crm, "contact", "channel", "change_log")
    with pytest.raises(DuplicateFound) as found:
        add_contact(crm, ContactInput(**data))
    [candidate] = found.value.candidates
    assert (candidate.id, candidate.name, candidate.reason) == (olga.id, "Ольга Ёлкина", reason)
    assert "--enrich" in str(found.value) and "--force" in str(found.value)
    assert count_rows(crm, "contact", "channel", "change_log") == before


def test_the_strongest_reason_is_reported(crm, olga):
    with pytest.raises(DuplicateFound) as found:
        add_contact(crm, ContactInput(name="Ольга Ёлкина", emails=["olga@elka.ru"], phones=["+79165551234"]))
    assert [c.reason for c in found.value.candidates] == ["email"]


def test_enrich_adds_the_new_phone_to_the_existing_contact(crm, olga):
    enriched = add_contact(
        crm,
        ContactInput(name="Ольга", emails=["olga@elka.ru"], phones=["+7 495 123-45-67"], position="CEO"),
        OnDuplicate.ENRICH,
    )
    assert enriched.id == olga.id
    assert enriched.name == "Ольга Ёлкина"  # the existing name is kept
    assert enriched.phones == ["+79165551234", "+74951234567"]
    assert enriched.position == "CEO"
    assert [c.id for c in list_contacts(crm)] == [olga.id]


def test_enrich_does_not_overwrite_filled_fields(crm):
    first = add_contact(crm, ContactInput(name="Иван", emails=["ivan@example.com"], position="CTO"))
    again = add_contact(crm, ContactInput(name="Иван", emails=["ivan@example.com"], position="Стажёр"), OnDuplicate.ENRICH)
    assert again.id == first.id and again.position == "CTO"


def test_force_creates_a_second_contact(crm, olga):
    other = add_contact(crm, ContactInput(name="Ольга Ёлкина", emails=["olga@elka.ru"]), OnDuplicate.CREATE)
    assert other.id != olga.id
    assert len(list_contacts(crm)) == 2


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        ({"name": "ООО Ромашка", "inn": "7707 083 893"}, "inn"),
        ({"name": "РОМАШКА"}, "name"),
        ({"name": "Лютик", "emails": ["info@romashka.ru"]}, "email"),
    ],
)
def test_a_likely_duplicate_company_is_refused(crm, count_rows, data, reason):
    existing = add_company(crm, CompanyInput(name="Ромашка", inn=INN, emails=["info@romashka.ru"]))
    before = count_rows(crm, "company", "change_log")
    with pytest.raises(DuplicateFound) as found:
        add_company(crm, CompanyInput(**data))
    assert [(c.id, c.reason) for c in found.value.candidates] == [(existing.id, reason)]
    assert count_rows(crm, "company", "change_log") == before


def test_company_enrich_fills_only_empty_fields(crm):
    existing = add_company(crm, CompanyInput(name="Ромашка", web="romashka.ru"))
    enriched = add_company(crm, CompanyInput(name="Ромашка", inn=INN, web="other.example.com"), OnDuplicate.ENRICH)
    assert enriched.id == existing.id
    assert (enriched.inn, enriched.web) == (INN, existing.web)


def test_capture_matches_the_existing_contact_by_email(crm, olga, count_rows):
    before = count_rows(crm, "contact")
    deal = capture_lead(crm, LeadInput(name="Новая сделка Ольги", email="olga@elka.ru", phone="+7 495 765-43-21"))
    assert [c.id for c in deal.contacts] == [olga.id]
    assert count_rows(crm, "contact") == before
    contact = get_contact(crm, olga.id)
    assert contact.phones == ["+79165551234", "+74957654321"]
    assert [d.id for d in contact.deals] == [deal.id]


def test_capture_matches_by_phone_in_another_format(crm, olga):
    deal = capture_lead(crm, LeadInput(name="По телефону", phone="8-916-555-12-34"))
    assert [c.id for c in deal.contacts] == [olga.id]


def test_capture_does_not_merge_on_a_name_alone(crm, olga):
    deal = capture_lead(crm, LeadInput(name="Тёзка", contact_name="Ольга Ёлкина", email="other@example.com"))
    assert [c.id for c in deal.contacts] != [olga.id]
    assert len(list_contacts(crm)) == 2


def test_capture_reuses_an_existing_company_by_name(crm):
    company = add_company(crm, CompanyInput(name="Ёлка", inn=INN))
    deal = capture_lead(crm, LeadInput(name="Сделка", company="ёлка"))
    assert deal.company is not None and deal.company.id == company.id
    assert len(get_company(crm, company.id).deals) == 1
