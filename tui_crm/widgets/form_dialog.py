"""Small modal dialogs the screens share: a form that saves through a
service, and a yes/no question.

``FormDialog`` runs its ``submit`` callable (a service call) in a thread
worker and stays open on failure with the error under the field it names
(``ValidationError.field_name``), so a mistyped phone or due date is fixed
in place and nothing is saved until the service accepts the whole input.
Every label and value shown is plain text (see ``plain_text``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, Generic, Literal, TypeVar

from rich.console import RenderableType
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.message import Message
from textual.screen import ModalScreen
from textual.widget import Widget
from textual.widgets import Button, Checkbox, Input, Select, Static

from tui_crm.domain.errors import ValidationError
from tui_crm.domain.text import fold
from tui_crm.screens.dialogs import DIALOGS_TCSS
from tui_crm.widgets.app_contract import ReportsFailedWorkers
from tui_crm.widgets.plain_text import SafeInput, error_message, plain

R = TypeVar("R")
FieldKind = Literal["text", "select", "checkbox"]

# Kept for dialogs written before screens/dialogs/dialogs.tcss (other branches); new ones use that file.
DIALOG_CSS = """
    align: center middle;
    & > Vertical.dialog {
        width: 72;
        max-width: 100%;
        height: auto;
        max-height: 100%;
        border: round $accent;
        background: $surface;
        padding: 0 1;
    }
    & .dialog-title { text-style: bold; color: $accent; margin-bottom: 1; }
    & .dialog-intro { color: $text-muted; margin-bottom: 1; }
    & .dialog-fields { height: auto; max-height: 20; }
    & .field-label { color: $text-muted; }
    & Input, & Select { margin-bottom: 0; }
    & .field-error, & .dialog-error { color: $error; height: auto; display: none; }
    & .field-error.-shown, & .dialog-error.-shown { display: block; }
    & .dialog-buttons { height: auto; align-horizontal: right; margin-top: 1; }
    & .dialog-buttons Button { margin-left: 1; }
"""


@dataclass
class FormField:
    """One input of a form. ``aliases`` are other names a service uses for
    it in ``ValidationError.field_name`` (e.g. the WHEN field is ``due``)."""

    key: str
    label: str
    kind: FieldKind = "text"
    value: str | bool = ""
    options: Sequence[tuple[str, str]] = ()  # (label, value) of a select
    placeholder: str = ""
    required: bool = False
    aliases: tuple[str, ...] = field(default_factory=tuple)

    @property
    def dom_id(self) -> str:
        return "field-" + "".join(ch if ch.isalnum() or ch in "-_" else "-" for ch in self.key)


class FormDialog(ReportsFailedWorkers, ModalScreen[R | None], Generic[R]):
    """A form whose Save calls ``submit(values)`` in a worker thread.

    The result of ``submit`` is the dialog's result; ``None`` means
    cancelled. Subclasses may override ``handle_error`` to turn an error
    into a follow-up question (the duplicate prompt does).
    """

    CSS_PATH = DIALOGS_TCSS
    DEFAULT_CLASSES = "form-dialog"

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Cancel", id="dialog.cancel"),
        Binding("ctrl+s", "save", "Save", id="dialog.save"),
    ]
    ENTER_SAVES_ANYWHERE: ClassVar[bool] = True
    """Enter in any input saves; False: it moves to the next input and saves from the last."""

    class Finished(Message, bubble=False):
        def __init__(self, result: Any = None, error: BaseException | None = None) -> None:
            super().__init__()
            self.result = result
            self.error = error

    def __init__(
        self,
        title: str,
        fields: Sequence[FormField],
        submit: Callable[[dict[str, Any]], R],
        *,
        intro: str | RenderableType = "",
        save_label: str = "Save",
    ) -> None:
        super().__init__()
        self.title_text = title
        self.fields = list(fields)
        self.submit = submit
        self.intro = intro
        self.save_label = save_label
        self.busy = False

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Static(plain(self.title_text, one_line=True), classes="dialog-title")
            if self.intro:
                yield Static(plain(self.intro) if isinstance(self.intro, str) else self.intro, classes="dialog-intro")
            with VerticalScroll(classes="dialog-fields", can_focus=False):
                for spec in self.fields:
                    if spec.kind != "checkbox":
                        yield Static(plain(spec.label + (" *" if spec.required else ""), one_line=True), classes="field-label")
                    yield self._input_for(spec)
                    yield Static("", classes="field-error", id=f"{spec.dom_id}-error")
            yield Static("", classes="dialog-error", id="dialog-error")
            with Horizontal(classes="dialog-buttons"):
                yield Button(self.save_label, variant="primary", id="dialog-save")
                yield Button("Cancel", id="dialog-cancel")

    def on_mount(self) -> None:
        if self.fields:
            self.query_one(f"#{self.fields[0].dom_id}").focus()

    @staticmethod
    def _input_for(spec: FormField) -> Widget:
        if spec.kind == "select":
            options = [(plain(label, one_line=True), value) for label, value in spec.options]
            values = {value for _, value in spec.options}
            initial = spec.value if spec.value in values else Select.NULL
            return Select(options, value=initial, allow_blank=not spec.required or initial is Select.NULL, id=spec.dom_id)
        if spec.kind == "checkbox":
            return Checkbox(plain(spec.label, one_line=True), value=bool(spec.value), id=spec.dom_id)
        return SafeInput(str(spec.value), placeholder=spec.placeholder, id=spec.dom_id, select_on_focus=False)

    def values(self) -> dict[str, Any]:
        """What the user entered: text and select values as str, checkboxes as bool."""
        out: dict[str, Any] = {}
        for spec in self.fields:
            widget = self.query_one(f"#{spec.dom_id}")
            if isinstance(widget, Select):
                out[spec.key] = "" if widget.value is Select.NULL else str(widget.value)
            elif isinstance(widget, Checkbox):
                out[spec.key] = widget.value
            else:
                assert isinstance(widget, Input)
                out[spec.key] = widget.value
        return out

    def clear_errors(self) -> None:
        for error in self.query(".field-error, .dialog-error").results(Static):
            error.update("")
            error.remove_class("-shown")

    def show_field_error(self, spec: FormField, message: str) -> None:
        """``message`` under ``spec``'s input."""
        self._error_at(f"#{spec.dom_id}-error", message)

    def _error_at(self, selector: str, message: str) -> None:
        error = self.query_one(selector, Static)
        error.update(plain(message))
        error.add_class("-shown")

    def show_error(self, exc: BaseException) -> None:
        """Put the message under the field it names, or above the buttons."""
        self.clear_errors()
        if isinstance(exc, ValidationError):
            name = fold(exc.field_name)
            for spec in self.fields:
                if name in {fold(spec.key), fold(spec.label), *map(fold, spec.aliases)}:
                    self._error_at(f"#{spec.dom_id}-error", error_message(exc, under_field=True))
                    self.query_one(f"#{spec.dom_id}").focus()
                    return
        self._error_at("#dialog-error", error_message(exc))

    def handle_error(self, exc: BaseException) -> bool:
        """Hook: return True when the error was handled (no message shown)."""
        return False

    def action_save(self) -> None:
        if self.busy:
            return
        values = self.values()
        self.clear_errors()
        missing = [s for s in self.fields if s.required and s.kind != "checkbox" and not str(values[s.key]).strip()]
        if missing:
            for spec in missing:
                self._error_at(f"#{spec.dom_id}-error", f"{spec.label}: required")
            self.query_one(f"#{missing[0].dom_id}").focus()
            return
        self.run_submit(values)

    def run_submit(self, values: dict[str, Any]) -> None:
        self.busy = True
        self._submit_worker(values)

    @work(thread=True, exclusive=True, group="form-submit", exit_on_error=False)
    def _submit_worker(self, values: dict[str, Any]) -> None:
        try:
            result = self.submit(values)
        except Exception as exc:  # shown in the dialog; the user fixes and retries
            self.post_message(self.Finished(error=exc))
            return
        self.post_message(self.Finished(result=result))

    def on_form_dialog_finished(self, message: Finished) -> None:
        message.stop()
        self.busy = False
        if message.error is None:
            self.dismiss(message.result)
        elif not self.handle_error(message.error):
            self.show_error(message.error)

    def action_cancel(self) -> None:
        self.dismiss(None)

    @on(Input.Submitted)
    def _enter_saves(self, event: Input.Submitted) -> None:
        event.stop()
        last = next((spec for spec in reversed(self.fields) if spec.kind == "text"), None)
        if not self.ENTER_SAVES_ANYWHERE and last is not None and event.input.id != last.dom_id:
            self.focus_next()  # a prompt: enter goes on to the next input, and saves from the last
            return
        self.action_save()

    @on(Button.Pressed, "#dialog-save")
    def _save_pressed(self) -> None:
        self.action_save()

    @on(Button.Pressed, "#dialog-cancel")
    def _cancel_pressed(self) -> None:
        self.action_cancel()


def responsible_dialog(
    title: str, names: Sequence[str], current: str | None, *, required: bool, save_label: str
) -> FormDialog[dict[str, Any]]:
    """Pick a user by name (``""`` is anyone unless ``required``); the result is ``{"responsible": name}``."""
    return FormDialog(
        title,
        [FormField("responsible", "Responsible", kind="select", value=current or "",
                   options=[(name, name) for name in names], required=required)],
        lambda values: values,
        save_label=save_label,
    )


class ConfirmDialog(ModalScreen[bool]):
    """A yes/no question; ``y``/enter is yes, ``n``/escape is no."""

    CSS_PATH = DIALOGS_TCSS
    DEFAULT_CLASSES = "form-dialog"

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("y", "answer(True)", "Yes", id="confirm.yes"),
        Binding("n,escape", "answer(False)", "No", id="confirm.no"),
    ]

    def __init__(self, title: str, question: str | RenderableType, *, yes: str = "Yes", no: str = "No") -> None:
        super().__init__()
        self.title_text = title
        self.question = question
        self.yes = yes
        self.no = no

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Static(plain(self.title_text, one_line=True), classes="dialog-title")
            yield Static(plain(self.question) if isinstance(self.question, str) else self.question, classes="dialog-intro")
            with Horizontal(classes="dialog-buttons"):
                yield Button(self.yes, variant="primary", id="confirm-yes")
                yield Button(self.no, id="confirm-no")

    def on_mount(self) -> None:
        self.query_one("#confirm-yes").focus()

    def action_answer(self, answer: bool) -> None:
        self.dismiss(answer)

    @on(Button.Pressed)
    def _pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "confirm-yes")
