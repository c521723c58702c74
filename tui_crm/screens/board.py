"""The kanban board: a pipeline's stages as columns of deal cards.

Everything heavy happens in thread workers: one load fetches the stage
aggregates (count and budget sums) and the first page of every column (one
``board_pages`` call); columns fetch further pages themselves as the cursor
slides. Moves go
through ``adjacent_stage`` + ``move_deal``; a refusal opens the
:class:`~tui_crm.widgets.gate_form.GateForm` with exactly the missing
fields and retries with what was typed, until the gate passes or the user
presses Escape (then nothing was written and the card stays).

Start-up and switches are kept cheap (DESIGN: a cold start <= 1 s, a switch
<= 200 ms), because styling, laying out and painting widgets is what costs:

- the first load's worker sends the stages ahead of the data, so the empty
  columns are mounted while the queries run; the footer is mounted with the
  data (see :meth:`BoardScreen._mount_footer`); the app starts its own
  background work on :class:`BoardScreen.Ready`;
- a switch re-targets the mounted columns, hides the ones a shorter pipeline
  does not need and shows them again later, never re-mounting cards;
- only columns that have been on screen hold card widgets;
- the dialogs (filter, pipeline choice, mass actions, gate form) are
  imported when first opened, not with the board.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import HorizontalScroll
from textual.message import Message
from textual.screen import ModalScreen, Screen
from textual.widgets import Footer, Label
from textual.worker import Worker, WorkerState

from tui_crm.domain.errors import CrmError, NotFoundError
from tui_crm.domain.text import safe_text
from tui_crm.services.deal_queries import DealFilter, board_column, board_pages, stage_totals
from tui_crm.services.pipelines import find_pipeline, list_pipelines
from tui_crm.services.unsorted import count_unsorted
from tui_crm.services.views import DealSummary, MoveOutcome, PipelineView, StageTotals, StageView
from tui_crm.widgets.app_contract import DealsDeleted, OpenCard, PipelineShown, ReportsFailedWorkers, StoreChanged, host_of
from tui_crm.widgets.board_column import FOOTER_ROWS, HEADER_ROWS, PAGE, BoardColumn, PageFetch
from tui_crm.widgets.deal_card import CARD_ROWS, whole_money
from tui_crm.widgets.plain_text import crm_of
from tui_crm.widgets.status_bar import StatusBar

MIN_COLUMN = 26
"""Narrowest column; below that the board scrolls sideways instead."""
MAX_COLUMN = 48
"""Widest column; wider cards only add empty space."""


class ColumnsScroll(HorizontalScroll, inherit_bindings=False, can_focus=False):
    """Scrolls the columns sideways; leaves every key to the board.

    As many whole columns as fit at ``MIN_COLUMN`` cells share the width
    (up to ``MAX_COLUMN`` each): every stage shows on a wide terminal, and a
    narrow one (80x24) shows whole columns and scrolls to the focused one.
    """

    fits = 1
    """Whole columns on screen at the current width."""
    first = 0
    """Index of the leftmost whole column shown."""

    def on_mount(self) -> None:
        # Scrolling by mouse or scrollbar brings columns on screen too.
        self.watch(self, "scroll_x", self._scrolled, init=False)

    def on_resize(self) -> None:
        self.fit_columns()

    def _scrolled(self) -> None:
        self.call_after_refresh(self.reveal_columns)

    def reveal_columns(self) -> None:
        """Give the columns now (even partly) on screen their cards."""
        view = self.region
        for column in self.columns:
            if not column.on_screen:
                region = column.region  # screen coordinates, after scrolling
                if region.width and region.x < view.right and region.right > view.x:
                    column.reveal()

    @property
    def columns(self) -> list[BoardColumn]:
        """The columns shown, from the children list (a DOM query walks every card)."""
        return [child for child in self.children if isinstance(child, BoardColumn) and child.display]

    @property
    def spare_columns(self) -> list[BoardColumn]:
        """Columns hidden after a switch to a pipeline with fewer stages, kept for reuse."""
        return [child for child in self.children if isinstance(child, BoardColumn) and not child.display]

    def fit_columns(self) -> None:
        columns = self.columns
        if not columns:
            return
        available = self.scrollable_content_region.width
        self.fits = max(1, min(len(columns), available // (MIN_COLUMN + 1)))
        width = max(MIN_COLUMN, min(MAX_COLUMN, available // self.fits - 1))
        for column in columns:
            column.styles.width = width
        self.call_after_refresh(self.reveal_columns)
        focused = self.screen.focused
        if isinstance(focused, BoardColumn):
            self.call_after_refresh(self.show_column, focused)

    def show_column(self, column: BoardColumn) -> None:
        """Scroll by whole columns so ``column`` is on screen, never half of one."""
        columns = self.columns
        if column not in columns:
            return
        index = columns.index(column)
        if index < self.first:
            self.first = index
        elif index >= self.first + self.fits:
            self.first = index - self.fits + 1
        self.first = max(0, min(self.first, len(columns) - self.fits))
        step = columns[1].region.x - columns[0].region.x if len(columns) > 1 else 0
        if self.scroll_x != self.first * step:  # a no-op scroll still lays the screen out again
            self.scroll_to(x=self.first * step, animate=False, immediate=True)


MOVE = Binding.Group("Move", compact=True)
"""Footer shows `[]` once for both directions."""


class BoardScreen(ReportsFailedWorkers, Screen[None]):
    """One pipeline as columns; the home screen of the app."""

    CSS_PATH = "board.tcss"

    BINDINGS = [
        Binding("left_square_bracket", "move(-1)", "Prev stage", key_display="[", group=MOVE, id="board.move_prev"),
        Binding("right_square_bracket", "move(1)", "Next stage", key_display="]", group=MOVE, id="board.move_next"),
        Binding("L", "move(1)", "Next stage", show=False, id="board.move_next_alt"),
        Binding("H", "move(-1)", "Prev stage", show=False, id="board.move_prev_alt"),
        Binding("enter", "open", "Open", id="board.open"),
        Binding("space", "toggle_select", "Select", id="board.select"),
        Binding("m", "mass", "Mass action", id="board.mass"),
        Binding("slash", "filter", "Filter", key_display="/", id="board.filter"),
        Binding("p", "pipeline", "Pipeline", id="board.pipeline"),
        Binding("escape", "clear_selection", "Unselect all", id="board.clear_selection"),
        Binding("r", "refresh", "Refresh", show=False, id="board.refresh"),
        Binding("left,h", "focus_column(-1)", "Column to the left", show=False, id="board.nav.left"),
        Binding("right,l", "focus_column(1)", "Column to the right", show=False, id="board.nav.right"),
        Binding("up,k", "cursor(-1)", "Card above", show=False, id="board.nav.up"),
        Binding("down,j", "cursor(1)", "Card below", show=False, id="board.nav.down"),
        Binding("pageup", "page(-1)", "Page up", show=False, id="board.nav.page_up"),
        Binding("pagedown", "page(1)", "Page down", show=False, id="board.nav.page_down"),
        Binding("home,g", "edge(0)", "First card", show=False, id="board.nav.first"),
        Binding("end,G", "edge(1)", "Last card", show=False, id="board.nav.last"),
    ]

    class Ready(Message):
        """The board's first load ended (shown, or failed and reported).

        The app starts its background work (status polling, the interval
        sync) on this rather than on mount, so that work does not compete
        with the first frame for the interpreter.
        """

    class StagesKnown(Message, bubble=False):
        """From the first load's worker: the stages, before their data."""

        def __init__(self, generation: int, pipeline: PipelineView) -> None:
            super().__init__()
            self.generation = generation
            self.pipeline = pipeline

    def __init__(self, pipeline: str | None = None) -> None:
        super().__init__()
        self.pipeline_key = pipeline
        self.pipeline: PipelineView | None = None
        """The pipeline whose data the columns show (None until the first load)."""
        self.pipelines: list[PipelineView] = []
        self.flt = DealFilter()
        self.selected: dict[str, str] = {}
        self.generation = 0
        self.totals: list[StageTotals] = []
        self._stale = True
        self._focus_after_load: tuple[str, str | None] | None = None
        self._holder = ColumnsScroll(id="columns")
        self._ready_sent = False
        self._footer: Footer | None = None

    # ---- layout -------------------------------------------------------
    def compose(self) -> ComposeResult:
        yield Label("", id="board-title", markup=False)
        yield self._holder
        yield StatusBar()

    @property
    def columns(self) -> list[BoardColumn]:
        return self._holder.columns

    @property
    def column(self) -> BoardColumn | None:
        """The focused column (the cursor's)."""
        focused = self.focused
        return focused if isinstance(focused, BoardColumn) else None

    def current_deal(self) -> DealSummary | None:
        column = self.column
        return column.current() if column else None

    # ---- loading ------------------------------------------------------
    def on_screen_resume(self) -> None:
        if self._stale:
            self._stale = False
            self.reload()

    def on_screen_suspend(self) -> None:
        # Back from a card or a list the data may have changed; back from a
        # dialog of ours it has not (or we reload ourselves).
        self.call_after_refresh(self._note_cover)

    def _note_cover(self) -> None:
        if not isinstance(self.app.screen, ModalScreen):
            self._stale = True

    def reload(self) -> None:
        """Re-read aggregates and first pages.

        The cursor stays on the deal it was on if that deal is still near the
        top of its column (order is "recently touched first"), else on the
        same row.
        """
        current = self.current_deal()
        if self._focus_after_load is None and current is not None and self.column is not None:
            self._focus_after_load = (self.column.stage.key, current.id)
        self.generation += 1
        key = self.pipeline_key or host_of(self).pipeline_key
        self._load(self.generation, key, self.flt)

    @work(thread=True, exclusive=True, group="board-load", exit_on_error=False)
    def _load(self, generation: int, pipeline_key: str | None, flt: DealFilter) -> None:
        """Worker thread: everything the board shows, in a few indexed queries."""
        crm = crm_of(self)
        try:
            pipelines = list_pipelines(crm)
            try:
                pipeline = find_pipeline(crm, pipeline_key)
            except NotFoundError as error:
                self.app.call_from_thread(self._notify, str(error), "warning")
                pipeline = find_pipeline(crm, None) if pipeline_key else pipelines[0]
            if self.pipeline is None:
                # First load: the UI thread mounts and lays out the empty
                # columns while this thread runs the queries (not blocking
                # on it, as call_from_thread would).
                self.post_message(self.StagesKnown(generation, pipeline))
            totals = stage_totals(crm, pipeline.key, flt)
            filled = board_pages(crm, pipeline.key, [t.stage.key for t in totals if t.count], flt, limit=PAGE)
            pages = {t.stage.key: filled.get(t.stage.key, []) for t in totals}
            unsorted = count_unsorted(crm, pipeline.key)
        except CrmError as error:
            self.app.call_from_thread(self._notify, str(error), "error")
            self.app.call_from_thread(self._mount_footer)
            self.app.call_from_thread(self._send_ready)
            return
        self.app.call_from_thread(self._loaded, generation, pipelines, pipeline, totals, pages, unsorted)

    async def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        """A first load that failed with something other than a ``CrmError``
        still ends start-up (footer, ``Ready``); the app shows the notice."""
        if event.worker.group == "board-load" and event.state == WorkerState.ERROR:
            await self._mount_footer()
            self._send_ready()

    async def on_board_screen_stages_known(self, message: StagesKnown) -> None:
        if message.generation == self.generation and self.pipeline is None and not self.columns:
            await self._ensure_columns(message.pipeline)
            self._restore_focus({})

    async def _ensure_columns(self, pipeline: PipelineView) -> None:
        """One shown column per stage: re-target the mounted ones, hide or add the difference.

        Re-using mounted columns and their cards instead of mounting new ones
        saves most of a switch: styling fresh widgets is what costs. For the
        same reason a column a pipeline with fewer stages does not need is
        hidden, not removed, and shown again by the next pipeline that does.
        """
        holder = self._holder
        existing = self.columns
        stages = pipeline.stages
        if [c.stage.id for c in existing] == [s.id for s in stages]:
            return
        if len(stages) > len(existing):
            spare = holder.spare_columns[: len(stages) - len(existing)]
            for column in spare:
                column.display = True
            existing += spare
        for column, stage in zip(existing, stages, strict=False):
            column.retarget(stage, self._fetcher(pipeline.key, stage))
        if len(existing) > len(stages):
            extra = existing[len(stages) :]
            if self.focused in extra:
                if stages:
                    existing[len(stages) - 1].focus()
                else:
                    self.set_focus(None)
            for column in extra:
                column.display = False
        elif len(stages) > len(existing):
            slots, fits = self._guess_slots(), self._guess_fits(len(stages))
            fresh = [
                BoardColumn(stage, self._fetcher(pipeline.key, stage), self.is_selected, slots if index < fits else 0)
                for index, stage in enumerate(stages[len(existing) :], start=len(existing))
            ]
            await holder.mount_all(fresh)
        holder.fit_columns()

    def _guess_slots(self) -> int:
        """Cards a column will hold, from the screen size, before any layout.

        A column is the screen less the title, the top padding, the status
        bar and the footer. A wrong guess costs one correction on the
        column's first resize.
        """
        area = self.app.size.height - 4 - HEADER_ROWS - FOOTER_ROWS
        return max(1, (area + 1) // CARD_ROWS)

    def _guess_fits(self, columns: int) -> int:
        """Columns (even partly) on screen before any layout, as :meth:`ColumnsScroll.fit_columns` will share the width."""
        screen_width = self.app.size.width
        available = screen_width - 1  # as fit_columns sees it
        fits = max(1, min(columns, available // (MIN_COLUMN + 1)))
        width = max(MIN_COLUMN, min(MAX_COLUMN, available // fits - 1))
        return -(-screen_width // (width + 1))  # a last column partly shown counts

    async def _mount_footer(self) -> None:
        """Add the footer with the first data, not in :meth:`compose`.

        Textual's footer recomposes all its keys whenever the bindings may
        have changed: when the screen activates and when the first column
        takes the focus, each time while the first load is running. Mounted
        once the board is loaded it composes its keys once (on the bindings
        signal below), and start-up saves those rounds (~70 ms).
        """
        if self._footer is None:
            self._footer = Footer()
            self.query_one(StatusBar).add_class("-above-footer")
            await self.mount(self._footer)
            self.refresh_bindings()  # a footer shows no keys until it hears this

    def _send_ready(self) -> None:
        """Tell the app once, after the frame with the data has been painted."""
        if not self._ready_sent:
            self._ready_sent = True
            self.call_after_refresh(self.post_message, self.Ready())

    async def _loaded(
        self,
        generation: int,
        pipelines: list[PipelineView],
        pipeline: PipelineView,
        totals: list[StageTotals],
        pages: dict[str, list[DealSummary]],
        unsorted: int,
    ) -> None:
        if generation != self.generation:
            return
        self.pipelines = pipelines
        await self._ensure_columns(pipeline)
        self.pipeline = pipeline
        self.pipeline_key = pipeline.key
        self.post_message(PipelineShown(pipeline.key))
        self.totals = totals
        for column, total in zip(self.columns, totals, strict=True):
            column.load(total, pages.get(total.stage.key, []), generation, unsorted if total.stage.kind == "unsorted" else 0)
        self._restore_focus(pages)
        self._update_title()
        await self._mount_footer()
        self._send_ready()

    def _fetcher(self, pipeline_key: str, stage: StageView) -> PageFetch:
        """A column's page source; reads the board's filter at call time."""
        crm = crm_of(self)

        def fetch(offset: int, limit: int) -> list[DealSummary]:
            return board_column(crm, pipeline_key, stage.key, self.flt, limit=limit, offset=offset)

        return fetch

    def _restore_focus(self, pages: dict[str, list[DealSummary]]) -> None:
        columns = self.columns
        if not columns:
            return
        target: BoardColumn | None = None
        if self._focus_after_load is not None:
            stage_key, deal_id = self._focus_after_load
            self._focus_after_load = None
            target = next((c for c in columns if c.stage.key == stage_key), None)
            if target is not None:
                rows = pages.get(stage_key, [])
                index = next((i for i, row in enumerate(rows) if row.id == deal_id), None)
                if index is not None:
                    target.set_cursor(index)
        if target is None and self.column is None:
            target = next((c for c in columns if c.stage.kind == "lead"), columns[0])
        if target is not None:
            target.focus()

    def _update_title(self) -> None:
        if self.pipeline is None:
            return
        count = sum(t.count for t in self.totals)
        rub = sum((t.budget_rub for t in self.totals), Decimal(0))
        title = Text()
        title.append(safe_text(self.pipeline.name, keep_newlines=False), style="bold")
        title.append(f"  {count} deal{'s' if count != 1 else ''} · {whole_money(rub, 'RUB')}")
        described = ""
        if self.flt != DealFilter():
            from tui_crm.screens.filter_bar import describe_filter

            described = describe_filter(self.flt)
        if described:
            title.append("   filter: ", style="dim")
            title.append(described, style="bold")
        if self.selected:
            title.append(f"   {len(self.selected)} selected", style="bold")
        self.query_one("#board-title", Label).update(title)
        self.query_one(StatusBar).context = safe_text(self.pipeline.name, keep_newlines=False)

    def _notify(self, message: str, severity: str = "information") -> None:
        self.app.notify(message, severity=severity, markup=False)  # type: ignore[arg-type]

    def on_descendant_focus(self, event: Any) -> None:
        if isinstance(event.widget, BoardColumn):
            holder = self._holder
            self.call_after_refresh(holder.show_column, event.widget)

    def on_board_column_page_failed(self, message: BoardColumn.PageFailed) -> None:
        self._notify(f"Could not load «{message.column.stage.name}»: {message.error}", "error")

    # ---- selection ----------------------------------------------------
    def is_selected(self, deal_id: str) -> bool:
        return deal_id in self.selected

    def action_toggle_select(self) -> None:
        """Space: add the card under the cursor to the selection, or take it out."""
        deal = self.current_deal()
        if deal is None:
            self.app.bell()
            return
        if deal.id in self.selected:
            del self.selected[deal.id]
        else:
            self.selected[deal.id] = deal.name
        self._repaint()

    def action_clear_selection(self) -> None:
        self.selected.clear()
        self._repaint()

    def _repaint(self) -> None:
        for column in self.columns:
            column.render_window()
        self._update_title()
        self.refresh_bindings()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "clear_selection":
            return bool(self.selected)
        return True

    # ---- navigation ---------------------------------------------------
    def action_focus_column(self, delta: int) -> None:
        columns = self.columns
        current = self.column
        if not columns:
            return
        if current is None:
            columns[0].focus()
            return
        index = columns.index(current) + delta
        if not 0 <= index < len(columns):
            return
        target = columns[index]
        row = current.visual_row
        # Focus now, not on the next loop turn as Widget.focus() does: with
        # "lll" typed quickly every key would start from the same column.
        self.set_focus(target)
        target.set_cursor(target.top + row)

    def action_cursor(self, delta: int) -> None:
        if self.column:
            self.column.move_cursor(delta)

    def action_page(self, delta: int) -> None:
        if self.column:
            self.column.move_cursor(delta * max(self.column.slots, 1))

    def action_edge(self, end: int) -> None:
        if self.column:
            self.column.set_cursor(self.column.count - 1 if end else 0)

    # ---- open ---------------------------------------------------------
    async def action_open(self) -> None:
        """Enter: the deal's card; on an empty Unsorted column, the triage screen."""
        column = self.column
        if column is None:
            return
        deal = column.current()
        if deal is None and column.stage.kind == "unsorted":
            await self.app.run_action("open_unsorted")
            return
        if deal is None:
            self.app.bell()
            return
        self.post_message(OpenCard("deal", deal.id))

    # ---- moving through gates ----------------------------------------
    def action_move(self, step: int) -> None:
        """`]`/`[`: next or previous stage, through the gate (``widgets.gate_move``)."""
        deal = self.current_deal()
        if deal is None:
            self.app.bell()
            return
        from tui_crm.widgets.gate_move import GateMove, MoveRequest

        GateMove(self, MoveRequest(deal.id, deal.name, step=step), self._moved).start()

    def _moved(self, outcome: MoveOutcome) -> None:
        from tui_crm.widgets.gate_move import moved_note

        self._notify(moved_note(outcome))
        if outcome.to_stage_key is not None:
            self.show_deal(outcome.to_stage_key, outcome.deal_id)
        self._status_changed()

    def _status_changed(self) -> None:
        self.post_message(StoreChanged())

    # ---- filter, pipeline, mass actions -------------------------------
    def action_filter(self) -> None:
        from tui_crm.screens.filter_bar import FilterScreen

        def apply(flt: DealFilter | None) -> None:
            if flt is not None:
                self.flt = flt
                self.reload()

        self.app.push_screen(FilterScreen(self.flt), apply)

    def action_pipeline(self) -> None:
        """`p`: pick another pipeline; the selection does not carry over."""
        from tui_crm.screens.mass_action import ChoiceScreen

        options = [(p.key, p.name) for p in self.pipelines]

        def switch(key: str | None) -> None:
            if key and key != self.pipeline_key:
                self.pipeline_key = key
                self.selected.clear()
                self.reload()

        self.app.push_screen(ChoiceScreen("Switch pipeline", options, self.pipeline_key), switch)

    def action_refresh(self) -> None:
        self.reload()

    def show_deal(self, stage_key: str, deal_id: str) -> None:
        """Reload and put the cursor on a deal (one just created or moved)."""
        self._focus_after_load = (stage_key, deal_id)
        self.reload()

    def action_mass(self) -> None:
        """`m`: act on the selected cards (or the one under the cursor)."""
        ids = list(self.selected)
        if not ids:
            deal = self.current_deal()
            if deal is None:
                self.app.bell()
                return
            ids = [deal.id]
        self._mass(ids)

    @work(exclusive=True, group="board-mass")
    async def _mass(self, ids: list[str]) -> None:
        from tui_crm.screens.mass_action import run_mass_action

        if self.pipeline is None:
            return
        report = await run_mass_action(self, ids, self.pipeline)
        if report is None:
            return
        if report.action == "delete":
            self.post_message(DealsDeleted(report.batch_id, report.changed))
        elif report.action != "stage":
            self._notify(f"Done: {report.changed} of {report.selected} deals changed")
        self.selected.clear()
        self._update_title()
        self.reload()
        self._status_changed()

