"""The TUI's conflicts screen shows every value the way ``crm sync conflicts`` does (both read
``ConflictView.shown`` from the services): an unmapped amoCRM select by its label, not its JSON;
a stage by its name; a first-connect ``match`` notice by its candidates (issue 12)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import pytest
from textual.widgets import DataTable

from tests.fake_amocrm import FakeAmo
from tests.sync.test_sync_unmapped import _deal, _enum, _remote_source, _set_custom, _setup
from tests.tui.test_sync_ui import fast_adapter
from tui_crm.app import make_app
from tui_crm.screens.conflicts import ConflictsScreen
from tui_crm.services import sync as sync_service
from tui_crm.services.contacts import ContactInput, add_contact
from tui_crm.services.context import Crm

Settle = Callable[..., Awaitable[None]]


def _sync(crm: Crm) -> None:
    adapter = fast_adapter(crm)
    try:
        sync_service.run_sync(crm, adapter=adapter)
    finally:
        adapter.close()


@pytest.mark.anyio
async def test_conflicts_screen_shows_values_as_the_cli_does(store: Crm, fake: FakeAmo, settle: Settle) -> None:
    ids = _setup(fake)
    add_contact(store, ContactInput(name="Пётр", emails=["petr@x.ru"]))
    for name in ("Пётр Иванов", "П. Иванов"):
        email = [{"field_code": "EMAIL", "values": [{"value": "petr@x.ru"}]}]
        fake.create_entity("contacts", {"name": name, "custom_fields_values": email})
    _sync(store)  # Пётр is held: he matches two amoCRM contacts
    key = f"amo:{ids['source']}"
    chosen = [{"value": "Выставка", "enum_id": _enum(fake, "leads", ids["source"], "Выставка")}]
    _set_custom(store, _deal(store).id, key, chosen)
    _remote_source(fake, ids, "Звонок")
    _sync(store)
    views = {c.kind: c for c in sync_service.list_conflicts(store)}
    assert views["conflict"].shown == {"base": "Сайт", "local": "Выставка", "remote": "Звонок"}
    app = make_app(store)
    async with app.run_test(size=(140, 35)) as pilot:
        await settle(pilot)
        await pilot.press("C")
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, ConflictsScreen)
        table = screen.query_one(DataTable)
        rows = {row_key.value: [c.plain for c in table.get_row(row_key)] for row_key in table.rows}
        for view in views.values():
            assert rows[view.id][2:] == [view.shown[side] for side in ("base", "local", "remote")], view.kind
        assert "#" in views["match"].shown["remote"]
        screen.query_one(DataTable).move_cursor(row=list(rows).index(views["conflict"].id))
        await settle(pilot)
        detail = str(screen.query_one("#conflicts-detail").render())
        assert "Выставка" in detail and "enum_id" not in detail
