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
import sys
from typing import Annotated, Any

import typer
from typer.core import TyperGroup

from tui_crm.cli import exit_codes
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
    return typer.main.get_command(holder)


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
    add_completion=False,
    rich_markup_mode=None,
    pretty_exceptions_enable=False,
)


@app.callback(invoke_without_command=True)
def main(
    ctx: typer.Context,
    db: Annotated[str | None, typer.Option("--db", help="Database file (default: CRM_DB or the user data dir).")] = None,
    user: Annotated[str | None, typer.Option("--user", help="Act as this user (name or email).")] = None,
    pipeline: Annotated[str | None, typer.Option("--pipeline", "-P", help="Pipeline the app opens on.")] = None,
    no_demo: Annotated[bool, typer.Option("--no-demo", help="Open your own database even while it is empty.")] = False,
) -> None:
    state.db, state.user = db, user
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



def run() -> None:
    """Console entry: map service errors to messages and exit codes."""
    from tui_crm.domain.errors import AmbiguousError, CrmError, DuplicateFound, GateHeld, GateRefused

    try:
        # Without standalone mode click returns (not raises) the code of a typer.Exit.
        code = app(standalone_mode=False)
        if isinstance(code, int) and code:
            sys.exit(code)
    except CrmError as exc:
        from tui_crm.cli.output import error

        details: list[str] = []
        if isinstance(exc, GateRefused) and not isinstance(exc, GateHeld):  # held: the message names the fields
            details = [
                f"missing: {m.label}  (--set {m.key}=...)" + (f"  one of: {', '.join(m.options)}" if m.options else "")
                for m in exc.missing
            ]
        elif isinstance(exc, AmbiguousError):
            details = exc.candidates
        elif isinstance(exc, DuplicateFound):
            details = [f"{c.id[:8]}  {c.name}  (same {c.reason})" for c in exc.candidates]  # type: ignore[attr-defined]
        error(str(exc), details)
        sys.exit(exit_codes.code_for(exc))
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except typer.Abort:
        print("aborted", file=sys.stderr)
        sys.exit(exit_codes.ERROR)
    except Exception as exc:  # click usage errors and the unexpected
        # Typer >= 0.2x vendors click (typer._click), whose exceptions are not
        # click.ClickException: recognise either by their interface.
        show, code = getattr(exc, "show", None), getattr(exc, "exit_code", None)
        if callable(show) and isinstance(code, int):
            show()
            sys.exit(code)
        raise
    finally:
        if state._crm is not None:
            state._crm.close()
