"""An account where the sync cannot create its ``tui_crm_uuid`` field (a
manager's rights, a lapsed plan, 404/405, a 5xx): the sync goes on with a
marker a manager may write (a tag), says so once, does not ask again on
every sync, and still never duplicates a record whose answer was lost
(issue 12)."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest
from sqlmodel import select

from tests.fake_amocrm import FakeAmo
from tests.sync.conftest import remote_live, remote_tags
from tui_crm.services.contacts import ContactInput, add_contact
from tui_crm.services.deals import LeadInput, capture_lead
from tui_crm.services.parties import OnDuplicate
from tui_crm.storage.models import Deal


def _field_posts(fake: FakeAmo) -> list[Any]:
    return [r for r in fake.requests if r.method == "POST" and r.path.endswith("/custom_fields")]


def _all_tags(fake: FakeAmo, etype: str, rec: dict[str, Any]) -> list[str]:
    return sorted(fake.state.tags[etype][t]["name"] for t in rec["tag_ids"])


@pytest.mark.parametrize("status", [403, 402, 404, 405, 500, 503])
def test_a_refused_id_field_falls_back_to_a_tag_once(store: Any, fake: FakeAmo, synced: Any, status: int) -> None:
    fake.faults.field_create_status = status
    deal = capture_lead(store, LeadInput(name="Первая", contact_name="Ольга", tags=["vip"]))
    report = synced()
    assert not report.errors
    notes = [w for w in report.warnings if "tui_crm_uuid" in w]
    assert len(notes) == 1, report.warnings  # said once, for all three entities
    assert "POST /api/v4/" in notes[0] and "/custom_fields" in notes[0] and f"HTTP {status}" in notes[0]
    assert "tag" in notes[0]
    [lead] = [r for r in remote_live(fake, "leads") if r["name"] == "Первая"]
    assert f"tui-crm:id:{deal.id}" in _all_tags(fake, "leads", lead)
    assert remote_tags(fake, "leads", lead) == sorted(["vip", f"tui-crm:id:{deal.id}"])
    # the marker never shows up here as a tag
    with store.read() as session:
        from tui_crm.services.records import tags_of

        assert tags_of(session, "deal", [deal.id]).get(deal.id) == ["vip"]
    asked = len(_field_posts(fake))
    assert asked == 2  # leads and contacts, once each, when the first record of each was created
    fake.clear_requests()
    again = synced()
    assert not [w for w in again.warnings if "tui_crm_uuid" in w]  # the refusal is remembered, not repeated
    assert _field_posts(fake) == []


def test_lost_create_answers_without_the_id_field_create_nothing_twice(store: Any, fake: FakeAmo, synced: Any) -> None:
    fake.faults.field_create_status = 403
    for n in range(120):
        add_contact(store, ContactInput(name=f"Клиент {n % 7}"), OnDuplicate.CREATE)  # names repeat on purpose
    fake.faults.drop_next_write(2, mode="close")
    synced()
    names = Counter(r["name"] for r in remote_live(fake, "contacts"))
    assert sum(names.values()) == 120
    fake.faults.drop_next_write(1, mode="504")
    capture_lead(store, LeadInput(name="После сбоя"))
    synced()
    assert [r["name"] for r in remote_live(fake, "leads")].count("После сбоя") == 1
    with store.read() as session:
        assert len(session.exec(select(Deal)).all()) == 1


def test_a_lost_answer_is_looked_up_in_a_few_requests(store: Any, fake: FakeAmo, synced: Any) -> None:
    add_contact(store, ContactInput(name="Первый"), OnDuplicate.CREATE)
    synced()
    for n in range(50):
        add_contact(store, ContactInput(name=f"Контакт {n}"), OnDuplicate.CREATE)
    fake.clear_requests()
    fake.faults.drop_next_write(1, mode="close")
    synced()
    assert len(remote_live(fake, "contacts")) == 51
    lookups = [r for r in fake.requests if r.method == "GET" and r.path == "/api/v4/contacts" and "query" in r.query]
    scans = [r for r in fake.requests if r.method == "GET" and r.path == "/api/v4/contacts" and "order[created_at]" in r.query]
    assert lookups == [] and 1 <= len(scans) <= 2  # not one look-up per record


def test_an_error_names_the_request(store: Any, fake: FakeAmo, synced: Any) -> None:
    from tui_crm.sync.amocrm.errors import AmoError

    fake.faults.fail_next(405, method="GET", path="/api/v4/leads/pipelines")
    with pytest.raises(AmoError) as caught:
        synced()
    assert "GET /api/v4/leads/pipelines" in str(caught.value) and "405" in str(caught.value)
