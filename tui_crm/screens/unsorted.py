"""A pipeline's Unsorted inbox: the daily triage of incoming requests.

Mail from the shared mailbox and web-form requests wait here. Each entry
shows its sender, subject and arrival time, and its body in the preview.
Accept (``a``) makes it a deal at the pipeline's lead stage with its
contact matched by e-mail/phone or created, then offers to open the deal's
card; Decline (``d``) keeps it, with the reason, out of the pipeline.

Everything here comes from strangers: sender names, subjects and bodies are
shown as plain text with escape sequences stripped, never as markup.
"""

from __future__ import annotations

from typing import ClassVar

from rich.table import Table
from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Footer, OptionList, Static
from textual.widgets.option_list import Option

from tui_crm.screens.card import CardScreen
from tui_crm.services.context import Crm
from tui_crm.services.unsorted import accept, decline, list_unsorted
from tui_crm.services.views import DealDetail, UnsortedView
from tui_crm.widgets.app_contract import ReportsFailedWorkers
from tui_crm.widgets.form_dialog import ConfirmDialog, FormDialog, FormField
from tui_crm.widgets.plain_text import clean, crm_of, error_message, plain, when

STATUSES = ("new", "declined", "accepted", "all")
SOURCE_LABELS = {"form": "web form", "mail": "e-mail"}


def sender(entry: UnsortedView) -> str:
    return entry.sender_name or entry.sender_email or entry.sender_phone or "unknown sender"


def entry_text(entry: UnsortedView, crm: Crm) -> Table:
    """Two lines in the inbox list, cut to its width: sender and time, then the subject."""
    top = Text()
    top.append(clean(sender(entry), one_line=True), style="bold")
    top.append(f"  {when(entry.received_at, crm, '%d.%m %H:%M')}", style="dim")
    if entry.status != "new":
        top.append(f"  {entry.status}", style="italic yellow")
    subject = entry.subject or (entry.body or "").strip().split("\n", 1)[0] or "(no subject)"
    grid = Table.grid(expand=True)
    grid.add_column(no_wrap=True, overflow="ellipsis")
    grid.add_row(top)
    grid.add_row(plain(subject, one_line=True))
    return grid


def preview_header(entry: UnsortedView, crm: Crm) -> Text:
    lines = [
        ("From", entry.sender_name), ("E-mail", entry.sender_email), ("Phone", entry.sender_phone),
        ("Source", SOURCE_LABELS.get(entry.source, entry.source)),
        ("Received", when(entry.received_at, crm)),
        ("Subject", entry.subject),
    ]
    if entry.decline_reason:
        lines.append(("Declined", entry.decline_reason))
    text = Text()
    for i, (label, value) in enumerate(lines):
        if i:
            text.append("\n")
        text.append(f"{label:<9}", style="dim")
        text.append_text(plain(value, one_line=True, style="bold" if label == "Subject" else ""))
    return text


class UnsortedScreen(ReportsFailedWorkers, Screen[None]):
    """Triage of a pipeline's Unsorted; see the module docstring."""

    CSS_PATH = "unsorted.tcss"

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "back", "Back", id="unsorted.back"),
        Binding("a", "accept", "Accept", id="unsorted.accept"),
        Binding("d", "decline", "Decline", id="unsorted.decline"),
        Binding("s", "status", "Show new/declined/all", id="unsorted.status"),
        Binding("ctrl+r", "reload", "Reload", show=False, id="unsorted.reload"),
    ]

    class Loaded(Message):
        def __init__(self, entries: list[UnsortedView] | None, error: str | None = None) -> None:
            super().__init__()
            self.entries = entries
            self.error = error

    class Accepted(Message):
        def __init__(self, deal: DealDetail | None, error: str | None = None) -> None:
            super().__init__()
            self.deal = deal
            self.error = error

    def __init__(self, pipeline_key: str) -> None:
        super().__init__()
        self.pipeline_key = pipeline_key
        self.status = "new"
        self.entries: list[UnsortedView] = []

    def compose(self) -> ComposeResult:
        with Vertical(id="unsorted-header"):
            yield Static("Unsorted", id="unsorted-title")
            yield Static("", id="unsorted-summary")
        with Horizontal(id="unsorted-body"):
            yield OptionList(id="unsorted-list", markup=False)
            with VerticalScroll(id="unsorted-preview", can_focus=False):
                yield Static("", id="preview-header")
                yield Static("", id="preview-body")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#unsorted-list").focus()

    def on_screen_resume(self) -> None:
        self.action_reload()

    def pipeline_name(self) -> str:
        return next((p.name for p in crm_of(self).pipelines.pipelines if p.key == self.pipeline_key), self.pipeline_key)

    def action_reload(self) -> None:
        self._load(self.status)

    @work(thread=True, exclusive=True, group="unsorted-load", exit_on_error=False)
    def _load(self, status: str) -> None:
        try:
            entries = list_unsorted(crm_of(self), self.pipeline_key, status=status)
        except Exception as exc:  # shown in the header
            self.post_message(self.Loaded(None, error_message(exc)))
            return
        self.post_message(self.Loaded(entries))

    def on_unsorted_screen_loaded(self, message: Loaded) -> None:
        title = Text("Unsorted", style="bold")
        title.append(" · ")
        title.append_text(plain(self.pipeline_name(), one_line=True))
        self.query_one("#unsorted-title", Static).update(title)
        summary = self.query_one("#unsorted-summary", Static)
        if message.entries is None:
            summary.update(plain(message.error))
            return
        self.entries = message.entries
        shown = "waiting for triage" if self.status == "new" else self.status
        summary.update(Text(f"{len(self.entries)} {shown}" + (" · a accepts, d declines" if self.status == "new" else "")))
        option_list = self.query_one("#unsorted-list", OptionList)
        keep = option_list.highlighted or 0
        option_list.clear_options()
        crm = crm_of(self)
        if not self.entries:
            option_list.add_option(Option(Text("Inbox zero: nothing to triage.", style="dim"), disabled=True))
        else:
            option_list.add_options(Option(entry_text(e, crm), id=e.id) for e in self.entries)
            option_list.highlighted = min(keep, len(self.entries) - 1)
        self._show_preview()

    @property
    def current(self) -> UnsortedView | None:
        index = self.query_one("#unsorted-list", OptionList).highlighted
        if index is None or index >= len(self.entries):
            return None
        return self.entries[index]

    @on(OptionList.OptionHighlighted, "#unsorted-list")
    def _show_preview(self) -> None:
        entry = self.current
        header = self.query_one("#preview-header", Static)
        body = self.query_one("#preview-body", Static)
        if entry is None:
            header.update("")
            body.update("")
            return
        crm = crm_of(self)
        header.update(preview_header(entry, crm))
        body.update(plain(entry.body or "(no text)"))

    # -- triage -------------------------------------------------------------------------

    def _new_entry(self) -> UnsortedView | None:
        entry = self.current
        if entry is None:
            self.notify("Nothing selected.", severity="warning")
        elif entry.status != "new":
            self.notify(f"This request was already {entry.status}.", severity="warning")
            return None
        return entry

    def action_accept(self) -> None:
        if entry := self._new_entry():
            self._accept(entry.id)

    @work(thread=True, exclusive=True, group="unsorted-triage", exit_on_error=False)
    def _accept(self, entry_id: str) -> None:
        try:
            deal = accept(crm_of(self), entry_id)
        except Exception as exc:  # reported; the entry stays in the inbox
            self.post_message(self.Accepted(None, error_message(exc)))
            return
        self.post_message(self.Accepted(deal))

    def on_unsorted_screen_accepted(self, message: Accepted) -> None:
        self.action_reload()
        deal = message.deal
        if deal is None:
            self.notify(message.error or "Could not accept", severity="error", markup=False)
            return
        question = Text("Deal «")
        question.append(clean(deal.name, one_line=True), style="bold")
        question.append(f"» is now at {clean(deal.stage, one_line=True)}")
        if deal.contacts:
            question.append(f" with contact {clean(deal.contacts[0].name, one_line=True)}")
        question.append(". Open its card?")

        def answered(open_card: bool | None) -> None:
            if open_card:
                self.app.push_screen(CardScreen("deal", deal.id))

        self.app.push_screen(ConfirmDialog("Accepted", question, yes="Open card", no="Stay here"), answered)

    def action_decline(self) -> None:
        entry = self._new_entry()
        if entry is None:
            return
        crm = crm_of(self)

        def submit(values: dict[str, object]) -> UnsortedView:
            return decline(crm, entry.id, str(values["reason"]))

        def declined(view: UnsortedView | None) -> None:
            if view is not None:
                self.notify(f"Declined: {clean(sender(view), one_line=True)}", markup=False)

        dialog = FormDialog(
            "Decline request",
            [FormField("reason", "Reason", required=True, placeholder="spam, not our profile, duplicate…")],
            submit,
            intro=entry_text(entry, crm),
            save_label="Decline",
        )
        self.app.push_screen(dialog, declined)

    def action_status(self) -> None:
        self.status = STATUSES[(STATUSES.index(self.status) + 1) % len(STATUSES)]
        self.action_reload()

    def action_back(self) -> None:
        self.dismiss()
