"""The lazily loaded command table matches what the command modules register.

``crm`` imports a command's module only when that command runs
(cli.main.LazyCommands), from a table of names. A command added to a module
but not to the table would be unreachable; one in the table that its module
does not register would fail at run time. Both show up here.
"""

from __future__ import annotations

import typer

from tui_crm.cli.main import COMMAND_MODULES, register_module


def registered_names(module_name: str) -> list[str]:
    holder = typer.Typer()
    register_module(holder, module_name)
    names = [info.name for info in holder.registered_groups] + [
        info.name or info.callback.__name__ for info in holder.registered_commands  # type: ignore[union-attr]
    ]
    return [str(n) for n in names]


def test_every_registered_command_is_in_the_table_under_its_module() -> None:
    found: dict[str, str] = {}
    for module_name in sorted(set(COMMAND_MODULES.values())):
        for name in registered_names(module_name):
            assert name not in found, f"{name!r} registered by both {found[name]} and {module_name}"
            found[name] = module_name
    assert found == COMMAND_MODULES


def test_help_lists_every_command_and_an_unknown_one_is_a_usage_error(crm_cli) -> None:  # type: ignore[no-untyped-def]
    shown = crm_cli("--help")
    assert shown.returncode == 0, shown.stderr
    for name in COMMAND_MODULES:
        assert f"  {name} " in shown.stdout, name
    unknown = crm_cli("bogus")
    assert unknown.returncode == 2
    assert "No such command 'bogus'" in unknown.stderr
