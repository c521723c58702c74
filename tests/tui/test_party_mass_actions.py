"""Mass actions on the contacts and companies lists: select with space (or
ctrl+a), `m`, pick the action with the keys, then check the database through
the services; delete is undone with `z`."""

from __future__ import annotations

import pytest
from screens_fixtures import MARKUP_NAME, SIZE, ScreensApp, screen_text, seed_screens, settle
from screens_fixtures import screens_crm as screens_crm  # noqa: F401 - the fixture
from textual.pilot import Pilot

from tui_crm.screens.lists import ListScreen
from tui_crm.screens.mass_action import ChoiceScreen, PromptScreen
from tui_crm.services.companies import get_company
from tui_crm.services.contacts import get_contact, list_contacts
from tui_crm.services.context import Crm
from tui_crm.services.search import search
from tui_crm.services.tasks import tasks_of
from tui_crm.services.users import add_user
from tui_crm.widgets.record_table import RecordTable

pytestmark = pytest.mark.anyio
PARTY_ACTIONS = ["responsible", "task", "tag_add", "tag_remove", "delete"]  # the menu, in order


def table_of(app: ScreensApp) -> RecordTable:  # type: ignore[type-arg]
    return app.screen.query_one("#list-table", RecordTable)


def names(app: ScreensApp) -> list[str]:
    table = table_of(app)
    return [row.name for i in range(table.total) if (row := table.row_at(i)) is not None]


async def choose(pilot: Pilot[None], option: str) -> None:
    """Pick a mass action from the party menu with the keys."""
    assert isinstance(pilot.app.screen, ChoiceScreen)
    assert [value for value, _ in pilot.app.screen.options] == PARTY_ACTIONS
    await pilot.press(*["down"] * PARTY_ACTIONS.index(option), "enter")
    await settle(pilot)


def live_contacts(crm: Crm) -> set[str]:
    return {c.name for c in list_contacts(crm, limit=100)}


async def test_contacts_mass_delete_then_undo(screens_crm: Crm) -> None:
    ids = seed_screens(screens_crm)
    notices: list[str] = []
    app = ScreensApp(screens_crm, lambda: ListScreen("contacts"))
    async with app.run_test(size=SIZE) as pilot:
        app.notify = lambda message, **_: notices.append(str(message))  # type: ignore[method-assign]
        await settle(pilot)
        assert names(app) == [MARKUP_NAME, "Иван Петров"]
        await pilot.press("down", "space")  # «Иван Петров» only
        assert list(table_of(app).selected) == [ids["contact"]]
        assert "1 selected" in screen_text(app)
        await pilot.press("m")
        await settle(pilot)
        await choose(pilot, "delete")
        assert live_contacts(screens_crm) == {MARKUP_NAME}
        assert search(screens_crm, "петров", types=("contact",)) == []
        assert names(app) == [MARKUP_NAME]
        assert table_of(app).selected == {}
        assert any("Deleted 1 contact · z undoes" in n for n in notices), notices
        await pilot.press("z")
        await settle(pilot)
        assert live_contacts(screens_crm) == {MARKUP_NAME, "Иван Петров"}
        assert [r.id for r in search(screens_crm, "петров", types=("contact",))] == [ids["contact"]]
        assert names(app) == [MARKUP_NAME, "Иван Петров"]
        assert any("Restored 1 contact" in n for n in notices), notices


async def test_contacts_select_all_and_tags(screens_crm: Crm) -> None:
    ids = seed_screens(screens_crm)
    app = ScreensApp(screens_crm, lambda: ListScreen("contacts"))
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("ctrl+a")
        await settle(pilot)
        assert set(table_of(app).selected) == {ids["contact"], ids["markup"]}
        await pilot.press("m")
        await settle(pilot)
        await choose(pilot, "tag_add")
        assert isinstance(app.screen, PromptScreen)
        await pilot.press(*"vip, #лето", "enter")
        await settle(pilot)
        assert table_of(app).selected == {}
        assert get_contact(screens_crm, ids["contact"]).tags == ["vip", "лето"]
        assert get_contact(screens_crm, ids["markup"]).tags == ["vip", "лето"]
        await pilot.press("space", "m")  # the markup-named contact
        await settle(pilot)
        await choose(pilot, "tag_remove")
        await pilot.press(*"VIP", "enter")
        await settle(pilot)
    assert get_contact(screens_crm, ids["markup"]).tags == ["лето"]
    assert get_contact(screens_crm, ids["contact"]).tags == ["vip", "лето"]


async def test_select_all_takes_only_what_the_search_shows(screens_crm: Crm) -> None:
    ids = seed_screens(screens_crm)
    app = ScreensApp(screens_crm, lambda: ListScreen("contacts"))
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("slash", *"петров", "enter")
        await settle(pilot)
        assert names(app) == ["Иван Петров"]
        await pilot.press("ctrl+a")
        await settle(pilot)
        assert list(table_of(app).selected) == [ids["contact"]]


async def test_contacts_new_responsible(screens_crm: Crm) -> None:
    ids = seed_screens(screens_crm)
    add_user(screens_crm, "Борис")
    app = ScreensApp(screens_crm, lambda: ListScreen("contacts"))
    async with app.run_test(size=(130, 30)) as pilot:  # wide enough for the Responsible column
        await settle(pilot)
        await pilot.press("down", "space", "m")
        await settle(pilot)
        await choose(pilot, "responsible")
        users = app.screen
        assert isinstance(users, ChoiceScreen)
        await pilot.press(*["down"] * [label for _, label in users.options].index("Борис"), "enter")
        await settle(pilot)
        assert "Борис" in screen_text(app)  # the list reloaded with the new responsible
    assert get_contact(screens_crm, ids["contact"]).responsible == "Борис"
    assert get_contact(screens_crm, ids["markup"]).responsible == screens_crm.user_name  # not selected


async def test_companies_task_for_each(screens_crm: Crm) -> None:
    ids = seed_screens(screens_crm)
    app = ScreensApp(screens_crm, lambda: ListScreen("companies"))
    async with app.run_test(size=(130, 30)) as pilot:
        await settle(pilot)
        await pilot.press("space", "m")
        await settle(pilot)
        await choose(pilot, "task")
        assert isinstance(app.screen, PromptScreen)
        await pilot.press(*"Уточнить реквизиты", "tab", "ctrl+u", *"01.12", "enter")
        await settle(pilot)
    tasks = [t for t in tasks_of(screens_crm, ids["company"]) if t.text == "Уточнить реквизиты"]
    assert len(tasks) == 1 and tasks[0].due_at.date().isoformat() == "2026-12-01"
    assert get_company(screens_crm, ids["company"]).name == "Магнит"


async def test_undo_with_nothing_to_undo_says_so(screens_crm: Crm) -> None:
    seed_screens(screens_crm)
    notices: list[tuple[str, str]] = []
    app = ScreensApp(screens_crm, lambda: ListScreen("companies"))
    async with app.run_test(size=SIZE) as pilot:
        app.notify = lambda message, **kw: notices.append((str(message), kw.get("severity", "")))  # type: ignore[method-assign]
        await settle(pilot)
        await pilot.press("z")
        await settle(pilot)
    assert ("No mass delete of companies to undo.", "error") in notices
