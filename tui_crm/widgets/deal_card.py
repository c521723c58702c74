"""A deal on the board: name, company or contact, task mark and budget.

Cards are recycled: a column keeps as many as fit its height and points
them at different deals as it scrolls (``card.show(summary)``), so a column
of 100k deals costs a handful of widgets. Every string from the store is
untrusted and rendered as plain ``Text`` after ``safe_text``: a deal named
``[bold red]x[/]`` shows exactly that.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

from rich.cells import cell_len
from rich.style import Style
from rich.text import Text
from textual import events
from textual.app import App
from textual.message import Message
from textual.widget import Widget

from tui_crm.domain.money import format_money
from tui_crm.domain.text import safe_text
from tui_crm.services.views import DealSummary

CARD_ROWS = 4
"""Rows a card takes in a column: three lines and a gap."""

MARKS = {
    "overdue": ("● overdue", "overdue"),
    "today": ("● today", "today"),
    "none": ("○ no task", "muted"),
}


def task_mark(summary: DealSummary) -> tuple[str, str]:
    """Mark text and its colour role (see :func:`text_styles`) for the next open task."""
    if summary.task_mark in MARKS:
        return MARKS[summary.task_mark]
    due = summary.next_task_due
    return (f"◷ {due:%d.%m}" if due else "◷ planned"), "planned"


_STYLE_CACHE: dict[str, dict[str, Style]] = {}


def text_styles(app: App[object]) -> dict[str, Style]:
    """Text colours by role for the current theme: readable on light and dark.

    Taken from the theme's ``text-*`` variables once per theme rather than
    from per-widget component classes: styling ~100 recycled cards through
    CSS component classes was the largest cost of opening the board.
    """
    cached = _STYLE_CACHE.get(app.theme)
    if cached is None:
        colors = app.theme_variables
        cached = {
            "name": Style(bold=True),
            "muted": Style(dim=True),
            "overdue": Style(color=colors.get("text-error"), bold=True),
            "today": Style(color=colors.get("text-warning"), bold=True),
            "planned": Style(color=colors.get("text-success")),
            "check": Style(color=colors.get("text-primary"), bold=True),
            "accent": Style(color=colors.get("text-accent") or colors.get("text-primary"), bold=True),
            "won": Style(color=colors.get("text-success"), bold=True),
            "lost": Style(color=colors.get("text-error"), bold=True),
            "new": Style(color=colors.get("text-warning"), bold=True),
            "rule": Style(color=colors.get("panel-lighten-2")),
            "rule-focus": Style(color=colors.get("accent")),
        }
        _STYLE_CACHE[app.theme] = cached
    return cached


def whole_money(amount: Decimal, currency: str) -> str:
    """Money rounded to whole units: a board is read at a glance."""
    return format_money(amount.quantize(Decimal(1), rounding=ROUND_HALF_UP), currency)


def budget_text(summary: DealSummary) -> str:
    """RUB budget, else USD, else a dash."""
    if summary.budget_rub is not None:
        return whole_money(summary.budget_rub, "RUB")
    if summary.budget_usd is not None:
        return whole_money(summary.budget_usd, "USD")
    return "—"


def _fit(text: Text, width: int) -> Text:
    text.truncate(max(width, 1), overflow="ellipsis")
    return text


class DealCard(Widget):
    """Three plain-text lines about one deal; not focusable (its column is)."""

    DEFAULT_CSS = """
    DealCard {
        height: 3;
        margin-bottom: 1;
        padding: 0 1;
        background: $boost;
        border-left: tall $panel-lighten-2;
    }
    DealCard.-selected { background: $primary 18%; border-left: tall $primary; }
    DealCard.-cursor { border-left: tall $foreground 40%; }
    DealCard.-cursor.-focused { border-left: thick $accent; background: $accent 15%; }
    DealCard.-selected.-cursor.-focused { background: $primary 30%; }
    """

    class Clicked(Message):
        """The user clicked a card (the column moves its cursor there)."""

        def __init__(self, card: DealCard) -> None:
            super().__init__()
            self.card = card

    def __init__(self, slot: int) -> None:
        super().__init__()
        self.slot = slot
        self.summary: DealSummary | None = None
        self.selected = False

    def show(self, summary: DealSummary | None, *, selected: bool = False, cursor: bool = False, focused: bool = False) -> None:
        """Point this card at a deal (None: a row still loading)."""
        changed = summary is not self.summary or selected != self.selected
        self.summary = summary
        self.selected = selected
        self.set_class(selected, "-selected")
        self.set_class(cursor, "-cursor")
        self.set_class(focused, "-focused")
        if changed:
            self.refresh()

    def render(self) -> Text:
        width = self.content_region.width or self.size.width
        styles = text_styles(self.app)
        summary = self.summary
        if summary is None:
            return Text("…", style=styles["muted"])
        name = Text()
        if self.selected:
            name.append("✓ ", style=styles["check"])
        name.append(safe_text(summary.name, keep_newlines=False), style=styles["name"])
        who = summary.company or summary.main_contact or "—"
        meta = Text(safe_text(who, keep_newlines=False), style=styles["muted"])
        mark, role = task_mark(summary)
        money = budget_text(summary)
        gap = max(width - cell_len(mark) - cell_len(money), 1)
        bottom = Text(mark, style=styles[role])
        bottom.append(" " * gap)
        bottom.append(money)
        return Text("\n").join([_fit(name, width), _fit(meta, width), _fit(bottom, width)])

    def on_click(self, event: events.Click) -> None:
        event.stop()
        self.post_message(self.Clicked(self))
