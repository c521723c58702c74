"""Deals, contacts and companies as sortable, filterable tables.

``ListScreen(kind)`` (``deals``, ``contacts``, ``companies``) pages its rows
from SQL through the services into a ``RecordTable`` that draws only the
visible window, so 100k rows scroll as smoothly as 100. Contacts and
companies page by keyset (``services.party_pages.PartyPager``): each page
starts from the last name seen instead of an ``OFFSET`` that walks every
earlier row. Typing in the search
box filters through the full-text index (``query=``), debounced so a word
costs one query, not one per letter.

Deals sort by updated, name (Cyrillic-aware ``name_fold``), budget or
created; contacts and companies by name. Deals are also scoped to a
pipeline (``p`` cycles, including all pipelines), filtered like the board
(``f``), multi-selected (space, ctrl+a for everything the filter matches)
and changed in bulk (``m``): responsible, a task for each, stage through
each deal's gate with a per-deal report, tags, delete with undo (``z``).
Contacts and companies select and change in bulk the same way (no stage;
``services.party_bulk``); their ctrl+a takes what the list shows (the
responsible filter and the search), and their ``z`` undoes the last mass
delete of that kind only.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import replace
from typing import Any, ClassVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal
from textual.message import Message
from textual.screen import Screen
from textual.timer import Timer
from textual.widgets import Footer, Input, Static

from tui_crm.domain.validation import format_phone
from tui_crm.screens.card import CardScreen
from tui_crm.screens.filter_bar import FilterScreen, describe_filter
from tui_crm.screens.mass_action import PARTY_NOUNS, count_of, run_mass_action, run_party_mass_action
from tui_crm.services import bulk
from tui_crm.services.companies import list_companies
from tui_crm.services.contacts import list_contacts
from tui_crm.services.context import Crm
from tui_crm.services.deal_queries import SORTS, DealFilter, count_deals, deal_ids, list_deals
from tui_crm.services.merge import MergeReport, merge, undo_latest
from tui_crm.services.party_pages import PartyPager, party_ids
from tui_crm.services.pipelines import find_pipeline
from tui_crm.services.users import list_users
from tui_crm.services.views import DealSummary, PartySummary
from tui_crm.widgets.app_contract import ReportsFailedWorkers, host_of
from tui_crm.widgets.deal_dialogs import new_deal_dialog
from tui_crm.widgets.duplicate_prompt import PartyForm
from tui_crm.widgets.form_dialog import responsible_dialog
from tui_crm.widgets.merge_dialog import MergeDialog
from tui_crm.widgets.plain_text import SafeInput, clean, crm_of, error_message, money, plain, when
from tui_crm.widgets.record_table import Column, RecordTable, RowSource

KINDS = {"deals": "deal", "contacts": "contact", "companies": "company"}
TITLES = {"deals": "Deals", "contacts": "Contacts", "companies": "Companies"}
DEAL_SORTS = ("updated", "name", "budget", "created")
SORT_LABELS = {"updated": "updated ↓", "name": "name", "budget": "budget ↓", "created": "created ↓"}
SEARCH_DEBOUNCE = 0.3  # seconds of quiet typing before the search runs
SEARCH_CAP = 2000  # search hits a list shows (the deal filter caps the same)
TASK_MARKS = {
    "overdue": ("● overdue", "bold red"),
    "today": ("● today", "yellow"),
    "none": ("no task", "dim italic"),
}


# -- columns ------------------------------------------------------------------------------


def deal_columns(crm: Crm) -> list[Column[DealSummary]]:
    def task(row: DealSummary) -> Text:
        if row.task_mark == "planned" and row.next_task_due is not None:
            return Text(f"{row.next_task_due:%d.%m %H:%M}", style="green")
        label, style = TASK_MARKS.get(row.task_mark, (row.task_mark, ""))
        return Text(label, style=style)

    return [
        Column("name", "Name", lambda r: plain(r.name, one_line=True), sort="name"),
        Column("stage", "Stage", lambda r: plain(r.stage, one_line=True), width=14),
        Column("budget", "Budget", lambda r: money(r.budget_rub), width=13, align="right", sort="budget"),
        Column("client", "Client", lambda r: plain(r.company or r.main_contact, one_line=True), width=16, hide_below=90),
        Column("responsible", "Responsible", lambda r: plain(r.responsible, one_line=True), width=12, hide_below=118),
        Column("task", "Next task", task, width=11),
        Column("updated", "Updated", lambda r: when(r.updated_at, crm, "%d.%m %H:%M"), width=11, sort="updated", hide_below=100),
    ]


def party_columns(crm: Crm, kind: str) -> list[Column[PartySummary]]:
    columns: list[Column[PartySummary]] = [Column("name", "Name", lambda r: plain(r.name, one_line=True), sort="name")]
    if kind == "contacts":
        columns.append(Column("company", "Company", lambda r: plain(r.company, one_line=True), width=18))
    columns += [
        Column("phone", "Phone", lambda r: plain(format_phone(r.phone) if r.phone else None, one_line=True), width=16),
        Column("email", "E-mail", lambda r: plain(r.email, one_line=True), width=24, hide_below=90),
        Column("responsible", "Responsible", lambda r: plain(r.responsible, one_line=True), width=12, hide_below=112),
        Column("updated", "Updated", lambda r: when(r.updated_at, crm, "%d.%m %H:%M"), width=11, hide_below=124),
    ]
    return columns


class SearchHits:
    """Every search hit of a contact/company query, fetched once, then sliced.

    The services rank full-text hits and then sort them by name; paging that
    with a growing ``limit`` would reshuffle rows between pages, so a search
    loads its (capped) hits in one go and the table pages the list in memory.
    """

    def __init__(self, fetch: Callable[[], list[PartySummary]]) -> None:
        self._fetch = fetch
        self._rows: list[PartySummary] | None = None
        self._lock = threading.Lock()

    def rows(self) -> list[PartySummary]:
        with self._lock:
            if self._rows is None:
                self._rows = self._fetch()
            return self._rows


# -- the screen --------------------------------------------------------------------------------


class ListScreen(ReportsFailedWorkers, Screen[None]):
    """A list of deals, contacts or companies; see the module docstring."""

    CSS_PATH = "lists.tcss"

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "back", "Back", id="list.back"),
        Binding("slash", "search", "Search", id="list.search"),
        Binding("s", "sort", "Sort", id="list.sort"),
        Binding("f", "filter", "Filter", id="list.filter"),
        Binding("p", "pipeline", "Pipeline", id="list.pipeline"),
        Binding("m", "mass", "Mass action", id="list.mass"),
        Binding("ctrl+a", "select_all", "Select all", id="list.select_all"),
        Binding("z", "undo", "Undo", id="list.undo"),
        Binding("M", "merge", "Merge two", id="list.merge"),
        Binding("n", "new", "New", id="list.new"),
        Binding("ctrl+r", "reload", "Reload", show=False, id="list.reload"),
    ]

    class Notice(Message):
        """A worker's outcome to tell the user (and maybe reload the rows)."""

        def __init__(self, text: str, *, error: bool = False, reload: bool = False) -> None:
            super().__init__()
            self.text = text
            self.error = error
            self.reload = reload

    class Selected(Message):
        def __init__(self, ids: list[str]) -> None:
            super().__init__()
            self.ids = ids

    def __init__(self, kind: str) -> None:
        if kind not in KINDS:
            raise ValueError(f"a list shows deals, contacts or companies, not {kind!r}")
        super().__init__()
        self.kind = kind
        self.entity_type = KINDS[kind]
        self.sort = "updated" if kind == "deals" else "name"
        self.deal_filter = DealFilter()
        self.responsible: str | None = None
        self.query_text = ""
        self.total: int | None = None
        self._debounce: Timer | None = None

    def compose(self) -> ComposeResult:
        with Horizontal(id="list-header"):
            yield Static(TITLES[self.kind], id="list-title")
            yield SafeInput(placeholder="/ search: name, company, phone, e-mail…", id="list-search")
        crm = crm_of(self)
        empty = f"No {self.kind} match."
        if self.kind == "deals":
            table: RecordTable[Any] = RecordTable(deal_columns(crm), selectable=True, empty_text=empty, id="list-table")
        else:
            table = RecordTable(party_columns(crm, self.kind), selectable=True, empty_text=empty, id="list-table")
        table.sort_key = self.sort
        yield table
        yield Static("", id="list-status")
        yield Footer()

    def on_mount(self) -> None:
        if self.kind == "deals":
            self.deal_filter = DealFilter(pipeline=host_of(self).pipeline_key)
        self.table.focus()
        self.reload()

    def on_screen_resume(self) -> None:
        if self.total is not None:
            self.reload(keep_position=True)

    @property
    def table(self) -> RecordTable[Any]:
        return self.query_one("#list-table", RecordTable)

    # -- rows -------------------------------------------------------------------------------

    def source(self) -> RowSource[Any]:
        """Count and page functions for the current kind, filter and sort."""
        crm = crm_of(self)
        query = self.query_text.strip() or None
        if self.kind == "deals":
            flt = replace(self.deal_filter, query=query)
            sort = self.sort
            return RowSource(
                count=lambda: count_deals(crm, flt),
                page=lambda offset, limit: list_deals(crm, flt, sort=sort, limit=limit, offset=offset),
                key=lambda row: row.id,
            )
        lister = list_contacts if self.kind == "contacts" else list_companies
        responsible = self.responsible
        if query:
            hits = SearchHits(lambda: lister(crm, query=query, responsible=responsible, limit=SEARCH_CAP))
            return RowSource(
                count=lambda: len(hits.rows()),
                page=lambda offset, limit: hits.rows()[offset : offset + limit],
                key=lambda row: row.id,
            )
        # keyset pages: a row deep in 100k contacts costs what the first one does
        pager = PartyPager(crm, self.entity_type, responsible=responsible)
        return RowSource(count=pager.count, page=pager.page, key=lambda row: row.id)

    def reload(self, *, keep_position: bool = False) -> None:
        table = self.table
        table.sort_key = self.sort
        table.sort_marker = "" if self.sort == "name" else "↓"
        table.reload(self.source(), keep_position=keep_position)
        self.update_status()

    def action_reload(self) -> None:
        self.reload(keep_position=True)

    def on_record_table_loaded(self, message: RecordTable.Loaded) -> None:
        self.total = message.total
        if message.error:
            self.notify(message.error, title="Could not load the list", severity="error", markup=False)
        self.update_status()

    def on_record_table_selection_changed(self, _message: RecordTable.SelectionChanged) -> None:
        self.update_status()

    def update_status(self) -> None:
        parts: list[str] = []
        noun = self.kind if self.total != 1 else self.entity_type
        parts.append("counting…" if self.total is None else f"{self.total:,} {noun}".replace(",", " "))
        if self.kind == "deals":
            parts.append(self._pipeline_label())
            described = describe_filter(replace(self.deal_filter, query=None))
            if described:
                parts.append(described)
        elif self.responsible:
            parts.append(f"@{self.responsible}")
        if self.query_text.strip():
            parts.append(f"«{self.query_text.strip()}»")
        parts.append(f"sort: {SORT_LABELS.get(self.sort, self.sort)}")
        selected = len(self.table.selected)
        if selected:
            parts.append(f"{selected} selected")
        self.query_one("#list-status", Static).update(plain(" · ".join(parts), one_line=True))

    def _pipeline_label(self) -> str:
        key = self.deal_filter.pipeline
        if not key:
            return "all pipelines"
        names = {p.key: p.name for p in crm_of(self).pipelines.pipelines}
        return names.get(key, key)

    # -- search, sort, filter ----------------------------------------------------------------

    def action_search(self) -> None:
        self.query_one("#list-search", Input).focus()

    @on(Input.Changed, "#list-search")
    def _search_changed(self, event: Input.Changed) -> None:
        if self._debounce is not None:
            self._debounce.stop()
        value = event.value

        def run() -> None:
            if value != self.query_text:
                self.query_text = value
                self.reload()

        self._debounce = self.set_timer(SEARCH_DEBOUNCE, run)

    @on(Input.Submitted, "#list-search")
    def _search_submitted(self, event: Input.Submitted) -> None:
        if self._debounce is not None:
            self._debounce.stop()
        if event.value != self.query_text:
            self.query_text = event.value
            self.reload()
        self.table.focus()

    def action_sort(self) -> None:
        if self.kind != "deals":
            self.notify(f"{TITLES[self.kind]} sort by name (Cyrillic-aware).")
            return
        self.set_sort(DEAL_SORTS[(DEAL_SORTS.index(self.sort) + 1) % len(DEAL_SORTS)])

    def set_sort(self, sort: str) -> None:
        if sort in SORTS and self.kind == "deals":
            self.sort = sort
            self.reload()

    def on_record_table_header_clicked(self, message: RecordTable.HeaderClicked) -> None:
        if message.column.sort:
            self.set_sort(message.column.sort)

    def action_pipeline(self) -> None:
        keys: list[str | None] = [None, *(p.key for p in crm_of(self).pipelines.pipelines)]
        current = keys.index(self.deal_filter.pipeline) if self.deal_filter.pipeline in keys else 0
        self.deal_filter = replace(self.deal_filter, pipeline=keys[(current + 1) % len(keys)], stage=None)
        self.table.clear_selection()
        self.reload()

    def action_filter(self) -> None:
        if self.kind == "deals":

            def apply(flt: DealFilter | None) -> None:
                if flt is not None:
                    self.deal_filter = replace(flt, query=None)
                    self.query_text = flt.query or ""
                    self.query_one("#list-search", Input).value = self.query_text
                    self.reload()

            self.app.push_screen(FilterScreen(replace(self.deal_filter, query=self.query_text or None)), apply)
            return
        self._party_filter()

    @work(exclusive=True, group="list-filter")
    async def _party_filter(self) -> None:
        crm = crm_of(self)
        users = await self.run_worker(lambda: list_users(crm, include_inactive=False), thread=True).wait()
        dialog = responsible_dialog(
            f"Filter {self.kind}", [u.name for u in users], self.responsible, required=False, save_label="Apply"
        )
        values = await self.app.push_screen_wait(dialog)
        if values is not None:
            self.responsible = values["responsible"] or None
            self.reload()

    # -- opening and creating ------------------------------------------------------------------

    def on_record_table_opened(self, message: RecordTable.Opened) -> None:
        self.app.push_screen(CardScreen(self.entity_type, message.row.id))

    def action_new(self) -> None:
        crm = crm_of(self)

        def opened(detail: Any) -> None:
            if detail is not None:
                self.app.push_screen(CardScreen(self.entity_type, detail.id))

        if self.kind == "deals":
            self.app.push_screen(new_deal_dialog(crm, pipeline=self.deal_filter.pipeline), opened)
        else:
            self.app.push_screen(PartyForm(crm, self.entity_type), opened)

    def action_back(self) -> None:
        """Escape steps back: selection, then search, then the screen."""
        if self.table.selected:
            self.table.clear_selection()
        elif self.query_text or self.query_one("#list-search", Input).value:
            self.query_one("#list-search", Input).value = ""
            self.query_text = ""
            self.table.focus()
            self.reload()
        else:
            self.dismiss()

    # -- mass actions ------------------------------------------------------------------------------

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "pipeline":
            return self.kind == "deals"
        if action == "merge":
            return self.kind != "deals"
        return True

    def action_select_all(self) -> None:
        if self.kind == "deals":
            flt = replace(self.deal_filter, query=self.query_text.strip() or None)
            self._select_all(lambda crm: deal_ids(crm, flt))
            return
        entity_type, query, responsible = self.entity_type, self.query_text.strip() or None, self.responsible
        # the search's cap as the list applies it: select-all takes the rows the user can see
        self._select_all(
            lambda crm: party_ids(crm, entity_type, query=query, responsible=responsible, search_cap=SEARCH_CAP)
        )

    @work(thread=True, exclusive=True, group="list-select", exit_on_error=False)
    def _select_all(self, matching: Callable[[Crm], list[str]]) -> None:
        try:
            ids = matching(crm_of(self))
        except Exception as exc:  # reported; the selection stays as it was
            self.post_message(self.Notice(error_message(exc), error=True))
            return
        self.post_message(self.Selected(ids))

    def on_list_screen_selected(self, message: Selected) -> None:
        self.table.select_ids(message.ids)

    def action_mass(self) -> None:
        table = self.table
        ids = table.selected_ids()
        if not ids and table.current_row is not None:
            ids = [table.current_row.id]
        if not ids:
            self.notify(f"Select {self.kind} first (space, or ctrl+a for all that match).", severity="warning")
            return
        if self.kind != "deals":
            self._party_mass(ids)
            return
        pipeline_key = self.deal_filter.pipeline or self._common_pipeline()
        if pipeline_key is None:
            self.notify("The selection spans pipelines: pick one with p first.", severity="warning")
            return
        self._mass(ids, pipeline_key)

    def _common_pipeline(self) -> str | None:
        """The one pipeline every selected row is in (when all are loaded)."""
        rows = [row for row in self.table.selected.values()]
        names = {row.pipeline for row in rows if row is not None}
        if None in rows or len(names) != 1:
            return None
        name = names.pop()
        return next((p.key for p in crm_of(self).pipelines.pipelines if p.name == name), None)

    @work(exclusive=True, group="list-mass")
    async def _mass(self, ids: list[str], pipeline_key: str) -> None:
        crm = crm_of(self)
        pipeline = await self.run_worker(lambda: find_pipeline(crm, pipeline_key), thread=True).wait()
        report = await run_mass_action(self, ids, pipeline)
        if report is None:
            return
        if report.action == "delete":
            self.notify(f"Deleted {report.changed} deal(s) · z undoes", markup=False)
        elif report.action != "stage":
            self.notify(f"Done: {report.changed} of {report.selected} deal(s) changed", markup=False)
        self.table.clear_selection()
        self.reload(keep_position=True)

    @work(exclusive=True, group="list-mass")
    async def _party_mass(self, ids: list[str]) -> None:
        report = await run_party_mass_action(self, self.entity_type, ids)
        if report is None:
            return
        noun = PARTY_NOUNS[self.entity_type]
        if report.action == "delete":
            self.notify(f"Deleted {count_of(report.changed, noun)} · z undoes", markup=False)
        else:
            self.notify(f"Done: {report.changed} of {count_of(report.selected, noun)} changed", markup=False)
        self.table.clear_selection()
        self.reload(keep_position=True)

    @work(thread=True, exclusive=True, group="list-undo", exit_on_error=False)
    def action_undo(self) -> None:
        """Restore what the last mass delete of this list's kind removed (deals:
        here or on the board)."""
        crm = crm_of(self)
        try:
            if self.kind == "deals":
                report = bulk.undo_delete(crm)
            else:  # the last merge or mass delete of this kind, whichever came last
                _, party_report = undo_latest(crm, self.entity_type)
                if isinstance(party_report, MergeReport):
                    self.post_message(self.Notice(f"Split «{party_report.loser.name}» out again", reload=True))
                    return
                report = party_report
        except Exception as exc:  # e.g. nothing to undo
            self.post_message(self.Notice(error_message(exc), error=True))
            return
        if self.kind == "deals":
            restored = f"{report.changed} deal(s)"
        else:
            restored = count_of(report.changed, PARTY_NOUNS[self.entity_type])
        self.post_message(self.Notice(f"Restored {restored}", reload=True))

    def action_merge(self) -> None:
        """Merge the two selected contacts/companies (``widgets.merge_dialog``)."""
        ids = self.table.selected_ids()
        if len(ids) != 2:
            self.notify(f"Select the two {self.kind} to merge (space on each), then M.", severity="warning")
            return
        self._merge(ids[0], ids[1])

    @work(exclusive=True, group="list-merge")
    async def _merge(self, a_id: str, b_id: str) -> None:
        crm, entity_type = crm_of(self), self.entity_type
        choice = await self.app.push_screen_wait(MergeDialog(crm, entity_type, a_id, b_id))
        if choice is None:
            return
        job = self.run_worker(
            lambda: merge(crm, entity_type, choice.a, choice.b, choice.keep), thread=True, exit_on_error=False
        )
        await self.workers.wait_for_complete([job])
        if job.error is not None:
            self.notify(error_message(job.error), title="Not merged", severity="error", markup=False)
            return
        report = job.result
        assert report is not None
        self.notify(
            clean(f"Merged «{report.loser.name}» into «{report.winner.name}» · z undoes", one_line=True), markup=False
        )
        self.table.clear_selection()
        self.reload(keep_position=True)

    def on_list_screen_notice(self, message: Notice) -> None:
        if message.reload:
            self.reload(keep_position=True)
        self.notify(clean(message.text, one_line=True), severity="error" if message.error else "information", markup=False)

