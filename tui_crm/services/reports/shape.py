"""A report as tables and charts: what the CLI prints, the screen and the page show.

Each report module turns its dataclass into ``ReportTable``s (``tables``),
so the three views lay out the same cells under the same titles. Cells stay
numbers (int, float, Decimal, None); each view formats them its own way
(CSV keeps ``1234567.00``, a table reads ``1 234 567 ₽``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

RU, EN = 0, 1  # index into the (Russian, English) label pairs
Cell = str | int | float | Decimal | None


@dataclass
class Chart:
    """A bar chart (``kind`` "bar"), a funnel (bars narrowing, "funnel") or a day series ("line")."""

    kind: str
    title: str
    labels: list[str]
    values: list[float]
    money: bool = False


@dataclass
class ReportTable:
    key: str  # stable id (CSV block, HTML ids, tests)
    title: str
    columns: list[str]
    rows: list[list[Cell]]
    money_columns: set[int] = field(default_factory=set)
    chart: Chart | None = None


def label(pair: tuple[str, str], lang: int) -> str:
    return pair[lang]


def as_float(value: Cell) -> float:
    if value is None or isinstance(value, str):
        return 0.0
    return float(value)
