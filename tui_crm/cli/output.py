"""Printing for the CLI: plain lines, Rich tables, JSON, errors.

Untrusted text (names, notes, subjects) is always passed through
``safe_text`` and printed as ``rich.text.Text`` or plain ``print``: never
parsed as markup, never able to send escape sequences. Rich is imported only
when a table is printed, so quick capture does not pay for it.
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Iterable, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

from tui_crm.domain.text import safe_text


def clean(value: object) -> str:
    """A cell or line value made safe for a terminal."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M")
    if isinstance(value, Decimal):
        return f"{value:,.2f}".replace(",", " ")
    if isinstance(value, list | tuple):
        return ", ".join(clean(v) for v in value)
    return safe_text(str(value), keep_newlines=False)


def say(line: str) -> None:
    """One plain line to stdout (already-cleaned parts only)."""
    print(line)


def emit_json(data: Any) -> None:
    from tui_crm.services.views import as_dict

    def convert(item: Any) -> Any:
        if hasattr(item, "__dataclass_fields__"):
            return as_dict(item)
        if isinstance(item, dict):
            return {k: convert(v) for k, v in item.items()}
        if isinstance(item, list | tuple):
            return [convert(v) for v in item]
        if isinstance(item, datetime | Decimal):
            return str(item) if isinstance(item, Decimal) else item.isoformat()
        return item

    sys.stdout.write(json_text(convert(data)) + "\n")


# Characters JSON allows raw but a terminal (or a JavaScript reader) would
# act on: DEL and the C1 controls (U+009B is a one-byte CSI), the line
# separators, bidi overrides. json.dumps escapes C0 itself.
_JSON_UNSAFE = re.compile("[\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069\ud800-\udfff]")


def json_text(data: Any, indent: int | None = 2) -> str:
    """``data`` as JSON (UTF-8 kept readable) with every control character escaped."""
    text = json.dumps(data, ensure_ascii=False, indent=indent)
    return _JSON_UNSAFE.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


FORMATS = ("table", "tsv", "csv", "json")
# Commands that list records get --format (those that already have --json).
LISTINGS = frozenset({"list", "search", "conflicts"})


def table(title: str, columns: Sequence[str], rows: Iterable[Sequence[object]]) -> None:
    """A table of rows: Rich for people, or TSV/CSV for scripts (``--format``).

    Every cell is cleaned and shown as a ``Text``, so no markup is parsed.
    When stdout is not a terminal (a pipe, a file) the table is as wide as
    its content needs: an e-mail is never folded at column 80.
    """
    from tui_crm.cli.state import state

    if state.format in ("tsv", "csv"):
        _delimited(columns, rows, state.format)
        return
    from rich.table import Table
    from rich.text import Text

    grid = Table(title=Text(clean(title)), show_lines=False, header_style="bold")
    for name in columns:
        grid.add_column(Text(name), overflow="fold")
    count = 0
    for row in rows:
        grid.add_row(*(Text(clean(cell)) for cell in row))
        count += 1
    console = _console()
    if count:
        console.print(grid)
    else:
        console.print(Text(f"{clean(title)}: nothing found"))


_PIPE_WIDTH = 10_000  # "as wide as needed": Rich sizes a table to its content up to this


def _console() -> Any:
    """A Rich console for stdout: the terminal's width, or unbounded into a pipe or file."""
    from rich.console import Console

    class _StdoutConsole(Console):
        def on_broken_pipe(self) -> None:
            """Rich exits 1 here; ``cli.main.run`` ends a closed pipe as Unix tools do (141)."""
            raise BrokenPipeError

    return _StdoutConsole(highlight=False, soft_wrap=False, width=None if sys.stdout.isatty() else _PIPE_WIDTH)


def _delimited(columns: Sequence[str], rows: Iterable[Sequence[object]], kind: str) -> None:
    """Header and rows as TSV (tabs; cells hold no tab or newline) or CSV (RFC 4180 quoting)."""
    import csv

    if kind == "tsv":
        sys.stdout.write("\t".join(columns) + "\n")
        for row in rows:
            sys.stdout.write("\t".join(clean(cell) for cell in row) + "\n")
        return
    writer = csv.writer(sys.stdout, lineterminator="\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow([clean(cell) for cell in row])


def add_format_option(command: Any) -> None:
    """Give every listing under ``command`` a ``--format table|tsv|csv|json`` option.

    One place for all listings: ``--format json`` is the command's own
    ``--json``; tsv/csv switch :func:`table` for the rest of the run.
    """
    import functools

    from typer.core import TyperOption

    for name, child in getattr(command, "commands", {}).items():
        add_format_option(child)
        params = {p.name for p in child.params}
        if name not in LISTINGS or "json_" not in params or "format_" in params or child.callback is None:
            continue
        child.params.append(
            TyperOption(
                param_decls=["--format", "format_"],
                type=str,
                metavar="FORMAT",
                help="table (default), tsv, csv or json.",
                autocompletion=lambda ctx, args, incomplete: list(FORMATS),
            )
        )
        inner = child.callback

        @functools.wraps(inner)
        def callback(*args: Any, _inner: Any = inner, **kwargs: Any) -> Any:
            from tui_crm.cli.state import state

            chosen = kwargs.pop("format_", None)
            if chosen is not None and chosen not in FORMATS:
                from tui_crm.domain.errors import ValidationError

                raise ValidationError("--format", f"use one of: {', '.join(FORMATS)}")
            if chosen == "json":
                kwargs["json_"] = True
            state.format = chosen
            return _inner(*args, **kwargs)

        child.callback = callback


def fields(title: str, pairs: Sequence[tuple[str, object]]) -> None:
    """A record as label/value lines."""
    from rich.table import Table
    from rich.text import Text

    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold")
    grid.add_column()
    for label, value in pairs:
        grid.add_row(Text(label), Text(safe_text(str(value)) if value not in (None, "", []) else "—"))
    console = _console()
    console.print(Text(clean(title), style="bold underline"))  # titles carry record names
    console.print(grid)


def error(
    message: str,
    details: Sequence[str] = (),
    *,
    as_json: bool = False,
    code: int = 1,
    extra: dict[str, Any] | None = None,
) -> None:
    """An error on stderr: ``error: ...`` plus detail lines, or one JSON object.

    With ``as_json`` (the command had ``--json``) a script reads
    ``{"error": ..., "code": N, ...}`` (``missing`` for a refused gate,
    ``candidates`` for an ambiguous name or a duplicate) instead of prose.
    """
    if as_json:
        payload = {"error": safe_text(message, keep_newlines=False), "code": code, **(extra or {})}
        sys.stderr.write(json_text(payload, indent=None) + "\n")
        return
    print(f"error: {safe_text(message, keep_newlines=False)}", file=sys.stderr)
    for line in details:
        print(f"  {safe_text(line, keep_newlines=False)}", file=sys.stderr)
