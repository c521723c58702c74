"""``crm sync`` (push then pull, with progress), ``crm sync --dry-run``,
``crm sync status``, ``crm sync conflicts`` and ``crm auth amocrm``.

Every failure of a sync (remote unreachable, locked out, tokens missing)
prints what to do on stderr and exits with code 9; Ctrl-C exits with 130
(what was confirmed is kept, the next run resumes).
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Annotated, Any

import typer

from tui_crm.cli import exit_codes
from tui_crm.cli.output import clean, emit_json, error, say, table
from tui_crm.cli.state import state

JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON.")]
BaseUrlOpt = Annotated[str | None, typer.Option("--base-url", hidden=True, help="Account address (tests).")]
MaxRpsOpt = Annotated[int, typer.Option("--max-rps", hidden=True, help="Client request rate limit (tests, benchmarks).")]

sync_app = typer.Typer(help="Sync with the team's amoCRM/Kommo: push local changes, pull remote ones.")
auth_app = typer.Typer(help="Connect remote accounts.", no_args_is_help=True)


def _fail(exc: BaseException) -> typer.Exit:
    details: list[str] = []
    batch = getattr(exc, "batch", None)
    if batch is not None:
        details.append(f"{len(batch.done)} records were confirmed before the failure; sync again to finish.")
    error(str(exc), details)
    return typer.Exit(exit_codes.SYNC)


@contextmanager
def _sync_errors() -> Iterator[None]:
    from tui_crm.domain.errors import CrmError
    from tui_crm.sync.engine import SyncBusy

    try:
        yield
    except KeyboardInterrupt:
        error("sync interrupted: every page and chunk already confirmed is kept; run `crm sync` again to finish")
        raise typer.Exit(130) from None
    except (CrmError, SyncBusy) as exc:
        from tui_crm.domain.errors import AmbiguousError, NotFoundError, ValidationError

        if isinstance(exc, NotFoundError | AmbiguousError | ValidationError):
            raise
        raise _fail(exc) from None


@contextmanager
def _progress(enabled: bool) -> Iterator[Callable[[str, str, int, int | None], None]]:
    if not enabled:
        yield lambda phase, entity, done, total: None
        return
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    console = Console(stderr=True, highlight=False)
    tasks: dict[tuple[str, str], Any] = {}
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=False,
    ) as bar:

        def update(phase: str, entity: str, done: int, total: int | None) -> None:
            key = (phase, entity)
            if key not in tasks:
                tasks[key] = bar.add_task(f"{phase:<5} {entity}", total=total)
            bar.update(tasks[key], completed=done, total=total if total is not None else None)

        yield update


@sync_app.callback(invoke_without_command=True)
def sync(
    ctx: typer.Context,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Show what would be sent; change nothing.")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress display.")] = False,
    files: Annotated[
        bool, typer.Option("--files", help="Also sync the records' files (up to 200 records a run, resuming).")
    ] = False,
    base_url: BaseUrlOpt = None,
    max_rps: MaxRpsOpt = 7,
    json_: JsonOpt = False,
) -> None:
    """Push local changes, then pull remote ones (interrupt and rerun at any time)."""
    if ctx.invoked_subcommand is not None:
        return
    if dry_run:
        _dry_run(json_)
        return
    from tui_crm.services.sync import make_adapter, run_sync

    crm = state.crm()
    with _sync_errors():
        adapter = make_adapter(crm, base_url=base_url, max_rps=max_rps)
        try:
            with _progress(not quiet and not json_) as progress:
                report = run_sync(crm, adapter=adapter, progress=progress, files=files)
        finally:
            adapter.close()
    if json_:
        emit_json(
            {
                "stats": {k: vars(v) for k, v in report.stats.items()},
                "conflicts": report.conflicts,
                "notices": report.notices,
                "linked": report.linked,
                "warnings": report.warnings,
                "errors": report.errors,
                "files": {"pulled": report.files_pulled, "pushed": report.files_pushed},
                "finished_at": report.finished_at,
            }
        )
    else:
        rows = [
            (e, s.pushed_new, s.pushed_changed, s.pulled_new, s.pulled_changed, s.deleted_local, s.conflicts, s.errors)
            for e, s in report.stats.items()
        ]
        if rows:
            table(
                "Sync", ["entity", "sent new", "sent changed", "got new", "got changed", "deleted", "conflicts", "errors"], rows
            )
        else:
            say("Sync: nothing changed on either side")
        if files:
            say(f"Files: {report.files_pulled} received, {report.files_pushed} sent")
        for line in report.warnings:
            print(f"warning: {clean(line)}", file=sys.stderr)
        for line in report.errors:
            print(f"not sent: {clean(line)}", file=sys.stderr)
        if report.linked:
            say(f"Linked {report.linked} contact(s)/company(ies) to the same ones already in amoCRM (by e-mail, phone or INN).")
        if report.conflicts or report.notices:
            say(f"{report.conflicts} new conflict(s), {report.notices} notice(s): see crm sync conflicts")
    if report.errors:
        raise typer.Exit(exit_codes.SYNC)


def _dry_run(json_: bool) -> None:
    from tui_crm.services.sync import dry_run

    plan = dry_run(state.crm())
    for line in plan.warnings:
        print(f"warning: {clean(line)}", file=sys.stderr)
    if json_:
        emit_json(list(plan))
        return
    if not plan:
        say("Nothing to send.")
        return
    table(
        "Would send",
        ["entity", "action", "id", "fields"],
        [(p.entity, p.action, p.record_id[:8], _plan_line(p)) for p in plan],
    )


def _plan_line(change: Any) -> str:
    """The fields to send; for a first-connect link, which remote record and by what key."""
    fields = ", ".join(_plan_fields(change.fields, change.shown))
    if change.action == "link":
        name = f" «{change.remote_name}»" if change.remote_name else ""
        return f"= amoCRM #{change.remote_id}{name} by {change.matched_by} (not created; merged at sync): {fields}"
    if change.action == "hold":
        return f"not sent: {change.matched_by}"
    return fields


def _plan_fields(fields: dict[str, Any], shown: dict[str, str]) -> list[str]:
    """``key=value`` for the values that matter (empty ones left out), as the user typed them."""
    out = []
    for key, value in fields.items():
        if value in (None, "", [], False):
            continue
        out.append(f"{key}={shown.get(key) or _show(value)}")
    return out


@sync_app.command("status")
def status(json_: JsonOpt = False) -> None:
    """Pending changes, last sync, open conflicts."""
    from tui_crm.services.sync import sync_status

    info = sync_status(state.crm())
    if json_:
        emit_json(info)
        return
    say(f"account:   {clean(info.account) if info.account else 'not connected (crm auth amocrm)'}")
    say(f"last sync: {clean(info.last_sync) if info.last_sync else 'never'}")
    by = ", ".join(f"{k} {v}" for k, v in sorted(info.pending_by_entity.items()))
    say(f"pending:   {info.pending} record(s) to send" + (f" ({by})" if by else "") + " — see crm sync --dry-run")
    say(f"conflicts: {info.open_conflicts} open" + (f", {info.open_notices} notice(s)" if info.open_notices else ""))


@sync_app.command("conflicts")
def conflicts(
    resolve: Annotated[str | None, typer.Option("--resolve", help="Id (prefix) of the conflict to resolve.")] = None,
    keep: Annotated[
        str | None, typer.Option("--keep", help="local, remote, or a value to set (gate/deletion notices: remote = acknowledge).")
    ] = None,
    all_: Annotated[bool, typer.Option("--all", help="Include resolved ones.")] = False,
    json_: JsonOpt = False,
) -> None:
    """List open conflicts and notices, or resolve one (--resolve ID --keep local|remote|VALUE)."""
    from tui_crm.services.sync import list_conflicts, resolve_conflict

    crm = state.crm()
    if resolve:
        if keep is None:
            raise typer.BadParameter("--resolve needs --keep local|remote|VALUE")
        done = resolve_conflict(crm, resolve, keep)
        if json_:
            emit_json(done)
        else:
            say(f"Resolved {done.id[:8]} ({done.entity} «{clean(done.record_name)}» {done.field}): {done.resolution}")
        return
    rows = list_conflicts(crm, include_resolved=all_)
    if json_:
        emit_json(rows)
        return
    table(
        "Sync conflicts",
        ["id", "kind", "record", "field", "base", "local", "remote", "detail"],
        [
            (
                c.id[:8],
                c.kind,
                f"{c.entity} {c.record_name}",
                c.field,
                *(c.shown.get(side) or _show(getattr(c, side)) for side in ("base", "local", "remote")),
                c.detail,
            )
            for c in rows
        ],
    )


def _show(value: Any) -> str:
    from tui_crm.sync.mapping import display_value

    return display_value(value)


@auth_app.command("amocrm")
def auth_amocrm(
    subdomain: Annotated[str | None, typer.Option("--subdomain", help="acme (acme.amocrm.ru) or acme.kommo.com")] = None,
    client_id: Annotated[str | None, typer.Option("--client-id", help="Integration id.")] = None,
    client_secret: Annotated[str | None, typer.Option("--client-secret", help="Integration secret key.")] = None,
    code: Annotated[str | None, typer.Option("--code", help="Authorization code (valid 20 minutes).")] = None,
    redirect_uri: Annotated[str | None, typer.Option("--redirect-uri", help="The integration's redirect URI.")] = None,
    long_lived_token: Annotated[str | None, typer.Option("--long-lived-token", help="Token of a private integration.")] = None,
    base_url: BaseUrlOpt = None,
) -> None:
    """Connect an amoCRM/Kommo account; tokens go to the secret store only (keyring or encrypted file)."""
    from tui_crm.services.sync import connect_amocrm

    crm = state.crm()
    with _sync_errors():
        account = connect_amocrm(
            crm,
            subdomain=subdomain,
            base_url=base_url,
            client_id=client_id,
            client_secret=client_secret,
            redirect_uri=redirect_uri,
            code=code,
            long_lived_token=long_lived_token,
        )
    kind = "long-lived token" if account.long_lived else "OAuth tokens"
    say(
        f"Connected to {clean(account.name or account.account)} ({clean(account.base_url)}); "
        f"{kind} kept in {clean(account.where)}."
    )
    if account.local_unsynced:
        say(
            f"Note: {account.local_unsynced} deals, contacts and companies in this store are not in that account yet; "
            "the next `crm sync` links the people and companies amoCRM already has (same e-mail, phone or INN) and "
            "creates the rest there (check `crm sync --dry-run` first)."
        )


def register(app: typer.Typer) -> None:
    app.add_typer(sync_app, name="sync")
    app.add_typer(auth_app, name="auth")
