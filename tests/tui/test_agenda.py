"""The agenda: groups, overdue marking, complete with a result, reschedule,
open the linked card, whose tasks; checked through the services."""

from __future__ import annotations

import pytest
from screens_fixtures import SIZE, ScreensApp, screen_text, seed_screens, settle
from screens_fixtures import screens_crm as screens_crm  # noqa: F401 - the fixture
from textual.widgets import Input, OptionList, Select

from tui_crm.app import CrmApp
from tui_crm.screens.agenda import AgendaScreen
from tui_crm.screens.card import CardScreen
from tui_crm.services.context import Crm
from tui_crm.services.tasks import TaskInput, add_task, agenda, get_task
from tui_crm.services.users import add_user
from tui_crm.widgets.form_dialog import FormDialog

pytestmark = pytest.mark.anyio


def highlighted_task_id(app: ScreensApp) -> str | None:
    screen = app.screen
    assert isinstance(screen, AgendaScreen)
    return screen.current.id if screen.current else None


async def test_groups_and_overdue_first(screens_crm: Crm) -> None:
    ids = seed_screens(screens_crm)
    app = ScreensApp(screens_crm, AgendaScreen)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        text = screen_text(app)
        lines = text.splitlines()
        order = [next(i for i, line in enumerate(lines) if line.strip().startswith(group)) for group in
                 ("Overdue (1)", "Today (1)", "Tomorrow (3)", "This week (1)", "Later (1)")]
        assert order == sorted(order)
        overdue_line = lines[order[0] + 1]
        assert "Перезвонить Ивану" in overdue_line and "2d late" in overdue_line
        assert "1 overdue · 1 today · 3 tomorrow · 1 this week · 1 later" in text
        assert highlighted_task_id(app) == ids["task_overdue"]  # the cursor starts on what is most urgent


async def test_complete_with_a_result(screens_crm: Crm) -> None:
    ids = seed_screens(screens_crm)
    app = ScreensApp(screens_crm, AgendaScreen)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("x")
        await settle(pilot)
        assert isinstance(app.screen, FormDialog)
        await pilot.press(*"Договорились о демо")
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, AgendaScreen)
        text = screen_text(app)
        assert "✓ nothing overdue" in text and "Перезвонить Ивану" not in text
    done = get_task(screens_crm, ids["task_overdue"])
    assert done.completed_at is not None and done.result == "Договорились о демо"
    assert agenda(screens_crm).groups["Overdue"] == []


async def test_reschedule_with_when_syntax(screens_crm: Crm) -> None:
    ids = seed_screens(screens_crm)
    app = ScreensApp(screens_crm, AgendaScreen)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("r")
        await settle(pilot)
        await pilot.press(*"someday")
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, FormDialog)  # unreadable: the dialog stays, nothing saved
        assert "is not a date or time I can read" in screen_text(app)
        assert f"{get_task(screens_crm, ids['task_overdue']).due_at:%Y-%m-%d}" == "2026-11-24"
        app.screen.query_one("#field-due", Input).value = "завтра в 11:30"
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, AgendaScreen)
        assert highlighted_task_id(app) == ids["task_overdue"]  # the cursor follows the task
    moved = get_task(screens_crm, ids["task_overdue"])
    assert f"{moved.due_at:%Y-%m-%d %H:%M}" == "2026-11-27 11:30" and moved.overdue_by is None
    assert [t.id for t in agenda(screens_crm).groups["Tomorrow"]].count(ids["task_overdue"]) == 1


async def test_enter_opens_the_linked_card(screens_crm: Crm) -> None:
    ids = seed_screens(screens_crm)
    app = ScreensApp(screens_crm, AgendaScreen)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, CardScreen)
        assert (app.screen.entity_type, app.screen.entity_id) == ("deal", ids["deal"])
        await pilot.press("escape")
        await settle(pilot)
        assert isinstance(app.screen, AgendaScreen)


async def test_everyone_and_one_colleague(screens_crm: Crm) -> None:
    seed_screens(screens_crm)
    add_user(screens_crm, "Борис")
    add_task(screens_crm, TaskInput(text="Задача Бориса", due="2026-11-20 10:00", responsible="Борис"))
    app = ScreensApp(screens_crm, AgendaScreen)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert "Задача Бориса" not in screen_text(app)
        await pilot.press("a")
        await settle(pilot)
        text = screen_text(app)
        assert "Agenda · everyone" in text and "Задача Бориса" in text and "2 overdue" in text
        await pilot.press("w")
        await settle(pilot)
        dialog = app.screen
        assert isinstance(dialog, FormDialog)
        dialog.query_one("#field-responsible", Select).value = "Борис"
        await pilot.press("ctrl+s")
        await settle(pilot)
        text = screen_text(app)
        assert "Agenda · Борис" in text and "Задача Бориса" in text and "Перезвонить Ивану" not in text
    assert len(agenda(screens_crm, everyone=True).groups["Overdue"]) == 2


async def test_agenda_on_the_real_app(screens_crm: Crm) -> None:
    seed_screens(screens_crm)
    app = CrmApp(screens_crm)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("a")
        await settle(pilot)
        assert isinstance(app.screen, AgendaScreen)
        assert app.screen.query_one("#agenda-list", OptionList).option_count == 12  # 5 headings, 7 tasks


async def test_true_counts_and_lazy_pages(screens_crm: Crm) -> None:
    """1 368 overdue tasks read "1368 overdue", not "500"; the rest load as the cursor goes down."""
    from datetime import timedelta

    from tui_crm.screens.agenda import PAGE
    from tui_crm.services.tasks import new_task

    seed_screens(screens_crm)
    long_ago = screens_crm.now() - timedelta(days=30)
    with screens_crm.uow() as work:
        for n in range(1367):
            new_task(screens_crm, work, text=f"Старая {n:04d}", due=long_ago, all_day=False, responsible_id=None, entity=None)
    app = ScreensApp(screens_crm, AgendaScreen)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        text = screen_text(app)
        assert "1368 overdue · 1 today · 3 tomorrow · 1 this week · 1 later" in text
        assert "Overdue (1368)" in text
        screen = app.screen
        assert isinstance(screen, AgendaScreen)
        assert len(screen.loaded["Overdue"]) == PAGE  # the first page only
        await pilot.press(*["down"] * PAGE)  # onto "… N more": the next page comes
        await settle(pilot)
        assert len(screen.loaded["Overdue"]) == 2 * PAGE
        assert screen.current is not None and screen.current.text == f"Старая {PAGE:04d}"  # the first of the new page
        assert screen.query_one("#agenda-list", OptionList).get_option("more:Overdue") is not None


async def test_reschedule_into_the_past_asks_first(screens_crm: Crm) -> None:
    from tui_crm.widgets.form_dialog import ConfirmDialog

    ids = seed_screens(screens_crm)
    tomorrow = next(t for t in agenda(screens_crm).groups["Tomorrow"] if t.id != ids["task_overdue"])
    app = ScreensApp(screens_crm, AgendaScreen)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        options = app.screen.query_one("#agenda-list", OptionList)
        options.highlighted = options.get_option_index(tomorrow.id)
        await pilot.press("r")
        await settle(pilot)
        await pilot.press(*"вчера")
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, ConfirmDialog)
        assert "in the past" in screen_text(app)
        await pilot.press("n")  # change it: back in the dialog, nothing saved
        await settle(pilot)
        assert isinstance(app.screen, FormDialog)
        assert get_task(screens_crm, tomorrow.id).due_at == tomorrow.due_at
        await pilot.press("enter")
        await settle(pilot)
        await pilot.press("y")
        await settle(pilot)
        assert isinstance(app.screen, AgendaScreen)
    moved = get_task(screens_crm, tomorrow.id)
    assert moved.all_day and moved.overdue_by == "1d"
