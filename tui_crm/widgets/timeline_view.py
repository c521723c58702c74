"""A record's timeline: notes, calls, tasks and changes, pinned notes first.

The order comes from ``services.notes.timeline`` (pinned first, then newest
first); this widget only draws it. Every text is untrusted (a note may hold
``\\x1b[2J`` or ``[bold]``), so each entry is a plain ``Text`` in an
``OptionList`` with markup off. The highlighted entry is what the card's
pin key acts on.
"""

from __future__ import annotations

from collections.abc import Sequence

from rich.text import Text
from textual.widgets import OptionList
from textual.widgets.option_list import Option

from tui_crm.services.context import Crm
from tui_crm.services.views import TimelineItem
from tui_crm.widgets.plain_text import clean, when

KIND_LABELS = {
    "note": "Note", "call": "Call", "email": "E-mail", "task": "Task", "stage": "Stage",
    "field": "Change", "created": "Created", "system": "System",
}
PINNABLE = ("note", "call")


def entry_text(item: TimelineItem, crm: Crm) -> Text:
    """Two lines: the heading (pin, time, kind, author) and the text."""
    heading = Text(no_wrap=True)
    if item.pinned:
        heading.append("▲ pinned  ", style="bold yellow")
    heading.append(when(item.at, crm), style="dim")
    heading.append(f"  {KIND_LABELS.get(item.kind, item.kind)}", style="bold")
    if item.author:
        heading.append(f"  {clean(item.author, one_line=True)}", style="dim")
    body = Text(clean(item.text), style="" if item.kind in PINNABLE else "italic")
    return Text("\n").join([heading, body])


class TimelineView(OptionList):
    """The timeline as a list you can move through (and pin from)."""

    DEFAULT_CSS = """
    TimelineView {
        height: 1fr;
        border: none;
        &:focus { border: none; background-tint: $foreground 4%; }
        & > .option-list--option { padding: 0 1; }
    }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id, markup=False)
        self.items: list[TimelineItem] = []

    def show(self, items: Sequence[TimelineItem], crm: Crm, keep_ref: str | None = None) -> None:
        """Replace the entries; the highlight stays on ``keep_ref`` if given."""
        self.items = list(items)
        self.clear_options()
        if not self.items:
            self.add_option(Option(Text("No activity yet. n adds a note, t a task, c logs a call.", style="dim"), disabled=True))
            return
        self.add_options(Option(entry_text(item, crm), id=str(i)) for i, item in enumerate(self.items))
        index = next((i for i, item in enumerate(self.items) if keep_ref and item.ref_id == keep_ref), 0)
        self.highlighted = index

    @property
    def current(self) -> TimelineItem | None:
        if self.highlighted is None or not self.items or self.highlighted >= len(self.items):
            return None
        return self.items[self.highlighted]
