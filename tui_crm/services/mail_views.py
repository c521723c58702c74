"""Plain data the mail services hand to the CLI and the TUI."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime


@dataclass
class MailboxView:
    id: str
    name: str
    address: str
    imap: str
    smtp: str | None
    login: str
    security: str
    corporate: bool
    owner: str | None
    last_fetch_at: datetime | None
    last_error: str | None
    own_ca: bool = False  # trusts the CA given with --ca-file rather than the system's


@dataclass
class FetchReport:
    mailbox: str
    new: int = 0
    duplicates: int = 0
    skipped: int = 0
    reconnects: int = 0
    unsorted: int = 0
    leads: int = 0
    folders: dict[str, int] = field(default_factory=dict)
    error: str | None = None


@dataclass
class AttachmentView:
    index: int
    name: str
    size: int
    mime: str


@dataclass
class MessageView:
    """A message as a card shows it; a private one carries no text, only who owns it."""

    id: str
    sent_at: datetime
    direction: str  # in | out
    private: bool
    owner: str | None
    subject: str
    from_name: str
    from_addr: str
    to: list[str]
    cc: list[str]
    snippet: str
    message_id: str | None
    thread_key: str
    attachments: list[AttachmentView] = field(default_factory=list)
    body: str | None = None  # filled only when a message is opened

    @property
    def heading(self) -> str:
        if self.private:
            return f"private, {self.owner or '?'}"
        who = self.from_name or self.from_addr
        return f"{self.subject or '(no subject)'} — {who}"


@dataclass
class OutboxView:
    id: str
    mailbox: str
    to: list[str]
    cc: list[str]
    subject: str
    status: str
    attempts: int
    last_error: str | None
    created_at: datetime
    sent_at: datetime | None
    message_id: str


@dataclass
class SendResult:
    outbox_id: str
    status: str  # sent | queued
    message_id: str
    error: str | None = None
