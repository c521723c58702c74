"""``crm``: the command line. Alone it opens the TUI.

Commands stay thin: parse, call a service, print. Each command module
imports services inside its functions, so ``crm add lead`` loads the store
and nothing else (no Textual, no Rich). The command modules themselves are
loaded on demand too (:class:`LazyCommands`): building Typer's click tree
for every command costs a cold ``crm add lead`` some 30-40 ms, so only the
module that registers the command being run is imported and converted.
"""

from __future__ import annotations

import functools
import importlib
import os
import sys
from typing import Annotated, Any

import typer
from typer.core import TyperGroup

from tui_crm.cli import exit_codes
from tui_crm.cli.guard import check_values, guard_arguments
from tui_crm.cli.state import state

# The module that registers each top-level command, in `crm --help` order.
# tests/cli/test_lazy_commands.py checks it against what the modules register.
COMMAND_MODULES: dict[str, str] = {
    "add": "commands_add",
    "deals": "commands_records",
    "contacts": "commands_records",
    "companies": "commands_records",
    "move": "commands_work",
    "copy": "commands_work",
    "search": "commands_work",
    "agenda": "commands_work",
    "bulk": "commands_work",
    "task": "commands_work",
    "unsorted": "commands_work",
    "users": "commands_misc",
    "db": "commands_misc",
    "pipelines": "commands_misc",
    "demo": "commands_misc",
    "sync": "commands_sync",
    "auth": "commands_sync",
    "hub": "commands_hub",
    "mail": "commands_mail",
    "intake": "commands_intake",
    "import": "commands_import",
    "export": "commands_export",
    "report": "commands_report",
}


def register_module(holder: typer.Typer, module_name: str) -> None:
    """Register one command module's commands on ``holder``."""
    importlib.import_module(f"tui_crm.cli.{module_name}").register(holder)


@functools.cache
def _commands_of(module_name: str) -> Any:
    """The click group holding one module's commands (built once)."""
    holder = typer.Typer(add_completion=False, rich_markup_mode=None)
    holder.callback()(lambda: None)  # a callback keeps a single command a group
    register_module(holder, module_name)
    group = typer.main.get_command(holder)
    guard_arguments(group)
    from tui_crm.cli.output import add_format_option

    add_format_option(group)
    if "_CRM_COMPLETE" in os.environ:  # the shell asks for completions (crm --install-completion)
        from tui_crm.cli.completion import add_completions

        add_completions(group)
    return group


class LazyCommands(TyperGroup):
    """The root group: commands are looked up in their module on first use."""

    def list_commands(self, ctx: Any) -> list[str]:
        return list(COMMAND_MODULES)

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        module_name = COMMAND_MODULES.get(cmd_name)
        if module_name is None:
            return None
        return _commands_of(module_name).get_command(ctx, cmd_name)


app = typer.Typer(
    name="crm",
    cls=LazyCommands,
    help="A keyboard-driven terminal CRM. Run without a command to open the app.",
    epilog=exit_codes.HELP_EPILOG,
    no_args_is_help=False,
    add_completion=True,  # --install-completion / --show-completion (bash, zsh, fish, PowerShell)
    rich_markup_mode=None,
    pretty_exceptions_enable=False,
)


def _pipeline_choices(ctx: Any, args: list[str], incomplete: str) -> list[tuple[str, str]]:
    from tui_crm.cli.completion import pipeline_choices

    return pipeline_choices(ctx, args, incomplete)


@app.callback(invoke_without_command=True)
def main(
    ctx: typer.Context,
    db: Annotated[str | None, typer.Option("--db", help="Database file (default: CRM_DB or the user data dir).")] = None,
    user: Annotated[str | None, typer.Option("--user", help="Act as this user (name or email).")] = None,
    pipeline: Annotated[
        str | None, typer.Option("--pipeline", "-P", help="Pipeline the app opens on.", autocompletion=_pipeline_choices)
    ] = None,
    no_demo: Annotated[bool, typer.Option("--no-demo", help="Open your own database even while it is empty.")] = False,
    version: Annotated[bool, typer.Option("--version", help="Print the version and exit.", is_eager=True)] = False,
) -> None:
    if version:
        from importlib.metadata import version as installed_version

        print(f"crm (tui-crm) {installed_version('tui-crm')}")
        raise typer.Exit()
    check_values(ctx.command, {"db": db, "user": user})
    state.db, state.user, state.format = db, user, None
    if ctx.invoked_subcommand is None:
        open_tui(pipeline, demo=not no_demo)


def open_tui(pipeline: str | None = None, demo: bool = True) -> None:
    """The only place the CLI imports Textual."""
    from tui_crm.services.demo import store_for_app

    state.opening_app = True
    crm, notice = store_for_app(state.crm()) if demo else (state.crm(), None)
    state._crm = crm
    from tui_crm.app import make_app

    app = make_app(crm, pipeline)
    app.startup_notice = notice
    app.is_demo = notice is not None
    app.run()



def run(args: list[str] | None = None) -> None:
    """Console entry: map service errors to messages and exit codes.

    Whatever happens, the user sees one line on stderr and an exit code from
    the README's table, never a Python traceback (``CRM_DEBUG=1`` keeps it,
    for a bug report). With ``--json`` the error line is a JSON object.
    """
    from tui_crm.cli.output import error

    argv = list(sys.argv[1:] if args is None else args)
    options = argv[: argv.index("--")] if "--" in argv else argv
    as_json = "--json" in options or "--format=json" in options or "--format json" in " ".join(options)
    try:
        # Without standalone mode click returns (not raises) the code of a typer.Exit.
        code = app(args=argv, prog_name="crm", standalone_mode=False)
        sys.stdout.flush()  # a closed pipe fails here, inside the handlers, not at exit
        if isinstance(code, int) and code:
            sys.exit(code)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except typer.Abort:
        print("aborted", file=sys.stderr)
        sys.exit(exit_codes.ERROR)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        sys.exit(exit_codes.INTERRUPTED)
    except BrokenPipeError:
        _quiet_stdout()  # `crm deals list | head`: the reader left, nothing to say
        sys.exit(exit_codes.READER_LEFT)
    except SystemExit as exc:
        if exc.code == 1 and type(sys.stdout).__name__ == "PacifyFlushWrapper":
            # click met the closed pipe first: it wraps stdout and exits 1
            _quiet_stdout()
            sys.exit(exit_codes.READER_LEFT)
        raise
    except Exception as exc:  # service errors, click usage errors and the unexpected
        code, message, details, extra = explain(exc)
        if code == exit_codes.ERROR and _debugging():
            import traceback

            traceback.print_exc()
        error(message, details, as_json=as_json, code=code, extra=extra)
        sys.exit(code)
    finally:
        if state._crm is not None:
            try:
                state._crm.close()
            except Exception:  # noqa: BLE001 - closing must not replace the message above
                pass
            state._crm = None


def _debugging() -> bool:
    return os.environ.get("CRM_DEBUG", "") not in ("", "0")


def _quiet_stdout() -> None:
    """Point stdout at /dev/null so the interpreter's final flush cannot fail again."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass


def explain(exc: BaseException) -> tuple[int, str, list[str], dict[str, Any]]:
    """Exit code, one-line message, detail lines and JSON extras for an error."""
    from tui_crm.domain.errors import AmbiguousError, CrmError, DuplicateFound, GateHeld, GateRefused

    if isinstance(exc, CrmError):
        details: list[str] = []
        extra: dict[str, Any] = {}
        if isinstance(exc, GateRefused):
            if not isinstance(exc, GateHeld):  # held: the message names the fields, and --set cannot help
                details = [
                    f"missing: {m.label}  (--set {m.key}=...)" + (f"  one of: {', '.join(m.options)}" if m.options else "")
                    for m in exc.missing
                ]
            extra["missing"] = [{"key": m.key, "label": m.label, "type": m.type, "options": list(m.options)} for m in exc.missing]
        elif isinstance(exc, AmbiguousError):
            details = list(exc.candidates)
            extra["candidates"] = details
        elif isinstance(exc, DuplicateFound):
            from tui_crm.services.parties import candidate_note

            details = [f"{c.id[:8]}  {c.name}  ({candidate_note(c)})" for c in exc.candidates]  # type: ignore[arg-type, attr-defined]
            extra["candidates"] = [
                {"id": c.id, "name": c.name, "reason": c.reason}  # type: ignore[attr-defined]
                for c in exc.candidates
            ]
        return exit_codes.code_for(exc), str(exc), details, extra
    # Typer >= 0.2x vendors click (typer._click), whose exceptions are not
    # click.ClickException: recognise either by their interface.
    code = getattr(exc, "exit_code", None)
    if callable(getattr(exc, "format_message", None)) and isinstance(code, int):
        return code, _usage_message(exc), [], {}
    return exit_codes.ERROR, unexpected_message(exc), [], {}


def _usage_message(exc: Any) -> str:
    """A click usage error on one line, with the command's --help to read."""
    message = exc.format_message()
    ctx = getattr(exc, "ctx", None)
    if ctx is not None and getattr(exc, "exit_code", 0) == exit_codes.USAGE:
        message += f"; see: {ctx.command_path} --help"
    return message


def unexpected_message(exc: BaseException) -> str:
    """One line for an error no service expected: what failed and what to do.

    SQLite's own errors (a locked or full disk, a read-only or damaged file)
    are conditions of the machine, not bugs: say what to do about them.
    Anything else is a bug: name it and ask for a report.
    """
    chain: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and current not in chain:
        chain.append(current)
        current = getattr(current, "orig", None) or current.__cause__ or current.__context__
    text = " ".join(str(e).lower() for e in chain)
    if any(type(e).__name__ == "OperationalError" or isinstance(e, OSError) for e in chain):
        if "locked" in text or "busy" in text:
            return "the database is busy (another crm or the app is writing); try again in a moment"
        if "disk is full" in text or "no space" in text:
            return "the disk is full; free some space and try again (nothing was saved)"
        if "readonly" in text or "read-only" in text or "permission denied" in text:
            return "the database or its folder is read-only; check the permissions of `crm db path`"
        if "malformed" in text or "not a database" in text:
            return "the database file is damaged; restore a backup: crm db restore FILE"
        if "unable to open" in text or "is a directory" in text:
            return "cannot open the database file; check `crm db path` or pass --db FILE"
    if isinstance(exc, ValueError) and "null byte" in str(exc):
        return "a file name contains a NUL character; remove it"
    os_error = next((e for e in chain if isinstance(e, OSError)), None)
    if os_error is not None:  # the file system said no: a bad path, permissions, space
        from tui_crm.domain.text import preview

        where = f"«{preview(os.fsdecode(os_error.filename))}»: " if os_error.filename else ""
        return f"{where}{os_error.strerror or os_error}; check the path and try again"
    first = str(exc).splitlines()[0] if str(exc) else ""
    detail = f"{type(exc).__name__}: {first}" if first else type(exc).__name__
    if len(detail) > 200:
        detail = detail[:199] + "…"
    return f"unexpected error ({detail}); this is a bug, please report it with the output of CRM_DEBUG=1 crm ..."
