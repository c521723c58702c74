"""Bad input anywhere a user types it: refused with a ValidationError and
nothing written (rows counted before and after)."""

from __future__ import annotations

import pytest

from tui_crm.domain.errors import ValidationError
from tui_crm.services.companies import CompanyInput, add_company, edit_company, get_company
from tui_crm.services.contacts import ContactInput, add_contact, edit_contact, get_contact
from tui_crm.services.deals import LeadInput, capture_lead, edit_deal, get_deal

TABLES = ("deal", "contact", "company", "channel", "task", "note", "custom_value", "change_log", "search_doc")


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"phone": "123"}, "phone"),
        ({"phone": "+7 916 555-12-34 доб. 12"}, "phone"),
        ({"email": "olga@"}, "email"),
        ({"email": "olga elka@elka.ru"}, "email"),
        ({"budget": "много"}, None),
        ({"budget_usd": "-5"}, None),
        ({"due": "когда-нибудь", "task": "Позвонить"}, "due"),
        ({"values": {"inn": "7707083890"}, "company": "Ёлка"}, "inn"),
        ({"values": {"segment": "Z"}}, "Сегмент"),
        ({"values": {"estimate_link": "not a url"}}, None),
        ({"values": {"no_such_field": "1"}}, "no_such_field"),
        ({"task": "x", "task_type": "party"}, "type"),
        ({"name": "   "}, "name"),
    ],
)
def test_capture_with_a_bad_value_writes_nothing(crm, count_rows, changes, field):
    before = count_rows(crm, *TABLES)
    data = {"name": "Лид", "phone": "+7 916 555-12-34", "email": "olga@elka.ru", "company": "Ёлка", "note": "Заметка"}
    data.update(changes)
    with pytest.raises(ValidationError) as bad:
        capture_lead(crm, LeadInput(**data))
    if field:
        assert bad.value.field_name == field
    assert count_rows(crm, *TABLES) == before


@pytest.mark.parametrize(
    "values",
    [
        {"budget": "1,5 млн", "city": "Казань", "budget_usd": "ten"},
        {"segment": "A", "territory": "Восток"},
        {"site": "RU", "url": "http://"},
        {"name": ""},
        {"inn": "7707083890"},
    ],
)
def test_deal_edit_with_one_bad_value_saves_none(crm, count_rows, values):
    deal = capture_lead(crm, LeadInput(name="Правка", company="Ромашка"))
    before = count_rows(crm, *TABLES)
    with pytest.raises(ValidationError):
        edit_deal(crm, deal.id, values)
    assert count_rows(crm, *TABLES) == before
    after = get_deal(crm, deal.id)
    assert (after.name, after.budget_rub, after.custom, after.revision) == ("Правка", None, {}, deal.revision)


def test_deal_edit_accepts_the_documented_forms(crm):
    deal = capture_lead(crm, LeadInput(name="Форматы", company="Ромашка"))
    edited = edit_deal(crm, deal.id, {"budget": "1,5 млн", "usd": "20k", "Сегмент": "b", "site": "рф", "inn": "7707 083 893"})
    assert str(edited.budget_rub) == "1500000.00" and str(edited.budget_usd) == "20000.00"
    assert edited.custom == {"segment": "B"} and edited.source_site == "RU"
    assert get_company(crm, "Ромашка").inn == "7707083893"


@pytest.mark.parametrize(
    "values",
    [
        {"position": "CTO", "phone": "12"},
        {"email": "@elka.ru"},
        {"birthday": "вчера-позавчера"},
        {"gender": "кот"},
        {"company": "Новая Компания", "email": "bad"},
        {"name": " "},
    ],
)
def test_contact_edit_with_a_bad_value_saves_none(crm, count_rows, values):
    contact = add_contact(crm, ContactInput(name="Ольга", emails=["olga@elka.ru"]))
    before = count_rows(crm, *TABLES)
    with pytest.raises(ValidationError):
        edit_contact(crm, contact.id, values)
    assert count_rows(crm, *TABLES) == before
    after = get_contact(crm, contact.id)
    assert (after.position, after.emails, after.company) == (None, ["olga@elka.ru"], None)


@pytest.mark.parametrize(
    "data",
    [
        {"name": "Ромашка", "inn": "1234"},
        {"name": "Ромашка", "inn": "7707083890"},
        {"name": "Ромашка", "web": "http://"},
        {"name": "Ромашка", "employees": "много"},
        {"name": "Ромашка", "territory": "Луна"},
        {"name": "Ромашка", "phones": ["0"]},
        {"name": ""},
    ],
)
def test_company_with_a_bad_value_is_not_created(crm, count_rows, data):
    before = count_rows(crm, *TABLES)
    with pytest.raises(ValidationError):
        add_company(crm, CompanyInput(**data))
    assert count_rows(crm, *TABLES) == before


def test_company_edit_with_a_bad_inn_saves_nothing(crm, count_rows):
    company = add_company(crm, CompanyInput(name="Ромашка", web="romashka.ru"))
    before = count_rows(crm, *TABLES)
    with pytest.raises(ValidationError):
        edit_company(crm, company.id, {"web": "new.example.com", "inn": "7707083890"})
    assert count_rows(crm, *TABLES) == before
    assert get_company(crm, company.id).web == company.web


def test_contact_with_a_bad_birthday_is_not_created(crm, count_rows):
    before = count_rows(crm, *TABLES)
    with pytest.raises(ValidationError, match="birthday"):
        add_contact(crm, ContactInput(name="Ольга", birthday="тридцать второе"))
    assert count_rows(crm, *TABLES) == before


def test_a_budget_in_the_wrong_currency_is_refused(crm):
    deal = capture_lead(crm, LeadInput(name="Валюта", budget="1 500 000"))
    with pytest.raises(ValidationError, match="USD"):
        edit_deal(crm, deal.id, {"budget_usd": "12 тыс ₽"})
    with pytest.raises(ValidationError, match="RUB"):
        edit_deal(crm, deal.id, {"budget": "$20,000"})
    assert get_deal(crm, deal.id).budget_usd is None
    assert str(edit_deal(crm, deal.id, {"budget_usd": "$20k"}).budget_usd) == "20000.00"
