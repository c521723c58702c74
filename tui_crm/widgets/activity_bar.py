"""The card's activity bar: note, task, call log, pin, and the record's own
actions (copy a deal or link a contact to it, a new deal or contact from a
contact/company).

The buttons only run the card screen's actions, so the keys, the footer and
the mouse do the same thing; the dialogs for a note and a call log live here
because only the activity bar starts them.
"""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.widgets import Button

from tui_crm.services.context import Crm
from tui_crm.services.notes import CALL_OUTCOMES, add_note
from tui_crm.services.views import NoteView
from tui_crm.widgets.form_dialog import FormDialog, FormField

# (key, label, screen action) per record type; the key is the card's binding.
COMMON_ACTIVITIES = (("n", "Note", "note"), ("t", "Task", "task"), ("c", "Call", "call"), ("p", "Pin", "pin"))
RECORD_ACTIVITIES = {
    "deal": (("y", "Copy deal", "copy_deal"), ("+", "Contact", "link_contact")),
    "contact": (("l", "New deal", "new_deal"),),
    "company": (("l", "New deal", "new_deal"), ("a", "New contact", "new_contact")),
}


class ActivityBar(Horizontal):
    """One line of compact buttons that run the card's actions."""

    DEFAULT_CSS = """
    ActivityBar {
        height: 1;
        background: $panel;
        & Button { margin-right: 1; min-width: 8; }
    }
    """

    def __init__(self, entity_type: str, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.entity_type = entity_type

    def compose(self) -> ComposeResult:
        for key, label, action in (*COMMON_ACTIVITIES, *RECORD_ACTIVITIES.get(self.entity_type, ())):
            button = Button(f"{key} {label}", compact=True, action=f"screen.{action}", id=f"activity-{action.replace('_', '-')}")
            button.can_focus = False
            yield button


def note_dialog(crm: Crm, entity_type: str, entity_id: str) -> FormDialog[NoteView]:
    def submit(values: dict[str, object]) -> NoteView:
        return add_note(crm, entity_type, entity_id, str(values["text"]), pinned=bool(values["pinned"]))

    return FormDialog(
        "Add note",
        [
            FormField("text", "Note", required=True, placeholder="What was agreed", aliases=("note",)),
            FormField("pinned", "Pin it to the top", kind="checkbox"),
        ],
        submit,
    )


def call_dialog(crm: Crm, entity_type: str, entity_id: str) -> FormDialog[NoteView]:
    """Log a call: a summary and its outcome (reached, no answer, ...)."""

    def submit(values: dict[str, object]) -> NoteView:
        return add_note(
            crm, entity_type, entity_id, str(values["text"]), kind="call", call_outcome=str(values["outcome"]) or None
        )

    return FormDialog(
        "Log a call",
        [
            FormField("text", "Summary", required=True, placeholder="Discussed the budget", aliases=("note",)),
            FormField(
                "outcome", "Outcome", kind="select", value=CALL_OUTCOMES[0],
                options=[(o, o) for o in CALL_OUTCOMES], required=True,
            ),
        ],
        submit,
        save_label="Log call",
    )
