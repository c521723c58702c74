"""Faults: a lost answer mid-push, a run killed mid-pull, the hub restarted mid-sync.

Each run resumes with nothing doubled and nothing acknowledged lost."""

from __future__ import annotations

from typing import Any

import pytest
from sqlmodel import func, select

from tui_crm.domain.errors import CrmError
from tui_crm.services.deals import LeadInput, capture_lead
from tui_crm.services.hub import make_hub_adapter
from tui_crm.services.sync import run_sync
from tui_crm.storage.models import Deal
from tui_crm.sync import hub as hub_pkg  # noqa: F401  (the package under test)
from tui_crm.sync.hub import adapter as hub_adapter


class Lost(ConnectionError):
    pass


def _hub_count(hub: Any, entity: str = "deal") -> int:
    with hub.admin() as conn:
        return int(conn.execute("SELECT count(*) FROM hub_record WHERE entity = %s", (entity,)).fetchone()[0])


def _local_count(crm: Any) -> int:
    with crm.read() as session:
        return int(session.exec(select(func.count()).select_from(Deal)).one())


def test_an_answer_lost_after_the_hub_committed_a_create_is_not_sent_twice(
    hub: Any, client: Any, sync: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    anna = client("Анна", hub.member("alice", team="sales"))
    for n in range(5):
        capture_lead(anna, LeadInput(name=f"Сделка {n}"))
    adapter = make_hub_adapter(anna)
    real_create = adapter.create

    def create_then_lose(entity: str, items: Any, on_done: Any) -> None:
        real_create(entity, items, lambda results: None)  # committed on the hub...
        raise Lost("connection lost before the answer")  # ...but the answer never arrives

    monkeypatch.setattr(adapter, "create", create_then_lose)
    with pytest.raises(Lost):
        run_sync(anna, adapter=adapter)
    adapter.close()
    assert _hub_count(hub) == 5
    report = sync(anna)  # the attempts are looked up, not created again
    assert report.stats["deal"].pushed_new == 0
    assert _hub_count(hub) == 5
    assert sync(anna).stats["deal"].total() == 0  # and nothing is left pending
    boris = client("Борис", hub.member("bob", team="sales"))
    sync(boris)
    assert _local_count(boris) == 5


def test_a_pull_killed_after_a_page_resumes_without_doubles(
    hub: Any, client: Any, sync: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    anna = client("Анна", hub.member("alice", team="sales"))
    for n in range(7):
        capture_lead(anna, LeadInput(name=f"Сделка {n}"))
    sync(anna)
    boris = client("Борис", hub.member("bob", team="sales"))
    monkeypatch.setattr(hub_adapter, "PAGE", 3)
    adapter = make_hub_adapter(boris)
    real_pull = adapter.pull
    pages = {"n": 0}

    def pull_then_die(stream: str, cursor: Any) -> Any:
        for page in real_pull(stream, cursor):
            yield page
            if stream == "deal":
                pages["n"] += 1
                if pages["n"] == 1:
                    raise Lost("killed after the first page")

    monkeypatch.setattr(adapter, "pull", pull_then_die)
    with pytest.raises(Lost):
        run_sync(boris, adapter=adapter)
    adapter.close()
    assert 0 < _local_count(boris) < 7
    sync(boris)
    assert _local_count(boris) == 7


@pytest.mark.slow
def test_the_hub_restarted_mid_sync_loses_nothing_acknowledged(hub: Any, client: Any, sync: Any, pg: Any) -> None:
    anna = client("Анна", hub.member("alice", team="sales"))
    for n in range(4):
        capture_lead(anna, LeadInput(name=f"До рестарта {n}"))
    restarted = {"done": False}

    def progress(phase: str, entity: str, done: int, total: int | None) -> None:
        if phase == "pull" and not restarted["done"]:
            restarted["done"] = True
            pg.restart()  # the push was acknowledged; the server goes down like a crash

    with pytest.raises(CrmError) as failed:
        run_sync(anna, progress=progress)
    assert "\n" not in str(failed.value)
    assert _hub_count(hub) == 4
    capture_lead(anna, LeadInput(name="После рестарта"))
    sync(anna)
    assert _hub_count(hub) == 5
    boris = client("Борис", hub.member("bob", team="sales"))
    sync(boris)
    assert _local_count(boris) == 5
