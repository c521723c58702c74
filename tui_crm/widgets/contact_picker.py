"""Pick an existing contact by name, phone or e-mail (to link it to a deal).

Typing searches through the full-text index (``services.search.search_parties``:
every word a prefix, Cyrillic case and ё/е folded, a phone typed any way),
debounced so a word costs one query, in a thread worker. Each result shows
the name with its first phone, e-mail and company, so two «Иван Петров» can
be told apart; all of it plain text. Down (or enter) moves from the search
box into the results, enter picks; the dialog's result is the contact id,
``None`` when cancelled. Contacts already linked are shown but not picked.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import ClassVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.message import Message
from textual.screen import ModalScreen
from textual.timer import Timer
from textual.widgets import Input, OptionList, Static
from textual.widgets.option_list import Option

from tui_crm.domain.validation import format_phone
from tui_crm.screens.dialogs import DIALOGS_TCSS
from tui_crm.services.context import Crm
from tui_crm.services.search import search_parties
from tui_crm.services.views import PartySummary
from tui_crm.widgets.app_contract import ReportsFailedWorkers
from tui_crm.widgets.plain_text import SafeInput, clean, error_message, plain

SEARCH_DEBOUNCE = 0.25  # seconds of quiet typing before the search runs
RESULTS = 20


def describe(row: PartySummary, *, linked: bool) -> Text:
    """One result line: the name, then what tells it apart (dim), all plain."""
    line = Text(clean(row.name, one_line=True))
    details = [format_phone(row.phone) if row.phone else None, row.email, row.company]
    shown = [clean(d, one_line=True) for d in details if d]
    if shown:
        line.append("  " + " · ".join(shown), style="dim")
    if linked:
        line.append("  already linked", style="italic")
    return line


class ContactPicker(ReportsFailedWorkers, ModalScreen[str | None]):
    """Search contacts and pick one; see the module docstring."""

    CSS_PATH = DIALOGS_TCSS
    DEFAULT_CLASSES = "form-dialog"

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Cancel", id="picker.cancel"),
        Binding("down", "results", "Results", show=False, id="picker.results"),
    ]

    class Found(Message, bubble=False):
        """A search's results (or its error), for the query it ran."""

        def __init__(self, query: str, rows: list[PartySummary], error: str | None = None) -> None:
            super().__init__()
            self.query = query
            self.rows = rows
            self.error = error

    def __init__(self, crm: Crm, title: str, *, linked: Collection[str] = ()) -> None:
        super().__init__()
        self.crm = crm
        self.title_text = title
        self.linked = set(linked)
        self.rows: list[PartySummary] = []
        self.query_text = ""
        self._debounce: Timer | None = None
        self._focus_results = False

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Static(plain(self.title_text, one_line=True), classes="dialog-title")
            yield SafeInput(placeholder="name, phone or e-mail…", id="picker-search")
            yield Static("Type to search contacts.", id="picker-hint")
            yield OptionList(id="picker-results")

    def on_mount(self) -> None:
        self.query_one("#picker-search", Input).focus()

    # -- searching ------------------------------------------------------------------

    @on(Input.Changed, "#picker-search")
    def _changed(self, event: Input.Changed) -> None:
        if self._debounce is not None:
            self._debounce.stop()
        value = event.value
        self._debounce = self.set_timer(SEARCH_DEBOUNCE, lambda: self._search(value))

    @on(Input.Submitted, "#picker-search")
    def _submitted(self, event: Input.Submitted) -> None:
        event.stop()
        if self._debounce is not None:
            self._debounce.stop()
        if event.value != self.query_text:
            self._search(event.value)
            self._focus_results = True  # once the answer is in
        else:
            self.action_results()

    def _search(self, query: str) -> None:
        self.query_text = query
        self._search_worker(query)

    @work(thread=True, exclusive=True, group="contact-picker", exit_on_error=False)
    def _search_worker(self, query: str) -> None:
        try:
            rows = search_parties(self.crm, query, "contact", limit=RESULTS)
        except Exception as exc:  # shown in the dialog; the user may type on
            self.post_message(self.Found(query, [], error_message(exc)))
            return
        self.post_message(self.Found(query, rows))

    def on_contact_picker_found(self, message: Found) -> None:
        if message.query != self.query_text:
            return  # an older query's answer: a newer one is on its way
        self.rows = message.rows
        results = self.query_one("#picker-results", OptionList)
        results.clear_options()
        results.add_options([Option(describe(r, linked=r.id in self.linked), id=r.id) for r in self.rows])
        if self.rows:
            results.highlighted = 0
        hint = self.query_one("#picker-hint", Static)
        if message.error:
            hint.update(plain(message.error))
        elif not message.query.strip():
            hint.update("Type to search contacts.")
        elif not self.rows:
            hint.update(plain(f"No contact matches «{message.query.strip()}»."))
        else:
            hint.update("enter picks · esc cancels")
        if self._focus_results:
            self._focus_results = False
            self.action_results()

    # -- picking ----------------------------------------------------------------------

    def action_results(self) -> None:
        results = self.query_one("#picker-results", OptionList)
        if results.option_count:
            results.focus()

    @on(OptionList.OptionSelected, "#picker-results")
    def _picked(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        contact_id = event.option.id
        if contact_id in self.linked:
            self.notify("That contact is already linked to this deal", severity="warning")
            return
        self.dismiss(contact_id)

    def action_cancel(self) -> None:
        self.dismiss(None)
