"""A report as one self-contained HTML page: its tables and inline SVG charts.

No script, no external file, font or style: the page opens anywhere, offline,
and can be mailed. Every text is escaped (``html.escape``): deal names,
sources and reasons come from strangers. Numbers are shown as the screen
shows them (``1 500 000 ₽``); each cell and bar also carries its plain value
in ``data-value`` so a reader (or a test) can take the figures back.
"""

from __future__ import annotations

import html
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from tui_crm.domain.errors import ValidationError
from tui_crm.domain.money import format_money
from tui_crm.domain.text import safe_text
from tui_crm.services.reports.shape import Cell, Chart, ReportTable, as_float

TEXT = {"made": "Сформировано", "lang": "ru", "page_title": "Отчёт"}
STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em; color: #222; }
h1 { font-size: 1.4em; } h2 { font-size: 1.1em; margin-top: 2em; }
.part { display: flex; flex-wrap: wrap; gap: 2em; align-items: flex-start; }
table { border-collapse: collapse; font-size: 0.9em; }
th, td { border: 1px solid #ccc; padding: 0.25em 0.6em; }
th { background: #f3f3f3; } td.num { text-align: right; white-space: nowrap; }
svg text { font: 12px system-ui, sans-serif; fill: #222; }
.made { color: #777; font-size: 0.85em; }
"""
BAR = {"bar": "#4c9a2a", "funnel": "#2a7ab0", "line": "#c0392b"}


def esc(value: object) -> str:
    return html.escape(safe_text(str(value)), quote=True)


def cell_text(value: Cell, money: bool) -> str:
    if value is None:
        return "—"
    if money and isinstance(value, Decimal):
        return format_money(value)
    return str(value)


def table_html(part: ReportTable) -> str:
    head = "".join(f"<th>{esc(c)}</th>" for c in part.columns)
    rows = []
    for row in part.rows:
        cells = []
        for n, value in enumerate(row):
            numeric = isinstance(value, int | float | Decimal)
            plain = "" if value is None else str(value)
            cells.append(
                f'<td class="{"num" if numeric else "text"}" data-value="{esc(plain)}">'
                f"{esc(cell_text(value, n in part.money_columns))}</td>"
            )
        rows.append("<tr>" + "".join(cells) + "</tr>")
    return f'<table id="table-{esc(part.key)}"><thead><tr>{head}</tr></thead><tbody>{"".join(rows)}</tbody></table>'


def chart_svg(chart: Chart, key: str) -> str:
    """Horizontal bars (the funnel: centred), or columns for a day series."""
    values = [as_float(v) for v in chart.values]
    top = max(values, default=0) or 1
    title = f'<text x="0" y="14" font-weight="bold">{esc(chart.title)}</text>'
    if chart.kind == "line":
        width, height, step = 640, 160, max(2.0, 600 / max(len(values), 1))
        bars = "".join(
            f'<rect class="bar" data-label="{esc(label)}" data-value="{v:g}" x="{20 + i * step:.1f}"'
            f' y="{150 - v / top * 120:.1f}" width="{max(step - 1, 1):.1f}" height="{v / top * 120:.1f}" fill="{BAR["line"]}"/>'
            for i, (label, v) in enumerate(zip(chart.labels, values, strict=True))
        )
        axis = f'<text x="20" y="30">max {max(values, default=0):g}</text>'
        return _svg(key, width, height, title + axis + bars)
    row, label_width, bar_width = 22, 170, 300
    height = 26 + row * len(values)
    parts = [title]
    for i, (label, v) in enumerate(zip(chart.labels, values, strict=True)):
        y = 24 + i * row
        length = v / top * bar_width
        x = label_width + ((bar_width - length) / 2 if chart.kind == "funnel" else 0)
        shown = format_money(Decimal(str(v)).quantize(Decimal("0.01"))) if chart.money else f"{v:g}"
        parts.append(
            f'<text x="0" y="{y + 14}">{esc(label[:28])}</text>'
            f'<rect class="bar" data-label="{esc(label)}" data-value="{v:g}" x="{x:.1f}" y="{y}" width="{length:.1f}"'
            f' height="{row - 6}" fill="{BAR.get(chart.kind, BAR["bar"])}"/>'
            f'<text class="value" x="{label_width + bar_width + 8}" y="{y + 14}">{esc(shown)}</text>'
        )
    width = label_width + bar_width + 120
    return _svg(key, width, height, "".join(parts))


def _svg(key: str, width: int, height: int, inner: str) -> str:
    return f'<svg id="chart-{esc(key)}" xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}">{inner}</svg>'


def page(report: Any, tables: list[ReportTable], made: datetime) -> str:
    """The whole page as text."""
    title = tables[0].title if tables else TEXT["page_title"]
    body = []
    for part in tables:
        chart = chart_svg(part.chart, part.key) if part.chart is not None else ""
        body.append(
            f'<section id="{esc(part.key)}"><h2>{esc(part.title)}</h2><div class="part">{table_html(part)}{chart}</div></section>'
        )
    return (
        f'<!DOCTYPE html>\n<html lang="{TEXT["lang"]}"><head><meta charset="utf-8">'
        f'<meta http-equiv="Content-Security-Policy" content="default-src \'none\'; style-src \'unsafe-inline\'">'
        f"<title>{esc(title)}</title><style>{STYLE}</style></head><body>"
        f"<h1>{esc(title)}</h1>{''.join(body)}"
        f'<p class="made">{TEXT["made"]}: {made:%Y-%m-%d %H:%M}</p></body></html>\n'
    )


def write_page(report: Any, tables: list[ReportTable], target: Path, made: datetime | None = None) -> Path:
    """Write the page to ``target`` (replacing it); a folder that is missing is a clear error."""
    try:
        return _write(report, tables, Path(target).expanduser(), made)
    except (OSError, ValueError) as exc:  # no permission, a NUL in the name, a full disk…
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise ValidationError("--html", f"cannot write {safe_text(str(target))}: {reason}; choose another file") from None


def _write(report: Any, tables: list[ReportTable], target: Path, made: datetime | None) -> Path:
    if target.is_dir():
        raise ValidationError("--html", f"{target} is a folder; give a file name, e.g. {target / 'report.html'}")
    if not target.parent.is_dir():
        raise ValidationError("--html", f"the folder {target.parent} does not exist; create it or choose another path")
    text = page(report, tables, made or datetime.now().astimezone())
    tmp = target.with_name(f".{target.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(target)
    return target
