"""``crm sync`` killed (SIGKILL) in the middle of a pull and of a push, then run again:
nothing is lost, nothing is applied or created twice."""

from __future__ import annotations

import sqlite3
import time
from collections import Counter
from typing import Any

import pytest
from sqlmodel import select

from tests.fake_amocrm import FakeAmo
from tests.sync.conftest import Cli, open_db, remote_live
from tui_crm.domain.text import fold
from tui_crm.storage.models import Deal, Pipeline, Stage

pytestmark = pytest.mark.slow  # kills a real sync process mid-way: crash safety, seconds per test


def _wait_for(condition: Any, proc: Any, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        if proc.poll() is not None:
            out, err = proc.communicate()
            raise AssertionError(f"crm sync ended before the kill ({proc.returncode}): {err}")
        time.sleep(0.01)
    raise AssertionError("timed out waiting for the sync to get going")


def _kill(proc: Any) -> None:
    proc.kill()  # SIGKILL: no cleanup, no atexit
    proc.wait(timeout=10)


def _scalar(db: Any, sql: str) -> Any:
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=30)
    try:
        row = conn.execute(sql).fetchone()
        return row[0] if row else None
    except sqlite3.OperationalError:
        return None
    finally:
        conn.close()


def test_killed_during_a_pull_resumes_at_the_next_page(cli: Cli, fake: FakeAmo) -> None:
    fake.limits.enabled = True
    fake.seed_leads(2000, name="Lead {i}")
    fake.faults.latency = 0.05
    proc = cli.start("sync", "--quiet")
    _wait_for(lambda: (_scalar(cli.db, "SELECT page FROM sync_cursor WHERE entity = 'deal'") or 0) >= 2, proc)
    _kill(proc)
    applied = _scalar(cli.db, "SELECT count(*) FROM deal WHERE name LIKE 'Lead %'")
    page = _scalar(cli.db, "SELECT page FROM sync_cursor WHERE entity = 'deal'")
    assert 0 < applied < 2000 and applied == page * 250  # each page went in with its cursor, whole
    fake.faults.latency = 0
    fake.limits.enabled = False
    fake.clear_requests()
    done = cli("sync", "--quiet", "--max-rps", "1000")
    assert done.returncode == 0, done.stderr
    pages = [
        int(r.query["page"][0]) for r in fake.requests if r.path == "/api/v4/leads" and r.method == "GET" and "page" in r.query
    ]
    assert min(pages) == page + 1  # resumed after the last page applied
    crm = open_db(cli.db)
    try:
        with crm.read() as session:
            names = [d.name for d in session.exec(select(Deal).where(Deal.name.startswith("Lead ")))]  # type: ignore[union-attr]
    finally:
        crm.close()
    assert len(names) == 2000 and len(set(names)) == 2000
    creates = _scalar(cli.db, "SELECT count(*) FROM change_log WHERE entity = 'deal' AND op = 'create'")
    assert creates == 2000  # nothing applied twice
    assert _scalar(cli.db, "SELECT count(DISTINCT remote_id) FROM sync_id_map WHERE entity = 'deal'") == 2000


@pytest.mark.parametrize("account", ["admin", "manager"])
def test_killed_during_a_push_creates_nothing_twice(cli: Cli, fake: FakeAmo, account: str) -> None:
    if account == "manager":  # no right to create the id field: records carry the tui-crm:id:<id> tag
        fake.faults.field_create_status = 403
    crm = open_db(cli.db)
    try:
        with crm.uow() as work:
            stage = work.session.exec(
                select(Stage)
                .join(Pipeline, Pipeline.id == Stage.pipeline_id)
                .where(Pipeline.key == "sales20", Stage.key == "lead")
            ).one()
            for n in range(400):
                name = f"Offline {n}"
                work.create(Deal(name=name, name_fold=fold(name), pipeline_id=stage.pipeline_id, stage_id=stage.id))
    finally:
        crm.close()
    fake.limits.enabled = True
    fake.faults.latency = 0.1
    proc = cli.start("sync", "--quiet")
    _wait_for(lambda: len(fake.state.entities["leads"]) >= 100, proc)
    _kill(proc)
    created_before = len(fake.state.entities["leads"])
    assert 100 <= created_before < 400
    fake.faults.latency = 0
    fake.limits.enabled = False
    fake.clear_requests()
    done = cli("sync", "--quiet", "--max-rps", "1000")
    assert done.returncode == 0, done.stderr
    names = Counter(r["name"] for r in remote_live(fake, "leads"))
    assert len(names) == 400 and set(names.values()) == {1}  # every deal once, none twice
    resent = sum(len(r.body) for r in fake.requests if r.method == "POST" and r.path == "/api/v4/leads")
    assert resent <= 400 - created_before + 50  # at most the uncertain chunk was looked up, not re-sent
    lookups = [r for r in fake.requests if r.method == "GET" and r.path == "/api/v4/leads" and "page" in r.query]
    before_writes = lookups[: next((n for n, r in enumerate(fake.requests) if r.method == "POST"), len(lookups))]
    assert len([r for r in before_writes if "order[created_at]" in r.query]) <= 2  # not one look-up per record
    assert not [r for r in fake.requests if "query" in r.query]
    assert _scalar(cli.db, "SELECT count(*) FROM sync_id_map WHERE entity = 'deal' AND state = 'linked'") == 400
    assert _scalar(cli.db, "SELECT count(*) FROM change_log WHERE synced_at IS NULL") == 0
