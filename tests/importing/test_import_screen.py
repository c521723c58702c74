"""The Import screen: preview of the detected layout, dry run, import with a
progress bar in a worker; the database is checked afterwards."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.importing.amofiles import CONTACTS_HEADER, contact, write_csv
from tests.importing.helpers import live, query
from tests.tui.screens_fixtures import SIZE, ScreensApp, screen_text, settle
from tests.tui.screens_fixtures import screens_crm as screens_crm  # noqa: F401 - the fixture
from tui_crm.screens.import_screen import ImportScreen

ROWS = [
    contact("Ольга Ёлкина", company="ООО «Ёлка»", phone="'+7 916 555-12-34", email="olga@elka.ru"),
    contact("[bold red]x[/]", email="x@y.ru"),
    contact("Ольга Ё.", phone="8 916 555 12 34"),
    contact("", email=""),
]


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def in_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The test's files, reachable by a relative path (the screen shows it)."""
    monkeypatch.chdir(tmp_path)
    write_csv(tmp_path / "contacts.csv", CONTACTS_HEADER, ROWS, encoding="cp1251")
    return tmp_path


def test_preview_snapshot(snap_compare, screens_crm, in_files: Path) -> None:  # noqa: F811
    async def previewed(pilot) -> None:
        await settle(pilot)
        await pilot.press("enter")
        await settle(pilot)
        pilot.app.screen.query_one("#import-path").cursor_blink = False

    app = ScreensApp(screens_crm, lambda: ImportScreen("contacts.csv"))
    assert snap_compare(app, terminal_size=SIZE, run_before=previewed)


@pytest.mark.anyio
async def test_dry_run_then_import_writes_the_records(screens_crm, in_files: Path) -> None:  # noqa: F811
    app = ScreensApp(screens_crm, lambda: ImportScreen())
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press(*"contacts.csv", "enter")
        await settle(pilot)
        assert "Windows-1251, semicolon, CRLF" in screen_text(app)
        await pilot.press("d")
        await settle(pilot)
        text = screen_text(app)
        assert "Dry run" in text and "4 rows: 2 created, 0 updated, 1 merged" in text and "missing name" in text
        assert live(screens_crm, "contact") == 0
        await pilot.press("i")
        await settle(pilot)
        assert "Imported (id" in screen_text(app)
    assert live(screens_crm, "contact") == 2
    assert sorted(r[0] for r in query(screens_crm, "SELECT name FROM contact")) == sorted(["Ольга Ёлкина", "[bold red]x[/]"])
    assert query(screens_crm, "SELECT status FROM import_batch") == [("done",)]


@pytest.mark.anyio
async def test_a_file_that_cannot_be_read_is_explained(screens_crm, in_files: Path) -> None:  # noqa: F811
    app = ScreensApp(screens_crm, lambda: ImportScreen())
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press(*"nope.csv", "enter")
        await settle(pilot)
        assert "does not exist" in screen_text(app)


@pytest.mark.anyio
async def test_the_palette_offers_the_import(screens_crm) -> None:  # noqa: F811
    from tui_crm.app import CrmApp
    from tui_crm.commands import screen_actions

    app = CrmApp(screens_crm)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        titles = [e.title for e in screen_actions(app.screen)]
        assert "app: Import a file (amoCRM CSV, vCard)…" in titles
        await app.run_action("open_import")
        await settle(pilot)
        assert isinstance(app.screen, ImportScreen)
