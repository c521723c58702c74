"""A merge syncs like any edit (issue 8): after ``merge`` and one sync the
remote has the loser deleted (amoCRM's API cannot delete: it gets the
``tui-crm:deleted`` tag) and the winner with the loser's phone and e-mail;
the deal that was the loser's is the winner's remotely too. Against the
fake amoCRM on loopback, with a real SQLite file."""

from __future__ import annotations

from typing import Any

from tests.fake_amocrm import FakeAmo
from tests.sync.conftest import cf_value, remote_live
from tui_crm.services.contacts import ContactInput, add_contact
from tui_crm.services.deals import LeadInput, capture_lead
from tui_crm.services.merge import merge, undo_merge


def _remote(fake: FakeAmo, etype: str, name: str) -> dict[str, Any] | None:
    return next((r for r in remote_live(fake, etype) if r["name"] == name), None)


def _values(fake: FakeAmo, rec: dict[str, Any], code: str) -> list[str]:
    for cf in rec.get("custom_fields_values") or []:
        if cf["field_code"] == code:
            return sorted(str(v["value"]) for v in cf["values"])
    return []


def test_the_loser_is_deleted_remotely_and_the_winner_updated(store, fake: FakeAmo, synced):
    a = add_contact(store, ContactInput(name="Ольга Ёлкина", phones=["+7 916 555-12-34"]))
    b = add_contact(store, ContactInput(name="Ольга Е.", emails=["olga@elka.ru"], position="Директор"))
    capture_lead(store, LeadInput(name="Сайт", contact_name=b.id[:8]))
    synced()
    assert _remote(fake, "contacts", "Ольга Е.") is not None

    report = merge(store, "contact", a.id, b.id)
    synced()
    assert _remote(fake, "contacts", "Ольга Е.") is None  # deleted for tui-crm
    winner = _remote(fake, "contacts", "Ольга Ёлкина")
    assert winner is not None
    assert _values(fake, winner, "EMAIL") == ["olga@elka.ru"] and len(_values(fake, winner, "PHONE")) == 1
    assert cf_value(fake, "contacts", winner, "POSITION") == "Директор"
    lead = _remote(fake, "leads", "Сайт")
    assert lead is not None
    with fake.state.lock:
        linked = [contact_id for contact_id, _ in fake.state.linked("leads", lead["id"], "contacts")]
    assert linked == [winner["id"]]

    undo_merge(store, report.batch_id)
    synced()
    assert _remote(fake, "contacts", "Ольга Е.") is not None
