"""SVG snapshots of the board and its dialogs (``--snapshot-update`` to refresh).

Each snapshot waits for the board's workers before the frame is taken, and
turns off input cursor blinking, so frames are reproducible. Names start
with ``test_app_`` so they never collide with the other screens' snapshots.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from textual.pilot import Pilot
from textual.widgets import Input

from tui_crm.app import make_app
from tui_crm.services.context import Crm

SnapCompare = Callable[..., bool]
Settle = Callable[..., Awaitable[None]]


def ready(settle: Settle, *press: str) -> Callable[[Pilot[Any]], Awaitable[None]]:
    """A ``run_before``: wait for the board, press keys, wait again, stop blinking."""

    async def run_before(pilot: Pilot[Any]) -> None:
        await settle(pilot)
        if press:
            await pilot.press(*press)
            await settle(pilot)
        for field in pilot.app.screen.query(Input):
            field.cursor_blink = False
        await pilot.pause()

    return run_before


def test_app_board(crm: Crm, seeded: dict[str, str], settle: Settle, snap_compare: SnapCompare) -> None:
    assert snap_compare(make_app(crm), terminal_size=(100, 30), run_before=ready(settle))


def test_app_board_80x24(crm: Crm, seeded: dict[str, str], settle: Settle, snap_compare: SnapCompare) -> None:
    assert snap_compare(make_app(crm), terminal_size=(80, 24), run_before=ready(settle, "l", "j"))


def test_app_board_wide_light(crm: Crm, seeded: dict[str, str], settle: Settle, snap_compare: SnapCompare) -> None:
    crm.settings.theme = "light"

    assert snap_compare(make_app(crm), terminal_size=(240, 34), run_before=ready(settle, "space", "j", "space"))


def test_app_gate_form(crm: Crm, seeded: dict[str, str], settle: Settle, snap_compare: SnapCompare) -> None:
    assert snap_compare(make_app(crm), terminal_size=(100, 30), run_before=ready(settle, "right_square_bracket", *"12 тыщ"))


def test_app_help(crm: Crm, seeded: dict[str, str], settle: Settle, snap_compare: SnapCompare) -> None:
    assert snap_compare(make_app(crm), terminal_size=(100, 30), run_before=ready(settle, "question_mark"))
