"""Quick add (`n`): capture a lead in seconds without leaving the screen.

Five inputs (name, phone, e-mail, company, budget) go to the same
``capture_lead`` service as ``crm add lead``. Each value is checked as it
is typed with the domain's own parsers, and a refusal from the service is
shown under its field with the form kept open: nothing typed is lost.
"""

from __future__ import annotations

from collections.abc import Callable

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Footer, Input, Label

from tui_crm.domain.errors import CrmError, ValidationError
from tui_crm.domain.money import parse_money
from tui_crm.domain.text import safe_text
from tui_crm.domain.validation import normalize_email, normalize_phone
from tui_crm.screens.dialogs import DIALOGS_TCSS
from tui_crm.services.deals import LeadInput, capture_lead
from tui_crm.services.views import DealDetail
from tui_crm.widgets.app_contract import ReportsFailedWorkers
from tui_crm.widgets.plain_text import SafeInput, crm_of

FIELDS: list[tuple[str, str, str]] = [
    ("name", "Name", "Сайт для Магнита"),
    ("phone", "Phone", "+7 916 123-45-67"),
    ("email", "E-mail", "name@example.com"),
    ("company", "Company", "Магнит"),
    ("budget", "Budget, ₽", "1 500 000"),
]

# Which field a service error belongs to, by the name it reports.
ERROR_FIELDS = {
    "name": "name", "phone": "phone", "email": "email", "company": "company", "бюджет (rub)": "budget", "budget": "budget",
}


def _check_name(raw: str) -> None:
    if not raw.strip():
        raise ValidationError("name", "a lead needs a name")


def _checker(key: str, region: str) -> Callable[[str], object] | None:
    return {
        "name": _check_name,
        "phone": lambda raw: normalize_phone(raw, region),
        "email": normalize_email,
        "budget": lambda raw: parse_money(raw, "budget"),
    }.get(key)


class QuickAddScreen(ReportsFailedWorkers, ModalScreen[DealDetail | None]):
    """Capture a lead into the current pipeline's lead stage."""

    CSS_PATH = DIALOGS_TCSS

    BINDINGS = [
        Binding("ctrl+s", "save", "Create lead", id="form.save"),
        Binding("escape", "cancel", "Cancel", id="form.cancel"),
    ]

    def __init__(self, pipeline: str, pipeline_name: str = "") -> None:
        super().__init__()
        self.pipeline = pipeline
        self.pipeline_name = pipeline_name or pipeline

    def compose(self) -> ComposeResult:
        with Vertical(id="quick-box"):
            yield Label(Text(f"New lead in «{safe_text(self.pipeline_name, keep_newlines=False)}»"), id="quick-title")
            for key, label, placeholder in FIELDS:
                with Vertical(classes="quick-field"):
                    with Horizontal(classes="quick-row"):
                        yield Label(label, classes="quick-label", markup=False)
                        yield SafeInput(placeholder=placeholder, id=f"quick-{key}", compact=True)
                    yield Label("", id=f"quick-{key}-error", classes="quick-error", markup=False)
            yield Label("", id="quick-general", markup=False)
            with Horizontal(id="quick-buttons"):
                yield Button("Create lead", variant="primary", id="quick-save", compact=True)
                yield Button("Cancel", id="quick-cancel", compact=True)
        yield Footer()

    def value(self, key: str) -> str:
        return self.query_one(f"#quick-{key}", Input).value.strip()

    def _show_error(self, key: str, message: str | None) -> None:
        label = self.query_one(f"#quick-{key}-error", Label)
        label.update(Text(message or ""))
        label.set_class(bool(message), "-shown")
        self.query_one(f"#quick-{key}", Input).set_class(bool(message), "-invalid")

    def _check(self, key: str, *, require: bool) -> str | None:
        raw = self.value(key)
        if not raw and not (require and key == "name"):
            return None
        check = _checker(key, crm_of(self).settings.phone_region)
        if check is None:
            return None
        try:
            check(raw)
        except ValidationError as error:
            return error.message
        return None

    @on(Input.Changed)
    def _validate_as_typed(self, event: Input.Changed) -> None:
        key = (event.input.id or "").removeprefix("quick-")
        if key != "name":  # an empty name is only an error on save
            self._show_error(key, self._check(key, require=False))
        elif event.value.strip():
            self._show_error(key, None)

    @on(Input.Submitted)
    def _submitted(self, event: Input.Submitted) -> None:
        if event.input.id == "quick-budget":
            self.action_save()
        else:
            self.focus_next()

    @on(Button.Pressed, "#quick-save")
    def action_save(self) -> None:
        """Check every field, then capture the lead in a worker."""
        bad = [key for key, _, _ in FIELDS if self._show_and_get(key)]
        if bad:
            self.query_one(f"#quick-{bad[0]}", Input).focus()
            self.app.bell()
            return
        lead = LeadInput(
            name=self.value("name"),
            phone=self.value("phone") or None,
            email=self.value("email") or None,
            company=self.value("company") or None,
            budget=self.value("budget") or None,
            pipeline=self.pipeline,
        )
        self.query_one("#quick-save", Button).disabled = True
        self._capture(lead)

    def _show_and_get(self, key: str) -> str | None:
        error = self._check(key, require=True)
        self._show_error(key, error)
        return error

    @work(thread=True, exclusive=True, group="quick-add")
    def _capture(self, lead: LeadInput) -> None:
        try:
            deal = capture_lead(crm_of(self), lead)
        except CrmError as error:
            self.app.call_from_thread(self._refused, error)
            return
        self.app.call_from_thread(self.dismiss, deal)

    def _refused(self, error: CrmError) -> None:
        self.query_one("#quick-save", Button).disabled = False
        key = ERROR_FIELDS.get(error.field_name.casefold()) if isinstance(error, ValidationError) else None
        if key is not None:
            self._show_error(key, error.message)  # type: ignore[union-attr]
            self.query_one(f"#quick-{key}", Input).focus()
        else:
            self.query_one("#quick-general", Label).update(Text(str(error)))

    @on(Button.Pressed, "#quick-cancel")
    def action_cancel(self) -> None:
        self.dismiss(None)
