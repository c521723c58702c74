"""Merging from the contacts/companies lists (issue 8): select two with
space, `M`, pick values field by field in the dialog, ctrl+s; `z` splits
them again. And the duplicate prompt says whose record it is. Every check
reads the database back through the services."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from screens_fixtures import MARKUP_NAME, SIZE, ScreensApp, screen_text, seed_screens, settle
from screens_fixtures import screens_crm as screens_crm  # noqa: F401 - the fixture
from textual.widgets import Input

from tui_crm.screens.card import CardScreen
from tui_crm.screens.lists import ListScreen
from tui_crm.services.contacts import ContactInput, add_contact, edit_contact, get_contact, list_contacts
from tui_crm.services.context import Crm
from tui_crm.services.users import add_user
from tui_crm.widgets.duplicate_prompt import DuplicatePrompt, PartyForm
from tui_crm.widgets.merge_dialog import MergeDialog

pytestmark = pytest.mark.anyio
SnapCompare = Callable[..., bool]


def _twin(crm: Crm) -> str:
    """A second «Иван Петров» record with what the first lacks."""
    return add_contact(
        crm, ContactInput(name="Иван П.", phones=["+7 495 111-22-33"], position="Директор", department="ИТ")
    ).id


async def _open_merge(pilot, app: ScreensApp) -> None:  # type: ignore[no-untyped-def]
    await settle(pilot)
    # rows by name: the markup-named one, «Иван П.», «Иван Петров»
    await pilot.press("down", "space", "down", "space", "M")
    await settle(pilot)
    assert isinstance(app.screen, MergeDialog)


async def test_merge_two_selected_contacts_and_undo_with_z(screens_crm: Crm) -> None:
    ids = seed_screens(screens_crm)
    twin = _twin(screens_crm)
    notices: list[str] = []
    app = ScreensApp(screens_crm, lambda: ListScreen("contacts"))
    async with app.run_test(size=SIZE) as pilot:
        app.notify = lambda message, **_: notices.append(str(message))  # type: ignore[method-assign]
        await _open_merge(pilot, app)
        dialog = app.screen
        assert dialog.plan is not None and dialog.plan.a.id == twin  # the first selected stays
        await pilot.press("x")  # keep «Иван Петров» instead
        await settle(pilot)
        assert dialog.plan.a.id == ids["contact"]
        text = screen_text(app)
        assert "Директор" in text and "From «Иван П.» to «Иван Петров»: 1 phone" in text
        # rows: name, responsible, company, position, department: take b's position
        await pilot.press("down", "down", "down", "space", "ctrl+s")
        await settle(pilot)
        assert isinstance(app.screen, ListScreen)
        ivan = get_contact(screens_crm, ids["contact"])
        assert (ivan.name, ivan.position, ivan.department) == ("Иван Петров", "Директор", "ИТ")
        assert ivan.phones == ["+79161234567", "+74951112233"]
        assert {c.name for c in list_contacts(screens_crm)} == {"Иван Петров", MARKUP_NAME}
        assert any("Merged «Иван П.» into «Иван Петров» · z undoes" in n for n in notices), notices
        await pilot.press("z")
        await settle(pilot)
        assert {c.name for c in list_contacts(screens_crm)} == {"Иван Петров", "Иван П.", MARKUP_NAME}
        assert get_contact(screens_crm, ids["contact"]).position == "CTO"
        assert any("Split «Иван П.» out again" in n for n in notices), notices


async def test_escape_merges_nothing(screens_crm: Crm) -> None:
    seed_screens(screens_crm)
    _twin(screens_crm)
    app = ScreensApp(screens_crm, lambda: ListScreen("contacts"))
    async with app.run_test(size=SIZE) as pilot:
        await _open_merge(pilot, app)
        await pilot.press("escape")
        await settle(pilot)
        assert isinstance(app.screen, ListScreen)
    assert len(list_contacts(screens_crm)) == 3


async def test_merge_wants_exactly_two(screens_crm: Crm) -> None:
    seed_screens(screens_crm)
    notices: list[str] = []
    app = ScreensApp(screens_crm, lambda: ListScreen("contacts"))
    async with app.run_test(size=SIZE) as pilot:
        app.notify = lambda message, **_: notices.append(str(message))  # type: ignore[method-assign]
        await settle(pilot)
        await pilot.press("space", "M")
        await settle(pilot)
        assert isinstance(app.screen, ListScreen)
    assert any("Select the two contacts to merge" in n for n in notices), notices


def test_merge_dialog_snapshot(snap_compare: SnapCompare, screens_crm: Crm) -> None:
    seed_screens(screens_crm)
    _twin(screens_crm)

    async def run_before(pilot) -> None:  # type: ignore[no-untyped-def]
        await settle(pilot)
        await pilot.press("down", "space", "down", "space", "M")
        await settle(pilot)

    assert snap_compare(ScreensApp(screens_crm, lambda: ListScreen("contacts")), terminal_size=SIZE, run_before=run_before)


async def test_the_duplicate_prompt_names_whose_record_it_is(screens_crm: Crm) -> None:
    ids = seed_screens(screens_crm)
    add_user(screens_crm, "Мария Смирнова")
    edit_contact(screens_crm, ids["contact"], {"responsible": "Мария Смирнова"})
    app = ScreensApp(screens_crm, lambda: CardScreen("company", ids["company"]))
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("a")
        await settle(pilot)
        assert isinstance(app.screen, PartyForm)
        await pilot.press(*"Иван")
        app.screen.query_one("#field-phone", Input).value = "8 916 123 45 67"
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert isinstance(app.screen, DuplicatePrompt)
        text = screen_text(app)
        assert "same phone · responsible: Мария Смирнова" in text
        assert "Agree a transfer with them" in text
