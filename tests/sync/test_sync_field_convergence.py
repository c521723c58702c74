"""Randomized edits of the newly mapped fields on one side or both, then sync: both sides converge.

The fields editable here and in amoCRM: a deal's main contact, its site and
a UTM tag, a contact's Telegram, a company's head count, a task's all-day
form and a note's pin. Each example is a fresh store and a fresh fake; ops
set a field locally, remotely, or on both sides at once (to different
values), with syncs in between; at the end conflicts are resolved
(alternately keeping local and remote) and both sides must hold the same
values with nothing left to send.
"""

from __future__ import annotations

import os
import shutil
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import keyring
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import MutableClock
from tests.fake_amocrm import FakeAmo
from tests.fake_amocrm.keyrings import MemoryKeyring
from tests.sync.conftest import cf_value
from tests.sync.test_sync_field_mapping import _account_fields, _main_of, _read, _remote_id
from tests.sync.test_sync_hypothesis import World as RandomWorld
from tui_crm.config import load_settings
from tui_crm.services import sync as sync_service
from tui_crm.services.contacts import ContactInput, add_contact
from tui_crm.services.deals import LeadInput, capture_lead, edit_deal, link_contact
from tui_crm.services.notes import add_note, set_pinned
from tui_crm.services.parties import OnDuplicate
from tui_crm.services.tasks import TaskInput, add_task, reschedule_task
from tui_crm.storage.models import Company, Note, Task
from tui_crm.sync.local import LocalStore

MSK = ZoneInfo("Europe/Moscow")
SIDE = st.sampled_from(["local", "remote", "both"])
OPS = st.one_of(
    st.tuples(st.just("main"), SIDE, st.integers(0, 1), st.integers(0, 1)),
    st.tuples(st.just("site"), SIDE, st.sampled_from(["RU", "COM"]), st.sampled_from(["RU", "COM"])),
    st.tuples(st.just("utm"), SIDE, st.sampled_from(["google", "yandex", "vk"]), st.sampled_from(["google", "yandex", "vk"])),
    st.tuples(st.just("telegram"), SIDE, st.sampled_from(["@a", "@b", "@c"]), st.sampled_from(["@a", "@b", "@c"])),
    st.tuples(st.just("employees"), SIDE, st.integers(1, 3), st.integers(1, 3)),
    st.tuples(st.just("all_day"), SIDE, st.booleans(), st.booleans()),
    st.tuples(st.just("pin"), SIDE, st.booleans(), st.booleans()),
    st.tuples(st.just("sync")),
)
COMPANY_ID = "c0ffee00c0ffee00c0ffee00c0ffee00"


class World:
    def __init__(self, crm: Any, fake: FakeAmo) -> None:
        self.crm, self.fake = crm, fake
        _account_fields(fake)
        deal = capture_lead(crm, LeadInput(name="Сделка", contact_name="Первый"))
        second = add_contact(crm, ContactInput(name="Второй", messengers={"telegram": "@a"}), OnDuplicate.CREATE)
        link_contact(crm, deal.id, second.id)
        self.deal = deal.id
        self.contacts = [deal.contacts[0].id, second.id]
        with crm.uow() as work:
            LocalStore().apply(work, "company", COMPANY_ID, {"name": "Ромашка", "employees": 1}, new=True)
        self.task = add_task(crm, TaskInput(text="Позвонить", due="2026-12-01", entity_type="deal", entity_ref=deal.id)).id
        self.note = add_note(crm, "deal", deal.id, "Важно").id
        self.sync()

    sync = RandomWorld.sync  # one sync, rate limits lifted, no record refused

    def rid(self, entity: str, local_id: str) -> int:
        return _remote_id(self.crm, entity, local_id)

    @staticmethod
    def due(all_day: bool) -> tuple[str, int]:
        """(what a person types here, amoCRM's complete_till) for the task's day."""
        if all_day:
            return "2026-12-01", int(datetime(2026, 12, 1, 23, 59, 59, tzinfo=MSK).timestamp())
        return "2026-12-01 10:00", int(datetime(2026, 12, 1, 10, 0, tzinfo=MSK).timestamp())

    def local(self, kind: str, value: Any) -> None:
        crm = self.crm
        if kind == "main":
            with crm.uow() as work:
                LocalStore().apply(work, "deal", self.deal, {"main_contact": self.contacts[value]}, new=False)
        elif kind == "site":
            edit_deal(crm, self.deal, {"site": value})
        elif kind == "utm":
            with crm.uow() as work:
                LocalStore().apply(work, "deal", self.deal, {"mkt:utm_source": value}, new=False)
        elif kind == "telegram":
            with crm.uow() as work:
                LocalStore().apply(work, "contact", self.contacts[1], {"messengers": [f"telegram:{value}"]}, new=False)
        elif kind == "employees":
            with crm.uow() as work:
                LocalStore().apply(work, "company", COMPANY_ID, {"employees": value}, new=False)
        elif kind == "all_day":
            reschedule_task(crm, self.task, self.due(value)[0], allow_past=True)
        elif kind == "pin":
            set_pinned(crm, self.note, value)

    def remote(self, kind: str, value: Any) -> None:
        fake, state = self.fake, self.fake.state
        fake.clock.advance(1)
        with state.lock:
            if kind == "main":
                lead = self.rid("deal", self.deal)
                contact = self.rid("contact", self.contacts[value])
                state.link("leads", lead, "contacts", contact, {"main_contact": True}, user_id=state.admin_user_id)
            elif kind == "site":
                field = state.field_by_name("leads", "Сайт")["id"]
                values = [{"value": value}]
                fake.update_entity(
                    "leads", self.rid("deal", self.deal), {"custom_fields_values": [{"field_id": field, "values": values}]}
                )
            elif kind == "utm":
                cfv = [{"field_code": "UTM_SOURCE", "values": [{"value": value}]}]
                fake.update_entity("leads", self.rid("deal", self.deal), {"custom_fields_values": cfv})
            elif kind == "telegram":
                cfv = [{"field_code": "IM", "values": [{"value": value, "enum_code": "TELEGRAM"}]}]
                fake.update_entity("contacts", self.rid("contact", self.contacts[1]), {"custom_fields_values": cfv})
            elif kind == "employees":
                field = state.field_by_name("companies", "Количество сотрудников")["id"]
                cfv = [{"field_id": field, "values": [{"value": value}]}]
                fake.update_entity("companies", self.rid("company", COMPANY_ID), {"custom_fields_values": cfv})
            elif kind == "all_day":
                task = self.rid("task", self.task)
                state.write_tasks(
                    [{"id": task, "complete_till": self.due(value)[1]}], creating=False, user_id=state.admin_user_id
                )
            elif kind == "pin":
                state.pin_note("leads", self.rid("note", self.note), value, user_id=state.admin_user_id)

    def apply(self, op: tuple[Any, ...]) -> None:
        if op[0] == "sync":
            self.sync()
            return
        kind, side, mine, theirs = op
        if side in ("local", "both"):
            self.local(kind, mine)
        if side in ("remote", "both"):
            self.remote(kind, theirs if side == "both" else mine)

    def check(self) -> None:
        fake, crm = self.fake, self.crm
        deal = _read(crm, "deal", self.deal)
        lead_id = self.rid("deal", self.deal)
        lead = fake.state.entities["leads"][lead_id]
        assert _main_of(fake, lead_id) == self.rid("contact", deal["main_contact"])
        assert deal["source_site"] == cf_value(fake, "leads", lead, "Сайт")
        assert deal.get("mkt:utm_source") == cf_value(fake, "leads", lead, "UTM_SOURCE")
        contact = fake.state.entities["contacts"][self.rid("contact", self.contacts[1])]
        im = [
            f"{v['enum_code'].lower()}:{v['value']}"
            for cf in contact["custom_fields_values"]
            if cf["field_code"] == "IM"
            for v in cf["values"]
        ]
        assert _read(crm, "contact", self.contacts[1])["messengers"] == sorted(im)
        company = fake.state.entities["companies"][self.rid("company", COMPANY_ID)]
        task = fake.state.tasks[self.rid("task", self.task)]
        note = fake.state.notes["leads"][self.rid("note", self.note)]
        with crm.read() as session:
            assert str(session.get(Company, COMPANY_ID).employees) == cf_value(
                fake, "companies", company, "Количество сотрудников"
            )
            local_task = session.get(Task, self.task)
            remote_due = datetime.fromtimestamp(task["complete_till"], UTC).astimezone(MSK)
            assert local_task.all_day == ((remote_due.hour, remote_due.minute) == (23, 59))
            assert local_task.due_at.replace(tzinfo=UTC).astimezone(MSK).date() == remote_due.date()
            assert session.get(Note, self.note).pinned == note["is_pinned"]


@pytest.mark.slow  # random histories against the fake amoCRM
@settings(
    max_examples=int(os.environ.get("SYNC_HYPOTHESIS_EXAMPLES", "12")),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(ops=st.lists(OPS, min_size=1, max_size=10))
def test_mapped_fields_edited_on_either_or_both_sides_converge(
    ops: list[tuple[Any, ...]], tmp_path_factory: Any, _crm_template: Path
) -> None:
    from tui_crm.services.context import open_crm

    db = tmp_path_factory.mktemp("fields") / "crm.db"
    shutil.copyfile(_crm_template, db)
    previous = keyring.get_keyring()
    keyring.set_keyring(MemoryKeyring())
    fake = FakeAmo.start()
    fake.limits.enabled = False
    settings_ = load_settings(db=db, user="Анна")
    settings_.timezone = "Europe/Moscow"
    crm = open_crm(settings_, clock=MutableClock())
    try:
        sync_service.connect_amocrm(crm, base_url=fake.base_url, long_lived_token=fake.token)
        world = World(crm, fake)
        for op in ops:
            world.apply(op)
        fake.clock.advance(16 * 60)  # past the full-pull interval: pins log no event in amoCRM
        world.sync()
        for n, conflict in enumerate(sync_service.list_conflicts(crm)):
            sync_service.resolve_conflict(crm, conflict.id, "local" if n % 2 else "remote")
        world.sync()
        fake.clock.advance(16 * 60)
        world.sync()
        assert sync_service.list_conflicts(crm) == []
        assert sync_service.sync_status(crm).pending == 0
        world.check()
    finally:
        crm.close()
        fake.stop()
        keyring.set_keyring(previous)
