"""Card rows that are removed or linked: phones, e-mails, tags, a deal's contacts.

Every test presses keys through the Pilot and then reads the database back
through the services (and the change log straight from the file), so what
the card shows and what was written are both proven.
"""

from __future__ import annotations

import json
import sqlite3

import pytest
from screens_fixtures import MARKUP_NAME, SIZE, ScreensApp, screen_text, seed_screens, settle
from screens_fixtures import screens_crm as screens_crm  # noqa: F401 - the fixture
from textual.widgets import Input, OptionList

from tui_crm.screens.card import CardScreen
from tui_crm.services.companies import edit_company, get_company
from tui_crm.services.contacts import edit_contact, get_contact
from tui_crm.services.context import Crm
from tui_crm.services.deals import get_deal
from tui_crm.widgets.contact_picker import ContactPicker
from tui_crm.widgets.field_editor import FieldRow
from tui_crm.widgets.form_dialog import ConfirmDialog

pytestmark = pytest.mark.anyio


def card_app(crm: Crm, entity_type: str, entity_id: str) -> ScreensApp:
    return ScreensApp(crm, lambda: CardScreen(entity_type, entity_id))


def focus_removable(app: ScreensApp, what: str, which: str) -> FieldRow:
    row = next(r for r in app.screen.query(FieldRow) if r.spec.removable == (what, which))
    row.focus()
    return row


def last_change(crm: Crm, entity_id: str) -> dict[str, list[object]]:
    conn = sqlite3.connect(crm.settings.db_path)
    try:
        sql = "SELECT changes FROM change_log WHERE entity_id = ? ORDER BY seq DESC LIMIT 1"
        row = conn.execute(sql, (entity_id,)).fetchone()
    finally:
        conn.close()
    return json.loads(row[0])


def rows_of(app: ScreensApp, key: str) -> list[str]:
    return [r.spec.display.plain for r in app.screen.query(FieldRow) if r.spec.key == key]


def footer_keys(app: ScreensApp) -> set[str]:
    return {active.binding.description for active in app.screen.active_bindings.values() if active.enabled}


# -- phones and e-mails ----------------------------------------------------------------


async def test_remove_a_contact_phone_after_confirming(screens_crm: Crm) -> None:
    ids = seed_screens(screens_crm)
    edit_contact(screens_crm, ids["contact"], {"phone": "+7 495 765-43-21"})
    app = card_app(screens_crm, "contact", ids["contact"])
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        phones = [r.spec.display.plain for r in app.screen.query(FieldRow) if r.spec.key == "phone"]
        assert phones == ["+7 916 123-45-67", "+7 495 765-43-21"]  # one row each
        # the key exists on a phone row, not on the name
        next(r for r in app.screen.query(FieldRow) if r.spec.key == "name").focus()
        await pilot.pause()
        assert "Remove" not in footer_keys(app)
        focus_removable(app, "phone", "+79161234567")
        await pilot.pause()
        assert "Remove" in footer_keys(app)
        await pilot.press("delete")
        await settle(pilot)
        assert isinstance(app.screen, ConfirmDialog)
        assert "Remove the phone +7 916 123-45-67 from «Иван Петров»?" in screen_text(app)
        await pilot.press("n")  # changed my mind: nothing happens
        await settle(pilot)
        assert get_contact(screens_crm, ids["contact"]).phones == ["+79161234567", "+74957654321"]
        await pilot.press("x")
        await settle(pilot)
        await pilot.press("y")
        await settle(pilot)
        assert isinstance(app.screen, CardScreen)
        assert get_contact(screens_crm, ids["contact"]).phones == ["+74957654321"]
        assert last_change(screens_crm, ids["contact"]) == {"phones": ["+79161234567", None]}
        await settle(pilot, until=lambda: rows_of(app, "phone") == ["+7 495 765-43-21"])
        assert rows_of(app, "phone") == ["+7 495 765-43-21"]
        # the focus moved to the row now in its place: the remaining phone
        assert isinstance(app.screen.focused, FieldRow)
        assert app.screen.focused.spec.removable == ("phone", "+74957654321")


async def test_remove_a_company_email(screens_crm: Crm) -> None:
    ids = seed_screens(screens_crm)
    edit_company(screens_crm, ids["company"], {"email": "info@magnit.example.ru"})
    app = card_app(screens_crm, "company", ids["company"])
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        focus_removable(app, "email", "info@magnit.example.ru")
        await pilot.press("delete")
        await settle(pilot)
        await pilot.press("y")
        await settle(pilot)
        assert get_company(screens_crm, ids["company"]).emails == []
        assert last_change(screens_crm, ids["company"]) == {"emails": ["info@magnit.example.ru", None]}
        # the E-mails row is back to "none", and still adds one
        await settle(pilot, until=lambda: rows_of(app, "email") == ["—"])
        empty = next(r for r in app.screen.query(FieldRow) if r.spec.key == "email")
        assert empty.spec.display.plain == "—" and empty.spec.removable is None


# -- tags ----------------------------------------------------------------------------------


@pytest.mark.parametrize("entity", ["contact", "company"])
async def test_tags_added_and_removed_from_the_card(screens_crm: Crm, entity: str) -> None:
    ids = seed_screens(screens_crm)
    get = get_contact if entity == "contact" else get_company
    app = card_app(screens_crm, entity, ids[entity])
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        tags = next(r for r in app.screen.query(FieldRow) if r.spec.key == "tags")
        tags.focus()
        await pilot.press("e")
        tags.query_one(Input).value = "VIP, ЛПР"
        await pilot.press("enter")
        await settle(pilot)
        assert get(screens_crm, ids[entity]).tags == ["VIP", "ЛПР"]
        await settle(pilot, until=lambda: rows_of(app, "tags") == ["VIP, ЛПР"])
        assert "VIP, ЛПР" in screen_text(app)
        tags = next(r for r in app.screen.query(FieldRow) if r.spec.key == "tags")
        tags.focus()
        await pilot.press("e")
        assert tags.query_one(Input).value == "VIP, ЛПР"
        tags.query_one(Input).value = "vip"  # ЛПР left out: removed; VIP kept as first spelt
        await pilot.press("enter")
        await settle(pilot)
        assert get(screens_crm, ids[entity]).tags == ["VIP"]
        assert last_change(screens_crm, ids[entity]) == {"tags": [["VIP", "ЛПР"], ["VIP"]]}


# -- a deal's contacts -------------------------------------------------------------------------


async def test_link_a_contact_by_search_then_unlink_the_main_one(screens_crm: Crm) -> None:
    ids = seed_screens(screens_crm)
    app = card_app(screens_crm, "deal", ids["deal"])
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("plus")
        await settle(pilot)
        assert isinstance(app.screen, ContactPicker)
        await pilot.press(*"x@exam")  # the markup-named contact, found by e-mail
        await pilot.pause(0.4)
        await settle(pilot)
        results = app.screen.query_one(OptionList)
        assert results.option_count == 1
        assert MARKUP_NAME in screen_text(app)  # shown literally, never as markup
        await pilot.press("enter")  # from the search box into the results
        await pilot.press("enter")  # pick
        await settle(pilot)
        assert isinstance(app.screen, CardScreen)
        contacts = get_deal(screens_crm, ids["deal"]).contacts
        assert [(c.name, c.is_main) for c in contacts] == [("Иван Петров", True), (MARKUP_NAME, False)]
        assert last_change(screens_crm, ids["deal"]) == {"contacts": [None, ids["markup"]]}
        await settle(pilot, until=lambda: any(r.spec.removable == ("contact", ids["markup"]) for r in app.screen.query(FieldRow)))
        # unlink the main contact: the other one becomes main
        focus_removable(app, "contact", ids["contact"])
        await pilot.press("delete")
        await settle(pilot)
        assert "Unlink «Иван Петров» from this deal?" in screen_text(app)
        await pilot.press("y")
        await settle(pilot)
        contacts = get_deal(screens_crm, ids["deal"]).contacts
        assert [(c.name, c.is_main) for c in contacts] == [(MARKUP_NAME, True)]
        assert last_change(screens_crm, ids["deal"]) == {"contacts": [ids["contact"], None]}
        await settle(pilot, until=lambda: f"{MARKUP_NAME}  main" in screen_text(app))
        assert f"{MARKUP_NAME}  main" in screen_text(app)


async def test_picker_finds_by_phone_and_refuses_an_already_linked_contact(screens_crm: Crm) -> None:
    ids = seed_screens(screens_crm)
    app = card_app(screens_crm, "deal", ids["deal"])
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("plus")
        await settle(pilot)
        await pilot.press(*"8 916 123-45-67")  # typed the way people say it
        await pilot.press("enter")
        await settle(pilot)
        assert "already linked" in screen_text(app)
        await pilot.press("enter")  # picking it is refused: the picker stays
        await settle(pilot)
        assert isinstance(app.screen, ContactPicker)
        await pilot.press("escape")
        await settle(pilot)
        assert isinstance(app.screen, CardScreen)
    assert [c.id for c in get_deal(screens_crm, ids["deal"]).contacts] == [ids["contact"]]


async def test_link_key_only_on_deals(screens_crm: Crm) -> None:
    ids = seed_screens(screens_crm)
    app = card_app(screens_crm, "contact", ids["contact"])
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("plus")
        await settle(pilot)
        assert isinstance(app.screen, CardScreen)
