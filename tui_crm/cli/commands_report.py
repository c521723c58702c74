"""``crm report funnel|sources|losses|activity``: the reports as tables, JSON, CSV or a page.

Thin: a ``ReportFilter`` from the options, one service call, then the
report's tables (``services.reports.*.tables``) printed, or the dataclass
as JSON, or CSV blocks, or the self-contained HTML page with its charts.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from tui_crm.cli.commands_add import JsonOpt
from tui_crm.cli.output import emit_json, say, table
from tui_crm.cli.state import state

report = typer.Typer(help="Reports: the funnel, sources, losses and managers' activity.", no_args_is_help=True)

PipelineOpt = Annotated[str | None, typer.Option("--pipeline", "-P", help="Pipeline name or key.")]
PeriodOpt = Annotated[
    str | None,
    typer.Option(
        "--period",
        help="this-month (default), last-month, this-quarter, last-quarter, this-year, last-year or all.",
    ),
]
FromOpt = Annotated[str | None, typer.Option("--from", help="First day, YYYY-MM-DD or DD.MM.YYYY.")]
ToOpt = Annotated[str | None, typer.Option("--to", help="Last day (default today).")]
ResponsibleOpt = Annotated[str | None, typer.Option("--responsible", help="Only this manager's deals.")]
TagOpt = Annotated[list[str] | None, typer.Option("--tag", help="Only deals with this tag (repeatable: all of them).")]
CsvOpt = Annotated[bool, typer.Option("--csv", help="CSV: one block per table (title line, header, rows).")]
HtmlOpt = Annotated[Path | None, typer.Option("--html", help="Write a self-contained page with the charts to FILE.")]


def _run(name: str, pipeline: Any, period: Any, start: Any, end: Any, responsible: Any, tags: Any, json_: bool, csv: bool,
         html: Path | None) -> None:
    from tui_crm.domain.errors import ValidationError
    from tui_crm.services.reports import REPORTS, ReportFilter, tables_of
    from tui_crm.services.reports.shape import EN, RU

    if sum((json_, csv, html is not None)) > 1:
        raise ValidationError("--json/--csv/--html", "choose one output")
    flt = ReportFilter(pipeline=pipeline, period=period, start=start, end=end, responsible=responsible, tags=list(tags or []))
    crm = state.crm()
    result = REPORTS[name](crm, flt)
    if json_:
        emit_json(result)
        return
    if html is not None:
        from tui_crm.services.reports.html import write_page

        say(f"Wrote {write_page(result, tables_of(result, RU), html)}")
        return
    shown = tables_of(result, EN)
    if csv:
        _csv(shown)
        return
    for part in shown:
        table(part.title, part.columns, [[_cell(v, n in part.money_columns) for n, v in enumerate(row)] for row in part.rows])


def _cell(value: Any, money: bool) -> str:
    from decimal import Decimal

    from tui_crm.domain.money import format_money

    if value is None:
        return "—"
    if money and isinstance(value, Decimal):
        return format_money(value)
    return str(value)


def _csv(parts: list[Any]) -> None:
    """Blocks: the table's title, its header, its rows, a blank line. Numbers stay plain (1234567.00)."""
    import csv
    import sys

    from tui_crm.cli.output import clean

    writer = csv.writer(sys.stdout, lineterminator="\n")
    for n, part in enumerate(parts):
        if n:
            sys.stdout.write("\n")
        writer.writerow([clean(part.title)])
        writer.writerow(part.columns)
        for row in part.rows:
            writer.writerow(["" if v is None else clean(v) if isinstance(v, str) else str(v) for v in row])


REPORTS = {
    "funnel": """Deals entering each stage in the period, conversion to the next stage and to Won,
    median days in stage, the open pipeline by stage and the weighted forecast (stage probability
    from the pipelines file).""",
    "sources": """Leads created, deals won and won value by source channel, site and territory;
    Unsorted requests accepted, declined (with reasons) and new.""",
    "losses": """Deals lost in the period by loss reason and by the stage they were lost from (count, value).""",
    "activity": """Per manager: calls logged, tasks done, tasks overdue now, open deals without a task, deals
    touched; and the tasks overdue at the end of each day of the period.""",
}


def _report_command(kind: str, doc: str) -> None:
    """One ``crm report KIND`` command: every report takes the same filters and outputs."""

    def command(
        pipeline: PipelineOpt = None,
        period: PeriodOpt = None,
        start: FromOpt = None,
        end: ToOpt = None,
        responsible: ResponsibleOpt = None,
        tag: TagOpt = None,
        json_: JsonOpt = False,
        csv: CsvOpt = False,
        html: HtmlOpt = None,
    ) -> None:
        _run(kind, pipeline, period, start, end, responsible, tag, json_, csv, html)

    command.__name__ = f"report_{kind}"
    command.__doc__ = doc
    report.command(kind)(command)


for _kind, _doc in REPORTS.items():
    _report_command(_kind, _doc)


def register(app: typer.Typer) -> None:
    app.add_typer(report, name="report")
