"""The `?` screen: the keys of the screen you were on, grouped.

It is fed by :func:`tui_crm.commands.screen_actions`, the same registry the
footer and the command palette read, so it lists exactly what works.
"""

from __future__ import annotations

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Label, Static

from tui_crm.commands import ActionEntry

TITLES = {
    "board": "Board",
    "nav": "Moving around",
    "form": "Form",
    "app": "Everywhere",
}


class HelpScreen(ModalScreen[None]):
    """Keys and palette commands of the screen underneath, by category."""

    DEFAULT_CSS = """
    HelpScreen { align: center middle; }
    HelpScreen > #help-box {
        width: 96;
        max-width: 100%;
        height: auto;
        max-height: 90%;
        border: round $accent;
        background: $surface;
        padding: 0 1;
    }
    HelpScreen #help-title { text-style: bold; width: 1fr; content-align: center middle; }
    HelpScreen #help-body { height: auto; max-height: 100%; }
    HelpScreen #help-columns { height: auto; }
    HelpScreen .help-table { width: 1fr; padding: 1 1 0 0; }
    HelpScreen #help-hint { color: $text-muted; width: 1fr; content-align: center middle; }
    """

    BINDINGS = [
        Binding("escape,question_mark,q", "close", "Close", id="help.close"),
    ]

    def __init__(self, entries: list[ActionEntry], title: str = "Keys") -> None:
        super().__init__()
        self.entries = entries
        self.title_text = title

    def compose(self) -> ComposeResult:
        left, right = self._columns()
        with Vertical(id="help-box"):
            yield Label(Text(self.title_text), id="help-title")
            with VerticalScroll(id="help-body"), Horizontal(id="help-columns"):
                yield Static(self._table(left), classes="help-table")
                yield Static(self._table(right), classes="help-table")
            yield Label(Text("ctrl+p runs any of these by name · esc closes"), id="help-hint")

    def _columns(self) -> tuple[list[tuple[str, list[ActionEntry]]], list[tuple[str, list[ActionEntry]]]]:
        """Groups split into two columns of about equal length, order kept."""
        groups: dict[str, list[ActionEntry]] = {}
        for entry in self.entries:
            groups.setdefault("nav" if entry.navigation else entry.category, []).append(entry)
        ordered = list(groups.items())
        heights = [len(group) + 2 for _, group in ordered]
        split = min(range(1, len(ordered) + 1), key=lambda at: max(sum(heights[:at]), sum(heights[at:])))
        return ordered[:split], ordered[split:]

    @staticmethod
    def _table(groups: list[tuple[str, list[ActionEntry]]]) -> Table:
        table = Table.grid(padding=(0, 2))
        table.add_column(style="bold", no_wrap=True, min_width=8)
        table.add_column()
        for index, (category, group) in enumerate(groups):
            if index:
                table.add_row(Text(""), Text(""))
            table.add_row(Text(TITLES.get(category, category.capitalize()), style="bold underline"), Text(""))
            for entry in group:
                key = Text(entry.key or "palette", style="" if entry.key else "dim italic")
                table.add_row(key, Text(entry.description, style="" if entry.enabled else "dim"))
        return table

    def action_close(self) -> None:
        self.dismiss(None)
