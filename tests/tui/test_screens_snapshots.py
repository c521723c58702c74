"""SVG snapshots of the list, card, agenda and unsorted screens.

The store, the clock and the terminal size are fixed, so a change in a
snapshot is a change in what people see: look at the SVG before accepting
it with ``--snapshot-update``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from screens_fixtures import SIZE, ScreensApp, seed_screens, settle
from screens_fixtures import screens_crm as screens_crm  # noqa: F401 - the fixture
from textual.pilot import Pilot
from textual.screen import Screen
from textual.widgets import Input

from tui_crm.screens.agenda import AgendaScreen
from tui_crm.screens.card import CardScreen
from tui_crm.screens.lists import ListScreen
from tui_crm.screens.unsorted import UnsortedScreen
from tui_crm.services.context import Crm
from tui_crm.widgets.field_editor import FieldRow

SnapCompare = Callable[..., bool]


def settled(*keys: str, before: Callable[[Pilot[None]], None] | None = None) -> Callable[[Pilot[None]], Awaitable[None]]:
    """Wait for the screen's data, optionally act, press ``keys``, wait again."""

    async def run(pilot: Pilot[None]) -> None:
        await settle(pilot)
        if before is not None:
            before(pilot)
            await settle(pilot)
        for key in keys:
            await pilot.press(key)
            await settle(pilot)
        for field in pilot.app.screen.query(Input):
            field.cursor_blink = False  # a blink between frames must not fail a snapshot
        await pilot.pause()

    return run


def snap(snap_compare: SnapCompare, crm: Crm, make: Callable[[], Screen[None]], *keys: str, size: tuple[int, int] = SIZE,
         before: Callable[[Pilot[None]], None] | None = None) -> bool:
    return snap_compare(ScreensApp(crm, make), terminal_size=size, run_before=settled(*keys, before=before))


def test_deals_list(snap_compare: SnapCompare, screens_crm: Crm) -> None:
    seed_screens(screens_crm)
    assert snap(snap_compare, screens_crm, lambda: ListScreen("deals"), "space")


def test_contacts_list_with_markup_name(snap_compare: SnapCompare, screens_crm: Crm) -> None:
    seed_screens(screens_crm)
    assert snap(snap_compare, screens_crm, lambda: ListScreen("contacts"))


def test_deal_card(snap_compare: SnapCompare, screens_crm: Crm) -> None:
    ids = seed_screens(screens_crm)
    assert snap(snap_compare, screens_crm, lambda: CardScreen("deal", ids["deal"]))


def test_contact_card_with_refused_phone(snap_compare: SnapCompare, screens_crm: Crm) -> None:
    ids = seed_screens(screens_crm)

    def focus_phone(pilot: Pilot[None]) -> None:
        next(r for r in pilot.app.screen.query(FieldRow) if r.spec.key == "phone").focus()

    keys = ("e", *"8916abc", "enter")
    assert snap(snap_compare, screens_crm, lambda: CardScreen("contact", ids["contact"]), *keys, before=focus_phone)


def test_company_card_at_80x24(snap_compare: SnapCompare, screens_crm: Crm) -> None:
    ids = seed_screens(screens_crm)
    assert snap(snap_compare, screens_crm, lambda: CardScreen("company", ids["company"]), size=(80, 24))


def test_agenda(snap_compare: SnapCompare, screens_crm: Crm) -> None:
    seed_screens(screens_crm)
    assert snap(snap_compare, screens_crm, AgendaScreen)


def test_agenda_complete_dialog(snap_compare: SnapCompare, screens_crm: Crm) -> None:
    seed_screens(screens_crm)
    assert snap(snap_compare, screens_crm, AgendaScreen, "x")


def test_unsorted(snap_compare: SnapCompare, screens_crm: Crm) -> None:
    seed_screens(screens_crm)
    assert snap(snap_compare, screens_crm, lambda: UnsortedScreen("sales20"), "down")


def test_contact_card_remove_phone_question(snap_compare: SnapCompare, screens_crm: Crm) -> None:
    ids = seed_screens(screens_crm)

    def focus_phone(pilot: Pilot[None]) -> None:
        next(r for r in pilot.app.screen.query(FieldRow) if r.spec.removable == ("phone", "+79161234567")).focus()

    assert snap(snap_compare, screens_crm, lambda: CardScreen("contact", ids["contact"]), "delete", before=focus_phone)


def test_deal_card_contact_picker(snap_compare: SnapCompare, screens_crm: Crm) -> None:
    """Results are plain text: the markup-named contact shows its brackets."""
    ids = seed_screens(screens_crm)
    keys = ("plus", *"x@exam", "enter")
    assert snap(snap_compare, screens_crm, lambda: CardScreen("deal", ids["deal"]), *keys)
