"""Bringing a file in from the TUI: choose → preview → dry run → import.

Type the path of an amoCRM export (or a CSV with a saved ``--map`` profile,
or a vCard) and press Enter: the preview shows the detected layout
(encoding, delimiter, line endings) and which column fills which field,
and the keys move to the table.
``d`` runs the dry run (nothing saved; every row's fate is listed, and the
unknown pipelines/stages), ``i`` imports for real with a progress bar. The
mode, policy and «create stages» choices are the CLI's options.

All the work runs in thread workers through ``services.importing``; file
cells are shown as plain text (never markup, escapes stripped).
"""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Checkbox, DataTable, Footer, Input, ProgressBar, Select, Static

from tui_crm.services.importing.service import ImportOptions, ImportReport, open_import_source, run_import
from tui_crm.widgets.app_contract import ReportsFailedWorkers
from tui_crm.widgets.plain_text import clean, crm_of, error_message, plain

MODES = [("mode: create", "create"), ("mode: update", "update"), ("mode: upsert", "upsert")]
POLICIES = [("bad value: drop it", "lenient"), ("bad value: reject row", "strict")]


def summary_text(report: ImportReport) -> Text:
    c = report.counts
    head = "Dry run — nothing saved" if report.dry_run else f"Imported (id {(report.import_id or '')[:8]})"
    text = Text(head, style="bold")
    text.append(
        f"\n{c['rows']} rows: {c['created']} created, {c['updated']} updated, {c['merged']} merged, "
        f"{c['skipped']} skipped, {c['rejected']} rejected, {c['warnings']} with warnings"
    )
    if report.unknown_stages:
        text.append("\nUnknown pipelines/stages: ", style="yellow")
        text.append(clean("; ".join(report.unknown_stages), one_line=True))
    if not report.dry_run and report.import_id:
        text.append(f"\nUndo from the shell: crm import undo {report.import_id[:8]}", style="dim")
    return text


class ImportScreen(ReportsFailedWorkers, Screen[None]):
    """See the module docstring."""

    CSS_PATH = "import_screen.tcss"

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "back", "Back", id="import.back"),
        Binding("d", "dry_run", "Dry run", id="import.dry_run"),
        Binding("i", "run", "Import", id="import.run"),
        Binding("f", "choose_file", "Choose file", id="import.choose_file"),
    ]

    class Previewed(Message):
        def __init__(self, description: str = "", mapping: list[tuple[str, str | None]] | None = None, error: str = "") -> None:
            super().__init__()
            self.description, self.mapping, self.error = description, mapping or [], error

    class Finished(Message):
        def __init__(self, report: ImportReport | None, error: str = "") -> None:
            super().__init__()
            self.report, self.error = report, error

    class Progressed(Message):
        def __init__(self, done: int, total: int) -> None:
            super().__init__()
            self.done, self.total = done, total

    def __init__(self, path: str = "") -> None:
        super().__init__()
        self.initial_path = path
        self.busy = False

    def compose(self) -> ComposeResult:
        with Vertical(id="import-head"):
            yield Static(Text("Import a file", style="bold"), id="import-title")
            hint = "path to an amoCRM export (.csv) or a vCard (.vcf), then Enter"
            yield Input(self.initial_path, placeholder=hint, id="import-path")
            with Horizontal(id="import-options"):
                yield Select(MODES, value="create", allow_blank=False, id="import-mode")
                yield Select(POLICIES, value="lenient", allow_blank=False, id="import-policy")
                yield Checkbox("create unknown stages", id="import-create-stages")
            yield Static("", id="import-layout")
            yield ProgressBar(id="import-progress", show_eta=False)
        yield DataTable(id="import-rows", cursor_type="row", zebra_stripes=True)
        yield Footer()

    def on_mount(self) -> None:
        table = self.query_one("#import-rows", DataTable)
        table.add_columns("column / line", "field / record", "what happened")
        self.query_one("#import-progress", ProgressBar).display = False
        self.query_one("#import-path", Input).focus()
        if self.initial_path:
            self._preview(self.initial_path)

    # -- actions -------------------------------------------------------------------

    def action_back(self) -> None:
        if not self.busy:
            self.app.pop_screen()

    def _path(self) -> str:
        return self.query_one("#import-path", Input).value.strip()

    def _options(self, dry_run: bool) -> ImportOptions:
        return ImportOptions(
            dry_run=dry_run,
            mode=str(self.query_one("#import-mode", Select).value),
            policy=str(self.query_one("#import-policy", Select).value),
            create_stages=self.query_one("#import-create-stages", Checkbox).value,
        )

    @on(Input.Submitted, "#import-path")
    def _submitted(self) -> None:
        self._preview(self._path())

    def action_choose_file(self) -> None:
        self.query_one("#import-path", Input).focus()

    def action_dry_run(self) -> None:
        self._start(dry_run=True)

    def action_run(self) -> None:
        self._start(dry_run=False)

    def _start(self, dry_run: bool) -> None:
        if self.busy or not self._path():
            return
        self.busy = True
        bar = self.query_one("#import-progress", ProgressBar)
        bar.update(total=None, progress=0)
        bar.display = True
        self._import(self._path(), self._options(dry_run))

    # -- workers -------------------------------------------------------------------

    @work(thread=True, exclusive=True, group="import-preview", exit_on_error=False)
    def _preview(self, path: str) -> None:
        try:
            source = open_import_source(crm_of(self), Path(path).expanduser())
        except Exception as exc:  # shown under the path
            self.post_message(self.Previewed(error=error_message(exc)))
            return
        self.post_message(self.Previewed(source.description, source.layout.mapping if source.layout else []))

    @work(thread=True, exclusive=True, group="import-run", exit_on_error=False)
    def _import(self, path: str, options: ImportOptions) -> None:
        def progress(done: int, total: int) -> None:
            self.post_message(self.Progressed(done, total))

        try:
            report = run_import(crm_of(self), Path(path).expanduser(), options, progress)
        except Exception as exc:
            self.post_message(self.Finished(None, error_message(exc)))
            return
        self.post_message(self.Finished(report))

    # -- answers -------------------------------------------------------------------

    def on_import_screen_previewed(self, message: Previewed) -> None:
        layout = self.query_one("#import-layout", Static)
        table = self.query_one("#import-rows", DataTable)
        table.clear()
        if message.error:
            layout.update(plain(message.error))
            return
        text = Text("Detected: ", style="dim")
        text.append_text(plain(message.description, one_line=True))
        text.append("  ·  d dry run, i import, f another file", style="dim")
        layout.update(text)
        for header, target in message.mapping:
            table.add_row(plain(header, one_line=True), Text(target or "(ignored)", style="" if target else "dim"), Text(""))
        table.focus()  # the keys (d, i) act from here

    def on_import_screen_progressed(self, message: Progressed) -> None:
        self.query_one("#import-progress", ProgressBar).update(total=message.total or None, progress=message.done)

    def on_import_screen_finished(self, message: Finished) -> None:
        self.busy = False
        self.query_one("#import-progress", ProgressBar).display = False
        layout = self.query_one("#import-layout", Static)
        table = self.query_one("#import-rows", DataTable)
        if message.report is None:
            layout.update(plain(message.error))
            return
        layout.update(summary_text(message.report))
        table.clear()
        for row in message.report.rows:
            what = plain(f"{row.action}: {row.reason}", one_line=True)
            table.add_row(Text(f"line {row.line}"), plain(row.record, one_line=True), what)
