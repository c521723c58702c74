"""The form a refused stage move opens: exactly the fields the gate misses.

When ``move_deal`` raises ``GateRefused``, the board (or any screen) pushes
``GateForm(deal, stage, refusal.missing)``. Each missing field gets the
input its type calls for — a ``Select`` for select and yes/no fields, a date
``Input`` for dates, a plain ``Input`` otherwise — and is validated as the
user types with the same parser the move uses (``parse_deal_values``), so
the form accepts exactly what the service will. Save dismisses with the
typed values (``{key: text}``) for the caller to retry the move; Escape
dismisses with None and nothing is written.

A select with a free-text option (the loss reasons' «Другое») gets an input
beside it for the user's words («Другое: …»). The closing sum of a Won
stage is proposed from the deal's budget_usd at the Bank of Russia's rate
of the day (``services.rates``, in a worker: it may go to the network),
editable; offline the hint under it says there is no rate and the user
enters the amount.
"""

from __future__ import annotations

import re

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widget import Widget
from textual.widgets import Button, Footer, Input, Label, Select

from tui_crm.domain.errors import CrmError, MissingField
from tui_crm.domain.text import safe_text
from tui_crm.services.deal_values import parse_deal_values
from tui_crm.widgets.app_contract import ReportsFailedWorkers
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


class GateForm(ReportsFailedWorkers, ModalScreen[dict[str, str] | None]):
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
        *,
        deal_id: str | None = None,
        title: str | None = None,
    ) -> None:
        super().__init__()
        self.deal_id = deal_id  # whose budget_usd the closing sum is proposed from
        self.title_text = title  # instead of "Move «deal» to «stage»" (a mass close, a copy)
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
            if self.title_text is not None:
                title = Text(safe_text(self.title_text, keep_newlines=False), style="bold")
            else:
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
                        if item.other:
                            yield self._other_input(item)
                        if item.key == self._closing_key():
                            looking = Text("Looking up the Bank of Russia's rate…")
                            yield Label(looking, id="gate-closing-hint", classes="gate-hint")
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
            if item.other and prefill.partition(":")[0].strip() == item.other:
                prefill = item.other  # «Другое: words»: the words go in the input beside it
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

    def _other_input(self, item: MissingField) -> Widget:
        """The words for the free-text option («Другое: …»), shown while it is chosen."""
        carried = self.carried.get(item.key, "")
        head, sep, words = carried.partition(":")
        chosen = bool(sep) and head.strip() == item.other
        box = Input(
            value=words.strip() if chosen else "",
            placeholder=f"{item.other}: say what happened",
            id=f"{field_id(item.key)}-other",
            classes="gate-other",
            compact=True,
        )
        box.display = chosen
        return box

    def _closing_key(self) -> str | None:
        """The closing-sum field, when this form asks for it and knows the deal."""
        key = crm_of(self).pipelines.closing_sum_field if self.deal_id else None
        return key if key and any(m.key == key for m in self.missing) else None

    @work(thread=True, exclusive=True, group="gate-closing", exit_on_error=False)
    def _propose_closing(self, deal_id: str) -> None:
        """Worker: the closing sum at today's rate (the network may be slow or absent)."""
        from tui_crm.services.rates import closing_proposal

        try:
            proposal = closing_proposal(crm_of(self), deal_id)
        except CrmError as error:
            self.app.call_from_thread(self._show_proposal, None, f"No rate: enter the amount ({error})")
            return
        amount = None if proposal.amount is None else f"{proposal.amount:.2f}"
        self.app.call_from_thread(self._show_proposal, amount, proposal.explain())

    def _show_proposal(self, amount: str | None, explanation: str) -> None:
        key = self._closing_key()
        if key is None or not self.is_attached:
            return
        box = self.query_one(f"#{field_id(key)}", Input)
        if amount is not None and not box.value.strip():  # never over what the user typed
            box.value = amount
            if box.has_focus:
                box.select_all()  # as if it had been there when the field got the focus: typing replaces it
        hint = explanation + ("; edit if needed" if amount else "")
        self.query_one("#gate-closing-hint", Label).update(Text(safe_text(hint, keep_newlines=False)))

    def on_mount(self) -> None:
        if self._closing_key() and self.deal_id:
            self._propose_closing(self.deal_id)
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
            chosen = "" if widget.value is Select.NULL else str(widget.value)
            other = next((m.other for m in self.missing if m.key == key), None)
            if other and chosen == other:
                words = self.query_one(f"#{field_id(key)}-other", Input).value.strip()
                return f"{other}: {words}" if words else other
            return chosen
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
            if widget.id in (field_id(item.key), f"{field_id(item.key)}-other"):
                return item.key
        return None

    @on(Input.Changed)
    @on(Select.Changed)
    def _validate_as_typed(self, event: Input.Changed | Select.Changed) -> None:
        key = self._key_of(event.control)
        if key is None:
            return
        item = next(m for m in self.missing if m.key == key)
        if item.other and isinstance(event.control, Select):
            other_box = self.query_one(f"#{field_id(key)}-other", Input)
            other_box.display = event.control.value == item.other
            if other_box.display:
                other_box.focus()
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
