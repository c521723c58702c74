"""One e-mail as plain text: headers, body, attachments; save attachments, reply.

Opened with Enter on a mail entry of a card's timeline. The text is
untrusted (escape sequences, Rich markup, bidi tricks): it is shown as
plain ``Text`` after ``safe_text``, never as markup. HTML mail arrives here
already converted to text by the fetch.
"""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Footer, Static

from tui_crm.services.mail_messages import open_message, save_attachment
from tui_crm.services.mail_views import MessageView
from tui_crm.widgets.app_contract import ReportsFailedWorkers
from tui_crm.widgets.plain_text import clean, crm_of, error_message, when


class MessageScreen(ReportsFailedWorkers, ModalScreen[str | None]):
    """A message; dismisses with ``"reply"`` when the user wants to answer it."""

    CSS_PATH = "mail_message.tcss"

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "close", "Close", id="mail.close"),
        Binding("r", "reply", "Reply", id="mail.reply"),
        Binding("s", "save", "Save attachments to the record", id="mail.save"),
    ]

    def __init__(self, message_id: str, entity_type: str, entity_id: str) -> None:
        super().__init__()
        self.message_id = message_id
        self.entity_type = entity_type
        self.entity_id = entity_id
        self.view: MessageView | None = None

    def compose(self) -> ComposeResult:
        with Vertical(id="mail-dialog"):
            yield Static(Text("Loading…"), id="mail-headers")
            with VerticalScroll(id="mail-body-scroll"):
                yield Static(Text(""), id="mail-body")
        yield Footer()

    def on_mount(self) -> None:
        self._load()

    @work(thread=True, exclusive=True, group="mail-open", exit_on_error=False)
    def _load(self) -> None:
        try:
            view = open_message(crm_of(self), self.message_id)
        except Exception as exc:  # private or gone: said on the screen
            self.app.call_from_thread(self._show_error, error_message(exc))
            return
        self.app.call_from_thread(self._show, view)

    def _show_error(self, text: str) -> None:
        self.query_one("#mail-headers", Static).update(Text(clean(text)))

    def _show(self, view: MessageView) -> None:
        self.view = view
        crm = crm_of(self)
        head = Text()
        head.append(clean(view.subject or "(no subject)", one_line=True) + "\n", style="bold")
        head.append(f"From: {clean(view.from_name, one_line=True)} <{clean(view.from_addr, one_line=True)}>\n")
        head.append(f"To:   {clean(', '.join(view.to), one_line=True)}\n")
        if view.cc:
            head.append(f"Cc:   {clean(', '.join(view.cc), one_line=True)}\n")
        head.append(f"Date: {when(view.sent_at, crm)}", style="dim")
        for a in view.attachments:
            head.append(f"\n📎 {a.index + 1}. {clean(a.name, one_line=True)} ({a.size:,} bytes)".replace(",", " "))
        self.query_one("#mail-headers", Static).update(head)
        self.query_one("#mail-body", Static).update(Text(clean(view.body or "")))

    def action_close(self) -> None:
        self.dismiss(None)

    def action_reply(self) -> None:
        if self.view is not None:
            self.dismiss("reply")

    def action_save(self) -> None:
        if self.view is None or not self.view.attachments:
            self.notify("This message has no attachments", severity="warning")
            return
        self._save(len(self.view.attachments))

    @work(thread=True, exclusive=True, group="mail-save", exit_on_error=False)
    def _save(self, count: int) -> None:
        crm = crm_of(self)
        try:
            names = [save_attachment(crm, self.message_id, i, self.entity_type, self.entity_id) for i in range(count)]
        except Exception as exc:
            self.app.call_from_thread(self.notify, error_message(exc), severity="error")
            return
        self.app.call_from_thread(self.notify, "Saved to the files: " + ", ".join(clean(n, one_line=True) for n in names))
