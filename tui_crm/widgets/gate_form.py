"""The form a refused stage move opens: exactly the fields the gate misses.

When ``move_deal`` raises ``GateRefused``, the board (or any screen) pushes
``GateForm(deal, stage, refusal.missing)``. Each missing field gets the
input its type calls for — a ``Select`` for select and yes/no fields, a date
``Input`` for dates, a plain ``Input`` otherwise — and is validated as the
user types with the same parser the move uses (``parse_deal_values``), so
the form accepts exactly what the service will. Save dismisses with the
typed values (``{key: text}``) for the caller to retry the move; Escape
dismisses with None and nothing is written.
"""

from __future__ import annotations

import re

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widget import Widget
from textual.widgets import Button, Footer, Input, Label, Select

from tui_crm.domain.errors import CrmError, MissingField
from tui_crm.domain.text import safe_text
from tui_crm.services.deal_values import parse_deal_values
from tui_crm.widgets.plain_text import SafeInput, crm_of

PLACEHOLDERS = {
    "date": "2026-12-01, 01.12.2026, tomorrow…",
    "money": "1 500 000",
    "url": "https://…",
    "number": "1000",
    "multiselect": "comma-separated options",
    "email": "name@example.com",
    "phone": "+7 916 123-45-67",
}
YES_NO = [("yes", "yes"), ("no", "no")]


def field_id(key: str) -> str:
    """Widget id of a field's input (``company.inn`` → ``gate-company-inn``)."""
    return "gate-" + re.sub(r"[^A-Za-z0-9_-]", "-", key)


class GateForm(ModalScreen[dict[str, str] | None]):
    """Fill the fields a stage gate asks for, then retry the move."""

    CSS_PATH = "gate_form.tcss"

    BINDINGS = [
        Binding("ctrl+s", "save", "Save and move", id="form.save"),
        Binding("escape", "cancel", "Cancel", id="form.cancel"),
    ]

    def __init__(
        self,
        deal_name: str,
        stage_name: str,
        missing: list[MissingField],
        values: dict[str, str] | None = None,
        errors: dict[str, str] | None = None,
        message: str | None = None,
    ) -> None:
        super().__init__()
        self.deal_name = deal_name
        self.stage_name = stage_name
        self.missing = missing
        self.carried = dict(values or {})
        self.initial_errors = dict(errors or {})
        # A refusal from the service stands until the value it was about changes.
        self._reported = {key: (self.carried.get(key, ""), text) for key, text in self.initial_errors.items()}
        self.message = message

    # ---- building -----------------------------------------------------
    def compose(self) -> ComposeResult:
        with Vertical(id="gate-box"):
            title = Text("Move «")
            title.append(safe_text(self.deal_name, keep_newlines=False), style="bold")
            title.append("» to «")
            title.append(safe_text(self.stage_name, keep_newlines=False), style="bold")
            title.append("»")
            yield Label(title, id="gate-title")
            yield Label(
                Text(self.message or f"The stage needs {len(self.missing)} more field{'s' if len(self.missing) != 1 else ''}:"),
                id="gate-message",
                classes="-warning" if self.message else "",
            )
            with VerticalScroll(id="gate-fields"):
                for item in self.missing:
                    with Vertical(classes="gate-field"):
                        with Horizontal(classes="gate-row"):
                            yield Label(Text(safe_text(item.label, keep_newlines=False)), classes="gate-label")
                            yield self._input_for(item)
                        yield Label(
                            Text(self.initial_errors.get(item.key, "")),
                            id=f"{field_id(item.key)}-error",
                            classes="gate-error",
                        )
            with Horizontal(id="gate-buttons"):
                yield Button("Save and move", variant="primary", id="gate-save", compact=True)
                yield Button("Cancel", id="gate-cancel", compact=True)
        yield Footer()

    def _input_for(self, item: MissingField) -> Widget:
        prefill = self.carried.get(item.key, "")
        if item.type in ("select", "bool"):
            options = YES_NO if item.type == "bool" else [(o, o) for o in item.options]
            known = {value for _, value in options}
            return Select(
                options,
                prompt="choose…",
                value=prefill if prefill in known else Select.NULL,
                id=field_id(item.key),
                compact=True,
            )
        return SafeInput(
            value=prefill,
            placeholder=PLACEHOLDERS.get(item.type, item.type),
            id=field_id(item.key),
            compact=True,
        )

    def on_mount(self) -> None:
        for key in self.initial_errors:
            self._show_error(key, self.initial_errors[key])
        flagged = [m for m in self.missing if m.key in self.initial_errors]
        first = (flagged or self.missing or [None])[0]
        if first is not None:
            self.query_one(f"#{field_id(first.key)}").focus()

    # ---- values and validation ---------------------------------------
    def raw_value(self, key: str) -> str:
        """What the user has entered for ``key`` (empty when nothing)."""
        widget = self.query_one(f"#{field_id(key)}")
        if isinstance(widget, Select):
            return "" if widget.value is Select.NULL else str(widget.value)
        assert isinstance(widget, Input)
        return widget.value

    def check(self, key: str, *, require: bool) -> str | None:
        """The error to show under ``key``, or None when the value is fine."""
        raw = self.raw_value(key)
        reported = self._reported.get(key)
        if reported is not None and reported[0] == raw:
            return reported[1]
        if not raw.strip():
            return "required to enter this stage" if require else None
        try:
            parse_deal_values(crm_of(self), {key: raw})
        except CrmError as error:
            return getattr(error, "message", None) or str(error)
        return None

    def _show_error(self, key: str, error: str | None) -> None:
        label = self.query_one(f"#{field_id(key)}-error", Label)
        label.update(Text(error or ""))
        label.set_class(bool(error), "-shown")
        self.query_one(f"#{field_id(key)}").set_class(bool(error), "-invalid")

    def _key_of(self, widget: Widget) -> str | None:
        for item in self.missing:
            if widget.id == field_id(item.key):
                return item.key
        return None

    @on(Input.Changed)
    @on(Select.Changed)
    def _validate_as_typed(self, event: Input.Changed | Select.Changed) -> None:
        key = self._key_of(event.control)
        if key is not None:
            self._show_error(key, self.check(key, require=False))

    @on(Input.Submitted)
    def _next_field(self) -> None:
        self.focus_next()

    # ---- actions ------------------------------------------------------
    @on(Button.Pressed, "#gate-save")
    def action_save(self) -> None:
        """Validate every field; dismiss with the values only if all pass."""
        first_bad: str | None = None
        for item in self.missing:
            error = self.check(item.key, require=True)
            self._show_error(item.key, error)
            if error and first_bad is None:
                first_bad = item.key
        if first_bad is not None:
            self.query_one(f"#{field_id(first_bad)}").focus()
            self.app.bell()
            return
        values = dict(self.carried)
        values.update({item.key: self.raw_value(item.key).strip() for item in self.missing})
        self.dismiss(values)

    @on(Button.Pressed, "#gate-cancel")
    def action_cancel(self) -> None:
        self.dismiss(None)
