"""Randomized offline edits on both sides, then sync: everything converges, nothing is duplicated.

Each example is a fresh SQLite store (a copy of the session template) and a
fresh fake amoCRM. Local and remote sides create, rename, re-price, tag and
delete deals and contacts, with syncs in between at random points; at the
end every conflict is resolved (alternately keeping local and remote), and
after a final sync both sides hold the same live records with the same
names, budgets and tags, each mapped to exactly one record on the other side.
Half of the examples run against an account whose API filters are ignored.
Deals also carry two remote fields tui-crm keeps unmapped (a select and a
multiselect, ``amo:<id>``), edited on one side or on both at once: they
converge too.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

import keyring
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from sqlmodel import col, select

from tests.conftest import MutableClock
from tests.fake_amocrm import FakeAmo
from tests.fake_amocrm.keyrings import MemoryKeyring
from tests.sync.conftest import remote_live, remote_tags
from tui_crm.config import load_settings
from tui_crm.services import sync as sync_service
from tui_crm.services.contacts import ContactInput, add_contact, edit_contact
from tui_crm.services.deals import LeadInput, capture_lead, delete_deal, edit_deal, set_deal_tags
from tui_crm.services.parties import OnDuplicate
from tui_crm.services.records import tags_of
from tui_crm.storage.models import Contact, Deal
from tui_crm.storage.sync_tables import SyncIdMap
from tui_crm.sync.local import LocalStore

NAMES = st.sampled_from(["Альфа", "Beta", "Гамма", "Delta", "Ёжик", "Зета"])
PRICES = st.integers(min_value=0, max_value=5).map(lambda n: n * 1000)
TAGS = st.sampled_from(["vip", "hot", "ёлка"])
SIDE = st.sampled_from(["local", "remote"])
BOTH = st.sampled_from(["local", "remote", "both"])
SOURCES = st.sampled_from(["Сайт", "Звонок", "Выставка"])
PRODUCTS = st.lists(st.sampled_from(["CRM", "ERP", "BI"]), max_size=3, unique=True)

OPS = st.one_of(
    st.tuples(st.just("rename_deal"), SIDE, st.integers(0, 9), NAMES),
    st.tuples(st.just("price_deal"), SIDE, st.integers(0, 9), PRICES),
    st.tuples(st.just("create_deal"), SIDE, NAMES, PRICES),
    st.tuples(st.just("rename_deal"), SIDE, st.integers(0, 9), NAMES),
    st.tuples(st.just("price_deal"), SIDE, st.integers(0, 9), PRICES),
    st.tuples(st.just("tag_deal"), SIDE, st.integers(0, 9), TAGS),
    st.tuples(st.just("delete_deal"), SIDE, st.integers(0, 9)),
    st.tuples(st.just("create_contact"), SIDE, NAMES),
    st.tuples(st.just("rename_contact"), SIDE, st.integers(0, 9), NAMES),
    st.tuples(st.just("delete_contact"), SIDE, st.integers(0, 9)),
    st.tuples(st.just("source_deal"), BOTH, st.integers(0, 9), SOURCES, SOURCES),
    st.tuples(st.just("products_deal"), BOTH, st.integers(0, 9), PRODUCTS, PRODUCTS),
    st.tuples(st.just("sync")),
)


class World:
    def __init__(self, crm: Any, fake: FakeAmo) -> None:
        self.crm = crm
        self.fake = fake
        self.counter = 0
        self.source = fake.state.add_custom_field("leads", "Источник", "select", enums=["Сайт", "Звонок", "Выставка"])
        self.products = fake.state.add_custom_field("leads", "Продукты", "multiselect", enums=["CRM", "ERP", "BI"])
        self.one_sided_conflicts = 0

    def enum(self, field_id: int, label: str) -> int:
        return next(e["id"] for e in self.fake.state.custom_fields["leads"][field_id]["enums"] if e["value"] == label)

    def unmapped_op(self, kind: str, side: str, index: int, local_value: Any, remote_value: Any) -> None:
        """Set the select (``source_deal``) or multiselect (``products_deal``) on one side or both."""
        field_id = self.source if kind == "source_deal" else self.products
        labels_local = [local_value] if isinstance(local_value, str) else list(local_value)
        labels_remote = [remote_value] if isinstance(remote_value, str) else list(remote_value)
        if side in ("local", "both"):
            deals = self.local_live(Deal)
            if deals:
                from tui_crm.sync.local import LocalStore

                value = [{"value": v, "enum_id": self.enum(field_id, v)} for v in labels_local]
                with self.crm.uow() as work:
                    LocalStore().apply(work, "deal", deals[index % len(deals)].id, {f"amo:{field_id}": value}, new=False)
        if side in ("remote", "both"):
            leads = sorted(remote_live(self.fake, "leads"), key=lambda r: r["id"])
            if leads:
                values = [{"enum_id": self.enum(field_id, v)} for v in labels_remote]
                self.fake.update_entity(
                    "leads", leads[index % len(leads)]["id"], {"custom_fields_values": [{"field_id": field_id, "values": values}]}
                )

    def unique(self, name: str) -> str:
        self.counter += 1
        return f"{name} {self.counter}"

    def sync(self) -> Any:
        adapter = sync_service.make_adapter(self.crm, max_rps=10_000)
        adapter.client.backoff_base = 0.01  # type: ignore[attr-defined]
        try:
            report = sync_service.run_sync(self.crm, adapter=adapter)
        finally:
            adapter.close()
        assert not report.errors, report.errors
        return report

    def local_live(self, model: type) -> list[Any]:
        with self.crm.read() as session:
            return list(session.exec(select(model).where(col(model.deleted_at).is_(None)).order_by(model.id)))

    def apply(self, op: tuple[Any, ...]) -> None:
        kind = op[0]
        if kind == "sync":
            self.sync()
            return
        side = op[1]
        self.fake.clock.advance(1)
        if kind == "create_deal":
            name = self.unique(op[2])
            if side == "local":
                capture_lead(self.crm, LeadInput(name=name, budget=str(op[3]) if op[3] else None))
            else:
                self.fake.create_entity("leads", {"name": name, "price": op[3]})
        elif kind == "create_contact":
            name = self.unique(op[2])
            if side == "local":
                add_contact(self.crm, ContactInput(name=name), OnDuplicate.CREATE)
            else:
                self.fake.create_entity("contacts", {"name": name})
        elif kind in ("source_deal", "products_deal"):
            self.unmapped_op(kind, side, op[2], op[3], op[4])
        elif kind.endswith("_deal"):
            self._deal_op(kind, side, op)
        else:
            self._contact_op(kind, side, op)

    def _deal_op(self, kind: str, side: str, op: tuple[Any, ...]) -> None:
        if side == "local":
            deals = self.local_live(Deal)
            if not deals:
                return
            deal = deals[op[2] % len(deals)]
            if kind == "rename_deal":
                edit_deal(self.crm, deal.id, {"name": self.unique(op[3])})
            elif kind == "price_deal":
                edit_deal(self.crm, deal.id, {"budget": str(op[3]) if op[3] else ""})
            elif kind == "tag_deal":
                set_deal_tags(self.crm, deal.id, add=[op[3]], remove=[])
            elif kind == "delete_deal":
                delete_deal(self.crm, deal.id)
            return
        leads = sorted(remote_live(self.fake, "leads"), key=lambda r: r["id"])
        if not leads:
            return
        lead = leads[op[2] % len(leads)]
        if kind == "rename_deal":
            self.fake.update_entity("leads", lead["id"], {"name": self.unique(op[3])})
        elif kind == "price_deal":
            self.fake.update_entity("leads", lead["id"], {"price": op[3]})
        elif kind == "tag_deal":
            self.fake.update_entity("leads", lead["id"], {"tags_to_add": [{"name": op[3]}]})
        elif kind == "delete_deal":
            self.fake.delete_entity("leads", lead["id"])

    def _contact_op(self, kind: str, side: str, op: tuple[Any, ...]) -> None:
        if side == "local":
            contacts = self.local_live(Contact)
            if not contacts:
                return
            contact = contacts[op[2] % len(contacts)]
            if kind == "rename_contact":
                edit_contact(self.crm, contact.id, {"name": self.unique(op[3])})
            else:
                with self.crm.uow() as work:
                    row = work.session.get(Contact, contact.id)
                    work.soft_delete(row)
            return
        contacts = sorted(remote_live(self.fake, "contacts"), key=lambda r: r["id"])
        if not contacts:
            return
        contact = contacts[op[2] % len(contacts)]
        if kind == "rename_contact":
            self.fake.update_entity("contacts", contact["id"], {"name": self.unique(op[3])})
        else:
            self.fake.delete_entity("contacts", contact["id"])


def _check_converged(world: World) -> None:
    fake, crm = world.fake, world.crm
    adapter_name = f"amocrm:{sync_service.connected_account(crm)[0]}"  # type: ignore[index]
    with crm.read() as session:
        maps = {
            (m.entity, m.local_id): m.remote_id for m in session.exec(select(SyncIdMap).where(SyncIdMap.adapter == adapter_name))
        }
        deals = world.local_live(Deal)
        deal_tags = tags_of(session, "deal", [d.id for d in deals])
    leads = {str(r["id"]): r for r in remote_live(fake, "leads")}
    assert len(deals) == len(leads), ([d.name for d in deals], [r["name"] for r in leads.values()])
    mapped = [maps.get(("deal", d.id)) for d in deals]
    assert sorted(mapped) == sorted(leads), "every live deal maps to exactly one live lead"
    for deal in deals:
        lead = leads[maps[("deal", deal.id)]]
        assert deal.name == lead["name"]
        assert (deal.budget_rub or 0) == lead["price"] * 100
        assert sorted(deal_tags.get(deal.id, [])) == remote_tags(fake, "leads", lead)
        with crm.read() as session:
            local = LocalStore().read(session, "deal", deal.id) or {}
        for field_id in (world.source, world.products):
            remote_labels = sorted(
                v["value"] for cf in lead.get("custom_fields_values") or [] if cf["field_id"] == field_id for v in cf["values"]
            )
            assert sorted(v["value"] for v in local.get(f"amo:{field_id}") or []) == remote_labels, (deal.name, field_id)
    contacts = world.local_live(Contact)
    remote_contacts = {str(r["id"]): r for r in remote_live(fake, "contacts")}
    assert sorted(maps.get(("contact", c.id)) or "?" for c in contacts) == sorted(remote_contacts)
    for contact in contacts:
        assert contact.name == remote_contacts[maps[("contact", contact.id)]]["name"]
    names = [d.name for d in deals]
    assert len(names) == len(set(names)), "no duplicates"


@pytest.mark.slow  # random histories against the fake amoCRM: the slowest sync test
@settings(
    max_examples=int(os.environ.get("SYNC_HYPOTHESIS_EXAMPLES", "15")),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    seed=st.tuples(st.integers(0, 3), st.integers(0, 3), st.integers(0, 2), st.integers(0, 2)),
    ops=st.lists(OPS, min_size=1, max_size=14),
    ignore_filters=st.booleans(),
    first_sync=st.booleans(),
)
def test_random_edits_on_both_sides_converge_without_duplicates(
    seed: tuple[int, int, int, int],
    ops: list[tuple[Any, ...]],
    ignore_filters: bool,
    first_sync: bool,
    tmp_path_factory: Any,
    _crm_template: Path,
) -> None:
    from tui_crm.services.context import open_crm

    root = tmp_path_factory.mktemp("prop")
    db = root / "crm.db"
    shutil.copyfile(_crm_template, db)
    previous = keyring.get_keyring()
    keyring.set_keyring(MemoryKeyring())
    fake = FakeAmo.start()
    fake.limits.enabled = False
    fake.faults.ignore_filters = ignore_filters
    settings_ = load_settings(db=db, user="Анна")
    settings_.timezone = "Europe/Moscow"
    crm = open_crm(settings_, clock=MutableClock())
    try:
        sync_service.connect_amocrm(crm, base_url=fake.base_url, long_lived_token=fake.token)
        world = World(crm, fake)
        local_deals, remote_deals, local_contacts, remote_contacts = seed
        for n in range(local_deals):
            world.apply(("create_deal", "local", "Сделка", n * 1000))
        for n in range(remote_deals):
            world.apply(("create_deal", "remote", "Lead", n * 1000))
        for _ in range(local_contacts):
            world.apply(("create_contact", "local", "Контакт"))
        for _ in range(remote_contacts):
            world.apply(("create_contact", "remote", "Contact"))
        if first_sync:
            world.sync()
        for op in ops:
            world.apply(op)
        world.sync()
        open_conflicts = sync_service.list_conflicts(crm)
        event(f"conflicts: {min(len(open_conflicts), 3)}")
        event(f"live deals: {min(len(world.local_live(Deal)), 4)}")
        for n, conflict in enumerate(open_conflicts):
            sync_service.resolve_conflict(crm, conflict.id, "local" if n % 2 else "remote")
        world.sync()
        world.sync()
        assert sync_service.list_conflicts(crm) == []
        assert sync_service.sync_status(crm).pending == 0
        _check_converged(world)
    finally:
        crm.close()
        fake.stop()
        keyring.set_keyring(previous)
