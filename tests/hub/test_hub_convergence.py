"""Several laptops (separate SQLite files) editing offline and syncing in varying orders converge;
a change committed late never falls behind a reader's cursor."""

from __future__ import annotations

import json
import random
from typing import Any

import pytest
from sqlmodel import select

from tui_crm.services import sync as sync_service
from tui_crm.services.deals import LeadInput, capture_lead, delete_deal, edit_deal, set_deal_tags
from tui_crm.storage.models import Deal
from tui_crm.sync.local import LocalStore


def _deals(crm: Any) -> dict[str, tuple[Any, ...]]:
    """What a person sees of every deal: name, budget, tags, deleted (ids are shared)."""
    with crm.read() as session:
        ids = list(session.exec(select(Deal.id)).all())
        rows = LocalStore().read_many(session, "deal", ids)
    return {i: (f["name"], f["budget_rub"], tuple(f["tags"]), f["deleted"]) for i, f in rows.items()}


def _hub_deals(hub: Any) -> dict[str, tuple[Any, ...]]:
    with hub.admin() as conn:
        rows = conn.execute("SELECT id, fields FROM hub_record WHERE entity = 'deal'").fetchall()
    return {
        i: (f["name"], f.get("budget_rub"), tuple(sorted(f.get("tags") or [], key=str.casefold)), bool(f.get("deleted")))
        for i, f in rows
    }


def _random_edit(rng: random.Random, crm: Any, who: str, n: int) -> None:
    live = [i for i, v in _deals(crm).items() if not v[3]]
    action = rng.choice(["new", "name", "budget", "tag", "untag", "delete"] if live else ["new"])
    if action == "new":
        capture_lead(crm, LeadInput(name=f"{who} сделка {n}", budget=str(rng.randint(1, 900) * 1000)))
        return
    deal = rng.choice(live)
    if action == "name":
        edit_deal(crm, deal, {"name": f"{who} правка {n}"})
    elif action == "budget":
        edit_deal(crm, deal, {"budget": str(rng.randint(1, 900) * 1000)})
    elif action == "tag":
        set_deal_tags(crm, deal, [rng.choice(["vip", "web", "опт", "b2b"])], [])
    elif action == "untag":
        tags = list(_deals(crm)[deal][2])
        if tags:
            set_deal_tags(crm, deal, [], [rng.choice(tags)])
    elif rng.random() < 0.3:
        delete_deal(crm, deal)


@pytest.mark.slow
@pytest.mark.parametrize("seed", [1, 2])
def test_three_laptops_with_random_offline_edits_converge(hub: Any, client: Any, sync: Any, seed: int) -> None:
    rng = random.Random(seed)
    names = {"a": "Анна", "b": "Борис", "c": "Вера"}
    stores = {k: client(v, hub.member(k, display=v, team="sales")) for k, v in names.items()}
    for k in stores:
        capture_lead(stores[k], LeadInput(name=f"{names[k]}: первая"))
    for round_ in range(4):
        for k, crm in stores.items():
            for n in range(rng.randint(1, 4)):
                _random_edit(rng, crm, names[k], round_ * 10 + n)
        order = list(stores)
        rng.shuffle(order)
        for k in order[: rng.randint(1, 3)]:
            sync(stores[k])
    for _ in range(2):
        for crm in stores.values():
            sync(crm)
    # Each same-field clash is one open conflict per laptop (never repeated); keep the hub's value.
    for crm in stores.values():
        open_ = sync_service.list_conflicts(crm)
        keys = [(c.record_id, c.field, c.kind) for c in open_]
        assert len(keys) == len(set(keys))
        for conflict in open_:
            sync_service.resolve_conflict(crm, conflict.id, "remote")
    for _ in range(2):
        for crm in stores.values():
            sync(crm)
    seen = {k: _deals(crm) for k, crm in stores.items()}
    assert seen["a"] == seen["b"] == seen["c"] == _hub_deals(hub)
    assert len(seen["a"]) >= 3
    assert all(sync_service.list_conflicts(crm) == [] for crm in stores.values())


def _insert_deal(conn: Any, deal_id: str, name: str, owner: str) -> None:
    fields = {"name": name, "responsible_id": owner, "deleted": False}
    conn.execute("INSERT INTO hub_record (entity, id, fields) VALUES ('deal', %s, %s::jsonb)", (deal_id, json.dumps(fields)))


def test_a_transaction_started_first_but_committed_last_is_not_skipped(hub: Any, client: Any, sync: Any) -> None:
    """T1 writes first (lower sequence number) and commits last; a reader syncing in between must not
    move its cursor past T1's change (a "max(seq)" cursor would: T2's row has the higher number)."""
    import psycopg

    alice, bob = hub.member("alice", team="sales"), hub.member("bob", team="sales")
    boris = client("Борис", bob)
    sync(boris)
    first, second = "a" * 32, "b" * 32
    t1 = psycopg.connect(alice.url, password=alice.password)
    t2 = psycopg.connect(alice.url, password=alice.password)
    try:
        _insert_deal(t1, first, "Начата первой", alice.login)  # T1: the lower feed number, still open
        _insert_deal(t2, second, "Начата второй", alice.login)
        t2.commit()  # T2 commits first
        sync(boris)  # reads while T1 is still open
        t1.commit()
        with hub.admin() as conn:
            order = conn.execute("SELECT record_id FROM hub_feed ORDER BY seq").fetchall()
        assert [r[0] for r in order] == [first, second]  # T1's change has the lower number, yet came last
        sync(boris)
    finally:
        t1.close()
        t2.close()
    seen = _deals(boris)
    assert seen[first][0] == "Начата первой"
    assert seen[second][0] == "Начата второй"


def test_a_retried_push_changes_nothing(hub: Any, client: Any, sync: Any) -> None:
    """The same create and update sent twice (a lost answer) leave one record and no new feed rows."""
    from tui_crm.services.hub import make_hub_adapter
    from tui_crm.sync.adapter import PushItem

    anna = client("Анна", hub.member("alice", team="sales"))
    deal = capture_lead(anna, LeadInput(name="Один раз"))
    sync(anna)
    adapter = make_hub_adapter(anna)
    try:
        before = adapter.fetch("deal", [deal.id])[deal.id]
        assert before is not None
        with hub.admin() as conn:
            feed = conn.execute("SELECT count(*) FROM hub_feed").fetchone()[0]
        done: list[Any] = []
        adapter.create("deal", [PushItem(deal.id, dict(before.fields))], done.extend)
        adapter.update("deal", [PushItem(deal.id, {"name": "Один раз"}, deal.id, before=before)], done.extend)
        assert [r.error for r in done] == [None, None]
        with hub.admin() as conn:
            assert conn.execute("SELECT count(*) FROM hub_feed").fetchone()[0] == feed
            assert conn.execute("SELECT count(*), max(version) FROM hub_record WHERE id = %s", (deal.id,)).fetchone() == (1, 1)
    finally:
        adapter.close()
