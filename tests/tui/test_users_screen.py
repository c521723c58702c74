"""The admin's users screen: users with role, state and signature; the signature edited in a TextArea
through the same service as ``crm users signature`` (admins only), the database checked after."""

from __future__ import annotations

import pytest
from screens_fixtures import NOW, ScreensApp, screen_text, settle
from screens_fixtures import screens_crm as screens_crm  # noqa: F401 - the fixture
from textual.widgets import TextArea

from tui_crm.app import CrmApp
from tui_crm.config import load_settings
from tui_crm.screens.users import UsersScreen
from tui_crm.services.context import Crm, open_crm
from tui_crm.services.signatures import set_signature, signature_of
from tui_crm.services.users import add_user, set_active
from tui_crm.widgets.signature_dialog import SignatureDialog

pytestmark = pytest.mark.anyio
SIZE = (110, 26)
BORIS_SIGNATURE = "[bold]Борис[/bold] Иванов \x1b]0;pwned\x07\nОтдел продаж, +7 495 000-00-01"


def seed_team(crm: Crm) -> None:
    add_user(crm, "Борис", email="boris@omega-r.test")
    add_user(crm, "Вера", email="vera@omega-r.test", admin=True)
    set_active(crm, "Вера", False)
    set_signature(crm, "Борис", BORIS_SIGNATURE)


def test_users_screen_snapshot(snap_compare, screens_crm: Crm) -> None:  # noqa: F811
    seed_team(screens_crm)

    async def run_before(pilot) -> None:  # noqa: ANN001
        await settle(pilot)
        await pilot.press("down")
        await settle(pilot)

    assert snap_compare(ScreensApp(screens_crm, UsersScreen), terminal_size=SIZE, run_before=run_before)


def test_signature_editor_snapshot(snap_compare, screens_crm: Crm) -> None:  # noqa: F811
    seed_team(screens_crm)

    async def run_before(pilot) -> None:  # noqa: ANN001
        await settle(pilot)
        await pilot.press("down", "e")
        await settle(pilot)
        pilot.app.screen.query_one(TextArea).cursor_blink = False
        await pilot.pause()

    assert snap_compare(ScreensApp(screens_crm, UsersScreen), terminal_size=SIZE, run_before=run_before)


async def test_an_admin_sets_a_signature_from_the_users_screen(screens_crm: Crm) -> None:  # noqa: F811
    seed_team(screens_crm)
    app = CrmApp(screens_crm)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("U")
        await settle(pilot)
        assert isinstance(app.screen, UsersScreen)
        text = screen_text(app)
        assert "3 users · 2 active" in text and "[bold]Борис[/bold] Иванов" in text and "pwned" not in text
        await pilot.press("e")  # Анна (you), first in the list
        await settle(pilot)
        assert isinstance(app.screen, SignatureDialog)
        await pilot.press(*"Анна Петрова", "enter", *"Omega-R, +7 495 000-00-00", "ctrl+s")
        await settle(pilot)
        assert isinstance(app.screen, UsersScreen)
        assert "Анна Петрова …" in screen_text(app)  # the first line in the table
    assert signature_of(screens_crm, "Анна") == "Анна Петрова\nOmega-R, +7 495 000-00-00"
    assert signature_of(screens_crm, "Борис") == BORIS_SIGNATURE  # the others untouched


async def test_a_signature_emptied_in_the_editor_is_removed(screens_crm: Crm) -> None:  # noqa: F811
    seed_team(screens_crm)
    app = ScreensApp(screens_crm, UsersScreen)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("down", "enter")
        await settle(pilot)
        assert isinstance(app.screen, SignatureDialog)
        await pilot.press("f7", "backspace", "ctrl+s")  # select all, delete, save
        await settle(pilot)
        assert isinstance(app.screen, UsersScreen)
    assert signature_of(screens_crm, "Борис") is None


async def test_a_user_who_is_not_an_admin_gets_no_editor_and_nothing_changes(screens_crm: Crm) -> None:  # noqa: F811
    seed_team(screens_crm)
    boris = open_crm(load_settings(db=screens_crm.settings.db_path, user="Борис"), clock=lambda: NOW)
    try:
        app = ScreensApp(boris, UsersScreen)
        async with app.run_test(size=SIZE) as pilot:
            await settle(pilot)
            await pilot.press("down", "e")
            await settle(pilot)
            assert isinstance(app.screen, UsersScreen)
            errors = [str(n.message) for n in app._notifications if n.severity == "error"]
            assert len(errors) == 1 and "only an admin sets signatures; Борис is not one" in errors[0]
    finally:
        boris.close()
    assert signature_of(screens_crm, "Борис") == BORIS_SIGNATURE
