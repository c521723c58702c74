"""The board driven by keys, checked against the database through services.

Each test opens the real app on a seeded store (see ``conftest.seed_board``),
presses keys with the Pilot, waits for the workers, then asserts what the
services read back: the TUI is only right if the data is.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from textual.screen import Screen
from textual.widgets import Input, Label, Select, Static

from tui_crm.app import CrmApp, make_app
from tui_crm.commands import screen_actions
from tui_crm.config import load_settings
from tui_crm.domain.errors import NotFoundError
from tui_crm.screens.board import BoardScreen
from tui_crm.screens.mass_action import ChoiceScreen, MassReportScreen, outcome_lines
from tui_crm.screens.quick_add import QuickAddScreen
from tui_crm.services.context import Crm
from tui_crm.services.deal_queries import DealFilter, list_deals
from tui_crm.services.deals import LeadInput, capture_lead, edit_deal, get_deal, move_deal
from tui_crm.services.status import pending_changes
from tui_crm.services.sync import sync_status
from tui_crm.services.tasks import tasks_of
from tui_crm.widgets.board_column import BoardColumn
from tui_crm.widgets.deal_card import DealCard
from tui_crm.widgets.gate_form import GateForm, field_id
from tui_crm.widgets.gate_move import GateMove, MoveRequest
from tui_crm.widgets.help_screen import HelpScreen
from tui_crm.widgets.status_bar import StatusBar

pytestmark = pytest.mark.anyio

Settle = Callable[..., Awaitable[None]]
MARKUP_NAME = "[bold red]x[/] ООО «Ёлка»"
QUALIFIED = {"budget_rub": "1 000 000", "budget_usd": "12000", "segment": "B", "territory": "РФ", "city": "Казань"}


def board_of(app: CrmApp) -> BoardScreen:
    return app.board


def column(app: CrmApp, key: str) -> BoardColumn:
    return next(c for c in app.board.columns if c.stage.key == key)


def names_in(app: CrmApp, key: str) -> list[str]:
    col = column(app, key)
    return [c.summary.name for c in col.cards if c.display and c.summary is not None]


async def focus_deal(app: CrmApp, settle: Settle, pilot: Any, stage: str, name: str) -> None:
    """Put the cursor on a deal by name (as a user would, with keys)."""
    await settle(pilot)
    col = column(app, stage)
    col.focus()
    await settle(pilot)
    await pilot.press("home")
    for _ in range(col.count):
        current = col.current()
        if current is not None and current.name == name:
            return
        await pilot.press("j")
    raise AssertionError(f"{name!r} not found in {stage}")


async def test_board_opens_on_default_pipeline_with_totals(crm: Crm, seeded: dict[str, str], settle: Settle) -> None:
    app = make_app(crm)
    async with app.run_test(size=(120, 35)) as pilot:
        await settle(pilot)
        board = board_of(app)
        assert board.pipeline is not None and board.pipeline.key == "sales20"
        lead = column(app, "lead")
        assert lead.has_focus
        assert lead.count == 4
        assert names_in(app, "lead")[0] == "CRM для сети клиник «Здоровье»"
        marks = {c.summary.name: c.summary.task_mark for c in lead.cards if c.summary}
        assert marks["Сайт для Магнита"] == "overdue"
        assert marks["CRM для сети клиник «Здоровье»"] == "today"
        assert marks["Мобильное приложение"] == "none"
        assert column(app, "won").count == 1
        header = str(board.query_one("#board-title", Label).render())
        assert "Продажи 2.0" in header and "7 deals" in header


async def test_markup_looking_names_render_literally(crm: Crm, seeded: dict[str, str], settle: Settle) -> None:
    app = make_app(crm)
    async with app.run_test(size=(120, 35)) as pilot:
        await settle(pilot)
        card = next(c for c in column(app, "lead").cards if c.summary and c.summary.name == MARKUP_NAME)
        rendered = card.render()
        assert "[bold red]x[/]" in rendered.plain
        assert not any("red" in str(span.style) for span in rendered.spans)
        svg = app.export_screenshot()
        assert "[bold&#160;red]x[/]" in svg or "[bold red]x[/]" in svg


async def test_hjkl_and_arrows_move_the_focus(crm: Crm, seeded: dict[str, str], settle: Settle) -> None:
    app = make_app(crm)
    async with app.run_test(size=(120, 35)) as pilot:
        await settle(pilot)
        await pilot.press("j", "j")
        assert column(app, "lead").cursor == 2
        await pilot.press("l")
        assert app.board.column is column(app, "qualification")
        assert column(app, "qualification").cursor == 0  # clamped: one deal there
        await pilot.press("h", "left")
        assert app.board.column is column(app, "unsorted")
        await pilot.press("right", "down", "up", "end")
        assert column(app, "lead").cursor == 3
        await pilot.press("home")
        assert column(app, "lead").cursor == 0


async def test_move_through_gate_fills_fields_and_saves(crm: Crm, seeded: dict[str, str], settle: Settle) -> None:
    deal_id = seeded["Мобильное приложение"]
    app = make_app(crm)
    async with app.run_test(size=(120, 35)) as pilot:
        await focus_deal(app, settle, pilot, "lead", "Мобильное приложение")
        await pilot.press("right_square_bracket")
        await settle(pilot)
        form = app.screen
        assert isinstance(form, GateForm)
        # exactly the missing fields: budget RUB is there already
        assert [m.key for m in form.missing] == ["budget_usd", "segment", "territory", "city"]
        assert isinstance(form.query_one(f"#{field_id('segment')}"), Select)
        assert isinstance(form.query_one(f"#{field_id('city')}"), Input)
        assert form.focused is form.query_one(f"#{field_id('budget_usd')}")
        await pilot.press(*"12 500", "tab")
        # Сегмент is a Select: open it, go down to "B", pick it
        await pilot.press("enter", "down", "down", "enter")
        await pilot.pause()
        form.query_one(f"#{field_id('territory')}", Select).value = "Запад"
        form.query_one(f"#{field_id('city')}", Input).focus()
        await pilot.press(*"Berlin")
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert isinstance(app.screen, BoardScreen)
        detail = get_deal(crm, deal_id)
        assert detail.stage_key == "qualification"
        assert str(detail.budget_usd) == "12500.00"
        assert detail.custom["segment"] == "B"
        assert detail.custom["territory"] == "Запад"
        assert detail.custom["city"] == "Berlin"
        # the cursor followed the card
        assert app.board.column is column(app, "qualification")
        assert app.board.current_deal() is not None and app.board.current_deal().id == deal_id  # type: ignore[union-attr]


async def test_escape_on_gate_form_leaves_the_deal_where_it_was(crm: Crm, seeded: dict[str, str], settle: Settle) -> None:
    deal_id = seeded["CRM для сети клиник «Здоровье»"]
    app = make_app(crm)
    async with app.run_test(size=(120, 35)) as pilot:
        await settle(pilot)
        assert app.board.current_deal().id == deal_id  # type: ignore[union-attr]
        await pilot.press("right_square_bracket")
        await settle(pilot)
        assert isinstance(app.screen, GateForm)
        await pilot.press(*"777")  # typed but never saved
        await pilot.press("escape")
        await settle(pilot)
        assert isinstance(app.screen, BoardScreen)
        detail = get_deal(crm, deal_id)
        assert detail.stage_key == "lead"
        assert detail.budget_usd is None
        assert column(app, "lead").count == 4


async def test_invalid_value_is_shown_and_nothing_saved(crm: Crm, seeded: dict[str, str], settle: Settle) -> None:
    deal_id = seeded["CRM для сети клиник «Здоровье»"]
    app = make_app(crm)
    async with app.run_test(size=(120, 35)) as pilot:
        await settle(pilot)
        await pilot.press("right_square_bracket")
        await settle(pilot)
        form = app.screen
        assert isinstance(form, GateForm)
        await pilot.press(*"abc")
        error = form.query_one(f"#{field_id('budget_usd')}-error", Label)
        assert "not an amount" in str(error.render())
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert app.screen is form  # still open: the other fields are required too
        assert "required" in str(form.query_one(f"#{field_id('city')}-error", Label).render())
        assert get_deal(crm, deal_id).stage_key == "lead"


async def test_service_refusal_reopens_the_form_with_the_error(crm: Crm, settle: Settle) -> None:
    """RUS «Договор» needs the company's INN; a deal without a company cannot take it."""
    deal = capture_lead(crm, LeadInput(name="Без компании", pipeline="sales_rus"))
    for stage, values in (
        ("qualification", {"budget_rub": "100000", "segment": "A", "territory": "РФ", "city": "Тверь"}),
        ("estimate", {"scope": "Сайт", "work_model": "Fixed price", "project_folder": "https://disk.example.com/x"}),
        ("proposal", {"estimate_link": "https://disk.example.com/x/est"}),
        ("negotiation", {"decision_makers": "Иванов"}),
    ):
        move_deal(crm, deal.id, stage, set_values=values)
    app = make_app(crm, "sales_rus")
    async with app.run_test(size=(120, 35)) as pilot:
        await focus_deal(app, settle, pilot, "negotiation", "Без компании")
        await pilot.press("right_square_bracket")
        await settle(pilot)
        form = app.screen
        assert isinstance(form, GateForm)
        assert [m.key for m in form.missing] == ["company.inn"]
        await pilot.press(*"7707083893", "ctrl+s")
        await settle(pilot)
        again = app.screen
        assert isinstance(again, GateForm) and again is not form
        assert "no company" in str(again.query_one(f"#{field_id('company.inn')}-error", Label).render())
        assert again.raw_value("company.inn") == "7707083893"  # nothing typed is lost
        await pilot.press("escape")
        await settle(pilot)
        assert get_deal(crm, deal.id).stage_key == "negotiation"


async def test_gate_form_carries_values_into_a_second_refusal(crm: Crm, seeded: dict[str, str], settle: Settle) -> None:
    """A second GateRefused re-shows the form with what is still missing."""
    deal_id = seeded["Мобильное приложение"]
    app = make_app(crm)
    async with app.run_test(size=(120, 35)) as pilot:
        await focus_deal(app, settle, pilot, "lead", "Мобильное приложение")
        board = app.board
        # The user answered only part of the gate (as a stale form would).
        request = MoveRequest(deal_id, "Мобильное приложение", step=1, values={"budget_usd": "5000", "segment": "C"})
        GateMove(board, request, board._moved).start()
        await settle(pilot)
        form = app.screen
        assert isinstance(form, GateForm)
        assert [m.key for m in form.missing] == ["territory", "city"]
        assert "Still missing" in str(form.query_one("#gate-message", Label).render())
        form.query_one(f"#{field_id('territory')}", Select).value = "РФ"
        form.query_one(f"#{field_id('city')}", Input).value = "Сочи"
        await pilot.press("ctrl+s")
        await settle(pilot)
        detail = get_deal(crm, deal_id)
        assert detail.stage_key == "qualification"
        assert detail.custom["segment"] == "C" and detail.custom["city"] == "Сочи"


async def test_select_two_and_mass_stage_change_reports_each(crm: Crm, seeded: dict[str, str], settle: Settle) -> None:
    ready, not_ready = seeded["Сайт для Магнита"], seeded["Мобильное приложение"]
    edit_deal(crm, ready, QUALIFIED)
    app = make_app(crm)
    async with app.run_test(size=(120, 35)) as pilot:
        await settle(pilot)
        await focus_deal(app, settle, pilot, "lead", "Мобильное приложение")
        await pilot.press("space")
        await focus_deal(app, settle, pilot, "lead", "Сайт для Магнита")
        await pilot.press("space")
        assert set(app.board.selected) == {ready, not_ready}
        selected_cards = [c for c in column(app, "lead").cards if c.has_class("-selected")]
        assert len(selected_cards) == 2
        await pilot.press("m")
        await settle(pilot)
        assert isinstance(app.screen, ChoiceScreen)
        await pilot.press("enter")  # "Change stage" is the first action
        await settle(pilot)
        assert isinstance(app.screen, ChoiceScreen)
        await pilot.press("down", "enter")  # Лид, Квалификация (the Неразобранное inbox is not offered)
        await settle(pilot)
        report = app.screen
        assert isinstance(report, MassReportScreen)
        assert report.report.changed == 1 and report.report.selected == 2
        lines = {line.plain.split(":")[0]: (mark.plain, line.plain) for mark, line in outcome_lines(report.report)}
        assert lines["Сайт для Магнита"][0] == "✓"
        assert "Лид → Квалификация" in lines["Сайт для Магнита"][1]
        assert lines["Мобильное приложение"][0] == "✗"
        assert "missing Бюджет ($), Сегмент" in lines["Мобильное приложение"][1]
        assert "1 of 2 moved, 1 stayed" in str(report.query_one("#report-title", Label).render())
        await pilot.press("enter")
        await settle(pilot)
        assert get_deal(crm, ready).stage_key == "qualification"
        assert get_deal(crm, not_ready).stage_key == "lead"
        assert app.board.selected == {}
        assert column(app, "qualification").count == 2


async def test_mass_delete_then_undo_with_z(crm: Crm, seeded: dict[str, str], settle: Settle) -> None:
    deal_id = seeded["CRM для сети клиник «Здоровье»"]
    app = make_app(crm)
    async with app.run_test(size=(120, 35)) as pilot:
        await settle(pilot)
        await pilot.press("space", "m")
        await settle(pilot)
        menu = app.screen
        assert isinstance(menu, ChoiceScreen)
        await pilot.press("end", "enter")  # "Delete" is the last action
        await settle(pilot)
        with pytest.raises(NotFoundError):
            get_deal(crm, deal_id)
        assert column(app, "lead").count == 3
        assert any(b.binding.action == "undo_delete" for b in app.screen.active_bindings.values())
        await pilot.press("z")
        await settle(pilot)
        assert get_deal(crm, deal_id).stage_key == "lead"
        assert column(app, "lead").count == 4


async def test_mass_tags_and_task(crm: Crm, seeded: dict[str, str], settle: Settle) -> None:
    deal_id = seeded["Сайт для Магнита"]
    app = make_app(crm)
    async with app.run_test(size=(120, 35)) as pilot:
        await focus_deal(app, settle, pilot, "lead", "Сайт для Магнита")
        await pilot.press("m")
        await settle(pilot)
        menu = app.screen
        assert isinstance(menu, ChoiceScreen)
        await pilot.press("down", "down", "down", "enter")  # Add tags
        await settle(pilot)
        await pilot.press(*"vip, #тендер", "enter")
        await settle(pilot)
        assert sorted(get_deal(crm, deal_id).tags) == ["vip", "тендер"]
        assert isinstance(app.screen, BoardScreen)
        await pilot.press("m")
        await settle(pilot)
        await pilot.press("down", "down", "enter")  # Add a task to each
        await settle(pilot)
        prompt = app.screen
        await pilot.press(*"Выслать КП", "enter", "ctrl+u", *"someday", "enter")
        await settle(pilot)
        assert app.screen is prompt  # "someday" is not a date: the prompt says so and stays
        assert "not" in str(prompt.query_one("#field-when-error", Static).render())
        await pilot.press("ctrl+u", *"2026-12-01 10:00", "enter")
        await settle(pilot)
        assert isinstance(app.screen, BoardScreen)
        texts = {t.text: t for t in tasks_of(crm, deal_id, include_done=False)}
        assert texts["Выслать КП"].due_at.date().isoformat() == "2026-12-01"


async def test_quick_add_creates_a_lead_and_keeps_input_on_errors(crm: Crm, seeded: dict[str, str], settle: Settle) -> None:
    app = make_app(crm)
    async with app.run_test(size=(120, 35)) as pilot:
        await settle(pilot)
        await pilot.press("n")
        await settle(pilot)
        form = app.screen
        assert isinstance(form, QuickAddScreen)
        await pilot.press(*"Чат-бот для Ленты", "tab", *"12ab", "tab")
        assert "letters" in str(form.query_one("#quick-phone-error", Label).render()) or form.query_one(
            "#quick-phone-error", Label
        ).has_class("-shown")
        await pilot.press(*"anna@@x", "tab", *"Лента", "tab", *"2 млн")
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert app.screen is form  # refused: bad phone and e-mail; nothing lost
        assert form.value("name") == "Чат-бот для Ленты" and form.value("budget") == "2 млн"
        form.query_one("#quick-phone", Input).value = "+7 999 111-22-33"
        form.query_one("#quick-email", Input).value = "buyer@lenta.example"
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert isinstance(app.screen, BoardScreen)
        created = list_deals(crm, DealFilter(query="Ленты"))
        assert [d.name for d in created] == ["Чат-бот для Ленты"]
        assert str(created[0].budget_rub) == "2000000.00"
        assert created[0].company == "Лента"
        assert app.board.current_deal().name == "Чат-бот для Ленты"  # type: ignore[union-attr]


async def test_filter_requeries_the_columns(crm: Crm, seeded: dict[str, str], settle: Settle) -> None:
    app = make_app(crm)
    async with app.run_test(size=(120, 35)) as pilot:
        await settle(pilot)
        await pilot.press("slash")
        await settle(pilot)
        await pilot.press(*"Магнит", "enter")
        await settle(pilot)
        assert column(app, "lead").count == 1
        assert names_in(app, "lead") == ["Сайт для Магнита"]
        assert "Магнит" in str(app.board.query_one("#board-title", Label).render())
        await pilot.press("slash")
        await settle(pilot)
        await pilot.press("ctrl+r")  # clear
        await settle(pilot)
        assert column(app, "lead").count == 4
        app.board.flt = DealFilter(overdue=True)
        app.board.reload()
        await settle(pilot)
        assert names_in(app, "lead") == ["Сайт для Магнита"]


async def test_pipeline_picker_switches_columns(crm: Crm, seeded: dict[str, str], settle: Settle) -> None:
    app = make_app(crm)
    async with app.run_test(size=(120, 35)) as pilot:
        await settle(pilot)
        await pilot.press("p")
        await settle(pilot)
        assert isinstance(app.screen, ChoiceScreen)
        await pilot.press("down", "enter")  # Тендеры
        await settle(pilot)
        assert app.board.pipeline is not None and app.board.pipeline.key == "tenders"
        assert app.pipeline_key == "tenders"
        assert [c.stage.key for c in app.board.columns][:3] == ["unsorted", "new_tender", "analysis"]
        assert all(c.count == 0 for c in app.board.columns)


async def test_columns_page_from_sql(crm: Crm, settle: Settle, monkeypatch: pytest.MonkeyPatch) -> None:
    """Only a window of cards exists; moving past it fetches the next page."""
    from tui_crm.screens import board as board_module
    from tui_crm.widgets import board_column as column_module

    monkeypatch.setattr(column_module, "PAGE", 5)
    monkeypatch.setattr(board_module, "PAGE", 5)
    for number in range(23):
        capture_lead(crm, LeadInput(name=f"Лид {number:02d}"))
    app = make_app(crm)
    async with app.run_test(size=(100, 24)) as pilot:
        await settle(pilot)
        lead = column(app, "lead")
        assert lead.count == 23
        assert len(lead.cards) == lead.slots < 23
        assert set(lead.pages) <= {0, 1}  # first page plus prefetch, never all
        more = str(lead.query_one(".column--more", Label).render())
        assert f"{23 - lead.slots} more" in more
        await pilot.press("end")
        await settle(pilot)
        assert lead.cursor == 22 and lead.current() is not None
        assert 4 in lead.pages and 2 not in lead.pages
        assert len(app.board.query(DealCard)) == sum(len(c.cards) for c in app.board.columns)


async def test_help_and_palette_come_from_one_registry(crm: Crm, seeded: dict[str, str], settle: Settle) -> None:
    app = make_app(crm)
    async with app.run_test(size=(120, 35)) as pilot:
        await settle(pilot)
        actions = screen_actions(app.screen)
        titles = [a.title for a in actions]
        assert "board: Next stage" in titles and "app: New lead" in titles
        keys = {a.description: a.key for a in actions}
        assert keys["Next stage"] == "] L"
        await pilot.press("question_mark")
        await settle(pilot)
        help_screen = app.screen
        assert isinstance(help_screen, HelpScreen)
        assert [e.title for e in help_screen.entries] == titles
        await pilot.press("escape")
        await pilot.press("ctrl+p")
        await settle(pilot)
        await pilot.press(*"next stage")
        await settle(pilot)
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, GateForm)  # the palette ran the board's move


async def test_status_bar_shows_user_and_pending_changes(crm: Crm, seeded: dict[str, str], settle: Settle) -> None:
    app = make_app(crm)
    async with app.run_test(size=(120, 35)) as pilot:
        await settle(pilot)
        text = str(app.board.query_one(StatusBar).query_one("#status-left", Label).render())
        assert "Анна" in text
        # what `crm sync --dry-run` would send (records), not raw change-log rows
        assert f"{sync_status(crm).pending} changes to sync" in text
        assert 0 < sync_status(crm).pending <= pending_changes(crm)
        assert "never synced" in text


async def test_theme_toggles_between_light_and_dark(crm: Crm, settle: Settle) -> None:
    app = make_app(crm)
    async with app.run_test(size=(100, 30)) as pilot:
        assert app.theme == "textual-dark"
        await pilot.press("ctrl+t")
        assert app.theme == "textual-light"
        await pilot.press("ctrl+t")
        assert app.theme == "textual-dark"


class _Section(Screen[None]):
    def __init__(self, *args: str) -> None:
        super().__init__()
        self.args = args


async def test_section_keys_push_one_section_above_the_board(
    crm: Crm, settle: Settle, monkeypatch: pytest.MonkeyPatch
) -> None:
    import sys
    import types

    fake = types.ModuleType("fake_sections")
    fake.Section = _Section  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "fake_sections", fake)
    from tui_crm import app as app_module

    monkeypatch.setattr(app_module, "SECTIONS", {k: ("fake_sections", "Section") for k in app_module.SECTIONS})
    app = make_app(crm)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        await pilot.press("d")
        await settle(pilot)
        assert isinstance(app.screen, _Section) and app.screen.args == ("deals",)
        assert app.screen.query(StatusBar)  # every full screen gets the status bar
        await pilot.press("u")
        await settle(pilot)
        assert app.screen.args == ("sales20",)  # type: ignore[attr-defined]
        assert len(app.screen_stack) == 2
        await pilot.press("b")
        await settle(pilot)
        assert isinstance(app.screen, BoardScreen)


async def test_unsorted_column_counts_requests_and_enter_opens_triage(
    crm: Crm, settle: Settle, monkeypatch: pytest.MonkeyPatch
) -> None:
    import sys
    import types

    from tui_crm import app as app_module
    from tui_crm.services.unsorted import IncomingRequest, add_incoming

    fake = types.ModuleType("fake_unsorted")
    fake.Section = _Section  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "fake_unsorted", fake)
    monkeypatch.setattr(app_module, "SECTIONS", {**app_module.SECTIONS, "unsorted": ("fake_unsorted", "Section")})
    add_incoming(crm, IncomingRequest(sender_email="lead@example.com", subject="[red]Нужен сайт[/]"))
    add_incoming(crm, IncomingRequest(sender_name="Олег", body="Перезвоните"))
    app = make_app(crm)
    async with app.run_test(size=(120, 35)) as pilot:
        await settle(pilot)
        inbox = column(app, "unsorted")
        assert inbox.unsorted_new == 2 and inbox.has_class("-has-new")
        header = inbox.query_one("ColumnHeader")
        assert "2 new requests" in str(header.render())
        await pilot.press("h", "enter")
        await settle(pilot)
        assert isinstance(app.screen, _Section) and app.screen.args == ("sales20",)


async def test_board_reloads_when_back_from_a_full_screen(crm: Crm, seeded: dict[str, str], settle: Settle) -> None:
    app = make_app(crm)
    async with app.run_test(size=(120, 35)) as pilot:
        await settle(pilot)
        await app.push_screen(_Section("card"))
        await settle(pilot)
        capture_lead(crm, LeadInput(name="Пока вас не было"))  # e.g. made in the card or by sync
        app.pop_screen()
        await settle(pilot)
        assert column(app, "lead").count == 5
        assert "Пока вас не было" in names_in(app, "lead")


def test_status_service_counts_pending_and_reads_last_sync(crm: Crm) -> None:
    from tui_crm.services.status import LAST_SYNC_KEY, last_sync
    from tui_crm.storage.models import Setting  # the test plays the sync engine here
    from tui_crm.widgets.status_bar import StoreStatus, describe_sync

    before = pending_changes(crm)
    capture_lead(crm, LeadInput(name="Ещё один"))
    assert pending_changes(crm) > before
    assert last_sync(crm) is None
    with crm.uow() as work:
        work.session.add(Setting(key=LAST_SYNC_KEY, value="2026-11-26T06:30:00+00:00"))
    synced = last_sync(crm)
    assert synced is not None and synced.isoformat() == "2026-11-26T09:30:00+03:00"
    now = crm.now()
    assert describe_sync(StoreStatus("Анна", 1, synced, now)) == "1 change to sync · synced today 09:30"
    assert describe_sync(StoreStatus("Анна", 0, None, now)) == "all synced · never synced"
    # the demo's seed rows are nobody's changes and the demo is never synced
    assert describe_sync(StoreStatus("Анна", 1114, None, now, demo=True)) == "demo data · never synced"


async def test_keymap_in_config_rebinds_keys_everywhere(crm: Crm, seeded: dict[str, str], settle: Settle) -> None:
    (crm.settings.config_dir).mkdir(parents=True, exist_ok=True)
    (crm.settings.config_dir / "config.toml").write_text('[keymap]\n"board.move_next" = "ctrl+right"\n', encoding="utf-8")
    crm.settings.keymap = load_settings(db=crm.settings.db_path).keymap  # config.toml is read when the store opens
    app = make_app(crm)
    async with app.run_test(size=(120, 35)) as pilot:
        await settle(pilot)
        keys = {a.description: a.key for a in screen_actions(app.screen)}
        assert keys["Next stage"] == "L ^→"  # the alternative key stays
        await pilot.press("right_square_bracket")
        await settle(pilot)
        assert isinstance(app.screen, BoardScreen)  # `]` no longer moves
        await pilot.press("ctrl+right")
        await settle(pilot)
        assert isinstance(app.screen, GateForm)
