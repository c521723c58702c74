"""Sync under the remote's failure modes: lost answers, rate limits, lock-out, ignored filters."""

from __future__ import annotations

from typing import Any

import pytest
from sqlmodel import select

from tests.fake_amocrm import FakeAmo
from tests.sync.conftest import Cli, open_db, remote_live
from tui_crm.services import sync as sync_service
from tui_crm.services.contacts import ContactInput, add_contact
from tui_crm.services.deals import LeadInput, capture_lead, edit_deal
from tui_crm.storage.models import ChangeLog, Deal
from tui_crm.storage.sync_tables import SyncIdMap
from tui_crm.sync.amocrm import AmoUnavailable


def _posts(fake: FakeAmo, path: str) -> list[Any]:
    return [r for r in fake.requests if r.method == "POST" and r.path == path]


@pytest.mark.parametrize("mode", ["close", "504"])
def test_a_create_whose_answer_is_lost_is_not_sent_twice(store: Any, fake: FakeAmo, synced: Any, mode: str) -> None:
    synced()
    add_contact(store, ContactInput(name="Потерянный ответ", emails=["lost@example.com"]))
    fake.faults.drop_next_write(mode=mode)  # applied by the fake, then no answer (or a 504)
    report = synced()
    assert not report.errors
    contacts = [r for r in remote_live(fake, "contacts") if r["name"] == "Потерянный ответ"]
    assert len(contacts) == 1
    assert len(_posts(fake, "/api/v4/contacts")) == 1  # looked up by its tui_crm_uuid, not re-sent
    assert synced().stats["contact"].pushed_new == 0
    assert len([r for r in remote_live(fake, "contacts") if r["name"] == "Потерянный ответ"]) == 1


def test_a_run_that_dies_after_the_remote_created_the_record_is_finished_by_the_next(
    store: Any, fake: FakeAmo, synced: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tui_crm.sync import engine as engine_module

    capture_lead(store, LeadInput(name="Оборванная сделка"))
    original = engine_module.SyncEngine._push_creates

    def crash_after_send(self: Any, entity: str, ids: list[str], records: Any, done: int, total: int) -> int:
        if entity == "deal":
            # the remote creates the records, then the process "dies" before recording the answer
            self.adapter.create(entity, [self._push_item(entity, i, records[i])[0] for i in ids], lambda results: None)
            with self.uow() as work:
                for local_id in ids:
                    self.maps.set(work.session, entity, local_id, None, "attempt", work.now)
            raise KeyboardInterrupt
        return original(self, entity, ids, records, done, total)

    monkeypatch.setattr(engine_module.SyncEngine, "_push_creates", crash_after_send)
    with pytest.raises(KeyboardInterrupt):
        synced()
    monkeypatch.setattr(engine_module.SyncEngine, "_push_creates", original)
    assert len([r for r in remote_live(fake, "leads") if r["name"] == "Оборванная сделка"]) == 1
    synced()
    assert len([r for r in remote_live(fake, "leads") if r["name"] == "Оборванная сделка"]) == 1
    assert sync_service.sync_status(store).pending == 0
    with store.read() as session:
        states = {m.state for m in session.exec(select(SyncIdMap).where(SyncIdMap.entity == "deal"))}
    assert states == {"linked"}


def test_a_lost_patch_answer_is_harmless(store: Any, fake: FakeAmo, synced: Any) -> None:
    capture_lead(store, LeadInput(name="Правка"))
    synced()
    with store.read() as session:
        deal = session.exec(select(Deal).where(Deal.name == "Правка")).one()
    edit_deal(store, deal.id, {"budget": "5000"})
    fake.faults.drop_next_write()
    with pytest.raises(AmoUnavailable):  # the answer to the PATCH never came
        synced()
    synced()
    [lead] = [r for r in remote_live(fake, "leads") if r["name"] == "Правка"]
    assert lead["price"] == 5000
    assert sync_service.list_conflicts(store) == [] and sync_service.sync_status(store).pending == 0


def test_an_account_that_ignores_filters_still_converges(store: Any, fake: FakeAmo, synced: Any) -> None:
    fake.faults.ignore_filters = True
    ids = fake.seed_leads(520, name="Lead {i}")
    first = synced()
    assert first.stats["deal"].pulled_new == 520
    assert any("filtering off" in w for w in first.warnings)
    fake.clock.advance(30)
    fake.update_entity("leads", ids[7], {"name": "Lead 7 renamed"})
    fake.clear_requests()
    second = synced()
    # every lead came back (the account ignores filters) and only the changed one was applied
    lead_pages = [r for r in fake.requests if r.path == "/api/v4/leads" and r.method == "GET"]
    assert len(lead_pages) == 3
    assert second.stats["deal"].pulled_changed == 1 and second.stats["deal"].pulled_new == 0
    with store.read() as session:
        names = [d.name for d in session.exec(select(Deal).where(Deal.name.startswith("Lead")))]  # type: ignore[union-attr]
    assert len(names) == 520 and len(set(names)) == 520 and "Lead 7 renamed" in names
    with store.read() as session:
        creates = session.exec(select(ChangeLog).where(ChangeLog.entity == "deal", ChangeLog.op == "create")).all()
    assert len(creates) == 520  # nothing applied twice


def test_requests_per_second_stay_within_the_limit(store: Any, fake: FakeAmo) -> None:
    fake.limits.enabled = True  # 7 per second per client, lock-out after 10 violations
    fake.seed_leads(600)
    for n in range(12):
        capture_lead(store, LeadInput(name=f"Local {n}"))
    fake.clear_requests()
    adapter = sync_service.make_adapter(store)  # the production limit: 7 rps
    try:
        report = sync_service.run_sync(store, adapter=adapter)
    finally:
        adapter.close()
    api = [r for r in fake.requests if r.path.startswith("/api/v4/")]
    assert len(api) >= 15
    assert fake.max_requests_per_window(1.0, path_prefix="/api/v4/") <= 7
    assert all(r.status != 429 for r in api) and fake.rate_limit_violations == 0
    assert report.stats["deal"].pulled_new == 600 and report.stats["deal"].pushed_new == 12


def test_lock_out_stops_the_sync_with_exit_code_9_and_no_retries(cli: Cli, fake: FakeAmo) -> None:
    fake.faults.lock_out()
    done = cli("sync", "--quiet")
    assert done.returncode == 9, done.stderr
    assert "blocked API access" in done.stderr and "support" in done.stderr
    assert len([r for r in fake.requests if r.path.startswith("/api/v4/")]) == 1


def test_rate_limit_abuse_that_ends_in_lock_out_exits_9(cli: Cli, fake: FakeAmo) -> None:
    fake.limits.enabled = True
    fake.limits.max_rps = 1
    fake.limits.lockout_after = 2
    fake.seed_leads(300)
    done = cli("sync", "--quiet")
    assert done.returncode == 9, (done.stdout, done.stderr)
    assert "blocked" in done.stderr
    statuses = [r.status for r in fake.requests if r.path.startswith("/api/v4/")]
    assert statuses.count(403) == 1  # stopped at the first lock-out answer


def test_cli_sync_status_conflicts_and_dry_run(cli: Cli, fake: FakeAmo) -> None:
    fake.create_entity("leads", {"name": "CLI lead", "price": 100})
    done = cli("sync", "--quiet", "--max-rps", "1000")
    assert done.returncode == 0, done.stderr
    assert "deal" in done.stdout
    crm = open_db(cli.db)
    try:
        with crm.read() as session:
            deal = session.exec(select(Deal).where(Deal.name == "CLI lead")).one()
        edit_deal(crm, deal.id, {"budget": "300"})
    finally:
        crm.close()
    fake.clock.advance(10)
    lead_id = next(r["id"] for r in remote_live(fake, "leads") if r["name"] == "CLI lead")
    fake.update_entity("leads", lead_id, {"price": 200})
    plan = cli.invoke("sync", "--dry-run")
    assert plan.exit_code == 0 and "budget_rub=300 ₽" in plan.stdout
    assert cli("sync", "--quiet", "--max-rps", "1000").returncode == 0
    status = cli.invoke("sync", "status")
    assert "conflicts: 1 open" in status.stdout and "last sync:" in status.stdout
    listing = cli.invoke("sync", "conflicts")
    assert "budget_rub" in listing.stdout and "300 ₽" in listing.stdout and "200 ₽" in listing.stdout
    conflict_id = listing.stdout.split("budget_rub")[0].split("\n")[-1].split()[1]
    resolved = cli.invoke("sync", "conflicts", "--resolve", conflict_id, "--keep", "remote")
    assert resolved.exit_code == 0, resolved.output
    assert "conflicts: 0 open" in cli.invoke("sync", "status").stdout
    crm = open_db(cli.db)
    try:
        with crm.read() as session:
            assert session.exec(select(Deal).where(Deal.name == "CLI lead")).one().budget_rub == 20000
    finally:
        crm.close()


def test_sync_without_an_account_says_how_to_connect(crm: Any) -> None:
    from tui_crm.services.sync import SyncNotConfigured, make_adapter

    with pytest.raises(SyncNotConfigured, match="crm auth amocrm"):
        make_adapter(crm)


def test_crm_auth_amocrm_stores_tokens_only_encrypted(cli: Cli, fake: FakeAmo, tmp_path: Any) -> None:
    from tests.sync.conftest import SECRETS_PASSPHRASE
    from tui_crm.secrets import EncryptedFileStore

    code = fake.issue_auth_code()
    done = cli(
        "auth",
        "amocrm",
        "--base-url",
        fake.base_url,
        "--client-id",
        fake.oauth.client_id,
        "--client-secret",
        fake.oauth.client_secret,
        "--redirect-uri",
        fake.oauth.redirect_uri,
        "--code",
        code,
    )
    assert done.returncode == 0, done.stderr
    assert f"OAuth tokens kept in the encrypted file {tmp_path / 'secrets.enc'}" in done.stdout
    raw = (tmp_path / "secrets.enc").read_text(encoding="utf-8")
    assert "refresh_token" not in raw and fake.oauth.client_secret not in raw
    assert (tmp_path / "secrets.enc").stat().st_mode & 0o777 == 0o600
    store = EncryptedFileStore(tmp_path / "secrets.enc", SECRETS_PASSPHRASE)
    assert "refresh_token" in (store.get(f"amocrm:{cli_account(fake)}") or "")
    assert store.get(f"amocrm-app:{cli_account(fake)}") == fake.oauth.client_secret
    assert not (tmp_path / "keyring.json").exists() or "refresh_token" not in (tmp_path / "keyring.json").read_text()
    database = cli.db.read_bytes()
    assert b"refresh_token" not in database and fake.oauth.client_secret.encode() not in database
    assert cli("sync", "--quiet", "--max-rps", "1000").returncode == 0
    bad = cli("auth", "amocrm", "--base-url", fake.base_url, "--client-id", "x", "--client-secret", "y", "--code", "nope")
    assert bad.returncode == 9 and "Reconnect" in bad.stderr


def cli_account(fake: FakeAmo) -> str:
    from urllib.parse import urlsplit

    return urlsplit(fake.base_url).netloc
