"""Live updates: LISTEN/NOTIFY on the hub wakes a listening laptop; the app pulls by itself."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import pytest
from sqlmodel import select

from tui_crm.services.deals import LeadInput, capture_lead
from tui_crm.services.hub import start_listener
from tui_crm.storage.models import Deal

WAIT = 60.0  # generous: an upper bound for a shared machine, not a measured time


@pytest.mark.slow
def test_a_teammates_push_wakes_the_listener(hub: Any, client: Any, sync: Any) -> None:
    alice, bob = hub.member("alice", team="sales"), hub.member("bob", team="sales")
    anna, boris = client("Анна", alice), client("Борис", bob)
    online, heard = threading.Event(), threading.Event()
    calls: list[str] = []

    def changed() -> None:
        calls.append("change")
        heard.set()

    listener = start_listener(boris, changed, lambda up: online.set() if up else None)
    try:
        assert online.wait(WAIT), "the listener never connected"
        capture_lead(boris, LeadInput(name="Своя"))
        sync(boris)
        capture_lead(anna, LeadInput(name="От Анны"))
        sync(anna)
        assert heard.wait(WAIT), "no notification arrived"
    finally:
        listener.stop()
    assert not listener.online
    sync(boris)
    with boris.read() as session:
        assert {"Своя", "От Анны"} <= {d.name for d in session.exec(select(Deal))}


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.mark.slow
@pytest.mark.anyio
async def test_the_app_pulls_a_teammates_change_by_itself_and_shows_the_hub(hub: Any, client: Any, sync: Any) -> None:
    from tui_crm.app import make_app
    from tui_crm.widgets.status_bar import StatusBar

    alice, bob = hub.member("alice", team="sales"), hub.member("bob", team="sales")
    anna, boris = client("Анна", alice), client("Борис", bob)
    app = make_app(boris)

    def names() -> set[str]:
        with boris.read() as session:
            return {d.name for d in session.exec(select(Deal))}

    def bar() -> str:
        return " ".join(str(b.query_one("#status-left").render()) for b in app.screen.query(StatusBar))

    async with app.run_test(size=(120, 35)) as pilot:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + WAIT
        while "live" not in bar() and loop.time() < deadline:
            await pilot.pause(0.2)
        assert f"hub 127.0.0.1/{hub.dbname} · live" in bar()
        capture_lead(anna, LeadInput(name="Пришла сама"))
        await asyncio.to_thread(sync, anna)
        while "Пришла сама" not in names() and loop.time() < deadline:
            await pilot.pause(0.2)
        assert "Пришла сама" in names()
