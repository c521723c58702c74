"""Screens talk to the app through messages, and no worker fails in silence.

A worker that raises something other than a ``CrmError`` used to end
without a word: on the board's first load that also meant ``Ready`` was
never sent, so the status poll and the end of start-up never happened.
Now every failed worker of a screen reaches the app (``WorkerFailed``)
and is shown as a one-line notice, and the board still finishes starting.
The pipeline the board shows is the app's reactive ``pipeline_key``, set
by a message from the board, never written by the screen.
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Awaitable, Callable

import pytest
from textual.pilot import Pilot
from textual.worker import WorkerCancelled, WorkerFailed

from tui_crm.app import make_app
from tui_crm.screens.mass_action import ChoiceScreen
from tui_crm.services.context import Crm
from tui_crm.services.deals import LeadInput, capture_lead

pytestmark = pytest.mark.anyio

Settle = Callable[..., Awaitable[None]]


async def settle_failing(pilot: Pilot[None], rounds: int = 8) -> None:
    """Like ``settle``, but a worker that fails is what this test is about: wait, do not raise."""
    for _ in range(rounds):
        for worker in [w for w in pilot.app.workers if not w.is_finished]:
            with contextlib.suppress(WorkerFailed, WorkerCancelled):
                await worker.wait()
        await pilot.pause()


def break_a_row(crm: Crm) -> None:
    """A deal whose timestamps are not dates (another program wrote the file)."""
    deal = capture_lead(crm, LeadInput(name="Сломанная строка"))
    with sqlite3.connect(crm.settings.db_path) as db:
        db.execute("UPDATE deal SET created_at = 'garbage', updated_at = 'garbage' WHERE id = ?", (deal.id,))


async def test_a_broken_row_on_the_first_load_is_said_and_start_up_ends(crm: Crm) -> None:
    break_a_row(crm)
    app = make_app(crm)
    async with app.run_test(size=(120, 35)) as pilot:
        await settle_failing(pilot)
        errors = [n for n in app._notifications if n.severity == "error"]
        assert len(errors) == 1, [n.message for n in app._notifications]
        text = str(errors[0].message)
        assert "\n" not in text and "board-load failed" in text and "garbage" in text
        assert app._started  # Ready came: the status poll and the end of start-up ran
        assert app.board._footer is not None  # the keys are shown, the app is usable


async def test_the_pipeline_key_follows_the_board(crm: Crm, settle: Settle) -> None:
    capture_lead(crm, LeadInput(name="Сделка"))
    app = make_app(crm)
    async with app.run_test(size=(120, 35)) as pilot:
        await settle(pilot)
        assert app.pipeline_key == "sales20"
        await pilot.press("p")
        await settle(pilot)
        picker = app.screen
        assert isinstance(picker, ChoiceScreen)
        picker.dismiss("sales_rus")
        await settle(pilot)
        assert app.board.pipeline is not None and app.board.pipeline.key == "sales_rus"
        assert app.pipeline_key == "sales_rus"
