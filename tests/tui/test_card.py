"""The card: fields, inline edits through the services, timeline, activity.

Each test drives the screen with keys through the Pilot and then checks the
database through the services, so "shown" and "saved" are both proven.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from screens_fixtures import ESCAPE_NOTE, MARKUP_NAME, SIZE, ScreensApp, screen_text, seed_screens, settle
from screens_fixtures import screens_crm as screens_crm  # noqa: F401 - the fixture
from textual.widgets import Input

from tui_crm.app import CrmApp
from tui_crm.screens.card import CardScreen
from tui_crm.services.companies import get_company
from tui_crm.services.contacts import get_contact
from tui_crm.services.context import Crm
from tui_crm.services.deal_queries import count_deals
from tui_crm.services.deals import get_deal
from tui_crm.services.files import attach_file
from tui_crm.services.notes import timeline
from tui_crm.services.tasks import tasks_of
from tui_crm.widgets.duplicate_prompt import DuplicatePrompt, PartyForm
from tui_crm.widgets.field_editor import FieldRow
from tui_crm.widgets.form_dialog import FormDialog
from tui_crm.widgets.gate_form import GateForm
from tui_crm.widgets.timeline_view import TimelineView

pytestmark = pytest.mark.anyio


def row(app: ScreensApp, key: str) -> FieldRow:
    return next(r for r in app.screen.query(FieldRow) if r.spec.key == key)


def card_app(crm: Crm, entity_type: str, entity_id: str) -> ScreensApp:
    return ScreensApp(crm, lambda: CardScreen(entity_type, entity_id))


async def test_deal_card_shows_groups_links_and_timeline(screens_crm: Crm, tmp_path: Path) -> None:
    ids = seed_screens(screens_crm)
    brief = tmp_path / "бриф [v2].pdf"
    brief.write_bytes(b"%PDF-1.4")
    attach_file(screens_crm, "deal", ids["deal"], brief)
    app = card_app(screens_crm, "deal", ids["deal"])
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        text = screen_text(app)
        assert "Deal · Сайт для Магнита" in text
        assert "Продажи 2.0 › Лид" in text
        for label in ("Main", "Budget (RUB)", "1 500 000 ₽", "Marketing", "Source channel", "Сайт RU", "Company", "Магнит"):
            assert label in text
        assert "Иван Петров  main" in text
        rows = {r.spec.label: r.spec.display.plain for r in app.screen.query(FieldRow)}
        assert {"Сегмент", "Территория", "Ссылка на оценку"} <= set(rows)
        assert rows["File"] == "бриф [v2].pdf"
        # the note with escape sequences is shown, harmlessly
        assert "Клиент просил перезвонить после обеда" in text
        assert "\x1b" not in text


async def test_untrusted_text_is_plain(screens_crm: Crm) -> None:
    ids = seed_screens(screens_crm)
    app = card_app(screens_crm, "contact", ids["markup"])
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        text = screen_text(app)
        assert f"Contact · {MARKUP_NAME}" in text
        assert "✗ incomplete: Phone, Gender, Birthday, Department, Position" in text
    items = timeline(screens_crm, "deal", ids["deal"])
    assert any(item.text == ESCAPE_NOTE for item in items)  # stored as typed, stripped only on screen


async def test_add_note_then_pin_it_puts_it_first(screens_crm: Crm) -> None:
    ids = seed_screens(screens_crm)
    app = card_app(screens_crm, "deal", ids["deal"])
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("n")
        await settle(pilot)
        assert isinstance(app.screen, FormDialog)
        await pilot.press(*"Клиент выбрал тариф Pro")
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, CardScreen)
        view = app.screen.query_one(TimelineView)
        note_index = next(i for i, item in enumerate(view.items) if item.text == "Клиент выбрал тариф Pro")
        view.focus()
        view.highlighted = note_index
        await pilot.press("p")
        await settle(pilot)
        first = timeline(screens_crm, "deal", ids["deal"])[0]
        assert first.text == "Клиент выбрал тариф Pro" and first.pinned
        assert view.items[0].text == "Клиент выбрал тариф Pro"
        assert "▲ pinned" in screen_text(app)
        # and unpin it again
        view.highlighted = 0
        await pilot.press("p")
        await settle(pilot)
        assert not any(item.pinned for item in timeline(screens_crm, "deal", ids["deal"]))


async def test_bad_phone_is_refused_under_the_field(screens_crm: Crm) -> None:
    ids = seed_screens(screens_crm)
    before = get_contact(screens_crm, ids["contact"])
    app = card_app(screens_crm, "contact", ids["contact"])
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        phone = row(app, "phone")
        phone.focus()
        await pilot.press("e")
        await pilot.press(*"8916abc1234")
        await pilot.press("enter")
        await settle(pilot)
        assert phone.editing
        assert "contains letters" in screen_text(app)
    after = get_contact(screens_crm, ids["contact"])
    assert after.phones == before.phones and after.updated_at == before.updated_at


async def test_bad_inn_is_refused_and_a_good_one_saved(screens_crm: Crm) -> None:
    ids = seed_screens(screens_crm)
    app = card_app(screens_crm, "company", ids["company"])
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        inn = row(app, "inn")
        inn.focus()
        await pilot.press("e")
        inn.query_one(Input).value = "1234567890"
        await pilot.press("enter")
        await settle(pilot)
        assert "INN" in screen_text(app) and inn.editing
        assert get_company(screens_crm, ids["company"]).inn == "7707083893"
        inn.query_one(Input).value = "7736207543"
        await pilot.press("enter")
        await settle(pilot)
        assert get_company(screens_crm, ids["company"]).inn == "7736207543"
        assert "7736207543" in screen_text(app)


async def test_edit_budget_saves_through_the_service(screens_crm: Crm) -> None:
    ids = seed_screens(screens_crm)
    app = card_app(screens_crm, "deal", ids["deal"])
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        budget = row(app, "budget_rub")
        budget.focus()
        await pilot.press("e")
        budget.query_one(Input).value = "2 750 000"
        await pilot.press("enter")
        await settle(pilot)
        assert "2 750 000 ₽" in screen_text(app)
    assert str(get_deal(screens_crm, ids["deal"]).budget_rub) == "2750000.00"


async def test_stage_change_refused_opens_the_gate_form(screens_crm: Crm) -> None:
    ids = seed_screens(screens_crm)
    app = card_app(screens_crm, "deal", ids["deal"])
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        row(app, "stage").focus()
        await pilot.press("e")
        await settle(pilot)
        await pilot.press("down", "enter")  # Лид -> Квалификация
        await settle(pilot)
        assert isinstance(app.screen, GateForm)
        assert [m.key for m in app.screen.missing] == ["budget_usd", "segment", "territory", "city"]
        assert get_deal(screens_crm, ids["deal"]).stage_key == "lead"
        await pilot.press("escape")
        await settle(pilot)
        assert "Cannot move to «Квалификация»" in screen_text(app)
    assert get_deal(screens_crm, ids["deal"]).stage_key == "lead"


async def test_enter_on_a_link_opens_its_card(screens_crm: Crm) -> None:
    ids = seed_screens(screens_crm)
    app = card_app(screens_crm, "deal", ids["deal"])
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        row(app, "company").focus()
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, CardScreen) and app.screen.entity_type == "company"
        assert "Company · Магнит" in screen_text(app)
        links = [r.spec.link for r in app.screen.query(FieldRow) if r.spec.link is not None]
        assert ("deal", ids["deal"]) in [(link.entity_type, link.id) for link in links]  # its deals
        await pilot.press("escape")
        await settle(pilot)
        assert app.screen.entity_type == "deal"


async def test_task_and_call_from_the_activity_bar(screens_crm: Crm) -> None:
    ids = seed_screens(screens_crm)
    app = card_app(screens_crm, "deal", ids["deal2"])
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("t")
        await settle(pilot)
        await pilot.press(*"Отправить договор")
        app.screen.query_one("#field-due", Input).value = "в пятницу"
        await pilot.press("enter")
        await settle(pilot)
        await pilot.press("c")
        await settle(pilot)
        await pilot.press(*"Не дозвонился")
        await pilot.press("enter")
        await settle(pilot)
    tasks = tasks_of(screens_crm, ids["deal2"])
    sent = next(t for t in tasks if t.text == "Отправить договор")
    assert f"{sent.due_at:%Y-%m-%d}" == "2026-11-27" and sent.all_day
    assert any(item.kind == "call" and "Не дозвонился" in item.text for item in timeline(screens_crm, "deal", ids["deal2"]))


async def test_bad_when_keeps_the_task_dialog_open(screens_crm: Crm) -> None:
    ids = seed_screens(screens_crm)
    app = card_app(screens_crm, "deal", ids["deal2"])
    before = len(tasks_of(screens_crm, ids["deal2"]))
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("t")
        await settle(pilot)
        await pilot.press(*"Позвонить")
        app.screen.query_one("#field-due", Input).value = "когда-нибудь"
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, FormDialog)
        assert "is not a date or time I can read" in screen_text(app)
    assert len(tasks_of(screens_crm, ids["deal2"])) == before


@pytest.mark.parametrize(("key", "expect_new"), [("u", False), ("c", True)])
async def test_new_contact_with_duplicate_prompt(screens_crm: Crm, key: str, expect_new: bool) -> None:
    ids = seed_screens(screens_crm)
    app = card_app(screens_crm, "company", ids["company"])
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("a")
        await settle(pilot)
        form = app.screen
        assert isinstance(form, PartyForm)
        await pilot.press(*"Иван П.")
        form.query_one("#field-email", Input).value = "ivan@magnit.example.ru"
        form.query_one("#field-position", Input).value = "Product owner"
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert isinstance(app.screen, DuplicatePrompt)
        assert "Иван Петров" in screen_text(app) and "same e-mail" in screen_text(app)
        await pilot.press(key)
        await settle(pilot)
        assert isinstance(app.screen, CardScreen) and app.screen.entity_type == "contact"
        opened = app.screen.entity_id
    company = get_company(screens_crm, ids["company"])
    if expect_new:
        assert opened != ids["contact"] and len(company.contacts) == 2
    else:
        assert opened == ids["contact"] and len(company.contacts) == 1
        assert get_contact(screens_crm, ids["contact"]).position == "CTO"  # enrich fills gaps, never overwrites


async def test_new_deal_from_a_contact_links_it(screens_crm: Crm) -> None:
    ids = seed_screens(screens_crm)
    deals_before = count_deals(screens_crm)
    app = card_app(screens_crm, "contact", ids["contact"])
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("l")
        await settle(pilot)
        await pilot.press(*"Поддержка сайта")
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, CardScreen) and app.screen.entity_type == "deal"
        deal = get_deal(screens_crm, app.screen.entity_id)
    assert count_deals(screens_crm) == deals_before + 1
    assert deal.name == "Поддержка сайта" and deal.stage_key == "lead"
    assert [c.id for c in deal.contacts] == [ids["contact"]] and deal.contacts[0].is_main
    assert deal.company is not None and deal.company.id == ids["company"]


async def test_copy_deal(screens_crm: Crm) -> None:
    ids = seed_screens(screens_crm)
    app = card_app(screens_crm, "deal", ids["deal"])
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("y")
        await settle(pilot)
        app.screen.query_one("#field-name", Input).value = "Сайт для Магнита — декабрь"
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert isinstance(app.screen, CardScreen)
        copy = get_deal(screens_crm, app.screen.entity_id)
    assert copy.id != ids["deal"] and copy.name == "Сайт для Магнита — декабрь"
    assert copy.stage_key == "lead" and copy.company is not None and [c.id for c in copy.contacts] == [ids["contact"]]


async def test_card_on_the_real_app(screens_crm: Crm) -> None:
    ids = seed_screens(screens_crm)
    app = CrmApp(screens_crm)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        app.push_screen(CardScreen("deal", ids["deal"]))
        await settle(pilot)
        assert isinstance(app.screen, CardScreen)
        assert "Deal · Сайт для Магнита" in screen_text(app)
        await pilot.press("escape")
        await settle(pilot)
        assert not isinstance(app.screen, CardScreen)
