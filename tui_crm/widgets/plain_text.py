"""Showing untrusted values safely, and reaching the open CRM from a widget.

Names, notes, e-mail subjects and bodies come from people, web forms and
sync. They are shown as plain ``rich.text.Text`` after ``safe_text``: never
parsed as markup (``[bold red]x[/]`` stays literal) and with terminal
escape sequences (``\\x1b[2J``) stripped. Every screen and widget of the
lists, card, agenda and unsorted views formats values through here so that
rule lives in one place.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING

from rich.text import Text
from textual.widgets import Input

from tui_crm.domain.errors import CrmError, ValidationError
from tui_crm.domain.money import format_money
from tui_crm.domain.text import safe_text
from tui_crm.services.tasks import to_local

if TYPE_CHECKING:
    from textual.dom import DOMNode

    from tui_crm.services.context import Crm

EMPTY = "—"


def clean(value: object, *, one_line: bool = False) -> str:
    """``value`` as display-safe text; ``None`` and ``""`` are a dash."""
    if value is None or value == "" or value == []:
        return EMPTY
    if isinstance(value, list | tuple):
        value = ", ".join(str(v) for v in value)
    return safe_text(str(value), keep_newlines=not one_line)


def plain(value: object, *, one_line: bool = False, style: str = "") -> Text:
    """A ``Text`` that is never interpreted as markup."""
    return Text(clean(value, one_line=one_line), style=style)


def cut(value: object, width: int, style: str = "") -> Text:
    """A table cell: plain text on one line, cut with an ellipsis at ``width``."""
    text = plain(value, one_line=True, style=style)
    text.truncate(width, overflow="ellipsis")
    return text


def money(amount: Decimal | None, currency: str = "RUB") -> str:
    return format_money(amount, currency) if amount is not None else EMPTY


def when(moment: datetime | None, crm: Crm, fmt: str = "%Y-%m-%d %H:%M") -> str:
    """A stored time (UTC, maybe naive from SQLite) in the user's zone."""
    if moment is None:
        return EMPTY
    return to_local(crm, moment).strftime(fmt)


def error_message(exc: BaseException, *, under_field: bool = False) -> str:
    """What to show for a failed action: the service's message, made safe.

    Service errors are written for the user; ``under_field`` drops a
    validation error's field name when it is shown right under that field.
    Anything else is a bug, so its type is shown rather than hidden.
    """
    if isinstance(exc, ValidationError) and under_field:
        return safe_text(exc.message, keep_newlines=False)
    if isinstance(exc, CrmError):
        return safe_text(str(exc), keep_newlines=False)
    return safe_text(f"{type(exc).__name__}: {exc}", keep_newlines=False)


class SafeInput(Input):
    """An input box whose value is always display-safe, one line.

    A box prefilled with a record's name (the copy dialog, the field editor)
    or given pasted text would otherwise draw that text's escape sequences
    straight to the terminal: OSC 52 sets the clipboard, OSC 0 the window
    title, CSI 2J clears the screen. Every value, set or typed, goes through
    ``safe_text`` first. Use it for every ``Input`` in the app.
    """

    def validate_value(self, value: str) -> str:
        return safe_text(value, keep_newlines=False)


def crm_of(node: DOMNode) -> Crm:
    """The open store of the running app (the ``CrmApp`` contract: ``app.crm``)."""
    return node.app.crm  # type: ignore[attr-defined,no-any-return]
