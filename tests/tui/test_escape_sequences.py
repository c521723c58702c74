"""No escape sequence from a record's name reaches the terminal (issue 9,
"Nothing interpreted").

A deal, its contact, its company, a note, a task and an Unsorted request
are named with OSC 52 (sets the clipboard), OSC 0 (sets the window title),
CSI 2J (clears the screen) and their 8-bit C1 forms. The real app is walked
through every screen, dialog and input box; at each stop the test renders
the full frame exactly as the driver would write it to the terminal, reads
every input box's value and asserts that none of those sequences (nor a
lone ESC, BEL, CSI or OSC byte from them) is there.
"""

from __future__ import annotations

import pytest
from screens_fixtures import SIZE, settle
from screens_fixtures import screens_crm as screens_crm  # noqa: F401 - the fixture
from textual.pilot import Pilot
from textual.widgets import Input, Select

from tui_crm.app import CrmApp
from tui_crm.screens.card import CardScreen
from tui_crm.services.companies import CompanyInput, add_company
from tui_crm.services.contacts import ContactInput, add_contact
from tui_crm.services.context import Crm
from tui_crm.services.deals import LeadInput, capture_lead, link_contact
from tui_crm.services.notes import add_note
from tui_crm.services.tasks import TaskInput, add_task
from tui_crm.services.unsorted import IncomingRequest, add_incoming
from tui_crm.widgets.field_editor import FieldRow
from tui_crm.widgets.form_dialog import FormDialog

pytestmark = pytest.mark.anyio

OSC52 = "\x1b]52;c;SGVsbG8=\x1b\\"
OSC0 = "\x1b]0;PWNED\x07"
CSI_2J = "\x1b[2J"
C1 = "\x9b2J\x9d0;PWNED\x9c"
HOSTILE = f"Evil{OSC52}{OSC0}{CSI_2J}{C1} deal"

# What the app itself never writes: OSC of any kind, clear screen, BEL, 8-bit C1.
FORBIDDEN = ("\x1b]", "\x1b[2J", "\x07", "\x9b", "\x9d", "\x9c", "PWNED", "SGVsbG8=")


def frame(app: CrmApp) -> str:
    """The whole screen as the bytes the driver would send to the terminal."""
    update = app.screen._compositor.render_update(full=True)
    return update.render_segments(app.console)


def assert_clean(app: CrmApp, where: str) -> None:
    output = frame(app)
    for bad in FORBIDDEN:
        assert bad not in output, f"{where}: {bad!r} reached the terminal"
    for box in app.screen.query(Input):
        for bad in FORBIDDEN:
            assert bad not in box.value, f"{where}: {bad!r} in input #{box.id}: {box.value!r}"
    for select in app.screen.query(Select):
        assert all(bad not in str(select.value) for bad in FORBIDDEN), f"{where}: select #{select.id}"


def seed(crm: Crm) -> dict[str, str]:
    company = add_company(crm, CompanyInput(name=f"Co {HOSTILE}", web="evil.example.ru"))
    contact = add_contact(crm, ContactInput(name=f"Person {HOSTILE}", emails=["evil@example.ru"], position=HOSTILE))
    deal = capture_lead(crm, LeadInput(name=HOSTILE, company=company.id, budget="100 000", tags=[f"t{CSI_2J}x"]))
    link_contact(crm, deal.id, contact.id, main=True)
    add_note(crm, "deal", deal.id, f"note {HOSTILE}")
    add_task(crm, TaskInput(text=f"task {HOSTILE}", due="today 18:00", entity_type="deal", entity_ref=deal.id))
    request = IncomingRequest(source="mail", sender_name=HOSTILE, sender_email="x@example.ru", subject=HOSTILE, body=HOSTILE)
    add_incoming(crm, request)
    return {"deal": deal.id, "contact": contact.id, "company": company.id}


async def open_card(pilot: Pilot[None], kind: str, record_id: str) -> None:
    await pilot.app.push_screen(CardScreen(kind, record_id))
    await settle(pilot)


async def edit_name(pilot: Pilot[None], where: str) -> None:
    """Focus the card's name row, press e: the field editor opens prefilled."""
    rows = [row for row in pilot.app.screen.query(FieldRow) if row.spec.key == "name"]
    assert rows, f"{where}: no name row"
    rows[0].focus()
    await pilot.press("e")
    await settle(pilot)
    editors = list(pilot.app.screen.query(Input))
    assert editors, f"{where}: the field editor did not open"
    assert "Evil" in editors[0].value  # it is prefilled, only cleaned
    assert_clean(pilot.app, f"{where}: field editor")  # type: ignore[arg-type]
    await pilot.press("escape")
    await settle(pilot)


async def test_the_copy_dialog_and_the_field_editor_show_the_name_cleaned(screens_crm: Crm) -> None:
    ids = seed(screens_crm)
    app = CrmApp(screens_crm)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await open_card(pilot, "deal", ids["deal"])
        assert_clean(app, "deal card")
        await edit_name(pilot, "deal card")
        await pilot.press("y")
        await settle(pilot)
        assert isinstance(app.screen, FormDialog), type(app.screen).__name__
        assert "Evil" in app.screen.query_one("#field-name", Input).value
        assert_clean(app, "copy dialog")


@pytest.mark.slow
async def test_no_escape_sequence_reaches_the_terminal_anywhere(screens_crm: Crm) -> None:
    ids = seed(screens_crm)
    app = CrmApp(screens_crm)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert_clean(app, "board")
        for key, where in (("d", "deals"), ("c", "contacts"), ("o", "companies"), ("a", "agenda"), ("u", "unsorted")):
            await pilot.press(key)
            await settle(pilot)
            assert_clean(app, where)
        await pilot.press("b")
        await settle(pilot)
        await pilot.press("slash")
        await settle(pilot)
        assert_clean(app, "board filter")
        await pilot.press("escape")
        await pilot.press("n")
        await settle(pilot)
        assert_clean(app, "new lead")
        await pilot.press("escape")
        await settle(pilot)

        await open_card(pilot, "deal", ids["deal"])
        await pilot.press("y")
        await settle(pilot)
        assert_clean(app, "copy dialog")
        await pilot.press("escape")
        await settle(pilot)
        for key, where in (("n", "note dialog"), ("t", "task dialog")):
            await pilot.press(key)
            await settle(pilot)
            assert_clean(app, where)
            await pilot.press("escape")
            await settle(pilot)

        for kind in ("contact", "company"):
            await open_card(pilot, kind, ids[kind])
            assert_clean(app, f"{kind} card")
            await edit_name(pilot, f"{kind} card")

        await pilot.press("question_mark")
        await settle(pilot)
        assert_clean(app, "help")
        await pilot.press("escape")
        await pilot.press("ctrl+p")
        await settle(pilot)
        await pilot.press(*"deal")
        await settle(pilot)
        assert_clean(app, "command palette")
        await pilot.press("escape")
        await settle(pilot)

        app.notify(f"Saved {HOSTILE}", title=HOSTILE, markup=False)
        await settle(pilot)
        assert_clean(app, "notification")


async def test_a_pasted_escape_sequence_is_dropped_from_an_input(screens_crm: Crm) -> None:
    ids = seed(screens_crm)
    app = CrmApp(screens_crm)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await open_card(pilot, "deal", ids["deal"])
        await pilot.press("y")
        await settle(pilot)
        box = app.screen.query_one("#field-name", Input)
        box.value = ""
        box.insert_text_at_cursor(f"Copy {OSC0}{CSI_2J}")
        await settle(pilot)
        assert box.value == "Copy "
        assert_clean(app, "copy dialog after a paste")
