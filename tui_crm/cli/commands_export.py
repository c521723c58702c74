"""``crm export``: deals, contacts, companies as CSV (amoCRM's layout, which
``crm import`` reads back), JSON lines or vCard; tasks as iCalendar."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from tui_crm.cli.output import say
from tui_crm.cli.state import state

exports = typer.Typer(
    help="Export records: crm export deals|contacts|companies --format csv|json|vcard [-o FILE].", no_args_is_help=True
)

FormatOpt = Annotated[str, typer.Option("--format", "-f", help="csv (amoCRM layout), json (JSON lines) or vcard (contacts).")]
FilterOpt = Annotated[
    list[str] | None, typer.Option("--filter", help="KEY=VALUE: pipeline, stage, responsible, tag, query (a bare word searches).")
]
OutOpt = Annotated[Path | None, typer.Option("--output", "-o", help="Write to this file (default: stdout).")]


def _checked(output: Path | None) -> Path | None:
    """Refuse an -o that names no file ('' or a folder) before anything is read."""
    if output is not None and (not output.name or output.is_dir()):
        from tui_crm.domain.errors import ValidationError

        raise ValidationError("--output", f"«{output}» is not a file name; give one, e.g. -o export.csv")
    return output


def _export(entity: str, fmt: str, filters: list[str] | None, output: Path | None) -> None:
    from tui_crm.services.exporting import export_records

    output = _checked(output)
    crm = state.crm()
    if output is None:
        export_records(crm, entity, fmt, sys.stdout, filters or [])
        return
    tmp = output.with_name(output.name + ".part")
    try:
        with tmp.open("w", encoding="utf-8-sig" if fmt == "csv" else "utf-8", newline="") as handle:
            result = export_records(crm, entity, fmt, handle, filters or [])
        tmp.replace(output)
    finally:
        tmp.unlink(missing_ok=True)
    print(f"{result.count} {entity} written to {output}", file=sys.stderr)


@exports.command("deals")
def export_deals(fmt: FormatOpt = "csv", filter_: FilterOpt = None, output: OutOpt = None) -> None:
    """Deals with their main contact and company (amoCRM's «Экспорт сделок» layout)."""
    _export("deals", fmt, filter_, output)


@exports.command("contacts")
def export_contacts(fmt: FormatOpt = "csv", filter_: FilterOpt = None, output: OutOpt = None) -> None:
    """Contacts (amoCRM's contacts-and-companies layout, «Тип» = контакт), JSON lines or vCard."""
    _export("contacts", fmt, filter_, output)


@exports.command("companies")
def export_companies(fmt: FormatOpt = "csv", filter_: FilterOpt = None, output: OutOpt = None) -> None:
    """Companies (the same layout, «Тип» = компания)."""
    _export("companies", fmt, filter_, output)


@exports.command("tasks")
def export_tasks(
    ical: Annotated[bool, typer.Option("--ical", help="iCalendar (the only format for tasks).")] = True,
    output: OutOpt = None,
    subscribe: Annotated[
        bool, typer.Option("--subscribe", help="Keep the file current: rewritten after every task change.")
    ] = False,
) -> None:
    """Open tasks as iCalendar (VTODO, with a VEVENT for timed ones); stable UIDs."""
    from tui_crm.services.calendar_feed import set_feed, write_ical

    output = _checked(output)
    crm = state.crm()
    if subscribe:
        if output is None:
            raise typer.BadParameter("--subscribe needs -o FILE")
        set_feed(crm, output)
    count = write_ical(crm, output)
    if output is not None:
        say(f"{count} tasks written to {output}" + (" (rewritten on each change)" if subscribe else ""))


def register(app: typer.Typer) -> None:
    app.add_typer(exports, name="export")
