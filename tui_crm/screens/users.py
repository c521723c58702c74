"""The team and their mail signatures (an admin's screen).

Each user is one row: name, role, whether they are active, their e-mail
and the first line of their signature; the highlighted user's whole
signature is shown below. ``e`` (or enter) edits it in a multi-line editor,
through the same service as ``crm users signature`` (admins only: anyone
else is told so and no editor opens).

Names and signatures are shown as plain text, never markup.
"""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.message import Message
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Static

from tui_crm.services.signatures import require_signature_admin, set_signature
from tui_crm.services.users import list_users
from tui_crm.services.views import UserView
from tui_crm.widgets.app_contract import ReportsFailedWorkers
from tui_crm.widgets.plain_text import EMPTY, clean, crm_of, cut, error_message, plain
from tui_crm.widgets.signature_dialog import SignatureDialog


def first_line(signature: str | None) -> str:
    lines = [line for line in (signature or "").splitlines() if line.strip()]
    if not lines:
        return EMPTY
    return lines[0] + (" …" if len(lines) > 1 else "")


class UsersScreen(ReportsFailedWorkers, Screen[None]):
    """Users with their role, state and signature; see the module docstring."""

    CSS_PATH = "users.tcss"

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "back", "Back", id="users.back"),
        Binding("e,enter", "edit_signature", "Edit signature", key_display="e", id="users.edit_signature"),
        Binding("ctrl+r", "reload", "Reload", show=False, id="users.reload"),
    ]

    class Loaded(Message):
        def __init__(self, users: list[UserView] | None, error: str | None = None) -> None:
            super().__init__()
            self.users = users
            self.error = error

    class MayEdit(Message):
        """The answer to "may I set signatures?" for the user picked."""

        def __init__(self, user: UserView, error: str | None) -> None:
            super().__init__()
            self.user = user
            self.error = error

    def __init__(self) -> None:
        super().__init__()
        self.users: list[UserView] = []

    def compose(self) -> ComposeResult:
        with Vertical(id="users-header"):
            yield Static(Text("Users", style="bold"), id="users-title")
            yield Static("", id="users-summary")
        table: DataTable[Text] = DataTable(id="users-table", cursor_type="row", zebra_stripes=True)
        yield table
        yield Static("", id="users-detail")
        yield Footer()

    def on_mount(self) -> None:
        table = self.query_one("#users-table", DataTable)
        for key, label in (("name", "Name"), ("role", "Role"), ("active", "Active"), ("email", "E-mail"),
                           ("signature", "Signature")):
            table.add_column(Text(label), key=key)
        table.focus()

    def on_screen_resume(self) -> None:
        self.action_reload()

    def action_reload(self) -> None:
        self._load()

    @work(thread=True, exclusive=True, group="users-load", exit_on_error=False)
    def _load(self) -> None:
        try:
            users = list_users(crm_of(self))
        except Exception as exc:  # shown in the header
            self.post_message(self.Loaded(None, error_message(exc)))
            return
        self.post_message(self.Loaded(users))

    def on_users_screen_loaded(self, message: Loaded) -> None:
        summary = self.query_one("#users-summary", Static)
        if message.users is None:
            summary.update(plain(message.error))
            return
        self.users = message.users
        table = self.query_one("#users-table", DataTable)
        keep = table.cursor_row
        table.clear()
        for user in self.users:
            name = plain(user.name, one_line=True, style="bold" if user.is_active else "dim")
            if user.is_current:
                name.append(" (you)", style="dim")
            name.truncate(26, overflow="ellipsis")
            table.add_row(
                name,
                cut("admin" if user.is_admin else "user", 6),
                cut("yes" if user.is_active else "no", 6, "" if user.is_active else "dim"),
                cut(user.email, 26),
                cut(first_line(user.signature), 34, "italic"),
                key=user.id,
            )
        if self.users:
            table.move_cursor(row=min(max(keep, 0), len(self.users) - 1))
        active = sum(u.is_active for u in self.users)
        summary.update(Text(f"{len(self.users)} users · {active} active · e edits the highlighted one's mail signature"))
        self._show_detail()

    @property
    def current(self) -> UserView | None:
        table = self.query_one("#users-table", DataTable)
        if not self.users or not 0 <= table.cursor_row < len(self.users):
            return None
        return self.users[table.cursor_row]

    @on(DataTable.RowHighlighted, "#users-table")
    def _show_detail(self) -> None:
        user = self.current
        detail = self.query_one("#users-detail", Static)
        if user is None:
            detail.update("")
            return
        text = Text()
        text.append(f"Signature of {clean(user.name, one_line=True)}", style="bold")
        text.append("\n")
        if user.signature:
            text.append(clean(user.signature))
        else:
            text.append("none yet: mail goes out without one", style="dim")
        detail.update(text)

    @on(DataTable.RowSelected, "#users-table")
    def _row_selected(self) -> None:
        self.action_edit_signature()

    # ---- editing ------------------------------------------------------
    def action_edit_signature(self) -> None:
        user = self.current
        if user is None:
            self.notify("No user selected.", severity="warning", markup=False)
            return
        self._check_admin(user)

    @work(thread=True, exclusive=True, group="users-check", exit_on_error=False)
    def _check_admin(self, user: UserView) -> None:
        try:
            require_signature_admin(crm_of(self))
        except Exception as exc:  # not an admin: told, no editor
            self.post_message(self.MayEdit(user, error_message(exc)))
            return
        self.post_message(self.MayEdit(user, None))

    def on_users_screen_may_edit(self, message: MayEdit) -> None:
        if message.error is not None:
            self.notify(message.error, severity="error", markup=False)
            return
        crm = crm_of(self)
        user = message.user

        def save(text: str) -> tuple[str, str | None]:
            return set_signature(crm, user.id, text)

        def saved(result: tuple[str, str | None] | None) -> None:
            if result is None:
                return
            who, value = result
            done = "set" if value else "removed"
            self.notify(f"Signature of {clean(who, one_line=True)} {done}.", markup=False)
            self._load()

        self.app.push_screen(SignatureDialog(user.name, user.signature, save), saved)

    def action_back(self) -> None:
        self.dismiss()
