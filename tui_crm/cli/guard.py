"""Arguments no command can use, refused before any command runs.

A shell passes bytes; Python turns bytes that are not UTF-8 into lone
surrogates (``"a\\udcff"``) which SQLite, JSON and the terminal all refuse
with a ``UnicodeEncodeError`` deep inside a service. Integers beyond
SQLite's 64 bits fail the same way. Rather than teach every command about
them, :func:`guard_arguments` wraps the callback of every command in a click
tree so that such a value is refused up front, naming the option it came
in (exit 5, nothing saved).
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from typing import Any

# SQLite stores integers in 64 bits.
INT_MIN, INT_MAX = -(2**63), 2**63 - 1


def _strings(value: object) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, list | tuple):
        for item in value:
            yield from _strings(item)


def _ints(value: object) -> Iterator[int]:
    if isinstance(value, int) and not isinstance(value, bool):
        yield value
    elif isinstance(value, list | tuple):
        for item in value:
            yield from _ints(item)


def undecodable_byte(text: str) -> int | None:
    """The first byte of ``text`` that was not UTF-8 (a lone surrogate), or None."""
    for ch in text:
        code = ord(ch)
        if 0xD800 <= code <= 0xDFFF:
            return code - 0xDC00 if 0xDC80 <= code <= 0xDCFF else code
    return None


def display_name(param: Any) -> str:
    """``--note`` for an option, ``NAME`` for an argument: what the user typed or sees in --help."""
    opts = [o for o in getattr(param, "opts", []) if o.startswith("--")] or list(getattr(param, "opts", []))
    if getattr(param, "param_type_name", "") == "option" and opts:
        return opts[0]
    return (param.name or "argument").upper()


def check_values(command: Any, values: dict[str, Any]) -> None:
    """Refuse a value of ``command``'s parameters that no command can store."""
    from tui_crm.domain.errors import ValidationError

    params = {p.name: p for p in getattr(command, "params", [])}
    for key, value in values.items():
        name = display_name(params[key]) if key in params else key
        for text in _strings(value):
            if "\x00" in text:  # only possible in-process: argv cannot hold NUL
                raise ValidationError(name, "contains a NUL character; remove it")
            byte = undecodable_byte(text)
            if byte is not None:
                shown = f"byte 0x{byte:02X}" if byte <= 0xFF else f"character U+{byte:04X}"
                raise ValidationError(
                    name, f"is not valid UTF-8 text ({shown}); type it again or convert it to UTF-8 (iconv -t UTF-8)"
                )
        for number in _ints(value):
            if not INT_MIN <= number <= INT_MAX:
                raise ValidationError(name, f"{number} is out of range; use a whole number from {INT_MIN} to {INT_MAX}")


def _guarded(command: Any) -> Any:
    inner = command.callback

    @functools.wraps(inner)
    def callback(*args: Any, **kwargs: Any) -> Any:
        check_values(command, kwargs)
        return inner(*args, **kwargs)

    return callback


def guard_arguments(command: Any) -> None:
    """Wrap the callbacks of ``command`` and every command below it (once)."""
    if command.callback is not None and not getattr(command, "_crm_guarded", False):
        command.callback = _guarded(command)
        command._crm_guarded = True
    for child in getattr(command, "commands", {}).values():
        guard_arguments(child)
