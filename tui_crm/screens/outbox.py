"""The mail outbox: what waits to be sent, and what needs the user's word.

A message sent while the SMTP server is unreachable waits here ``queued``
and goes on the next connection; one the app was sending when it stopped is
``uncertain`` (it may have reached the server: it is never sent again
without the user's word); one the server refused is ``failed``. ``s`` sends
the highlighted message now (for an uncertain or failed one, that is the
user's word), ``x`` cancels it (after a question). The same services as
``crm mail outbox cancel|retry``.

Recipients, subjects and server errors are shown as plain text, never markup.
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

from tui_crm.services.mail_send import cancel_outgoing, list_outbox, send_now
from tui_crm.services.mail_views import OutboxView
from tui_crm.widgets.form_dialog import ConfirmDialog
from tui_crm.widgets.plain_text import clean, crm_of, cut, error_message, plain, when

STATUS_STYLE = {"queued": "yellow", "sending": "cyan", "uncertain": "bold magenta", "failed": "bold red"}
STATUS_WORDS = {
    "queued": "waits for the connection; s sends it now, x cancels it",
    "sending": "being handed to the server",
    "uncertain": "the app stopped while sending it: it may have gone. Ask the recipient; s sends it again, x cancels it",
    "failed": "the server refused it; s tries again, x cancels it",
}


class OutboxScreen(Screen[None]):
    """Queued, uncertain and failed outgoing mail; see the module docstring."""

    CSS_PATH = "outbox.tcss"

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "back", "Back", id="outbox.back"),
        Binding("s", "send_now", "Send now", id="outbox.send_now"),
        Binding("x,delete", "cancel", "Cancel message", key_display="x", id="outbox.cancel"),
        Binding("ctrl+r", "reload", "Reload", show=False, id="outbox.reload"),
    ]

    class Loaded(Message):
        def __init__(self, rows: list[OutboxView] | None, error: str | None = None) -> None:
            super().__init__()
            self.rows = rows
            self.error = error

    class Done(Message):
        """A send or cancel finished: its outcome to tell, then a reload."""

        def __init__(self, text: str, severity: str = "information") -> None:
            super().__init__()
            self.text = text
            self.severity = severity

    def __init__(self) -> None:
        super().__init__()
        self.rows: list[OutboxView] = []

    def compose(self) -> ComposeResult:
        with Vertical(id="outbox-header"):
            yield Static(Text("Outbox", style="bold"), id="outbox-title")
            yield Static("", id="outbox-summary")
        table: DataTable[Text] = DataTable(id="outbox-table", cursor_type="row", zebra_stripes=True)
        yield table
        yield Static("", id="outbox-detail")
        yield Footer()

    def on_mount(self) -> None:
        table = self.query_one("#outbox-table", DataTable)
        for key, label in (("status", "Status"), ("mailbox", "From"), ("to", "To"), ("subject", "Subject"),
                           ("queued", "Queued"), ("tries", "Tries")):
            table.add_column(Text(label), key=key)
        table.focus()

    def on_screen_resume(self) -> None:
        self.action_reload()

    def reload(self) -> None:
        """Called by the app after a background fetch (which also flushes the outbox)."""
        self._load()

    def action_reload(self) -> None:
        self._load()

    @work(thread=True, exclusive=True, group="outbox-load", exit_on_error=False)
    def _load(self) -> None:
        try:
            rows = list_outbox(crm_of(self))
        except Exception as exc:  # shown in the header
            self.post_message(self.Loaded(None, error_message(exc)))
            return
        self.post_message(self.Loaded(rows))

    def on_outbox_screen_loaded(self, message: Loaded) -> None:
        summary = self.query_one("#outbox-summary", Static)
        if message.rows is None:
            summary.update(plain(message.error))
            return
        self.rows = message.rows
        table = self.query_one("#outbox-table", DataTable)
        keep = table.cursor_row
        table.clear()
        crm = crm_of(self)
        for row in self.rows:
            table.add_row(
                cut(row.status, 10, STATUS_STYLE.get(row.status, "")),
                cut(row.mailbox, 14),
                cut(", ".join(row.to + row.cc), 28),
                cut(row.subject or "(no subject)", 32, "bold"),
                cut(when(row.created_at, crm, "%d.%m %H:%M"), 11, "dim"),
                cut(str(row.attempts), 5),
                key=row.id,
            )
        if self.rows:
            table.move_cursor(row=min(max(keep, 0), len(self.rows) - 1))
            waiting = sum(r.status == "queued" for r in self.rows)
            summary.update(Text(f"{len(self.rows)} not sent · {waiting} queued · s sends now, x cancels"))
        else:
            summary.update(Text("Nothing waits to be sent.", style="dim"))
        self._show_detail()

    @property
    def current(self) -> OutboxView | None:
        table = self.query_one("#outbox-table", DataTable)
        if not self.rows or not 0 <= table.cursor_row < len(self.rows):
            return None
        return self.rows[table.cursor_row]

    @on(DataTable.RowHighlighted, "#outbox-table")
    def _show_detail(self) -> None:
        row = self.current
        detail = self.query_one("#outbox-detail", Static)
        if row is None:
            detail.update("")
            return
        text = Text()
        text.append(clean(row.subject or "(no subject)", one_line=True), style="bold")
        text.append(f"\nTo      {clean(row.to, one_line=True)}")
        if row.cc:
            text.append(f"\nCc      {clean(row.cc, one_line=True)}")
        text.append(f"\nStatus  {row.status}: {STATUS_WORDS.get(row.status, '')}", style=STATUS_STYLE.get(row.status, ""))
        if row.last_error:
            text.append("\nLast error  ", style="dim")
            text.append(clean(row.last_error, one_line=True))
        detail.update(text)

    # ---- acting -------------------------------------------------------
    def action_send_now(self) -> None:
        row = self.current
        if row is None:
            self.notify("Nothing to send.", severity="warning", markup=False)
            return
        self.notify(f"Sending «{clean(row.subject, one_line=True)}»…", markup=False, timeout=3)
        self._act("send", row.id)

    def action_cancel(self) -> None:
        row = self.current
        if row is None:
            self.notify("Nothing to cancel.", severity="warning", markup=False)
            return
        question = Text("Cancel «")
        question.append(clean(row.subject or "(no subject)", one_line=True), style="bold")
        question.append(f"» to {clean(row.to, one_line=True)}? It will not be sent.")

        def answered(yes: bool | None) -> None:
            if yes:
                self._act("cancel", row.id)

        self.app.push_screen(ConfirmDialog("Cancel message", question, yes="Cancel it", no="Keep it"), answered)

    @work(thread=True, exclusive=True, group="outbox-act", exit_on_error=False)
    def _act(self, what: str, outbox_id: str) -> None:
        crm = crm_of(self)
        try:
            view = send_now(crm, outbox_id) if what == "send" else cancel_outgoing(crm, outbox_id)
        except Exception as exc:  # the service's one line; the row shows its new state after the reload
            self.post_message(self.Done(error_message(exc), "error"))
            return
        subject = clean(view.subject or "(no subject)", one_line=True)
        if what == "cancel":
            self.post_message(self.Done(f"Cancelled «{subject}»."))
        elif view.status == "sent":
            self.post_message(self.Done(f"Sent «{subject}»."))
        else:
            why = clean(view.last_error, one_line=True)
            self.post_message(self.Done(f"«{subject}» is still {view.status}: {why}", "warning"))

    def on_outbox_screen_done(self, message: Done) -> None:
        self.notify(message.text, severity=message.severity, markup=False, timeout=8)  # type: ignore[arg-type]
        self._load()

    def action_back(self) -> None:
        self.dismiss()
