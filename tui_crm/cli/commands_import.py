"""``crm import``: bring a file in (amoCRM export, CSV with a profile, vCard),
list imports, undo one, save a column mapping.

``crm import FILE`` runs the import; ``undo``, ``list`` and ``map`` are
subcommands (a first word that is not one of them is the file).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from typer.core import TyperGroup

from tui_crm.cli.commands_add import JsonOpt
from tui_crm.cli.output import clean, emit_json, say, table
from tui_crm.cli.state import state


class _FileFirst(TyperGroup):
    """``crm import FILE ...`` runs the hidden ``run`` command."""

    def resolve_command(self, ctx: Any, args: list[str]) -> Any:
        if args and args[0] not in self.commands and not args[0].startswith("-"):
            args = ["run", *args]
        return super().resolve_command(ctx, args)


imports = typer.Typer(
    cls=_FileFirst,
    help="Import a file: crm import FILE [--dry-run] [--type deals|contacts] [--policy strict|lenient] "
    "[--mode create|update|upsert] [--map PROFILE] [--create-stages] [--json]; or undo ID, list, map NAME.",
    no_args_is_help=True,
)


def _progress() -> tuple[Any, Any]:
    """A progress bar on stderr (Rich), and the callback that moves it."""
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    bar = Progress(
        TextColumn("importing"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
        console=Console(stderr=True), transient=True,
    )  # fmt: skip
    task = bar.add_task("import", total=None)

    def advance(done: int, total: int) -> None:
        bar.update(task, completed=done, total=total)

    return bar, advance


@imports.command("run", hidden=True)
def import_file(
    file: Annotated[Path, typer.Argument(help="amoCRM export (.csv), CSV with --map, or vCard (.vcf).")],
    type_: Annotated[str | None, typer.Option("--type", help="deals or contacts (detected when omitted).")] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Check and count everything; save nothing.")] = False,
    policy: Annotated[
        str, typer.Option("--policy", help="strict: a bad phone/e-mail/INN rejects the row; lenient: drops the value.")
    ] = "lenient",
    mode: Annotated[str, typer.Option("--mode", help="create, update (existing only) or upsert.")] = "create",
    map_: Annotated[str | None, typer.Option("--map", help="A saved mapping profile (crm import map NAME).")] = None,
    create_stages: Annotated[
        bool, typer.Option("--create-stages", help="Add unknown pipelines/stages to your pipelines.")
    ] = False,
    json_: JsonOpt = False,
) -> None:
    """Import FILE; every row is reported (line, record, what happened and why)."""
    from tui_crm.services.importing.service import ImportOptions, run_import

    options = ImportOptions(kind=type_, dry_run=dry_run, policy=policy, mode=mode, profile=map_, create_stages=create_stages)
    crm = state.crm()
    if sys.stderr.isatty() and not json_:
        bar, advance = _progress()
        with bar:
            report = run_import(crm, file, options, advance)
    else:
        report = run_import(crm, file, options)
    if json_:
        emit_json(report.to_json())
    else:
        _print_report(report)
    _fail_on_rejected(report, json_)


def _fail_on_rejected(report: Any, json_: bool) -> None:
    """Rejected rows make the import exit 5 (invalid input), after the good
    rows were saved and every row reported: a script must not take a
    partial import for a whole one."""
    rejected = report.counts.get("rejected", 0)
    if not rejected:
        return
    from tui_crm.cli import exit_codes
    from tui_crm.cli.output import error

    saved = "nothing saved (dry run)" if report.dry_run else "the other rows were saved"
    error(
        f"{rejected} of {report.counts['rows']} rows rejected (listed in the report); {saved}. "
        "Fix those rows and import the file again: rows already imported are skipped",
        as_json=json_,
        code=exit_codes.INVALID,
    )
    raise typer.Exit(exit_codes.INVALID)


def _print_report(report: Any) -> None:
    c = report.counts
    head = "Dry run (nothing saved)" if report.dry_run else f"Import {report.import_id[:8]}"
    if report.resumed_from:
        head += f" (resumed after row {report.resumed_from})"
    say(f"{head}: {clean(report.source)}")
    say(
        f"{c['rows']} rows: {c['created']} created, {c['updated']} updated, {c['merged']} merged, "
        f"{c['skipped']} skipped, {c['rejected']} rejected, {c['warnings']} with warnings "
        f"(new: {c['contacts']} contacts, {c['companies']} companies, {c['deals']} deals)"
    )
    if report.unknown_stages:
        verb = "created" if report.created_stages and not report.dry_run else "unknown"
        say(f"Pipelines/stages {verb}: " + "; ".join(clean(s) for s in report.unknown_stages))
        if not report.created_stages:
            say("  map them with --map PROFILE (crm import map --help) or create them with --create-stages")
    for row in report.rows:
        say(f"line {row.line}  «{clean(row.record)}»  {row.action}: {clean(row.reason)}")
    if report.import_id and not report.dry_run:
        say(f"Undo with: crm import undo {report.import_id[:8]}")


@imports.command("undo")
def import_undo(
    import_id: Annotated[str, typer.Argument(help="The import's id (crm import list).")], json_: JsonOpt = False
) -> None:
    """Remove what an import created and restore what it changed."""
    from tui_crm.services.importing.history import undo_import

    result = undo_import(state.crm(), import_id)
    if json_:
        emit_json(result)
        return
    say(f"Import {result.id[:8]} undone: {result.removed} records removed, {result.restored} restored")
    if result.removed_stages:
        say("Pipelines/stages removed: " + "; ".join(clean(s) for s in result.removed_stages))
    if result.kept_stages:
        say("Pipelines/stages it created, kept (other deals are in them): " + "; ".join(clean(s) for s in result.kept_stages))


@imports.command("list")
def import_list(json_: JsonOpt = False) -> None:
    """Imports, newest first."""
    from tui_crm.services.importing.history import list_imports

    rows = list_imports(state.crm())
    if json_:
        emit_json(rows)
        return
    table(
        "Imports",
        ["id", "when", "file", "type", "mode", "status", "created", "updated", "skipped", "rejected"],
        [
            (
                r.id[:8],
                r.created_at,
                r.file_name,
                r.kind,
                r.mode,
                r.status,
                r.counts.get("created", 0),
                r.counts.get("updated", 0),
                r.counts.get("skipped", 0),
                r.counts.get("rejected", 0),
            )
            for r in rows
        ],  # fmt: skip
    )


def _pairs(values: list[str], what: str) -> dict[str, str]:
    from tui_crm.domain.errors import ValidationError

    result: dict[str, str] = {}
    for value in values:
        key, sep, target = value.rpartition("=")
        if not sep or not key.strip() or not target.strip():
            raise ValidationError(what, f"{value!r}: write it as NAME=TARGET")
        result[key.strip()] = target.strip()
    return result


@imports.command("map")
def import_map(
    name: Annotated[str, typer.Argument(help="Profile name (used as --map NAME).")],
    type_: Annotated[str, typer.Option("--type", help="deals or contacts.")] = "contacts",
    column: Annotated[list[str] | None, typer.Option("--column", help='"Column in file=field", e.g. "Full name=name".')] = None,
    pipeline: Annotated[list[str] | None, typer.Option("--pipeline", help='"Their pipeline=our pipeline key".')] = None,
    stage: Annotated[list[str] | None, typer.Option("--stage", help='"Their pipeline/stage=our stage key".')] = None,
) -> None:
    """Save a mapping profile (TOML in the config dir)."""
    from tui_crm.domain.errors import ValidationError
    from tui_crm.services.importing.profiles import Profile, save_profile

    if type_ not in ("deals", "contacts"):
        raise ValidationError("type", f"{type_!r}: use deals or contacts")
    profile = Profile(
        name=name,
        kind=type_,
        columns=_pairs(column or [], "column"),
        pipelines=_pairs(pipeline or [], "pipeline"),
        stages=_pairs(stage or [], "stage"),
    )
    path = save_profile(state.settings().config_dir, profile)
    say(f"Profile «{clean(name)}» saved: {clean(str(path))}")


def register(app: typer.Typer) -> None:
    app.add_typer(imports, name="import")
