"""The board's filter (`/`): text, responsible, tag, overdue, no task.

It only builds a ``DealFilter``; the board re-queries its aggregates and
column pages with it, so a filter over 100k deals is still a handful of
indexed queries.
"""

from __future__ import annotations

from dataclasses import replace

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Checkbox, Footer, Input, Label, Select

from tui_crm.domain.text import safe_text
from tui_crm.screens.dialogs import DIALOGS_TCSS
from tui_crm.services.deal_queries import DealFilter
from tui_crm.services.users import list_users
from tui_crm.widgets.app_contract import ReportsFailedWorkers
from tui_crm.widgets.plain_text import SafeInput, crm_of


def describe_filter(flt: DealFilter) -> str:
    """One line for the board's title: ``«магнит» · Анна · #vip · overdue``."""
    parts: list[str] = []
    if flt.query:
        parts.append(f"«{flt.query}»")
    if flt.responsible:
        parts.append(f"@{flt.responsible}")
    if flt.tag:
        parts.append(f"#{flt.tag}")
    if flt.overdue:
        parts.append("overdue")
    if flt.no_open_task:
        parts.append("no task")
    return safe_text(" · ".join(parts), keep_newlines=False)


class FilterScreen(ReportsFailedWorkers, ModalScreen[DealFilter | None]):
    """Edit the board filter; Apply returns the new filter, Clear an empty one."""

    CSS_PATH = DIALOGS_TCSS

    BINDINGS = [
        Binding("ctrl+s", "apply", "Apply", id="form.apply"),
        Binding("ctrl+r", "clear", "Clear filter", id="form.clear"),
        Binding("escape", "cancel", "Cancel", id="form.cancel"),
    ]

    def __init__(self, current: DealFilter) -> None:
        super().__init__()
        self.current = current

    def compose(self) -> ComposeResult:
        flt = self.current
        with Vertical(id="filter-box"):
            yield Label(Text("Filter the board"), id="filter-title")
            with Horizontal(classes="filter-row"):
                yield Label("Text", classes="filter-label", markup=False)
                yield SafeInput(flt.query or "", placeholder="name, company, contact, phone…", id="filter-query", compact=True)
            with Horizontal(classes="filter-row"):
                yield Label("Responsible", classes="filter-label", markup=False)
                yield Select([], prompt="anyone", id="filter-responsible", compact=True)
            with Horizontal(classes="filter-row"):
                yield Label("Tag", classes="filter-label", markup=False)
                yield SafeInput(flt.tag or "", placeholder="vip", id="filter-tag", compact=True)
            with Horizontal(id="filter-checks"):
                yield Checkbox("Overdue tasks only", flt.overdue, id="filter-overdue", compact=True)
                yield Checkbox("No open task", flt.no_open_task, id="filter-no-task", compact=True)
            with Horizontal(id="filter-buttons"):
                yield Button("Apply", variant="primary", id="filter-apply", compact=True)
                yield Button("Clear", id="filter-clear", compact=True)
                yield Button("Cancel", id="filter-cancel", compact=True)
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#filter-query", Input).focus()
        self._load_users()

    @work(thread=True, exclusive=True, group="filter-users")
    def _load_users(self) -> None:
        names = [u.name for u in list_users(crm_of(self))]
        self.app.call_from_thread(self._set_users, names)

    def _set_users(self, names: list[str]) -> None:
        select: Select[str] = self.query_one("#filter-responsible", Select)
        select.set_options([(safe_text(n, keep_newlines=False), n) for n in names])
        if self.current.responsible in names:
            select.value = self.current.responsible

    def build(self) -> DealFilter:
        """The filter the form describes, on top of the board's other settings."""
        responsible = self.query_one("#filter-responsible", Select).value
        return replace(
            self.current,
            query=self.query_one("#filter-query", Input).value.strip() or None,
            responsible=None if responsible is Select.NULL else str(responsible),
            tag=self.query_one("#filter-tag", Input).value.strip().lstrip("#") or None,
            overdue=self.query_one("#filter-overdue", Checkbox).value,
            no_open_task=self.query_one("#filter-no-task", Checkbox).value,
        )

    @on(Input.Submitted)
    @on(Button.Pressed, "#filter-apply")
    def action_apply(self) -> None:
        self.dismiss(self.build())

    @on(Button.Pressed, "#filter-clear")
    def action_clear(self) -> None:
        self.dismiss(replace(self.current, query=None, responsible=None, tag=None, overdue=False, no_open_task=False))

    @on(Button.Pressed, "#filter-cancel")
    def action_cancel(self) -> None:
        self.dismiss(None)
