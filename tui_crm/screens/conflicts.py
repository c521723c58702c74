"""Sync conflicts: fields changed both here and in amoCRM, and sync notices.

Each open conflict is one row: the record, the field, and the value both
sides agreed on at the last sync (base), the local value and the remote
one. ``l`` keeps the local value (sent at the next sync), ``r`` keeps the
remote one (written here), ``e`` types another value (written here and
sent). Gate and deletion notices are listed too: ``r`` acknowledges them,
``l`` undoes the remote change here (see ``services.sync.resolve_conflict``).
A resolved row disappears.

Values come from both stores and from other people: they are shown as
plain text with escape sequences stripped, never as markup.
"""

from __future__ import annotations

from typing import Any, ClassVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.message import Message
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Static

from tui_crm.services.context import Crm
from tui_crm.services.sync import ConflictView, list_conflicts, resolve_conflict
from tui_crm.widgets.app_contract import ReportsFailedWorkers, StoreChanged
from tui_crm.widgets.form_dialog import FormDialog, FormField
from tui_crm.widgets.plain_text import EMPTY, clean, crm_of, error_message, plain

ENTITY_WORDS = {"deal": "Deal", "contact": "Contact", "company": "Company", "task": "Task", "note": "Note"}
FIELD_LABELS = {
    "name": "Name",
    "budget_rub": "Budget ₽",
    "budget_usd": "Budget $",
    "stage_id": "Stage",
    "pipeline_id": "Pipeline",
    "responsible_id": "Responsible",
    "position": "Position",
    "phones": "Phones",
    "emails": "E-mails",
    "tags": "Tags",
    "text": "Text",
    "due_at": "Due",
    "completed": "Completed",
    "deleted": "Deleted",
}
KIND_WORDS = {
    "conflict": "",
    "gate": "stage gate notice",
    "deleted": "deleted remotely",
    "match": "held: matches several amoCRM records",
}
CELL_WIDTH = 24
RECORD_WIDTH = 40


def field_label(crm: Crm, entity: str, field_name: str) -> str:
    """``Город`` for ``custom.city`` of a deal, ``Budget ₽`` for ``budget_rub``."""
    if field_name.startswith("custom."):
        key = field_name.split(".", 1)[1]
        try:
            defs = crm.pipelines.custom_fields_for(entity)
        except KeyError:
            defs = {}
        if key in defs:
            return defs[key].label
        return key
    return FIELD_LABELS.get(field_name, field_name)


def shown(conflict: ConflictView, side: str) -> str:
    """A side's value as the services show it (``ConflictView.shown``: the CLI prints the same)."""
    return conflict.shown.get(side) or EMPTY


def cell(value: str, style: str = "", width: int = CELL_WIDTH) -> Text:
    """One table cell: plain text on one line, cut with an ellipsis (the detail below shows it all)."""
    text = plain(value, one_line=True, style=style)
    text.truncate(width, overflow="ellipsis")
    return text


class ConflictsScreen(ReportsFailedWorkers, Screen[None]):
    """Open sync conflicts and notices; see the module docstring."""

    CSS_PATH = "conflicts.tcss"

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "back", "Back", id="conflicts.back"),
        Binding("l", "keep('local')", "Keep local", id="conflicts.keep_local"),
        Binding("r", "keep('remote')", "Keep remote", id="conflicts.keep_remote"),
        Binding("e", "type_value", "Type a value", id="conflicts.type_value"),
        Binding("ctrl+r", "reload", "Reload", show=False, id="conflicts.reload"),
    ]

    class Loaded(Message):
        def __init__(self, conflicts: list[ConflictView] | None, error: str | None = None) -> None:
            super().__init__()
            self.conflicts = conflicts
            self.error = error

    class Resolved(Message):
        def __init__(self, conflict_id: str, done: ConflictView | None, error: str | None = None) -> None:
            super().__init__()
            self.conflict_id = conflict_id
            self.done = done
            self.error = error

    def __init__(self) -> None:
        super().__init__()
        self.conflicts: list[ConflictView] = []
        self.busy: set[str] = set()

    def compose(self) -> ComposeResult:
        with Vertical(id="conflicts-header"):
            yield Static(Text("Sync conflicts", style="bold"), id="conflicts-title")
            yield Static("", id="conflicts-summary")
        table: DataTable[Text] = DataTable(id="conflicts-table", cursor_type="row", zebra_stripes=True)
        yield table
        yield Static("", id="conflicts-detail")
        yield Footer()

    def on_mount(self) -> None:
        table = self.query_one("#conflicts-table", DataTable)
        for key, label in (("record", "Record"), ("field", "Field"), ("base", "Base"), ("local", "Local"), ("remote", "Remote")):
            table.add_column(Text(label), key=key)
        table.focus()

    def on_screen_resume(self) -> None:
        self.action_reload()

    # ---- loading ------------------------------------------------------
    def action_reload(self) -> None:
        self._load()

    def reload(self) -> None:
        """Called by the app after a sync."""
        self._load()

    @work(thread=True, exclusive=True, group="conflicts-load", exit_on_error=False)
    def _load(self) -> None:
        try:
            conflicts = list_conflicts(crm_of(self))
        except Exception as exc:  # shown in the header
            self.post_message(self.Loaded(None, error_message(exc)))
            return
        self.post_message(self.Loaded(conflicts))

    def on_conflicts_screen_loaded(self, message: Loaded) -> None:
        if message.conflicts is None:
            self.query_one("#conflicts-summary", Static).update(plain(message.error))
            return
        self.conflicts = [c for c in message.conflicts if c.id not in self.busy]
        self._fill()

    def _fill(self) -> None:
        table = self.query_one("#conflicts-table", DataTable)
        keep = table.cursor_row
        table.clear()
        crm = crm_of(self)
        for conflict in self.conflicts:
            record = f"{ENTITY_WORDS.get(conflict.entity, conflict.entity)} «{conflict.record_name}»"
            label = field_label(crm, conflict.entity, conflict.field)
            kind = KIND_WORDS.get(conflict.kind, conflict.kind)
            table.add_row(
                cell(record, "bold", RECORD_WIDTH),
                cell(f"{label} ({kind})" if kind else label),
                cell(shown(conflict, "base"), "dim"),
                cell(shown(conflict, "local")),
                cell(shown(conflict, "remote")),
                key=conflict.id,
            )
        if self.conflicts:
            table.move_cursor(row=min(keep, len(self.conflicts) - 1))
        self._summary()
        self._show_detail()

    def _summary(self) -> None:
        count = len(self.conflicts)
        if count == 0:
            text = Text("Nothing to resolve: local and remote agree.", style="dim")
        else:
            text = Text(f"{count} open · l keeps local, r keeps remote, e types another value")
        self.query_one("#conflicts-summary", Static).update(text)

    @property
    def current(self) -> ConflictView | None:
        table = self.query_one("#conflicts-table", DataTable)
        if not self.conflicts or table.cursor_row < 0 or table.cursor_row >= len(self.conflicts):
            return None
        return self.conflicts[table.cursor_row]

    @on(DataTable.RowHighlighted, "#conflicts-table")
    def _show_detail(self) -> None:
        """The highlighted conflict in full (long values, notice text), below the table."""
        conflict = self.current
        detail = self.query_one("#conflicts-detail", Static)
        if conflict is None:
            detail.update("")
            return
        crm = crm_of(self)
        text = Text()
        text.append(f"{ENTITY_WORDS.get(conflict.entity, conflict.entity)} «", style="bold")
        text.append(clean(conflict.record_name, one_line=True), style="bold")
        text.append("» · ", style="bold")
        text.append(clean(field_label(crm, conflict.entity, conflict.field), one_line=True), style="bold")
        for side in ("base", "local", "remote"):
            text.append(f"\n{side:<7}", style="dim")
            text.append(clean(shown(conflict, side)))
        if conflict.detail:
            text.append("\n")
            text.append(clean(conflict.detail), style="italic")
        detail.update(text)

    # ---- resolving ----------------------------------------------------
    def action_keep(self, keep: str) -> None:
        conflict = self.current
        if conflict is None:
            self.notify("Nothing to resolve.", severity="warning", markup=False)
            return
        self._start(conflict, keep)

    def action_type_value(self) -> None:
        conflict = self.current
        if conflict is None:
            self.notify("Nothing to resolve.", severity="warning", markup=False)
            return
        if conflict.kind != "conflict":
            self.notify("A notice is resolved with r (acknowledge) or l (undo it here).", severity="warning", markup=False)
            return
        crm = crm_of(self)
        label = field_label(crm, conflict.entity, conflict.field)
        intro = Text()
        intro.append(clean(conflict.record_name, one_line=True), style="bold")
        intro.append(f"\nlocal: {clean(shown(conflict, 'local'), one_line=True)}")
        intro.append(f"\nremote: {clean(shown(conflict, 'remote'), one_line=True)}")
        intro.append("\nThe value is written here and sent at the next sync; empty clears the field.")
        current = shown(conflict, "local")

        def submit(values: dict[str, Any]) -> ConflictView:
            return resolve_conflict(crm, conflict.id, str(values["value"]))

        def done(view: ConflictView | None) -> None:
            if view is not None:
                self._resolved(conflict.id, view)

        dialog: FormDialog[ConflictView] = FormDialog(
            "Resolve with another value",
            [FormField("value", label, value="" if current == EMPTY else current, aliases=(conflict.field,))],
            submit,
            intro=intro,
            save_label="Resolve",
        )
        self.app.push_screen(dialog, done)

    def _start(self, conflict: ConflictView, keep: str) -> None:
        if conflict.id in self.busy:
            return
        self.busy.add(conflict.id)
        self._resolve(conflict.id, keep)

    @work(thread=True, exit_on_error=False)
    def _resolve(self, conflict_id: str, keep: str) -> None:
        try:
            done = resolve_conflict(crm_of(self), conflict_id, keep)
        except Exception as exc:  # reported; the row stays
            self.post_message(self.Resolved(conflict_id, None, error_message(exc)))
            return
        self.post_message(self.Resolved(conflict_id, done))

    def on_conflicts_screen_resolved(self, message: Resolved) -> None:
        self.busy.discard(message.conflict_id)
        if message.done is None:
            self.notify(message.error or "Could not resolve", title="Conflict", severity="error", markup=False)
            return
        self._resolved(message.conflict_id, message.done)

    def _resolved(self, conflict_id: str, done: ConflictView) -> None:
        before = len(self.conflicts)
        self.conflicts = [c for c in self.conflicts if c.id != conflict_id]
        if len(self.conflicts) != before:
            table = self.query_one("#conflicts-table", DataTable)
            table.remove_row(conflict_id)
            self._summary()
            self._show_detail()
        what = {"local": "kept local", "remote": "kept remote", "value": "new value set", "ack": "acknowledged"}
        name = clean(done.record_name, one_line=True)
        self.notify(f"«{name}» {done.field}: {what.get(done.resolution or '', done.resolution or 'resolved')}", markup=False)
        self.post_message(StoreChanged())

    def action_back(self) -> None:
        self.dismiss()
