"""Every command, fed hostile text, ends in a message, never a traceback.

The commands are found by walking the click tree of ``crm`` (every module in
``COMMAND_MODULES``), so a new command or option is covered without editing
this file. Each value of :data:`CORPUS` goes into every argument and every
option that takes a value. A run fails on a ``Traceback``, on the
last-resort "unexpected error" line (a bug that ``run()`` caught) and on an
exit code outside the README's table.

- in-process (``run(args)`` under ``CliRunner.isolation``, fast): every
  command with each corpus value in its arguments, and every option with one
  corpus value (rotating through the corpus); the full cross product of
  options and corpus is marked slow;
- child processes (slow): a representative subset through the real entry
  point, with the bytes a shell passes (invalid UTF-8 arrives as
  surrogate escapes) and the real stdout encoding.
"""

from __future__ import annotations

import shutil
import socket
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

CORPUS: dict[str, str] = {
    "empty": "",
    "blank": "   ",
    "100kB": "Ж" * 50_000,
    "invalid-utf8": "a\udcff\udcfe",
    "rtl-override": "\u202eтекст\u202c abc",
    "controls": "a\x1b]0;PWNED\x07b\x1b[2J\x9b31mc\x9d0;x\x07\x00\x7f\r\n\t",
    "huge-number": "9223372036854775808",
    "huge-negative": "-99999999999999999999999",
    "float-junk": "1e309",
    "fts5": '"a" NEAR( OR * AND NOT ^ -x "',
    "sql": "'; DROP TABLE deal;--",
    "markup": "[bold red]x[/] [link=http://e]y[/link] %s {0}",
    "date-like": "0001-01-01",
}

# The fast tests use these; the slow ones the whole corpus.
FAST = ("empty", "100kB", "invalid-utf8", "controls", "fts5+sql", "huge-number")
CORPUS["fts5+sql"] = CORPUS["fts5"] + CORPUS["sql"]

# Names every positional reference can resolve to (a deal, a contact and a
# company called "Цель"), so that options are reached, not just "not found".
TARGET = "Цель"
EXIT_CODES = set(range(10)) | {130}
REPO = str(Path(__file__).resolve().parents[2])


@dataclass(frozen=True)
class Command:
    path: tuple[str, ...]
    arguments: tuple[Any, ...]  # click.Argument
    options: tuple[Any, ...]  # click.Option taking a value

    @property
    def name(self) -> str:
        return " ".join(self.path)


def _walk(command: Any, path: tuple[str, ...], ctx: Any) -> Iterator[Command]:
    import click

    params = [p for p in command.params if p.name not in ("help",)]
    arguments = tuple(p for p in params if p.param_type_name == "argument")
    options = tuple(p for p in params if p.param_type_name == "option" and not getattr(p, "is_flag", False))
    children = getattr(command, "list_commands", None)
    if path and (children is None or arguments or options):
        yield Command(path, arguments, options)
    if children is not None:
        for name in command.list_commands(ctx):
            sub = command.get_command(ctx, name)
            yield from _walk(sub, (*path, name), click.Context(sub, parent=ctx, info_name=name))


def all_commands() -> list[Command]:
    import click
    import typer

    from tui_crm.cli.main import app

    root = typer.main.get_command(app)
    return list(_walk(root, (), click.Context(root, info_name="crm")))


def root_options() -> tuple[Any, ...]:
    import typer

    from tui_crm.cli.main import app

    root = typer.main.get_command(app)
    # --pipeline only matters when the app opens; with a command it is ignored.
    return tuple(p for p in root.params if p.param_type_name == "option" and not p.is_flag and p.name != "pipeline")


COMMANDS = all_commands()


def _option_flag(option: Any) -> str:
    return next((o for o in option.opts if o.startswith("--")), option.opts[0])


def argv_for(command: Command, value: str | None = None, option: Any = None, closed_url: str = "") -> list[str]:
    """``command`` with ``value`` in its arguments (or in ``option``, arguments → TARGET)."""
    args = list(command.path)
    in_arguments = option is None
    for argument in command.arguments:
        filler = value if in_arguments else TARGET
        args += ([filler] * 2) if argument.nargs == -1 else [filler]
    if option is not None:
        args += [_option_flag(option), value]
    if command.path[0] in ("auth", "sync") and (option is None or option.name != "base_url"):
        if any(o.name == "base_url" for o in command.options):
            args += ["--base-url", closed_url]  # never the network
    return args


def _closed_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


def _runner() -> Any:
    """``call(args)`` → (exit code, stdout, stderr) of ``run(args)`` in this process."""
    from typer.testing import CliRunner

    from tui_crm.cli.main import run
    from tui_crm.cli.state import state

    runner = CliRunner()

    def call(args: list[str]) -> tuple[int, str, str]:
        with runner.isolation(input="n\n") as (out, err, _):
            try:
                run(list(args))
                code = 0
            except SystemExit as exc:
                code = exc.code if isinstance(exc.code, int) else 1
            finally:
                state._crm, state.db, state.user = None, None, None
                sys.stdout.flush()
                sys.stderr.flush()
            stdout = out.getvalue().decode("utf-8", "replace")
            stderr = err.getvalue().decode("utf-8", "replace")
        return code, stdout, stderr

    return call


@pytest.fixture(scope="module")
def hostile_template(tmp_path_factory: pytest.TempPathFactory, _crm_template: Path) -> Path:
    """A store holding records named with the corpus, and a deal, contact and company «Цель»."""
    root = tmp_path_factory.mktemp("hostile")
    db = root / "crm.db"
    shutil.copyfile(_crm_template, db)
    (root / "cfg").mkdir()
    (root / "cfg" / "config.toml").write_text('timezone = "Europe/Moscow"\n', encoding="utf-8")
    call = _runner()
    with pytest.MonkeyPatch.context() as patch:
        env = {"CRM_DB": db, "CRM_CONFIG_DIR": root / "cfg", "CRM_DATA_DIR": root / "data", "CRM_USER": "Анна"}
        for key, value in env.items():
            patch.setenv(key, str(value))
        for kind in ("contact", "company"):
            call(["add", kind, TARGET, "--force"])
        call(["add", "lead", TARGET, "--contact", TARGET, "--company", TARGET, "--task", "Позвонить"])
        for value in CORPUS.values():
            if value.strip() and "\udcff" not in value and "\x00" not in value:
                call(["add", "lead", value[:200], "--note", value[:200]])
    return db


@pytest.fixture
def hostile(cli_env, hostile_template: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, memory_keyring):
    """Checks one ``crm`` run on a copy of the hostile store: no traceback, no bug line, a known exit code."""
    shutil.copyfile(hostile_template, cli_env["CRM_DB"])
    monkeypatch.chdir(tmp_path)  # `db backup VALUE` writes where it is told
    monkeypatch.setenv("EDITOR", "true")  # `pipelines edit`
    monkeypatch.setenv("VISUAL", "true")
    call = _runner()

    class Checker:
        closed_url = _closed_url()

        def __call__(self, args: list[str]) -> None:
            code, stdout, stderr = call(args)
            shown = f"crm {' '.join(a[:40] for a in args)!r}\nstdout: {stdout[-2000:]}\nstderr: {stderr[-2000:]}"
            assert "Traceback" not in stdout + stderr, shown
            assert "unexpected error" not in stderr, shown
            assert code in EXIT_CODES, shown

    return Checker()


def _with_arguments(hostile: Any, command: Command, names: Any) -> None:
    if not command.arguments:
        hostile(list(command.path))
    for name in names if command.arguments else ():
        hostile(argv_for(command, CORPUS[name], closed_url=hostile.closed_url))


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: c.name)
def test_every_command_with_hostile_arguments(hostile, command):
    _with_arguments(hostile, command, FAST)


@pytest.mark.slow
@pytest.mark.parametrize("command", [c for c in COMMANDS if c.arguments], ids=lambda c: c.name)
def test_every_command_with_every_hostile_argument(hostile, command):
    _with_arguments(hostile, command, [name for name in CORPUS if name not in FAST])


@pytest.mark.parametrize("command", [c for c in COMMANDS if c.options], ids=lambda c: c.name)
def test_every_option_with_a_hostile_value(hostile, command):
    values = list(CORPUS.values())
    for index, option in enumerate(command.options):
        value = values[(index + len(command.name)) % len(values)]
        hostile(argv_for(command, value, option, closed_url=hostile.closed_url))


@pytest.mark.slow
@pytest.mark.parametrize("command", [c for c in COMMANDS if c.options], ids=lambda c: c.name)
def test_every_option_with_every_hostile_value(hostile, command):
    for option in command.options:
        for value in CORPUS.values():
            hostile(argv_for(command, value, option, closed_url=hostile.closed_url))


@pytest.mark.parametrize("option", root_options(), ids=lambda o: o.name)
def test_global_options_with_hostile_values(hostile, option):
    for name in FAST:
        hostile([_option_flag(option), CORPUS[name], "deals", "list"])


# Through the real entry point: argv bytes, the process's own stdout.
SUBSET = [
    ("add", "lead"),
    ("add", "contact"),
    ("deals", "show"),
    ("contacts", "edit"),
    ("search",),
    ("move",),
    ("task", "reschedule"),
    ("db", "backup"),
    ("db", "restore"),
    ("unsorted", "add"),
]


@pytest.mark.slow
@pytest.mark.parametrize("path", SUBSET, ids=" ".join)
def test_hostile_arguments_in_a_child_process(crm_cli, tmp_path, monkeypatch, path):
    monkeypatch.chdir(tmp_path)
    command = next(c for c in COMMANDS if c.path == path)
    options = command.options[:3]
    for name, value in CORPUS.items():
        value = value.replace("\x00", "")  # a process argument cannot hold NUL
        runs = [argv_for(command, value)] + [argv_for(command, value, option) for option in options]
        for args in runs:
            result = crm_cli(*args, env={"PYTHONPATH": REPO})  # this checkout, from any directory
            shown = f"{name}: crm {args!r:.200}\n{result.stderr[-2000:]}"
            assert "Traceback" not in result.stdout + result.stderr, shown
            assert "unexpected error" not in result.stderr, shown
            assert result.returncode in EXIT_CODES, shown


def test_the_walk_finds_every_module_command():
    from tui_crm.cli.main import COMMAND_MODULES

    found = {c.path[0] for c in COMMANDS}
    assert set(COMMAND_MODULES) <= found, set(COMMAND_MODULES) - found
    assert len(COMMANDS) > 40 and sys.version_info >= (3, 11)
