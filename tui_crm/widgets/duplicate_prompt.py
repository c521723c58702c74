"""Creating a contact or company with the duplicate check.

``PartyForm`` saves with ``OnDuplicate.ERROR`` first. When the service
finds a likely duplicate (same e-mail, phone, INN or name) it raises
``DuplicateFound``; the form then shows ``DuplicatePrompt`` with the
candidates, each with its responsible (a record that is someone else's is
taken over only after agreeing a transfer with them, says the manual), and
the manual's choice: use the existing record (the new
details enrich the best match, ``OnDuplicate.ENRICH``) or create another
one anyway (``OnDuplicate.CREATE``). Going back leaves nothing saved.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Static

from tui_crm.domain.errors import CrmError, DuplicateFound
from tui_crm.screens.dialogs import DIALOGS_TCSS
from tui_crm.services.companies import CompanyInput, add_company
from tui_crm.services.contacts import ContactInput, add_contact
from tui_crm.services.context import Crm
from tui_crm.services.parties import OnDuplicate
from tui_crm.services.views import CompanyDetail, ContactDetail, DuplicateCandidate
from tui_crm.widgets.form_dialog import FormDialog, FormField
from tui_crm.widgets.plain_text import clean, plain

REASONS = {"email": "same e-mail", "phone": "same phone", "inn": "same INN", "name": "same name"}


def candidate_line(candidate: DuplicateCandidate) -> Text:
    """``• Ольга Ёлкина  (same e-mail · Иван Смирнов)``: the record, why it
    matched and whose it is."""
    line = Text("• ")
    line.append(clean(candidate.name, one_line=True), style="bold")
    owner = clean(candidate.responsible or "nobody", one_line=True)
    line.append(f"  ({REASONS.get(candidate.reason, candidate.reason)} · responsible: {owner})", style="dim")
    return line


def transfer_note(candidates: Sequence[DuplicateCandidate], user_id: str | None) -> str | None:
    """The manual's rule for a record that is someone else's: agree a transfer first."""
    others = sorted({c.responsible for c in candidates if c.responsible and c.responsible_id != user_id})
    if not others:
        return None
    return f"Not yours: {', '.join(others)} is responsible. Agree a transfer with them before you take it over."


class DuplicatePrompt(ModalScreen[OnDuplicate | None]):
    """Which way to go when a new record looks like an existing one."""

    CSS_PATH = DIALOGS_TCSS
    DEFAULT_CLASSES = "form-dialog"

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("u", "choose('enrich')", "Use existing", id="duplicate.enrich"),
        Binding("c", "choose('create')", "Create anyway", id="duplicate.create"),
        Binding("escape", "choose('')", "Back", id="duplicate.back"),
    ]

    def __init__(self, entity_type: str, candidates: Sequence[DuplicateCandidate], user_id: str | None = None) -> None:
        super().__init__()
        self.entity_type = entity_type
        self.candidates = list(candidates)
        self.user_id = user_id

    def compose(self) -> ComposeResult:
        best = self.candidates[0].name if self.candidates else ""
        with Vertical(classes="dialog"):
            yield Static(f"Possible duplicate {self.entity_type}", classes="dialog-title", markup=False)
            yield Static(f"A {self.entity_type} like this already exists:", classes="dialog-intro", markup=False)
            for candidate in self.candidates[:8]:
                yield Static(candidate_line(candidate))
            note = transfer_note(self.candidates[:8], self.user_id)
            if note:
                yield Static(plain(clean(note, one_line=True)), classes="dialog-intro", id="duplicate-transfer")
            yield Static(
                plain(f"Use the existing one adds what you typed to «{clean(best, one_line=True)}»."),
                classes="dialog-intro",
            )
            with Horizontal(classes="dialog-buttons"):
                yield Button("u Use the existing one", variant="primary", id="duplicate-enrich")
                yield Button("c Create anyway", variant="warning", id="duplicate-create")
                yield Button("Back", id="duplicate-back")

    def on_mount(self) -> None:
        self.query_one("#duplicate-enrich").focus()

    def action_choose(self, choice: str) -> None:
        self.dismiss(OnDuplicate(choice) if choice else None)

    @on(Button.Pressed)
    def _pressed(self, event: Button.Pressed) -> None:
        choice = {"duplicate-enrich": "enrich", "duplicate-create": "create"}.get(event.button.id or "", "")
        self.action_choose(choice)


class PartyForm(FormDialog[ContactDetail | CompanyDetail]):
    """A new contact or company; a likely duplicate asks before saving."""

    def __init__(self, crm: Crm, entity_type: str, *, company: str = "") -> None:
        if entity_type == "contact":
            fields = [
                FormField("name", "Name", required=True, placeholder="Иван Петров"),
                FormField("phone", "Phone", placeholder="+7 916 123-45-67"),
                FormField("email", "E-mail", placeholder="ivan@example.com"),
                FormField("position", "Position"),
                FormField("company", "Company", value=company, placeholder="name of a company (new or existing)"),
            ]
        else:
            fields = [
                FormField("name", "Name (brand)", required=True, placeholder="Магнит"),
                FormField("inn", "INN", placeholder="10 or 12 digits"),
                FormField("phone", "Phone"),
                FormField("email", "E-mail"),
                FormField("web", "Web site"),
            ]
        super().__init__(f"New {entity_type}", fields, self._save)
        self.crm = crm
        self.entity_type = entity_type
        self.policy = OnDuplicate.ERROR

    def _save(self, values: dict[str, Any]) -> ContactDetail | CompanyDetail:
        text = {k: str(v).strip() for k, v in values.items()}
        phones = [text["phone"]] if text["phone"] else []
        emails = [text["email"]] if text["email"] else []
        if self.entity_type == "contact":
            contact = ContactInput(
                name=text["name"], phones=phones, emails=emails,
                position=text["position"] or None, company=text["company"] or None,
            )
            return add_contact(self.crm, contact, self.policy)
        company = CompanyInput(name=text["name"], inn=text["inn"] or None, phones=phones, emails=emails, web=text["web"] or None)
        return add_company(self.crm, company, self.policy)

    def handle_error(self, exc: BaseException) -> bool:
        if not isinstance(exc, DuplicateFound):
            return False
        candidates = [c for c in exc.candidates if isinstance(c, DuplicateCandidate)]

        def chosen(policy: OnDuplicate | None) -> None:
            if policy is None:
                self.policy = OnDuplicate.ERROR
                names = ", ".join(clean(c.name, one_line=True) for c in candidates[:3])
                self.show_error(CrmError(f"Not saved: a {self.entity_type} like this exists ({names}). Save again to choose."))
                return
            self.policy = policy
            self.run_submit(self.values())

        self.app.push_screen(DuplicatePrompt(self.entity_type, candidates, self.crm.user_id), chosen)
        return True
