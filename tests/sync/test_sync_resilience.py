"""A sync a team can leave running: reads survive a few 5xx and dropped
answers (bounded retries), and 429s teach the client the account's rate,
kept between runs, instead of piling up toward the lock-out (issue 12)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from sqlmodel import select

from tests.fake_amocrm import FakeAmo
from tui_crm.services import sync as sync_service
from tui_crm.services.deals import LeadInput, capture_lead
from tui_crm.storage.sync_tables import SyncMeta
from tui_crm.sync.amocrm.errors import AmoServerError


def test_reads_are_retried_through_a_few_server_errors(store: Any, fake: FakeAmo, synced: Any) -> None:
    fake.seed_leads(300)
    fake.faults.server_error_next(2, method="GET", path="/api/v4/leads")
    fake.faults.server_error_next(1, status=502, method="GET", path="/api/v4/leads/pipelines")
    fake.faults.server_error_next(1, status=504, method="GET", path="/api/v4/contacts/custom_fields")
    report = synced()
    assert report.stats["deal"].pulled_new == 300
    assert sorted(r.status for r in fake.requests if r.status >= 500) == [500, 500, 502, 504]


def test_retries_are_bounded_and_the_error_names_the_request(store: Any, fake: FakeAmo, synced: Any) -> None:
    fake.faults.server_error_next(50, method="GET", path="/api/v4/leads/pipelines")
    with pytest.raises(AmoServerError) as caught:
        synced()
    assert "GET /api/v4/leads/pipelines" in str(caught.value)
    assert len([r for r in fake.requests if r.path == "/api/v4/leads/pipelines"]) == 5


def test_a_failed_write_is_not_sent_again_blindly(store: Any, fake: FakeAmo, synced: Any) -> None:
    synced()
    capture_lead(store, LeadInput(name="Одна"))
    fake.faults.drop_next_write(1, mode="504")
    synced()
    assert [r["name"] for r in fake.state.entities["leads"].values()].count("Одна") == 1


def _learned_rate(crm: Any) -> Any:
    with crm.read() as session:
        row = session.exec(select(SyncMeta).where(SyncMeta.key == "rate")).first()
    return json.loads(row.value_json) if row else None


def test_syncs_in_a_row_at_a_4_rps_account_limit_learn_the_rate(store: Any, fake: FakeAmo) -> None:
    fake.seed_leads(500)
    fake.limits.enabled = True
    fake.limits.max_rps = 4
    fake.limits.lockout_after = 20
    fake.clear_requests()
    rates = []
    for n in range(4):
        capture_lead(store, LeadInput(name=f"Локальная {n}"))
        adapter = sync_service.make_adapter(store)  # the real 7 requests/s ceiling
        try:
            report = sync_service.run_sync(store, adapter=adapter)
        finally:
            adapter.close()
        assert not report.errors
        rates.append(_learned_rate(store))
    assert not fake.faults.locked_out
    assert fake.rate_limit_violations <= 3, fake.rate_limit_violations  # was 19 of the 20 that lock the account
    assert rates[-1] is not None and rates[-1] <= 4  # remembered per account between runs
