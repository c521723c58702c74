"""A record field on a card: label and value, edited in place.

``e`` (or enter on a field that is not a link) swaps the value for an
``Input`` (or a ``Select`` for a field with options). Enter posts
``FieldRow.EditSubmitted``; the card saves through the service and either
closes the editor (saved) or calls ``show_error`` (nothing was saved, the
editor stays open with the message under the field). Escape cancels.

A row may also carry a link to another record (a deal's company, a
contact's deals): enter posts ``FieldRow.LinkOpened`` and the card opens
that record's card.

A row that stands for one removable item (a phone, an e-mail, a contact
linked to a deal) carries ``FieldSpec.removable``: ``delete`` (or ``x``)
posts ``FieldRow.RemoveRequested`` and the card asks before removing it.
The key is offered (footer, ``?``) only on such rows.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal
from textual.message import Message
from textual.widget import Widget
from textual.widgets import Input, Select, Static

from tui_crm.services.views import LinkView
from tui_crm.widgets.plain_text import SafeInput, plain


@dataclass(frozen=True)
class FieldSpec:
    """What a row shows and how it is edited.

    ``key`` is the field key the record's edit service takes (``""``: the
    row is read-only); ``edit_value`` is the editor's initial text (the
    stored value in a form the service parses back); ``options`` turn the
    editor into a select of (label, value).
    """

    key: str
    label: str
    display: Text
    edit_value: str = ""
    options: Sequence[tuple[str, str]] = ()
    link: LinkView | None = None
    hint: str = ""
    removable: tuple[str, str] | None = None  # (what, which): ("phone", "+7916…"), ("contact", id)

    @property
    def editable(self) -> bool:
        return bool(self.key)

    @property
    def ident(self) -> tuple[object, ...]:
        """What this row stands for, so the card can keep the focus on it
        across a reload (labels move: the second phone becomes the first)."""
        if self.key or self.link or self.removable:
            return (self.key, self.link.id if self.link else None, self.removable)
        return ("", None, None, self.label)


class FieldRow(Widget, can_focus=True):
    """One field of a card; see the module docstring."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("e", "edit", "Edit", id="field.edit"),
        Binding("delete,x", "remove", "Remove", id="field.remove"),
        Binding("enter", "activate", "Open", show=False, id="field.activate"),
        Binding("escape", "cancel_edit", "Cancel edit", show=False, id="field.cancel"),
        Binding("down,j", "step(1)", "Next field", show=False, id="field.next"),
        Binding("up,k", "step(-1)", "Previous field", show=False, id="field.previous"),
    ]

    DEFAULT_CSS = """
    FieldRow {
        height: auto;
        padding: 0 1;
        & > Horizontal { height: auto; }
        & .field-label { width: 17; padding-right: 1; color: $text-muted; }
        & .field-value { width: 1fr; height: auto; }
        & Input, & Select { width: 1fr; background: $boost; }
        & .field-error { color: $error; padding-left: 17; height: auto; display: none; }
        & .field-error.-shown { display: block; }
        &.-link .field-value { color: $accent; }
        &:focus { background: $boost; }
        &:focus .field-label { color: $accent; text-style: bold; }
        &.-editing .field-value { display: none; }
    }
    """

    class EditSubmitted(Message):
        """The user entered a new value for ``key``; the card saves it."""

        def __init__(self, row: FieldRow, key: str, value: str) -> None:
            super().__init__()
            self.row = row
            self.key = key
            self.value = value

        @property
        def control(self) -> FieldRow:
            return self.row

    class RemoveRequested(Message):
        """Remove what this row stands for (``spec.removable``); the card confirms."""

        def __init__(self, row: FieldRow, what: str, which: str) -> None:
            super().__init__()
            self.row = row
            self.what = what
            self.which = which

        @property
        def control(self) -> FieldRow:
            return self.row

    class LinkOpened(Message):
        def __init__(self, row: FieldRow, link: LinkView) -> None:
            super().__init__()
            self.row = row
            self.link = link

        @property
        def control(self) -> FieldRow:
            return self.row

    def __init__(self, spec: FieldSpec, *, id: str | None = None) -> None:
        super().__init__(id=id, classes="-link" if spec.link else "")
        self.spec = spec
        self.editing = False

    def compose(self) -> ComposeResult:
        with Horizontal():
            # a follow-on row of a list (second phone, next contact) has no label: blank, not "—"
            yield Static(plain(self.spec.label, one_line=True) if self.spec.label else "", classes="field-label")
            yield Static(self.spec.display, classes="field-value")
        yield Static("", classes="field-error")

    # -- editing --------------------------------------------------------------------

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Escape cancels an edit only while editing (otherwise the card gets it:
        back); the arrows move between fields only while not editing; remove
        exists only on a row that stands for one removable item."""
        if action == "cancel_edit":
            return self.editing
        if action == "step":
            return not self.editing
        if action == "remove":  # hidden (and the key passes on) where nothing can be removed
            return self.spec.removable is not None and not self.editing
        return True

    def action_remove(self) -> None:
        if self.spec.removable is not None and not self.editing:
            self.post_message(self.RemoveRequested(self, *self.spec.removable))

    def action_step(self, step: int) -> None:
        rows = list(self.screen.query(FieldRow))
        index = rows.index(self) + step
        if 0 <= index < len(rows):
            rows[index].focus()

    def action_edit(self) -> None:
        if self.editing:
            return
        if not self.spec.editable:
            self.notify(f"{self.spec.label} is not edited here", severity="warning", markup=False)
            return
        self.editing = True
        self.add_class("-editing")
        editor: Widget
        if self.spec.options:
            values = {value for _, value in self.spec.options}
            current = self.spec.edit_value if self.spec.edit_value in values else Select.NULL
            editor = Select(
                [(plain(label, one_line=True), value) for label, value in self.spec.options],
                value=current, allow_blank=current is Select.NULL, classes="field-editor", compact=True,
            )
        else:
            editor = SafeInput(self.spec.edit_value, placeholder=self.spec.hint, classes="field-editor", compact=True)
        self.query_one(Horizontal).mount(editor)
        editor.focus()
        if isinstance(editor, Select):
            editor.call_after_refresh(editor.action_show_overlay)

    def action_activate(self) -> None:
        if self.spec.link is not None:
            self.post_message(self.LinkOpened(self, self.spec.link))
        else:
            self.action_edit()

    def action_cancel_edit(self) -> None:
        if self.editing:
            self.finish_edit()

    def finish_edit(self) -> None:
        """Close the editor (after a save, or on escape) and clear the error."""
        self.editing = False
        self.remove_class("-editing")
        self.query(".field-editor").remove()
        self.show_error("")
        self.focus()

    def show_error(self, message: str) -> None:
        """A save was refused: the message under the field, the editor kept."""
        error = self.query_one(".field-error", Static)
        error.update(plain(message) if message else "")
        error.set_class(bool(message), "-shown")
        editor = self.query(".field-editor")
        if message and editor:
            editor.first().focus()

    @on(Input.Submitted, ".field-editor")
    def _input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.post_message(self.EditSubmitted(self, self.spec.key, event.value))

    @on(Select.Changed, ".field-editor")
    def _select_changed(self, event: Select.Changed) -> None:
        event.stop()
        if event.value is not Select.NULL and str(event.value) != self.spec.edit_value:
            self.post_message(self.EditSubmitted(self, self.spec.key, str(event.value)))


class GroupTitle(Static):
    """A group heading on a card (Main, Marketing, custom fields...)."""

    DEFAULT_CSS = """
    GroupTitle {
        color: $accent;
        text-style: bold underline;
        padding: 0 1;
        margin-top: 1;
        width: 100%;
        &:first-of-type { margin-top: 0; }
    }
    """
