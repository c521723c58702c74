"""One stage of the board: header with count and sum, a window of cards.

A column never holds its deals as widgets. It knows the stage's count
(from the aggregate), caches the pages it has fetched (``PAGE`` rows each,
fetched in a thread worker through the ``fetch`` callable the board gives
it), and shows a window of recycled :class:`DealCard` widgets — as many as
fit its height — plus "↓ 123 more". Moving the cursor past the window
slides it and fetches the next page when needed, so a stage with 100k
deals opens as fast as one with ten.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from functools import partial

from rich.text import Text
from textual import events
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.message import Message
from textual.widget import Widget
from textual.widgets import Label

from tui_crm.domain.text import safe_text
from tui_crm.services.views import DealSummary, StageTotals, StageView
from tui_crm.widgets.deal_card import CARD_ROWS, DealCard, text_styles, whole_money

PAGE = 50
"""Rows per SQL page a column fetches."""

HEADER_ROWS = 3
"""Stage name, count/sum line and the rule under them."""

FOOTER_ROWS = 1
"""The "↓ N more" line."""

PageFetch = Callable[[int, int], list[DealSummary]]
"""``fetch(offset, limit)``: one page of this column; runs in a worker thread."""


def stage_sums(totals: StageTotals) -> str:
    """``3 450 000 ₽ · $40,000`` — the non-zero budget sums of a stage."""
    parts = []
    if totals.budget_rub:
        parts.append(whole_money(totals.budget_rub, "RUB"))
    if totals.budget_usd:
        parts.append(whole_money(totals.budget_usd, "USD"))
    return " · ".join(parts) or "—"


class ColumnHeader(Widget):
    """Stage name with the deal count at the right, budget sums under it, a rule.

    The rule is drawn here rather than by a widget of its own: every widget
    on the board is styled, laid out and composited on each load.
    """

    DEFAULT_CSS = """
    ColumnHeader { height: 3; width: 1fr; }
    """

    def __init__(self, name: str, kind: str) -> None:
        super().__init__()
        self.stage_name = safe_text(name, keep_newlines=False)
        self.kind = kind
        self.count = "…"
        self.sums = ""
        self.focused = False
        self.alert = False

    def set_totals(self, count: str, sums: str, *, alert: bool = False) -> None:
        self.count, self.sums, self.alert = count, sums, alert
        self.refresh()

    def set_focused(self, focused: bool) -> None:
        if focused != self.focused:
            self.focused = focused
            self.refresh()

    def render(self) -> Text:
        width = max(self.size.width, 1)
        styles = text_styles(self.app)
        role = "accent" if self.focused else {"won": "won", "lost": "lost"}.get(self.kind, "name")
        count = Text(self.count, style=styles["muted"] + styles["name"])
        name = Text(self.stage_name, style=styles[role])
        name.truncate(max(width - count.cell_len - 1, 1), overflow="ellipsis")
        top = name + Text(" " * max(width - name.cell_len - count.cell_len, 1)) + count
        sums = Text(self.sums, style=styles["new" if self.alert else "muted"])
        sums.truncate(width, overflow="ellipsis")
        rule = Text("─" * width, style=styles["rule-focus" if self.focused else "rule"])
        return Text("\n").join([top, sums, rule])


class BoardColumn(Vertical, can_focus=True):
    """A stage's column; focusable, with a cursor over its (paged) deals."""

    DEFAULT_CSS = """
    BoardColumn {
        width: 26;
        height: 1fr;
        padding: 0 1;
        margin-right: 1;
        background: $surface;
    }
    BoardColumn > .column--more { dock: bottom; width: 1fr; height: 1; color: $text-muted; text-align: center; }
    BoardColumn .column--empty { color: $text-disabled; width: 1fr; text-align: center; padding-top: 1; }
    """

    class PageFailed(Message):
        """Fetching a page failed; the board reports it."""

        def __init__(self, column: BoardColumn, error: Exception) -> None:
            super().__init__()
            self.column = column
            self.error = error

    class CursorMoved(Message):
        """The cursor moved (keys or mouse); the board may follow."""

        def __init__(self, column: BoardColumn) -> None:
            super().__init__()
            self.column = column

    def __init__(self, stage: StageView, fetch: PageFetch, is_selected: Callable[[str], bool], slots: int = 0) -> None:
        # No per-kind CSS class: a class change restyles the column and every
        # card in it (~30 ms a column), and a pipeline switch re-targets all.
        super().__init__()
        self.stage = stage
        self.fetch = fetch
        self.is_selected = is_selected
        self.totals = StageTotals(stage=stage, count=0, budget_rub=Decimal(0), budget_usd=Decimal(0))
        self.unsorted_new = 0
        self.pages: dict[int, list[DealSummary]] = {}
        self._loading: set[int] = set()
        self.generation = 0
        self.loaded = False
        """False until the first :meth:`load`: an empty column says "no deals" only once it knows."""
        self.top = 0
        self.cursor = 0
        self.slots = 1
        self.on_screen = slots > 0
        """Whether the column has been on screen: only then does it hold cards
        (see :meth:`reveal`). A board of nine stages on a 160-column terminal
        shows five; the other columns cost no card widgets until scrolled to."""
        self.cards: list[DealCard] = [DealCard(index) for index in range(slots)]
        """The recycled card widgets: created with the column when the board can
        guess its height (one mount instead of a second round after the first
        resize), corrected by :meth:`on_resize`."""
        for card in self.cards:
            card.display = False
        if slots:
            self.slots = slots
        # Kept as attributes: a query per repaint walks the column's subtree.
        self._header = ColumnHeader(stage.name, stage.kind)
        self._empty = Label("no deals", classes="column--empty", markup=False)
        self._empty.display = False
        self._more = Label("", classes="column--more", markup=False)
        self._more_text = ""

    def retarget(self, stage: StageView, fetch: PageFetch) -> None:
        """Show another stage in this column (a pipeline switch).

        Re-using mounted columns and their cards instead of mounting new ones
        saves most of a switch: styling fresh widgets is what costs.
        """
        self.stage, self.fetch = stage, fetch
        self.pages, self.cursor, self.top = {}, 0, 0
        self._loading.clear()
        header = self._header
        header.stage_name, header.kind = safe_text(stage.name, keep_newlines=False), stage.kind
        header.refresh()

    # ---- layout -------------------------------------------------------
    def compose(self) -> ComposeResult:
        # Cards are mounted straight into the column (after these), with no
        # container of their own: one widget fewer to style and lay out.
        yield self._header
        yield self._empty
        yield self._more
        yield from self.cards

    def on_resize(self, event: events.Resize) -> None:
        area = event.size.height - HEADER_ROWS - FOOTER_ROWS
        slots = max(1, (area + 1) // CARD_ROWS)
        if not self.on_screen:
            self.slots = slots
            self._scroll_to_cursor()
        elif slots != self.slots or len(self.cards) != slots:
            self._set_slots(slots)
        else:
            # Data may have arrived before the column was mounted (the first
            # load races the mount), when render_window could not paint it.
            self.render_window()

    def reveal(self) -> None:
        """The column has come on screen: give it its cards (once)."""
        if not self.on_screen:
            self.on_screen = True
            self._set_slots(self.slots)

    def _set_slots(self, slots: int) -> None:
        self.slots = slots
        if len(self.cards) < slots:
            new = [DealCard(index) for index in range(len(self.cards), slots)]
            for card in new:
                card.display = False
            self.cards.extend(new)
            self.mount_all(new)
        elif len(self.cards) > slots:
            extra, self.cards = self.cards[slots:], self.cards[:slots]
            self.remove_children(extra)
        self._scroll_to_cursor()
        self.render_window()

    # ---- data ---------------------------------------------------------
    @property
    def count(self) -> int:
        return self.totals.count

    def load(self, totals: StageTotals, first_page: list[DealSummary], generation: int, unsorted_new: int = 0) -> None:
        """New data for the column; keeps the cursor where it was if it still fits."""
        self.generation = generation
        self.loaded = True
        self.totals = totals
        self.unsorted_new = unsorted_new
        self.pages = {0: first_page}
        self._loading.clear()
        self.cursor = max(0, min(self.cursor, self.count - 1))
        self._scroll_to_cursor()
        self._render_header()
        self.render_window()

    def _render_header(self) -> None:
        sums = stage_sums(self.totals)
        if self.stage.kind == "unsorted":
            sums = f"✉ {self.unsorted_new} new request{'s' if self.unsorted_new != 1 else ''}"
            self.set_class(self.unsorted_new > 0, "-has-new")
        self._header.set_totals(str(self.count), sums, alert=self.unsorted_new > 0)

    def row(self, index: int) -> DealSummary | None:
        """The deal at ``index`` if its page is here; else fetch it and say None."""
        if not 0 <= index < self.count:
            return None
        page, at = divmod(index, PAGE)
        rows = self.pages.get(page)
        if rows is None:
            self._request(page)
            return None
        return rows[at] if at < len(rows) else None

    def _request(self, page: int) -> None:
        if page in self._loading or page in self.pages or page * PAGE >= self.count:
            return
        self._loading.add(page)
        self.run_worker(
            partial(self._fetch_page, self.generation, page),
            thread=True,
            group=f"column-{self.stage.key}",
            exit_on_error=False,
        )

    def _fetch_page(self, generation: int, page: int) -> None:
        """Worker thread: one SQL page, handed back to the UI thread."""
        try:
            rows = self.fetch(page * PAGE, PAGE)
        except Exception as error:  # noqa: BLE001 - reported to the user, not swallowed
            self.app.call_from_thread(self.post_message, self.PageFailed(self, error))
            return
        self.app.call_from_thread(self._got_page, generation, page, rows)

    def _got_page(self, generation: int, page: int, rows: list[DealSummary]) -> None:
        self._loading.discard(page)
        if generation != self.generation:
            return
        self.pages[page] = rows
        self.render_window()

    # ---- cursor -------------------------------------------------------
    def current(self) -> DealSummary | None:
        """The deal under the cursor (None when empty or still loading)."""
        return self.row(self.cursor) if self.count else None

    @property
    def visual_row(self) -> int:
        """Cursor position inside the window (kept when focus changes column)."""
        return self.cursor - self.top

    def set_cursor(self, index: int) -> None:
        self.cursor = max(0, min(index, self.count - 1))
        self._scroll_to_cursor()
        self.render_window()
        self.post_message(self.CursorMoved(self))

    def move_cursor(self, delta: int) -> None:
        self.set_cursor(self.cursor + delta)

    def _scroll_to_cursor(self) -> None:
        if self.cursor < self.top:
            self.top = self.cursor
        elif self.cursor >= self.top + self.slots:
            self.top = self.cursor - self.slots + 1
        self.top = max(0, min(self.top, max(self.count - self.slots, 0)))

    # ---- painting -----------------------------------------------------
    def render_window(self, focused: bool | None = None) -> None:
        """Point the card widgets at the rows in the window.

        ``focused`` overrides ``has_focus``, which is not yet updated while
        the Focus/Blur handlers run.
        """
        if not self.is_mounted:
            return
        focused = self.has_focus if focused is None else focused
        for slot, card in enumerate(self.cards):
            index = self.top + slot
            if index < self.count:
                summary = self.row(index)
                card.display = True
                card.show(
                    summary,
                    selected=summary is not None and self.is_selected(summary.id),
                    cursor=index == self.cursor,
                    focused=focused,
                )
            else:
                card.display = False
        self._empty.display = self.loaded and self.count == 0
        below = self.count - self.top - len(self.cards)
        parts = []
        if self.top > 0:
            parts.append(f"↑ {self.top}")
        if below > 0:
            parts.append(f"↓ {below} more")
        more = "   ".join(parts)
        if more != self._more_text:
            self._more_text = more
            self._more.update(Text(more), layout=False)  # fixed size: no need to lay the screen out again
        # Fetch ahead so scrolling rarely shows a loading card.
        ahead = self.top + len(self.cards) + PAGE // 2
        if ahead < self.count:
            self._request(ahead // PAGE)

    def on_focus(self) -> None:
        self._header.set_focused(True)
        self.render_window(focused=True)

    def on_blur(self) -> None:
        self._header.set_focused(False)
        self.render_window(focused=False)

    def on_deal_card_clicked(self, message: DealCard.Clicked) -> None:
        message.stop()
        self.focus()
        self.set_cursor(self.top + message.card.slot)
