"""Administration: ``users``, ``db``, ``pipelines``, ``demo``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from tui_crm.cli.commands_add import JsonOpt
from tui_crm.cli.output import clean, emit_json, say, table
from tui_crm.cli.state import state

users = typer.Typer(help="The team: list, add, deactivate, delete with transfer.", no_args_is_help=True)
db = typer.Typer(help="Backup, restore and check the database file.", no_args_is_help=True)
pipelines = typer.Typer(help="Pipelines, stages and their gates (an editable TOML).", no_args_is_help=True)


@users.command("list")
def users_list(json_: JsonOpt = False) -> None:
    """Users; the current one is marked."""
    from tui_crm.services.users import list_users

    rows = list_users(state.crm())
    if json_:
        emit_json(rows)
        return
    table(
        "Users",
        ["", "id", "name", "email", "active", "admin"],
        [
            ("*" if u.is_current else "", u.id[:8], u.name, u.email, "yes" if u.is_active else "no", "yes" if u.is_admin else "")
            for u in rows
        ],
    )


@users.command("add")
def users_add(
    name: Annotated[str, typer.Argument()],
    email: Annotated[str | None, typer.Option()] = None,
    admin: Annotated[bool, typer.Option("--admin")] = False,
    json_: JsonOpt = False,
) -> None:
    """Add a team member."""
    from tui_crm.services.users import add_user

    user = add_user(state.crm(), name, email, admin)
    if json_:
        emit_json(user)
        return
    say(f"User {user.id[:8]} «{clean(user.name)}» added")


@users.command("signature")
def users_signature(
    name: Annotated[str, typer.Argument()],
    file: Annotated[Path | None, typer.Option("--file", help="The signature text (- for stdin).")] = None,
    clear: Annotated[bool, typer.Option("--clear", help="Remove the signature.")] = False,
) -> None:
    """Set a user's mail signature (admin only); without --file, print it."""
    import sys

    from tui_crm.domain.errors import ValidationError
    from tui_crm.services.signatures import set_signature, signature_of

    if file is None and not clear:
        text = signature_of(state.crm(), name)
        print(clean_block(text) if text else "(no signature)")
        return
    if file is not None and str(file) != "-" and not file.is_file():
        raise ValidationError("file", f"no file {file}")
    text = None if clear else (sys.stdin.read() if str(file) == "-" else file.read_text(encoding="utf-8"))  # type: ignore[union-attr]
    who, value = set_signature(state.crm(), name, text)
    say(f"Signature of «{clean(who)}» " + ("set" if value else "cleared"))


def clean_block(text: str) -> str:
    from tui_crm.domain.text import safe_text

    return safe_text(text)


@users.command("deactivate")
def users_deactivate(name: Annotated[str, typer.Argument()]) -> None:
    """Deactivate (keeps their records; admin only)."""
    from tui_crm.services.users import set_active

    user = set_active(state.crm(), name, False)
    say(f"Deactivated «{clean(user.name)}»")


@users.command("activate")
def users_activate(name: Annotated[str, typer.Argument()]) -> None:
    """Re-activate a user (admin only)."""
    from tui_crm.services.users import set_active

    user = set_active(state.crm(), name, True)
    say(f"Activated «{clean(user.name)}»")


@users.command("delete")
def users_delete(
    name: Annotated[str, typer.Argument()],
    transfer_to: Annotated[str, typer.Option("--transfer-to", help="Who takes over their records.")],
) -> None:
    """Delete a user after transferring their deals, contacts, companies and tasks."""
    from tui_crm.services.users import delete_user

    moved = delete_user(state.crm(), name, transfer_to)
    from tui_crm.services.records import plural

    say("Deleted; transferred " + ", ".join(plural(kind, n) for kind, n in moved.items()))


@db.command("backup")
def db_backup(target: Annotated[Path | None, typer.Argument(help="Where (default: beside the database).")] = None) -> None:
    """A consistent copy, safe while the app runs."""
    from tui_crm.services.admin import backup

    path = backup(state.settings().db_path, target)
    say(f"Backup written to {path}")


@db.command("restore")
def db_restore(
    source: Annotated[Path, typer.Argument(help="A backup file.")], yes: Annotated[bool, typer.Option("--yes")] = False
) -> None:
    """Replace the database with a checked backup (the current one is kept)."""
    from tui_crm.services.admin import check_restore_source, restore

    target = state.settings().db_path
    check_restore_source(target, source)
    if not yes and not typer.confirm(f"Replace {target} with {source}?"):
        raise typer.Abort()
    safety = restore(target, source)
    say(f"Restored from {source}" + (f"; previous database kept at {safety}" if safety else ""))


@db.command("check")
def db_check(json_: JsonOpt = False) -> None:
    """integrity_check, foreign keys, schema version."""
    from tui_crm.services.admin import check

    report = check(state.settings().db_path)
    if json_:
        emit_json({**report.__dict__, "ok": report.ok})
    else:
        say(
            f"{report.path}: integrity {report.integrity}; foreign key errors {report.foreign_key_errors}; "
            f"schema {report.schema} ({'current' if report.schema_current else 'OUT OF DATE'}); journal {report.journal_mode}"
        )
    if not report.ok:
        raise typer.Exit(1)


@db.command("path")
def db_path() -> None:
    """Print the database file in use."""
    say(str(state.settings().db_path))


@pipelines.command("list")
def pipelines_list(json_: JsonOpt = False) -> None:
    """Pipelines with their stages and gate fields (the configuration in effect)."""
    from tui_crm.services.pipelines import list_pipelines, pending_pipelines_edit

    crm = state.crm()
    rows = list_pipelines(crm)
    if json_:
        emit_json(rows)
        return
    for p in rows:
        say(f"{clean(p.name)} ({p.key})")
        pdef = crm.pipelines.pipeline(p.key)
        for i, s in enumerate(p.stages, 1):
            stage = pdef.stage(s.key)
            gate = ", ".join(crm.pipelines.deal_field(k).label for k in stage.requires)
            say(f"  {i}. {clean(s.name)} [{s.key}]" + (f"  requires: {gate}" if gate else ""))
    if crm.pipelines.loss_reasons is not None:
        say("Loss reasons: " + ", ".join(clean(o) for o in crm.pipelines.loss_reasons.options))
    if pending_pipelines_edit(crm):
        say(f"{crm.settings.pipelines_file} has edits not in effect yet: crm pipelines reload")


@pipelines.command("reasons")
def pipelines_reasons(
    pipeline: Annotated[str | None, typer.Option(help="Only this pipeline.")] = None, json_: JsonOpt = False
) -> None:
    """Loss reasons (from the pipelines file) and how many lost deals give each."""
    from tui_crm.services.pipelines import loss_reason_counts

    rows = loss_reason_counts(state.crm(), pipeline)
    if json_:
        emit_json(rows)
        return
    table("Loss reasons", ["reason", "deals", ""], [(r.reason, r.deals, "" if r.listed else "not in the list") for r in rows])


@pipelines.command("path")
def pipelines_path() -> None:
    """Print where your pipelines file is (or would be: crm pipelines edit creates it)."""
    say(str(state.settings().pipelines_file))


@pipelines.command("edit")
def pipelines_edit() -> None:
    """Copy the default TOML to your config dir (if needed) and print its path."""
    from tui_crm.services.pipelines import ensure_user_pipelines_file

    say(ensure_user_pipelines_file(state.crm()) + "  — edit it, then run: crm pipelines reload")


@pipelines.command("reload")
def pipelines_reload(
    move_to: Annotated[
        list[str] | None,
        typer.Option(
            "--move-to",
            help="Where the deals of a dropped stage or pipeline go: PIPELINE/STAGE for all, "
            "or FROM=PIPELINE/STAGE (FROM: pipeline/stage or pipeline). Repeatable.",
        ),
    ] = None,
    json_: JsonOpt = False,
) -> None:
    """Check your pipelines file and apply it (exit 8 names the file and line of a mistake).

    Refused while it drops a stage or pipeline that still holds deals, unless --move-to says where they go."""
    from tui_crm.services.pipelines import reload_pipelines

    report = reload_pipelines(state.crm(), move_to or [])
    if json_:
        emit_json(report)
        return
    for move, count in report.moved.items():
        say(f"Moved {count} deal{'s' if count != 1 else ''}: {clean(move)}")
    if report.dropped:
        say("Dropped: " + ", ".join(clean(d) for d in report.dropped))
    say(f"Reloaded {len(report.pipelines)} pipelines: " + ", ".join(clean(p.name) for p in report.pipelines))


def demo(
    force: Annotated[bool, typer.Option("--force", help="Seed even if the database has deals.")] = False,
    deals: Annotated[int, typer.Option(help="How many deals.")] = 60,
) -> None:
    """Seed a realistic demo database (three pipelines, contacts, tasks)."""
    from tui_crm.services.demo import seed_demo

    counts = seed_demo(state.crm(), deals=deals, force=force)
    say("Demo data: " + ", ".join(f"{n} {k}" for k, n in counts.items()))


def register(app: typer.Typer) -> None:
    app.add_typer(users, name="users")
    app.add_typer(db, name="db")
    app.add_typer(pipelines, name="pipelines")
    app.command("demo")(demo)
