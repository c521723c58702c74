"""What a sync costs when there is little or nothing to do, and the one
truth about what is pending (issue 12; the dry-run display from issue 9)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.fake_amocrm import FakeAmo
from tests.sync.conftest import Cli
from tui_crm.services.deals import LeadInput, capture_lead, get_deal
from tui_crm.storage.models import Deal


def _api(fake: FakeAmo) -> list[Any]:
    return [r for r in fake.requests if r.path.startswith("/api/v4/")]


def _settle(fake: FakeAmo, synced: Any) -> None:
    """Sync until both sides agree and the sync's own writes were read back."""
    for _ in range(3):
        synced()
        fake.clock.advance(10)


@pytest.mark.parametrize("variant", ["admin", "manager", "no_filters"])
def test_a_sync_with_nothing_to_do_costs_at_most_5_requests(store: Any, fake: FakeAmo, synced: Any, variant: str) -> None:
    if variant == "manager":
        fake.faults.field_create_status = 403
    if variant == "no_filters":
        fake.faults.ignore_filters = True
    fake.seed_leads(30)
    capture_lead(store, LeadInput(name="Своя", contact_name="Ольга", company="Ромашка"))
    _settle(fake, synced)
    fake.clear_requests()
    report = synced()
    assert sum(s.total() for s in report.stats.values()) == 0
    assert len(_api(fake)) <= 5, [f"{r.method} {r.path}" for r in _api(fake)]


def test_a_remote_change_after_a_quiet_spell_still_arrives(store: Any, fake: FakeAmo, synced: Any) -> None:
    [lead_id] = fake.seed_leads(1, name="Удалённая")
    _settle(fake, synced)
    fake.update_entity("leads", lead_id, {"name": "Переименована", "price": 5000})
    synced()
    with store.read() as session:
        from sqlmodel import select

        deal = session.exec(select(Deal).where(Deal.name == "Переименована")).one()
    assert get_deal(store, deal.id).budget_rub == 5000


def test_a_new_field_and_stage_in_the_account_are_picked_up_at_once(store: Any, fake: FakeAmo, synced: Any) -> None:
    _settle(fake, synced)
    field_id = fake.state.add_custom_field("leads", "Канал", "select", enums=["Сайт", "Звонок"])
    enum = fake.state.custom_fields["leads"][field_id]["enums"][0]["id"]
    pipeline = fake.state.add_pipeline("Партнёры", ["Новый партнёр", "Договор"])
    status = fake.state.first_regular_status(pipeline)
    fake.create_entity(
        "leads",
        {
            "name": "Через партнёра",
            "pipeline_id": pipeline,
            "status_id": status,
            "custom_fields_values": [{"field_id": field_id, "values": [{"enum_id": enum}]}],
        },
    )
    report = synced()
    with store.read() as session:
        from sqlmodel import select

        deal = session.exec(select(Deal).where(Deal.name == "Через партнёра")).one()
    detail = get_deal(store, deal.id)
    assert detail.custom[f"amo:{field_id}"][0]["value"] == "Сайт"
    assert any("Партнёры" in w for w in report.warnings)


def test_status_and_dry_run_agree_on_a_never_connected_store(cli: Cli) -> None:
    fresh = cli.db.with_name("fresh.db")
    env = {**cli.env, "CRM_DB": str(fresh)}
    import subprocess

    def crm(*args: str) -> Any:
        return subprocess.run(cli.cmd(*args), env=env, capture_output=True, text=True, timeout=120)

    status = crm("sync", "status")  # a reading command: no store is made for it
    assert status.returncode == 3 and "No database" in status.stderr, status.stderr
    assert not fresh.exists()
    assert crm("add", "lead", "Проверка", "--budget", "2 000 000").returncode == 0
    status = crm("sync", "status", "--json")
    import json

    info = json.loads(status.stdout)
    plan = json.loads(crm("sync", "--dry-run", "--json").stdout)
    assert info["pending"] == len(plan) >= 1


def test_dry_run_shows_what_the_user_typed(cli: Cli) -> None:
    done = cli.invoke("add", "lead", "Склад", "--budget", "2 000 000", "--phone", "+7 999 000-11-22")
    assert done.exit_code == 0, done.output
    shown = cli.invoke("sync", "--dry-run").output
    assert "2 000 000 ₽" in shown.replace("\u00a0", " ").replace("\u202f", " ")
    assert "200000000" not in shown and "Продажи 2.0 / Лид" in shown
    import re

    assert re.search(r"due_at=\d\d\.\d\d\.\d{4} \d\d:\d\d", shown), shown  # a local date, not Unix seconds
