"""The board's columns as widgets: which hold cards, and what a switch re-uses.

Only columns that have been on screen hold card widgets; one scrolled to
gets them then. A pipeline switch re-targets the mounted columns, hides the
ones a shorter pipeline does not need and shows them again later. Every
column on screen paints its first page even when the data arrives before the
column is mounted.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from tui_crm.app import CrmApp, make_app
from tui_crm.screens.board import BoardScreen
from tui_crm.services.context import Crm
from tui_crm.services.deals import LeadInput, capture_lead
from tui_crm.services.pipelines import list_pipelines
from tui_crm.widgets.board_column import BoardColumn
from tui_crm.widgets.deal_card import DealCard

pytestmark = pytest.mark.anyio

Settle = Callable[..., Awaitable[None]]


def column(app: CrmApp, key: str) -> BoardColumn:
    return next(c for c in app.board.columns if c.stage.key == key)


def shown(col: BoardColumn) -> list[str]:
    return [card.summary.name for card in col.cards if card.display and card.summary is not None]


async def switch_to(app: CrmApp, settle: Settle, pilot: Any, key: str) -> BoardScreen:
    board = app.board
    board.pipeline_key = key
    board.reload()
    await settle(pilot)
    return board


async def test_every_column_on_screen_paints_its_first_page(crm: Crm, seeded: dict[str, str], settle: Settle) -> None:
    app = make_app(crm)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        assert shown(column(app, "lead"))[0] == "CRM для сети клиник «Здоровье»"
        assert shown(column(app, "qualification")) == ["Портал Газпром"]
        assert shown(column(app, "estimate")) == ["Интеграция 1С"]


async def test_columns_off_screen_get_cards_when_scrolled_to(crm: Crm, seeded: dict[str, str], settle: Settle) -> None:
    app = make_app(crm)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        won = column(app, "won")
        assert won.count == 1 and won.cards == []  # never on screen yet: no widgets
        while app.board.column is not won:
            await pilot.press("l")
        await settle(pilot)
        assert shown(won) == ["Редизайн Wildberries"]
        assert len(won.cards) == won.slots
        assert len(app.board.query(DealCard)) == sum(len(c.cards) for c in app.board.columns)


async def test_switching_pipelines_reuses_and_hides_columns(crm: Crm, seeded: dict[str, str], settle: Settle) -> None:
    capture_lead(crm, LeadInput(name="Тендер на портал", pipeline="tenders"))
    pipelines = {p.key: p for p in list_pipelines(crm)}
    home, tenders = pipelines["sales20"], pipelines["tenders"]
    assert len(tenders.stages) < len(home.stages)
    app = make_app(crm)
    async with app.run_test(size=(120, 35)) as pilot:
        await settle(pilot)
        first = list(app.board.columns)
        await pilot.press(*"l" * len(first))  # the focus on the last column, which tenders does not need
        assert app.board.column is first[-1]
        board = await switch_to(app, settle, pilot, "tenders")
        assert [c.stage.key for c in board.columns] == [s.key for s in tenders.stages]
        assert board.columns == first[: len(tenders.stages)]  # the same widgets, re-targeted
        assert board.column is board.columns[-1]  # the focus moved off the hidden column
        lead = next(c for c in board.columns if c.stage.kind == "lead")
        assert shown(lead) == ["Тендер на портал"]
        board = await switch_to(app, settle, pilot, "sales20")
        assert board.columns == first  # the hidden column is shown again, none mounted
        assert shown(column(app, "lead"))[0] == "CRM для сети клиник «Здоровье»"
        assert shown(column(app, "qualification")) == ["Портал Газпром"]


async def test_keys_typed_faster_than_a_frame_each_move_one_column(crm: Crm, seeded: dict[str, str], settle: Settle) -> None:
    """'lll' arriving in one burst (key repeat, a fast typist) moves three columns, not one."""
    from textual import events

    app = make_app(crm)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        columns = app.board.columns
        start = columns.index(app.board.column)  # type: ignore[arg-type]
        for _ in range(3):
            app.post_message(events.Key("l", "l"))  # queued together, no frame in between
        await settle(pilot)
        assert columns.index(app.board.column) == start + 3  # type: ignore[arg-type]
        app.post_message(events.Key("h", "h"))
        app.post_message(events.Key("h", "h"))
        await settle(pilot)
        assert columns.index(app.board.column) == start + 1  # type: ignore[arg-type]
