"""Two laptops and a real PostgreSQL hub: push, pull, three-way merge, conflicts, tombstones."""

from __future__ import annotations

from typing import Any

from tui_crm.services import sync as sync_service
from tui_crm.services.deals import LeadInput, capture_lead, delete_deal, edit_deal, get_deal
from tui_crm.services.hub import make_hub_adapter


def test_a_deal_made_on_one_laptop_arrives_on_the_other_with_the_same_id(hub: Any, client: Any, sync: Any) -> None:
    alice, bob = hub.member("alice", display="Анна", team="sales"), hub.member("bob", display="Борис", team="sales")
    anna, boris = client("Анна", alice), client("Борис", bob)
    deal = capture_lead(anna, LeadInput(name="Сайт для Магнита", budget="150000", contact_name="Иван Петров",
                                        phone="+7 912 345-67-89", tags=["web"]))  # fmt: skip
    report = sync(anna)
    assert report.stats["deal"].pushed_new == 1
    sync(boris)
    there = get_deal(boris, deal.id)
    assert there.name == "Сайт для Магнита"
    assert there.budget_rub == deal.budget_rub
    assert there.tags == ["web"]
    assert [c.name for c in there.contacts] == ["Иван Петров"]
    assert there.stage == deal.stage
    assert there.responsible == "Анна"  # the hub member alice is «Анна» on Борис's laptop too


def test_edits_on_both_sides_merge_field_by_field_and_a_same_field_clash_is_one_conflict(
    hub: Any, client: Any, sync: Any
) -> None:
    alice, bob = hub.member("alice", display="Анна", team="sales"), hub.member("bob", display="Борис", team="sales")
    anna, boris = client("Анна", alice), client("Борис", bob)
    deal = capture_lead(anna, LeadInput(name="Ремонт офиса", budget="100000"))
    sync(anna)
    sync(boris)
    edit_deal(anna, deal.id, {"budget": "120000", "name": "Ремонт офиса (Анна)"})
    edit_deal(boris, deal.id, {"name": "Ремонт офиса (Борис)"})
    sync(anna)
    report = sync(boris)
    assert report.conflicts == 1
    conflicts = sync_service.list_conflicts(boris)
    assert [(c.field, c.local, c.remote) for c in conflicts] == [("name", "Ремонт офиса (Борис)", "Ремонт офиса (Анна)")]
    assert get_deal(boris, deal.id).budget_rub == get_deal(anna, deal.id).budget_rub  # the other field came in
    sync_service.resolve_conflict(boris, conflicts[0].id, "local")
    sync(boris)
    sync(anna)
    assert get_deal(anna, deal.id).name == "Ремонт офиса (Борис)"
    assert sync_service.list_conflicts(anna) == [] and sync_service.list_conflicts(boris) == []


def test_a_delete_travels_as_a_tombstone(hub: Any, client: Any, sync: Any) -> None:
    alice, bob = hub.member("alice", team="sales"), hub.member("bob", team="sales")
    anna, boris = client("Анна", alice), client("Борис", bob)
    deal = capture_lead(anna, LeadInput(name="Удалю"))
    sync(anna)
    sync(boris)
    delete_deal(boris, deal.id)
    sync(boris)
    sync(anna)
    with hub.admin() as conn:
        assert conn.execute("SELECT deleted FROM hub_record WHERE id = %s", (deal.id,)).fetchone() == (True,)
    adapter = make_hub_adapter(anna)
    try:
        assert adapter.fetch("deal", [deal.id])[deal.id].fields["deleted"] is True
    finally:
        adapter.close()
    from tui_crm.storage.models import Deal

    with anna.read() as session:
        assert session.get(Deal, deal.id).deleted_at is not None
