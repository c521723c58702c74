"""A table over any number of rows that loads and draws only what is on screen.

The stock ``DataTable`` holds every row and takes seconds to paint 100k of
them. ``RecordTable`` is a line-API ``ScrollView``: its virtual height is
the row count (from a SQL ``count``), ``render_line`` draws the visible lines
from a small LRU cache of pages (``limit``/``offset`` through the services),
and a thread worker fetches the pages the viewport lacks, one fetch at a
time, always for the *current* window, so holding PageDown through 100k rows
never queues more than one query.

The row type is whatever the services return (``DealSummary``,
``PartySummary``); ``RowSource`` tells the table how to count, page and
identify them. Rows are addressed by id for multi-select, so a selection
survives scrolling, re-sorting and re-filtering.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import ClassVar, Generic, Literal, TypeVar

from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual import events, work
from textual.binding import Binding, BindingType
from textual.geometry import Size
from textual.message import Message
from textual.scroll_view import ScrollView
from textual.strip import Strip

from tui_crm.widgets.plain_text import error_message

T = TypeVar("T")

PAGE_SIZE = 100
CACHED_PAGES = 40  # 4000 rows: a few screens either way, bounded memory
SELECT_MARK_WIDTH = 2  # "● " on a selected row


@dataclass(frozen=True)
class Column(Generic[T]):
    """One column: how to draw a row's cell, and the sort key it offers.

    ``width`` 0 makes the column flexible: flexible columns share the width
    the fixed ones leave. ``sort`` is the service's sort key (``None``: the
    column cannot sort). ``hide_below`` drops the column when the table is
    narrower, so the name keeps room at 80 columns.
    """

    key: str
    label: str
    cell: Callable[[T], Text | str]
    width: int = 0
    align: Literal["left", "right"] = "left"
    sort: str | None = None
    hide_below: int = 0


@dataclass(frozen=True)
class RowSource(Generic[T]):
    """How to count, page and identify rows; called from a worker thread."""

    count: Callable[[], int]
    page: Callable[[int, int], list[T]]
    key: Callable[[T], str]


class RecordTable(ScrollView, Generic[T], can_focus=True, inherit_bindings=False):
    """A virtual, paged, multi-select table; see the module docstring."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("up,k", "cursor(-1)", "Up", show=False, id="table.up"),
        Binding("down,j", "cursor(1)", "Down", show=False, id="table.down"),
        Binding("pageup", "page(-1)", "Page up", show=False, id="table.page_up"),
        Binding("pagedown", "page(1)", "Page down", show=False, id="table.page_down"),
        Binding("home", "edge(0)", "First", show=False, id="table.first"),
        Binding("end", "edge(1)", "Last", show=False, id="table.last"),
        Binding("enter", "open", "Open", id="table.open"),
        Binding("space", "toggle_select", "Select", id="table.select"),
    ]

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "record-table--header",
        "record-table--cursor",
        "record-table--selected",
        "record-table--placeholder",
    }

    DEFAULT_CSS = """
    RecordTable {
        height: 1fr;
        overflow-x: hidden;
        overflow-y: auto;
        background: $surface;
        & > .record-table--header { text-style: bold; background: $panel; color: $text; }
        & > .record-table--cursor { background: $block-cursor-blurred-background; }
        &:focus > .record-table--cursor {
            background: $block-cursor-background;
            color: $block-cursor-foreground;
            text-style: bold;
        }
        & > .record-table--selected { background: $accent 30%; }
        & > .record-table--placeholder { color: $text-muted; }
    }
    """

    class Opened(Message):
        """Enter or a double click on a row."""

        def __init__(self, table: RecordTable[T], row: T) -> None:
            super().__init__()
            self.table = table
            self.row = row

        @property
        def control(self) -> RecordTable[T]:
            return self.table

    class CursorMoved(Message):
        def __init__(self, table: RecordTable[T], index: int, row: T | None) -> None:
            super().__init__()
            self.table = table
            self.index = index
            self.row = row

        @property
        def control(self) -> RecordTable[T]:
            return self.table

    class SelectionChanged(Message):
        def __init__(self, table: RecordTable[T], count: int) -> None:
            super().__init__()
            self.table = table
            self.count = count

        @property
        def control(self) -> RecordTable[T]:
            return self.table

    class HeaderClicked(Message):
        def __init__(self, table: RecordTable[T], column: Column[T]) -> None:
            super().__init__()
            self.table = table
            self.column = column

        @property
        def control(self) -> RecordTable[T]:
            return self.table

    class Loaded(Message):
        """A (re)load finished: ``total`` rows match, or loading failed."""

        def __init__(self, table: RecordTable[T], total: int, error: str | None = None) -> None:
            super().__init__()
            self.table = table
            self.total = total
            self.error = error

        @property
        def control(self) -> RecordTable[T]:
            return self.table

    class PagesLoaded(Message, bubble=False):
        """Internal: a worker's pages (and, for a reload, the new total)."""

        def __init__(
            self, generation: int, pages: dict[int, list[T]], total: int | None, keep_position: bool, error: str | None
        ) -> None:
            super().__init__()
            self.generation = generation
            self.pages = pages
            self.total = total
            self.keep_position = keep_position
            self.error = error

    def __init__(
        self,
        columns: Iterable[Column[T]],
        *,
        selectable: bool = False,
        empty_text: str = "Nothing here.",
        name: str | None = None,
        id: str | None = None,
        classes: str | None = None,
    ) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self.columns: list[Column[T]] = list(columns)
        self.selectable = selectable
        self.empty_text = empty_text
        self.sort_key: str | None = None
        self.sort_marker = "↓"
        self.total = 0
        self.cursor = 0
        self.selected: dict[str, T | None] = {}  # id -> row (None when selected by id)
        self.error: str | None = None
        self.loaded = False
        self._source: RowSource[T] | None = None
        self._generation = 0
        self._pages: OrderedDict[int, list[T]] = OrderedDict()
        self._fetching = False
        self._reloading = False

    # -- loading ----------------------------------------------------------------

    def reload(self, source: RowSource[T] | None = None, *, keep_position: bool = False) -> None:
        """Re-count and re-page (a new filter, sort, or data changed).

        The old rows stay on screen until the new ones arrive, so typing a
        search does not flicker; ``keep_position`` keeps the cursor (after an
        action on the current row) instead of going back to the top.
        """
        if source is not None:
            self._source = source
        if self._source is None:
            return
        self._generation += 1
        self._reloading = True
        first_page = self.cursor // PAGE_SIZE if keep_position else 0
        self._reload_worker(self._source, self._generation, first_page, keep_position)

    @work(thread=True, exclusive=True, group="record-table-reload", exit_on_error=False)
    def _reload_worker(self, source: RowSource[T], generation: int, first_page: int, keep_position: bool) -> None:
        try:
            total = source.count()
            pages = {first_page: source.page(first_page * PAGE_SIZE, PAGE_SIZE)}
        except Exception as exc:  # shown in the table; a bad query must not kill the app
            self.post_message(self.PagesLoaded(generation, {}, 0, keep_position, error_message(exc)))
            return
        self.post_message(self.PagesLoaded(generation, pages, total, keep_position, None))

    @work(thread=True, exclusive=True, group="record-table-pages", exit_on_error=False)
    def _fetch_worker(self, source: RowSource[T], generation: int, wanted: list[int]) -> None:
        pages: dict[int, list[T]] = {}
        error: str | None = None
        try:
            for page in wanted:
                pages[page] = source.page(page * PAGE_SIZE, PAGE_SIZE)
        except Exception as exc:  # keep what loaded; the error is shown
            error = error_message(exc)
        self.post_message(self.PagesLoaded(generation, pages, None, False, error))

    def on_record_table_pages_loaded(self, message: PagesLoaded) -> None:
        message.stop()
        if message.total is None:
            self._fetching = False
        if message.generation != self._generation:
            self._want_pages()
            return
        if message.total is not None:
            self._reloading = False
            self._pages.clear()
            self.total = message.total
            self.loaded = True
            self.error = message.error
            self.cursor = min(self.cursor, max(self.total - 1, 0)) if message.keep_position else 0
            self.virtual_size = Size(0, self.total + 1)
            if not message.keep_position:
                self.scroll_to(y=0, animate=False, immediate=True)
        elif message.error:
            self.error = message.error
        for page, rows in message.pages.items():
            self._pages[page] = rows
            self._pages.move_to_end(page)
        while len(self._pages) > CACHED_PAGES:
            self._pages.popitem(last=False)
        if message.total is not None:
            self.post_message(self.Loaded(self, self.total, message.error))
            self._announce_cursor()
        self.refresh()
        self._want_pages()

    def _visible_rows(self) -> int:
        return max(self.scrollable_content_region.height - 1, 1)

    def _want_pages(self) -> None:
        """Fetch the pages the viewport (and the cursor) need, one fetch at a time."""
        if self._source is None or self._fetching or self._reloading or not self.total:
            return
        first = max(int(self.scroll_y), 0)
        last = min(first + self._visible_rows(), self.total) - 1
        needed = set(range(first // PAGE_SIZE, last // PAGE_SIZE + 1)) if last >= first else set()
        needed.add(self.cursor // PAGE_SIZE)
        missing = sorted(p for p in needed if p not in self._pages and p * PAGE_SIZE < self.total)
        if missing:
            self._fetching = True
            self._fetch_worker(self._source, self._generation, missing)

    def row_at(self, index: int) -> T | None:
        """The row at ``index`` if its page is loaded (rendering never waits)."""
        page = self._pages.get(index // PAGE_SIZE)
        if page is None:
            return None
        offset = index % PAGE_SIZE
        return page[offset] if offset < len(page) else None

    @property
    def current_row(self) -> T | None:
        return self.row_at(self.cursor) if self.total else None

    # -- selection ----------------------------------------------------------------

    def selected_ids(self) -> list[str]:
        return list(self.selected)

    def select_ids(self, ids: Iterable[str]) -> None:
        """Select rows by id (e.g. every deal the filter matches)."""
        for row_id in ids:
            self.selected.setdefault(row_id, None)
        self.refresh()
        self.post_message(self.SelectionChanged(self, len(self.selected)))

    def clear_selection(self) -> None:
        self.selected.clear()
        self.refresh()
        self.post_message(self.SelectionChanged(self, 0))

    def action_toggle_select(self) -> None:
        row = self.current_row
        if not self.selectable or row is None or self._source is None:
            return
        key = self._source.key(row)
        if key in self.selected:
            del self.selected[key]
        else:
            self.selected[key] = row
        self.post_message(self.SelectionChanged(self, len(self.selected)))
        self.move_cursor(self.cursor + 1)
        self.refresh()

    # -- cursor ----------------------------------------------------------------------

    def move_cursor(self, index: int) -> None:
        if not self.total:
            return
        index = max(0, min(index, self.total - 1))
        changed = index != self.cursor
        self.cursor = index
        top = int(self.scroll_y)
        rows = self._visible_rows()
        if index < top:
            self.scroll_to(y=index, animate=False, immediate=True)
        elif index >= top + rows:
            self.scroll_to(y=index - rows + 1, animate=False, immediate=True)
        self.refresh()
        self._want_pages()
        if changed:
            self._announce_cursor()

    def _announce_cursor(self) -> None:
        self.post_message(self.CursorMoved(self, self.cursor, self.current_row))

    def action_cursor(self, step: int) -> None:
        self.move_cursor(self.cursor + step)

    def action_page(self, direction: int) -> None:
        self.move_cursor(self.cursor + direction * self._visible_rows())

    def action_edge(self, end: int) -> None:
        self.move_cursor(self.total - 1 if end else 0)

    def action_open(self) -> None:
        row = self.current_row
        if row is not None:
            self.post_message(self.Opened(self, row))

    def watch_scroll_y(self, old_value: float, new_value: float) -> None:
        super().watch_scroll_y(old_value, new_value)
        self._want_pages()

    def on_resize(self, _event: events.Resize) -> None:
        self.virtual_size = Size(0, self.total + 1)
        self._want_pages()

    def on_click(self, event: events.Click) -> None:
        offset = event.get_content_offset(self)
        if offset is None:
            return
        if offset.y == 0:
            column = self._column_at(offset.x)
            if column is not None:
                self.post_message(self.HeaderClicked(self, column))
            return
        index = int(self.scroll_y) + offset.y - 1
        if 0 <= index < self.total:
            self.move_cursor(index)
            if event.chain >= 2:
                self.action_open()

    # -- drawing ------------------------------------------------------------------------

    def _layout(self, width: int) -> list[tuple[Column[T], int]]:
        """The columns that fit ``width`` and the width each gets."""
        columns = [c for c in self.columns if width >= c.hide_below]
        gutter = self._gutter
        fixed = sum(c.width for c in columns) + len(columns) - 1 + gutter
        flexible = [c for c in columns if not c.width] or columns[-1:]
        spare = max(width - fixed, 4 * len(flexible))
        share, extra = divmod(spare, len(flexible))
        layout = []
        for column in columns:
            cell_width = column.width
            if column in flexible:
                cell_width += share + (1 if extra > 0 else 0)
                extra -= 1
            layout.append((column, cell_width))
        return layout

    @property
    def _gutter(self) -> int:
        """Left margin: room for the selection mark, or one space."""
        return SELECT_MARK_WIDTH if self.selectable else 1

    def _column_at(self, x: int) -> Column[T] | None:
        position = self._gutter
        for column, width in self._layout(self.scrollable_content_region.width):
            if position <= x < position + width + 1:
                return column
            position += width + 1
        return None

    @staticmethod
    def _fit(cell: Text | str, width: int, align: str) -> Text:
        text = cell.copy() if isinstance(cell, Text) else Text(cell)
        text.no_wrap = True
        if "\n" in text.plain:
            text = Text(" ").join(text.split("\n"))
        text.truncate(width, overflow="ellipsis")
        padding = width - text.cell_len
        if padding > 0:
            if align == "right":
                text.pad_left(padding)
            else:
                text.pad_right(padding)
        return text

    def _line(self, cells: list[Text], mark: str, style: Style, width: int) -> Strip:
        line = Text(mark.ljust(self._gutter), no_wrap=True, end="")
        line.append_text(Text(" ").join(cells))
        line.stylize_before(style)
        segments = list(line.render(self.app.console))
        return Strip(segments).crop_extend(0, width, style)

    def _header(self, width: int) -> Strip:
        style = self.rich_style + self.get_component_rich_style("record-table--header")
        cells = []
        for column, cell_width in self._layout(width):
            label = column.label
            if column.sort and column.sort == self.sort_key:
                label = f"{label} {self.sort_marker}"
            cells.append(self._fit(label, cell_width, column.align))
        return self._line(cells, "", style, width)

    def render_line(self, y: int) -> Strip:
        width = self.scrollable_content_region.width
        base = self.rich_style
        if y == 0:
            return self._header(width)
        index = int(self.scroll_y) + y - 1
        if index >= self.total:
            if y == 1 and (self.error or (self.loaded and not self.total)):
                note = self.error or self.empty_text
                style = base + self.get_component_rich_style("record-table--placeholder")
                return Strip([Segment(f" {note}", style)]).crop_extend(0, width, style)
            return Strip.blank(width, base)
        row = self.row_at(index)
        if row is None:
            style = base + self.get_component_rich_style("record-table--placeholder")
            return Strip([Segment("  …", style)]).crop_extend(0, width, style)
        assert self._source is not None
        selected = self._source.key(row) in self.selected
        style = base
        if selected:
            style += self.get_component_rich_style("record-table--selected")
        if index == self.cursor:
            style += self.get_component_rich_style("record-table--cursor")
        cells = [self._fit(column.cell(row), cell_width, column.align) for column, cell_width in self._layout(width)]
        return self._line(cells, "●" if selected else "", style, width)
