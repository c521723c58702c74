"""Merging two selected contacts or companies: which value each field keeps.

``MergeDialog`` shows the two records side by side (``services.merge``'s
plan): one row per field that either has, the side it keeps marked, and
what moves from the second record to the first (phones, e-mails, notes,
tasks, files, tags, deals). ``space`` switches the current field's side,
``x`` swaps which record stays, ``ctrl+s`` merges, ``escape`` leaves
everything as it was. The dialog only chooses: it dismisses with a
``MergeChoice`` and the list runs the merge (``z`` there undoes it).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, DataTable, Static

from tui_crm.screens.dialogs import DIALOGS_TCSS
from tui_crm.services.context import Crm
from tui_crm.services.merge import MergePlan, plan_merge
from tui_crm.widgets.app_contract import ReportsFailedWorkers
from tui_crm.widgets.plain_text import clean, error_message, plain

MOVE_LABELS = {
    "phones": "phone",
    "emails": "e-mail",
    "messengers": "messenger",
    "tags": "tag",
    "notes": "note",
    "tasks": "task",
    "files": "file",
    "deals": "deal",
    "contacts": "contact",
}


@dataclass(frozen=True)
class MergeChoice:
    """What the user chose: ``b`` is folded into ``a``; ``keep`` field -> "a" | "b"."""

    a: str
    b: str
    keep: dict[str, str]


def moves_line(moves: dict[str, int]) -> str:
    """``2 phones, 1 e-mail, 3 deals`` (or "nothing else")."""
    parts = [f"{n} {MOVE_LABELS.get(k, k)}{'' if n == 1 else 's'}" for k, n in moves.items() if n]
    return ", ".join(parts) or "nothing else"


class MergeDialog(ReportsFailedWorkers, ModalScreen[MergeChoice | None]):
    """Pick the surviving value of each field, then merge (see the module docstring)."""

    CSS_PATH = DIALOGS_TCSS
    DEFAULT_CLASSES = "form-dialog"

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("space", "toggle", "Keep other value", id="merge.toggle"),
        Binding("x", "swap", "Swap which stays", id="merge.swap"),
        Binding("ctrl+s", "merge", "Merge", id="merge.save"),
        Binding("escape", "cancel", "Cancel", id="merge.cancel"),
    ]

    def __init__(self, crm: Crm, entity_type: str, a_id: str, b_id: str) -> None:
        super().__init__()
        self.crm = crm
        self.entity_type = entity_type
        self.a_id, self.b_id = a_id, b_id
        self.plan: MergePlan | None = None
        self.keep: dict[str, str] = {}

    def compose(self) -> ComposeResult:
        noun = "contacts" if self.entity_type == "contact" else "companies"
        with Vertical(classes="dialog"):
            yield Static(f"Merge {noun}", classes="dialog-title", markup=False)
            yield Static("", id="merge-intro", classes="dialog-intro", markup=False)
            table: DataTable[Text] = DataTable(id="merge-fields", cursor_type="row", zebra_stripes=True)
            yield table
            yield Static("", id="merge-moves", classes="dialog-intro", markup=False)
            yield Static("", id="merge-error", classes="dialog-error", markup=False)
            with Horizontal(classes="dialog-buttons"):
                yield Button("ctrl+s Merge", variant="primary", id="merge-save")
                yield Button("x Swap", id="merge-swap")
                yield Button("Cancel", id="merge-cancel")

    def on_mount(self) -> None:
        self._load()

    @work(thread=True, exclusive=True, group="merge-plan", exit_on_error=False)
    def _load(self) -> None:
        try:
            plan = plan_merge(self.crm, self.entity_type, self.a_id, self.b_id)
        except Exception as exc:  # a record deleted meanwhile: say so, keep the dialog
            self.app.call_from_thread(self._show_error, error_message(exc))
            return
        self.app.call_from_thread(self._show, plan)

    def _show(self, plan: MergePlan) -> None:
        self.plan = plan
        self.keep = dict(plan.keep)
        a, b = clean(plan.a.name, one_line=True), clean(plan.b.name, one_line=True)
        self.query_one("#merge-intro", Static).update(
            plain(f"«{b}» is folded into «{a}» and deleted; space picks the other value of a field, z on the list undoes.")
        )
        table = self.query_one("#merge-fields", DataTable)
        table.clear(columns=True)
        table.add_column("Field", key="field", width=12)
        table.add_column(Text(f"Stays: {a}"[:32]), key="a", width=30)
        table.add_column(Text(f"Goes: {b}"[:32]), key="b", width=30)
        table.add_column("Keeps", key="keep", width=8)
        for item in plan.fields:
            if not (item.a or item.b):
                continue
            table.add_row(
                plain(item.label, one_line=True),
                *self._cells(item.key, item.a, item.b),
                key=item.key,
            )
        self.query_one("#merge-moves", Static).update(plain(f"From «{b}» to «{a}»: {moves_line(plan.moves)}"))
        table.focus()

    def _cells(self, key: str, a: str | None, b: str | None) -> tuple[Text, Text, Text]:
        side = self.keep.get(key, "a")
        return (
            plain(a, one_line=True, style="bold" if side == "a" else "dim"),
            plain(b, one_line=True, style="bold" if side == "b" else "dim"),
            Text("← a" if side == "a" else "b →", style="bold"),
        )

    def _show_error(self, text: str) -> None:
        error = self.query_one("#merge-error", Static)
        error.update(plain(text))
        error.add_class("-shown")

    def action_toggle(self) -> None:
        table = self.query_one("#merge-fields", DataTable)
        if self.plan is None or table.row_count == 0:
            return
        key = str(table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value)
        self.keep[key] = "b" if self.keep.get(key) == "a" else "a"
        item = next(f for f in self.plan.fields if f.key == key)
        for column, cell in zip(("a", "b", "keep"), self._cells(key, item.a, item.b), strict=True):
            table.update_cell(key, column, cell)

    def action_swap(self) -> None:
        self.a_id, self.b_id = self.b_id, self.a_id
        self._load()

    def action_merge(self) -> None:
        if self.plan is not None:
            self.dismiss(MergeChoice(self.plan.a.id, self.plan.b.id, dict(self.keep)))

    def action_cancel(self) -> None:
        self.dismiss(None)

    @on(Button.Pressed)
    def _pressed(self, event: Button.Pressed) -> None:
        action = {"merge-save": self.action_merge, "merge-swap": self.action_swap}.get(event.button.id or "", self.action_cancel)
        action()
