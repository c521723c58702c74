"""Driving a card with the Pilot: reply to the first mail entry of its timeline."""

from __future__ import annotations

from typing import Any

from tests.tui.screens_fixtures import settle


async def reply_from_card(pilot: Any, text: str) -> None:
    """Enter on the first mail entry, r in the message, type ``text`` after To/Cc/Subject, ctrl+s."""
    from tui_crm.screens.card import CardScreen
    from tui_crm.widgets.form_dialog import FormDialog
    from tui_crm.widgets.timeline_view import TimelineView

    app = pilot.app
    assert isinstance(app.screen, CardScreen)
    view = app.screen.query_one(TimelineView)
    view.focus()
    view.highlighted = next(i for i, item in enumerate(view.items) if item.kind == "email")
    await pilot.press("enter")
    await settle(pilot)
    await pilot.press("r")
    await settle(pilot)
    assert isinstance(app.screen, FormDialog)
    for key in ("tab", "tab", "tab"):  # To and Subject are filled in; on to the text
        await pilot.press(key)
    await pilot.press(*text)
    await pilot.press("ctrl+s")
    await settle(pilot, rounds=8)
    assert isinstance(app.screen, CardScreen)
