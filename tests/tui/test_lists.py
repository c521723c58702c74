"""Lists: virtual paging, debounced full-text search, sort, multi-select and
mass actions on deals, checked against the database through the services."""

from __future__ import annotations

import pytest
from screens_fixtures import MARKUP_NAME, SIZE, ScreensApp, screen_text, seed_screens, settle
from screens_fixtures import screens_crm as screens_crm  # noqa: F401 - the fixture
from textual.widgets import Checkbox, Input

from tui_crm.app import CrmApp
from tui_crm.screens.card import CardScreen
from tui_crm.screens.filter_bar import FilterScreen
from tui_crm.screens.lists import ListScreen
from tui_crm.screens.mass_action import ChoiceScreen, MassReportScreen, PromptScreen
from tui_crm.services.contacts import ContactInput, add_contact, list_contacts
from tui_crm.services.context import Crm
from tui_crm.services.deal_queries import DealFilter, count_deals, list_deals
from tui_crm.services.deals import edit_deal, get_deal
from tui_crm.services.parties import OnDuplicate
from tui_crm.services.party_pages import PartyPager
from tui_crm.widgets.duplicate_prompt import PartyForm
from tui_crm.widgets.record_table import PAGE_SIZE, RecordTable

pytestmark = pytest.mark.anyio
MASS_ACTIONS = ["stage", "responsible", "task", "tag_add", "tag_remove", "delete"]  # the mass-action menu, in order


def table_of(app: ScreensApp | CrmApp) -> RecordTable:  # type: ignore[type-arg]
    return app.screen.query_one("#list-table", RecordTable)


def names(app: ScreensApp) -> list[str]:
    table = table_of(app)
    return [row.name for i in range(table.total) if (row := table.row_at(i)) is not None]


async def choose(pilot, option: str) -> None:  # type: ignore[no-untyped-def]
    """Pick a mass action from the menu with the keys."""
    await pilot.press(*["down"] * MASS_ACTIONS.index(option), "enter")
    await settle(pilot)


async def test_deals_list_rows_status_and_sort(screens_crm: Crm) -> None:
    seed_screens(screens_crm)
    app = ScreensApp(screens_crm, lambda: ListScreen("deals"))
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert names(app) == ["Ёлка: CRM-интеграция", "Мобильное приложение", "Сайт для Магнита"]  # updated first
        text = screen_text(app)
        assert "3 deals · Продажи 2.0 · sort: updated ↓" in text
        assert "● overdue" in text and "1 500 000 ₽" in text
        await pilot.press("s")  # name, Cyrillic-aware: Ё sorts as Е
        await settle(pilot)
        assert names(app) == ["Ёлка: CRM-интеграция", "Мобильное приложение", "Сайт для Магнита"]
        await pilot.press("s")  # budget, largest first
        await settle(pilot)
        assert names(app) == ["Ёлка: CRM-интеграция", "Сайт для Магнита", "Мобильное приложение"]
        assert "sort: budget ↓" in screen_text(app)


async def test_search_is_debounced_through_full_text(screens_crm: Crm) -> None:
    seed_screens(screens_crm)
    app = ScreensApp(screens_crm, lambda: ListScreen("deals"))
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        table = table_of(app)
        generation = table._generation
        await pilot.press("slash", *"магн")
        await pilot.pause(0.5)
        await settle(pilot)
        assert table._generation == generation + 1  # four letters, one query
        assert names(app) == ["Сайт для Магнита"]
        assert "1 deal · Продажи 2.0 · «магн»" in screen_text(app)
        await pilot.press("enter")  # back to the table
        await pilot.press("escape")  # clears the search
        await settle(pilot)
        assert len(names(app)) == 3


async def test_contacts_show_untrusted_names_plainly(screens_crm: Crm) -> None:
    seed_screens(screens_crm)
    app = ScreensApp(screens_crm, lambda: ListScreen("contacts"))
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        text = screen_text(app)
        assert MARKUP_NAME in text and "Иван Петров" in text and "Магнит" in text
        assert "2 contacts" in text
        await pilot.press("slash", *"ivan@magnit")
        await pilot.press("enter")
        await settle(pilot)
        assert names(app) == ["Иван Петров"]


async def test_filter_and_pipeline_scope(screens_crm: Crm) -> None:
    seed_screens(screens_crm)
    app = ScreensApp(screens_crm, lambda: ListScreen("deals"))
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("f")
        await settle(pilot)
        assert isinstance(app.screen, FilterScreen)
        app.screen.query_one("#filter-overdue", Checkbox).value = True
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert names(app) == ["Сайт для Магнита"]
        assert "1 deal · Продажи 2.0 · overdue" in screen_text(app)
        await pilot.press("p")  # the next pipeline: Тендеры, empty
        await settle(pilot)
        assert table_of(app).total == 0
        assert "No deals match." in screen_text(app) and "0 deals · Тендеры · overdue" in screen_text(app)


async def test_many_rows_page_from_sql(screens_crm: Crm) -> None:
    for i in range(250):
        add_contact(screens_crm, ContactInput(name=f"Контакт {i:04d}"), OnDuplicate.CREATE)
    app = ScreensApp(screens_crm, lambda: ListScreen("contacts"))
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        table = table_of(app)
        assert table.total == 250
        assert set(table._pages) == {0}  # only what the screen shows
        await pilot.press("end")
        await settle(pilot)
        assert table.cursor == 249 and table.current_row is not None
        assert table.current_row.name == "Контакт 0249"
        assert 1 not in table._pages and 2 in table._pages  # the middle page was never loaded
        assert "Контакт 0249" in screen_text(app)
        assert all(len(rows) <= PAGE_SIZE for rows in table._pages.values())


async def test_contact_pages_follow_on_by_keyset(screens_crm: Crm) -> None:
    """Paging down reads each next page after the last name seen (no OFFSET), and
    the rows are exactly those of the offset-paged service, duplicates included."""
    for i in range(230):
        add_contact(screens_crm, ContactInput(name=f"Контакт {i % 90:03d}"), OnDuplicate.CREATE)  # names repeat
    expected = [c.id for c in list_contacts(screens_crm, limit=1000)]
    app = ScreensApp(screens_crm, lambda: ListScreen("contacts"))
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        table = table_of(app)
        pager = table._source.page.__self__  # the list's PartyPager
        assert isinstance(pager, PartyPager)
        assert "after" in pager.plan(PAGE_SIZE, PAGE_SIZE)  # page 1 starts from page 0's last key
        for _ in range(9):
            await pilot.press("pagedown")
            await settle(pilot)
        assert {0, 1, 2} <= set(table._pages)
        shown = [row.id for i in range(table.total) if (row := table.row_at(i)) is not None]
        assert shown == expected
        # a reload (the list shown again after a card) starts afresh: keys learnt before are dropped
        table.move_cursor(150)
        app.screen.reload(keep_position=True)
        await settle(pilot)
        assert table._source.page.__self__ is not pager
        assert table.current_row is not None and table.current_row.id == expected[150]


async def test_mass_delete_then_undo(screens_crm: Crm) -> None:
    seed_screens(screens_crm)
    app = ScreensApp(screens_crm, lambda: ListScreen("deals"))
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("space", "space")  # the first two rows
        assert len(table_of(app).selected) == 2
        assert "2 selected" in screen_text(app)
        await pilot.press("m")
        await settle(pilot)
        assert isinstance(app.screen, ChoiceScreen)
        await choose(pilot, "delete")
        assert count_deals(screens_crm) == 1
        assert names(app) == ["Сайт для Магнита"]
        await pilot.press("z")
        await settle(pilot)
        assert count_deals(screens_crm) == 3
        assert len(names(app)) == 3


async def test_mass_stage_change_goes_through_each_gate(screens_crm: Crm) -> None:
    ids = seed_screens(screens_crm)
    edit_deal(screens_crm, ids["deal3"], {"budget_usd": "30000", "segment": "A", "territory": "РФ", "city": "Казань"})
    app = ScreensApp(screens_crm, lambda: ListScreen("deals"))
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("ctrl+a")
        await settle(pilot)
        assert len(table_of(app).selected) == 3
        await pilot.press("m")
        await settle(pilot)
        await choose(pilot, "stage")
        stages = app.screen
        assert isinstance(stages, ChoiceScreen)
        await pilot.press(*["down"] * [key for key, _ in stages.options].index("qualification"), "enter")
        await settle(pilot)
        assert isinstance(app.screen, MassReportScreen)
        report = app.screen.report
        assert report.changed == 1 and report.selected == 3
        assert "Stage change: 1 of 3 moved, 2 stayed" in screen_text(app)
        await pilot.press("enter")
        await settle(pilot)
        assert table_of(app).selected == {}
    assert get_deal(screens_crm, ids["deal3"]).stage_key == "qualification"
    assert get_deal(screens_crm, ids["deal"]).stage_key == "lead"
    assert get_deal(screens_crm, ids["deal2"]).stage_key == "lead"


async def test_mass_tags_on_the_selection(screens_crm: Crm) -> None:
    seed_screens(screens_crm)
    app = ScreensApp(screens_crm, lambda: ListScreen("deals"))
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("down", "space")
        await pilot.press("m")
        await settle(pilot)
        await choose(pilot, "tag_add")
        assert isinstance(app.screen, PromptScreen)
        await pilot.press(*"vip", "enter")
        await settle(pilot)
    tagged = list_deals(screens_crm, DealFilter(tag="vip"))
    assert [d.name for d in tagged] == ["Мобильное приложение"]


async def test_enter_opens_the_card_and_new_creates(screens_crm: Crm) -> None:
    ids = seed_screens(screens_crm)
    app = ScreensApp(screens_crm, lambda: ListScreen("contacts"))
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("down", "enter")  # «Иван Петров» sorts after «[bold red]x[/]»
        await settle(pilot)
        assert isinstance(app.screen, CardScreen) and app.screen.entity_id == ids["contact"]
        await pilot.press("escape")
        await settle(pilot)
        await pilot.press("n")
        await settle(pilot)
        assert isinstance(app.screen, PartyForm)
        await pilot.press(*"Пётр Сидоров")
        app.screen.query_one("#field-phone", Input).value = "+7 903 000-11-22"
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, CardScreen) and app.screen.entity_type == "contact"
        assert "Contact · Пётр Сидоров" in screen_text(app)


async def test_lists_open_from_the_real_app(screens_crm: Crm) -> None:
    seed_screens(screens_crm)
    app = CrmApp(screens_crm)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        for key, title in (("d", "Deals"), ("c", "Contacts"), ("o", "Companies")):
            await pilot.press(key)
            await settle(pilot)
            assert isinstance(app.screen, ListScreen)
            assert f" {title}  ▊" in screen_text(app)
            assert table_of(app).total > 0
