"""The status line every screen shows: who is working, what waits for sync.

It also shows a running sync's progress (``⟳ syncing… pull deals 120/400``)
and, when some are open, how many sync conflicts wait to be resolved.

The app polls the store (``services.status``) in a worker and publishes a
:class:`StoreStatus` on ``app.status_signal``; each bar subscribes, so no
bar ever queries the database itself. A screen may add its own context on
the right (pipeline, filter, selection) through :attr:`StatusBar.context`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.reactive import reactive
from textual.widgets import Label

from tui_crm.domain.text import safe_text


@dataclass(frozen=True)
class StoreStatus:
    """What the bar shows about the store; ``now`` dates the last sync.

    ``now`` does not take part in comparisons, so a poll that finds nothing
    new does not repaint every bar. ``conflicts`` counts open sync conflicts
    and notices; ``syncing`` is the progress of a running sync ("" when none).
    """

    user: str
    pending: int
    last_sync: datetime | None
    now: datetime | None = field(default=None, compare=False)
    conflicts: int = 0
    syncing: str = ""
    demo: bool = False  # the seeded demo store: never synced, its rows are no one's changes
    new_mail: int = 0  # incoming mail fetched since the app started
    hub: str = ""  # the team hub this store syncs with ("hub host/db · live" while listening), "" when none


def describe_sync(status: StoreStatus) -> str:
    """``3 changes to sync · synced today 14:05`` (or ``never synced``)."""
    if status.demo:
        return "demo data · never synced"
    pending = "all synced" if status.pending == 0 else f"{status.pending} change{'s' if status.pending != 1 else ''} to sync"
    if status.last_sync is None:
        return f"{pending} · never synced"
    when = status.last_sync
    if status.now is not None and when.date() == status.now.date():
        stamp = f"today {when:%H:%M}"
    else:
        stamp = f"{when:%d.%m.%Y %H:%M}"
    return f"{pending} · synced {stamp}"


class StatusBar(Horizontal):
    """One line above the footer: user and sync state left, screen context right."""

    DEFAULT_CSS = """
    StatusBar {
        dock: bottom;
        height: 1;
        background: $panel;
        color: $text-muted;
        padding: 0 1;
    }
    StatusBar.-above-footer { margin-bottom: 1; }
    StatusBar > #status-left { width: 1fr; }
    StatusBar > #status-right { width: auto; color: $text; }
    """

    context: reactive[str] = reactive("", init=False)
    """Screen-specific text on the right (plain text, never markup)."""

    def compose(self) -> ComposeResult:
        yield Label(id="status-left", markup=False)
        yield Label(id="status-right", markup=False)

    def on_mount(self) -> None:
        from textual.widgets import Footer

        self.set_class(bool(self.screen.query(Footer)), "-above-footer")
        signal = getattr(self.app, "status_signal", None)
        if signal is not None:
            signal.subscribe(self, self.show_status)
        current = getattr(self.app, "store_status", None)
        if isinstance(current, StoreStatus):
            self.show_status(current)
        self.watch_context(self.context)

    def show_status(self, status: StoreStatus) -> None:
        """Render a fresh :class:`StoreStatus` (called by the app's signal)."""
        text = Text()
        text.append(f"● {safe_text(status.user, keep_newlines=False)}", style="bold")
        if status.syncing:
            text.append(f"  ⟳ syncing… {safe_text(status.syncing, keep_newlines=False)}", style="bold")
        else:
            text.append(f"  ⇅ {describe_sync(status)}")
        if status.hub:
            text.append(f"  ⛁ {safe_text(status.hub, keep_newlines=False)}")
        if status.new_mail > 0:
            text.append(f"  ✉ {status.new_mail} new mail", style="bold")
        if status.conflicts > 0:
            plural = "s" if status.conflicts != 1 else ""
            text.append(f"  ⚠ {status.conflicts} sync conflict{plural}", style="bold yellow")
        self.query_one("#status-left", Label).update(text)

    def watch_context(self, context: str) -> None:
        self.query_one("#status-right", Label).update(Text(safe_text(context, keep_newlines=False)))
