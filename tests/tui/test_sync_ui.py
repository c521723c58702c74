"""Sync from the TUI: `S` syncs now, `C` lists open conflicts and resolves them.

The store is connected to the fake amoCRM (``tests/fake_amocrm``) with its
long-lived token in an in-memory keyring, as the sync tests do; the app's
adapter is made without the client's rate limit so a sync takes well under
a second. Names start with ``test_sync_ui_`` so snapshots never collide.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from textual.pilot import Pilot
from textual.widgets import DataTable, Label

from tests.fake_amocrm import FakeAmo
from tests.fake_amocrm.keyrings import MemoryKeyring
from tui_crm.app import CrmApp, make_app
from tui_crm.screens.conflicts import ConflictsScreen
from tui_crm.services import sync as sync_service
from tui_crm.services.context import Crm
from tui_crm.services.deal_queries import DealFilter, list_deals
from tui_crm.services.deals import edit_deal, get_deal
from tui_crm.widgets.status_bar import StatusBar
from tui_crm.widgets.sync_runner import CONNECT_HINT, explain_failure, summarize, sync_interval_minutes

Settle = Callable[..., Awaitable[None]]
SnapCompare = Callable[..., bool]
REMOTE_NAME = "[bold red]Сайт[/] для Магнита"




def fast_adapter(crm: Crm) -> Any:
    adapter = sync_service.make_adapter(crm, max_rps=10_000)
    adapter.client.backoff_base = 0.01
    return adapter


def sync_once(crm: Crm) -> Any:
    adapter = fast_adapter(crm)
    try:
        report = sync_service.run_sync(crm, adapter=adapter)
    finally:
        adapter.close()
    assert not report.errors, report.errors
    return report


def fast_app(crm: Crm) -> CrmApp:
    app = make_app(crm)
    app.make_sync_adapter = lambda: fast_adapter(crm)  # type: ignore[method-assign]
    return app


def seed_remote_lead(fake: FakeAmo) -> dict[str, Any]:
    pipeline = next(p for p in fake.state.pipelines.values() if p["name"] == "Продажи 2.0")
    status = next(s["id"] for s in pipeline["statuses"] if s["name"] == "Лид")
    return fake.create_entity(
        "leads", {"name": REMOTE_NAME, "price": 150000, "pipeline_id": pipeline["id"], "status_id": status}
    )


def local_deal_id(crm: Crm, name: str) -> str:
    return next(d.id for d in list_deals(crm, DealFilter(pipeline="sales20")) if d.name == name)


def edit_both_sides(crm: Crm, fake: FakeAmo) -> tuple[str, int]:
    """Synced lead, then an offline budget edit here and another in amoCRM: (deal id, remote id)."""
    lead = seed_remote_lead(fake)
    sync_once(crm)
    deal_id = local_deal_id(crm, REMOTE_NAME)
    edit_deal(crm, deal_id, {"budget": "200000"})
    fake.clock.advance(10)
    fake.update_entity("leads", lead["id"], {"price": 175000})
    return deal_id, lead["id"]


def status_text(app: CrmApp) -> str:
    return str(app.screen.query_one(StatusBar).query_one("#status-left", Label).render())


@pytest.mark.anyio
async def test_sync_ui_sync_key_then_keep_remote_from_the_conflicts_screen(store: Crm, fake: FakeAmo, settle: Settle) -> None:
    deal_id, lead_id = edit_both_sides(store, fake)
    app = fast_app(store)
    async with app.run_test(size=(120, 35)) as pilot:
        await settle(pilot)
        await pilot.press("S")
        await settle(pilot, rounds=10)
        # the sync ran: one conflict, the local value kept, the status bar counts it
        [conflict] = sync_service.list_conflicts(store)
        assert (conflict.field, conflict.local, conflict.remote) == ("budget_rub", 20000000, 17500000)
        assert get_deal(store, deal_id).budget_rub == 200000
        await settle(pilot)
        assert "1 sync conflict" in status_text(app)
        assert "synced today 12:00" in status_text(app)
        assert any("press C to resolve" in str(n.message) for n in app._notifications)

        await pilot.press("C")
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, ConflictsScreen)
        table = screen.query_one(DataTable)
        assert table.row_count == 1
        row = [cell.plain for cell in table.get_row_at(0)]
        assert row[0] == f"Deal «{REMOTE_NAME}»"  # literal, never markup
        assert REMOTE_NAME in str(screen.query_one("#conflicts-detail").render())
        assert row[2:] == [conflict.shown[side] for side in ("base", "local", "remote")]  # as crm sync conflicts shows them

        await pilot.press("r")
        await settle(pilot)
        assert table.row_count == 0
        assert "Nothing to resolve" in str(screen.query_one("#conflicts-summary").render())
        await settle(pilot)
        assert "sync conflict" not in status_text(app)

    assert sync_service.list_conflicts(store) == []
    [done] = sync_service.list_conflicts(store, include_resolved=True)
    assert done.resolution == "remote" and done.resolved_at is not None
    assert get_deal(store, deal_id).budget_rub == 175000
    assert fake.state.entities["leads"][lead_id]["price"] == 175000


@pytest.mark.anyio
async def test_sync_ui_keep_local_and_typed_value(store: Crm, fake: FakeAmo, settle: Settle) -> None:
    deal_id, _lead_id = edit_both_sides(store, fake)
    sync_once(store)
    assert len(sync_service.list_conflicts(store)) == 1
    app = fast_app(store)
    async with app.run_test(size=(120, 35)) as pilot:
        await settle(pilot)
        await pilot.press("C")
        await settle(pilot)
        await pilot.press("e")
        await settle(pilot)
        field = app.screen.query_one("Input")
        field.value = ""  # type: ignore[attr-defined]
        await pilot.press(*"190000", "enter")
        await settle(pilot)
        assert isinstance(app.screen, ConflictsScreen)
        assert app.screen.query_one(DataTable).row_count == 0
    assert sync_service.list_conflicts(store) == []
    assert get_deal(store, deal_id).budget_rub == 190000


@pytest.mark.anyio
async def test_sync_ui_sync_without_account_says_how_to_connect(crm: Crm, memory_keyring: MemoryKeyring, settle: Settle) -> None:
    app = make_app(crm)
    async with app.run_test(size=(120, 35)) as pilot:
        await settle(pilot)
        await pilot.press("S")
        await settle(pilot)
        messages = [str(n.message) for n in app._notifications]
        assert any("crm auth amocrm" in m for m in messages), messages
        assert not app._syncing
        assert "syncing" not in status_text(app)
        assert app.is_running


@pytest.mark.anyio
async def test_sync_ui_network_failure_is_reported_not_raised(store: Crm, fake: FakeAmo, settle: Settle) -> None:
    app = fast_app(store)
    fake.stop()  # the remote is gone
    async with app.run_test(size=(120, 35)) as pilot:
        await settle(pilot)
        await pilot.press("S")
        await settle(pilot, rounds=10)
        errors = [n for n in app._notifications if n.severity == "error"]
        assert errors and "sync again" in str(errors[-1].message)
        assert app.is_running and not app._syncing


@pytest.mark.anyio
async def test_sync_ui_palette_offers_sync_and_conflicts(crm: Crm, settle: Settle) -> None:
    from tui_crm.commands import screen_actions

    app = make_app(crm)
    async with app.run_test(size=(120, 35)) as pilot:
        await settle(pilot)
        titles = {e.title: e.key for e in screen_actions(app.screen)}
        assert titles["app: Sync now"] == "S"
        assert titles["app: Sync conflicts"] == "C"


def test_sync_ui_messages() -> None:
    from tui_crm.services.sync import SyncNotConfigured
    from tui_crm.sync.amocrm.errors import AmoLockedOut
    from tui_crm.sync.engine import EntityStats, SyncReport

    assert explain_failure(SyncNotConfigured("x")).text == CONNECT_HINT
    locked = explain_failure(AmoLockedOut("amoCRM blocked API access for this account \x1b[2J", status=403))
    assert locked.severity == "error" and locked.title == "Sync: locked out" and "\x1b" not in locked.text
    report = SyncReport()
    report.stats["deal"] = EntityStats(pushed_changed=2, pulled_new=3)
    report.conflicts = 1
    outcome = summarize(report)
    assert outcome.severity == "warning" and "sent 2, received 3" in outcome.text and "1 new conflict" in outcome.text


def test_sync_ui_interval_is_off_by_default(tmp_path: Any) -> None:
    assert sync_interval_minutes(tmp_path) == 0
    (tmp_path / "config.toml").write_text("sync_interval_minutes = 15\n", encoding="utf-8")
    assert sync_interval_minutes(tmp_path) == 15
    (tmp_path / "config.toml").write_text('sync_interval_minutes = "often"\n', encoding="utf-8")
    assert sync_interval_minutes(tmp_path) == 0


def test_sync_ui_conflicts_screen_snapshot(store: Crm, fake: FakeAmo, settle: Settle, snap_compare: SnapCompare) -> None:
    edit_both_sides(store, fake)
    sync_once(store)

    async def open_conflicts(pilot: Pilot[Any]) -> None:
        await settle(pilot)
        await pilot.press("C")
        await settle(pilot)
        await pilot.pause()

    assert snap_compare(make_app(store), terminal_size=(110, 26), run_before=open_conflicts)
