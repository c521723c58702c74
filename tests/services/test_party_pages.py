"""Keyset paging of the contact and company lists gives exactly the rows
offset paging gives: same order (Cyrillic-aware name, then id), same
responsible filter, no row skipped or repeated, in any order of requests."""

from __future__ import annotations

import random

import pytest

from tui_crm.services.companies import CompanyInput, add_company, list_companies
from tui_crm.services.contacts import ContactInput, add_contact, list_contacts
from tui_crm.services.parties import OnDuplicate
from tui_crm.services.party_pages import PartyPager, party_page
from tui_crm.services.records import resolve
from tui_crm.services.users import add_user
from tui_crm.storage.models import Contact

NAMES = ["Ёлкин", "елкин", "Иван", "иван", "Яна", "Анна", "Zed", "adam", "Борис", "Ольга", "Пётр", "Петров"]


@pytest.fixture
def people(crm) -> list[str]:
    """60 contacts, many with the same folded name (ties), some deleted, two owners."""
    add_user(crm, "Борис")
    ids = []
    for i in range(60):
        name = NAMES[i % len(NAMES)]
        responsible = "Борис" if i % 3 == 0 else None
        ids.append(add_contact(crm, ContactInput(name=name, responsible=responsible), OnDuplicate.CREATE).id)
    with crm.uow() as work:
        for contact_id in ids[5:60:11]:
            work.soft_delete(resolve(work.session, Contact, contact_id))
    return ids


def _offset_rows(crm, responsible=None):
    return [r.id for r in list_contacts(crm, responsible=responsible, limit=1000)]


@pytest.mark.parametrize("responsible", [None, "Борис"])
def test_forward_paging_matches_offset_paging(crm, people, responsible):
    expected = _offset_rows(crm, responsible)
    pager = PartyPager(crm, "contact", responsible=responsible)
    assert pager.count() == len(expected)
    got = []
    for offset in range(0, len(expected), 7):
        got += [r.id for r in pager.page(offset, 7)]
    assert got == expected
    # the plan after the first page starts from the last key seen, skipping nothing
    assert pager.plan(14, 7)["skip"] == 0 and "after" in pager.plan(14, 7)


def test_any_order_of_pages_gives_the_same_rows(crm, people):
    expected = _offset_rows(crm)
    pager = PartyPager(crm, "contact")
    pager.count()
    offsets = list(range(0, len(expected), 5))
    random.Random(7).shuffle(offsets)
    pages = {offset: [r.id for r in pager.page(offset, 5)] for offset in offsets}
    assert [row for offset in sorted(pages) for row in pages[offset]] == expected


def test_backwards_from_the_end_and_from_a_key(crm, people):
    expected = _offset_rows(crm)
    last = party_page(crm, "contact", backwards=True, limit=4)
    assert [r.id for r in last.rows] == expected[-4:]
    before = party_page(crm, "contact", before=last.keys[0], backwards=True, skip=2, limit=3)
    assert [r.id for r in before.rows] == expected[-9:-6]
    after = party_page(crm, "contact", after=before.keys[-1], limit=100)
    assert [r.id for r in after.rows] == expected[-6:]
    assert party_page(crm, "contact", after=last.keys[-1]).rows == []


def test_the_same_rows_as_the_list_service_in_full(crm, people):
    """Not only ids: the decorated rows (phone, company, responsible) are identical."""
    expected = list_contacts(crm, limit=1000, offset=0)
    pager = PartyPager(crm, "contact")
    pager.count()
    assert pager.page(len(expected) - 10, 10) == expected[-10:]  # the end first: read backwards
    assert pager.page(0, 10) == expected[:10]


def test_companies_page_too(crm):
    for name in ("Магнит", "Ашан", "магнит", "Ёлка", "Zara"):
        add_company(crm, CompanyInput(name=name), OnDuplicate.CREATE)
    expected = [c.id for c in list_companies(crm, limit=100)]
    pager = PartyPager(crm, "company")
    pager.count()
    assert [r.id for offset in (0, 2, 4) for r in pager.page(offset, 2)] == expected
    with pytest.raises(ValueError):
        party_page(crm, "deal")
