"""Charts of a report drawn with block characters: bars, a funnel, a day series.

Rich text only (no plotting library): the same cells on every terminal, so
snapshots hold, and labels pass through ``clean`` like every other text.
"""

from __future__ import annotations

from decimal import Decimal

from rich.table import Table
from rich.text import Text
from textual.geometry import Size
from textual.widget import Widget

from tui_crm.domain.money import format_money
from tui_crm.services.reports.shape import Cell, Chart, ReportTable
from tui_crm.widgets.plain_text import clean

EIGHTHS = " ▏▎▍▌▋▊▉"
LEVELS = "▁▂▃▄▅▆▇█"
LABEL_WIDTH = 22


def _bar(value: float, top: float, width: int) -> str:
    """A bar ``value/top`` of ``width`` cells long, in eighths of a cell."""
    if top <= 0 or value <= 0:
        return ""
    eighths = round(value / top * width * 8)
    return "█" * (eighths // 8) + (EIGHTHS[eighths % 8] if eighths % 8 else "")


def _number(value: float, money: bool) -> str:
    return format_money(Decimal(str(value)).quantize(Decimal("0.01"))) if money else f"{value:g}"


def chart_text(chart: Chart, width: int) -> Text:
    """The chart in ``width`` columns: a title line, then one line per bar (or the day series)."""
    text = Text(clean(chart.title, one_line=True), style="bold")
    if not chart.values:
        text.append("\n—", style="dim")
        return text
    if chart.kind == "line":
        top = max(chart.values) or 1
        cells = chart.values[-max(width - 2, 1) :]
        text.append("\n")
        text.append("".join(LEVELS[min(7, int(v / top * 7.999))] if v else "·" for v in cells), style="red")
        first, last = clean(chart.labels[-len(cells)], one_line=True), clean(chart.labels[-1], one_line=True)
        text.append(f"\n{first} … {last}", style="dim")
        text.append(f"   max {max(chart.values):g}", style="dim")
        return text
    label_width = min(LABEL_WIDTH, max(len(clean(label, one_line=True)) for label in chart.labels))
    numbers = [_number(v, chart.money) for v in chart.values]
    number_width = max(len(n) for n in numbers)
    bar_width = min(max(width - label_width - number_width - 4, 4), 60)
    top = max(chart.values)
    for label, value, number in zip(chart.labels, chart.values, numbers, strict=True):
        name = clean(label, one_line=True)
        name = name if len(name) <= label_width else name[: label_width - 1] + "…"
        bar = _bar(value, top, bar_width)
        text.append(f"\n{name:<{label_width}} ")
        if chart.kind == "funnel":  # centred bars narrowing stage by stage
            pad = (bar_width - len(bar)) // 2
            text.append(" " * pad)
            text.append(bar, style="cyan")
            text.append(" " * (bar_width - pad - len(bar)))
        else:
            text.append(bar, style="green")
            text.append(" " * (bar_width - len(bar)))
        text.append(f" {number:>{number_width}}")
    return text


def cell_text(value: Cell, money: bool) -> Text:
    if value is None:
        return Text("—", style="dim")
    if money and isinstance(value, Decimal):
        return Text(format_money(value))
    return Text(clean(str(value), one_line=True))


def table_of(part: ReportTable) -> Table:
    """A report table as a Rich table; every cell is plain text (never markup)."""
    grid = Table(title=Text(clean(part.title, one_line=True), style="bold"), title_justify="left", expand=False)
    for n, column in enumerate(part.columns):
        grid.add_column(Text(column), justify="left" if n == 0 else "right", overflow="fold")
    for row in part.rows:
        grid.add_row(*(cell_text(v, n in part.money_columns) for n, v in enumerate(row)))
    return grid


class ChartView(Widget):
    """A report chart drawn at whatever width the layout gives it."""

    DEFAULT_CSS = "ChartView { height: auto; }"

    def __init__(self, chart: Chart, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self.chart = chart

    def get_content_height(self, container: Size, viewport: Size, width: int) -> int:
        return len(chart_text(self.chart, width).plain.split("\n"))

    def render(self) -> Text:
        return chart_text(self.chart, self.content_size.width or 40)
