"""Tables of the mail module (migration 0009_mail).

* :class:`Mailbox` - one IMAP/SMTP account: hosts, login, security (and
  the CA its servers are trusted by, when not the system's), corporate or
  personal (with its owner). The password is never here: it
  lives in the secret store under ``mail:<mailbox id>``.
* :class:`MailFolder` - where the fetch of one folder (INBOX or Sent) of a
  mailbox stands: the folder's UIDVALIDITY and the highest UID stored.
  Written in the same transaction as the messages it covers, so a fetch cut
  short resumes after the last stored message.
* :class:`MailMessage` - one message, stored once whatever folders and
  mailboxes it was seen in (``message_key`` = its Message-ID, or a digest of
  its bytes when it has none). Text is stored decoded; the raw bytes are
  kept as a content-addressed blob only when the message has attachments.
* :class:`MailLink` - a message and a contact or deal it belongs to.
* :class:`MailOutbox` - a message to send: queued, sending, sent, cancelled,
  or ``uncertain`` (the process died between handing it to the server and
  recording that; it is never sent again without the user's word).

Mail rows are local: they are not change-logged (the sync outbox would push
them to amoCRM), they are rebuilt from the mail server.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, Index, Text
from sqlmodel import Field

from tui_crm.domain.ids import new_id, utcnow
from tui_crm.storage.models import Row


class Mailbox(Row, table=True):
    __tablename__ = "mailbox"

    id: str = Field(default_factory=new_id, primary_key=True, max_length=32)
    name: str = Field(unique=True)
    address: str
    imap_host: str
    imap_port: int
    smtp_host: str | None = None
    smtp_port: int | None = None
    login: str
    security: str = "tls"  # tls | starttls | none
    ca_pem: str | None = None  # the CA (PEM) this mailbox's servers are trusted by; None: the system's (0013)
    corporate: bool = False
    owner_id: str | None = Field(default=None, foreign_key="user.id")
    pipeline_key: str | None = None  # where mail from strangers goes (corporate)
    created_at: datetime = Field(default_factory=utcnow)
    last_fetch_at: datetime | None = None
    last_error: str | None = None


class MailFolder(Row, table=True):
    __tablename__ = "mail_folder"

    mailbox_id: str = Field(foreign_key="mailbox.id", primary_key=True)
    role: str = Field(primary_key=True)  # inbox | sent
    name: str
    uidvalidity: int | None = None
    last_uid: int = 0
    updated_at: datetime = Field(default_factory=utcnow)


class MailMessage(Row, table=True):
    __tablename__ = "mail_message"
    __table_args__ = (
        Index("ix_mail_message_thread", "thread_key", "sent_at"),
        Index("ix_mail_message_sent", "sent_at"),
    )

    id: str = Field(default_factory=new_id, primary_key=True, max_length=32)
    message_key: str = Field(unique=True)
    mailbox_id: str = Field(foreign_key="mailbox.id", index=True)
    folder: str  # inbox | sent
    direction: str  # in | out
    shared: bool = False  # seen in a corporate mailbox
    owner_id: str | None = None  # owner of the personal mailbox it came from
    subject: str = ""
    from_addr: str = ""
    from_name: str = ""
    to_json: str = "[]"  # [[name, addr], ...]
    cc_json: str = "[]"
    sent_at: datetime = Field(default_factory=utcnow)
    date_missing: bool = False
    in_reply_to: str | None = None
    references: str | None = Field(default=None, sa_column=Column(Text))
    thread_key: str = ""
    body: str = Field(default="", sa_column=Column(Text, nullable=False))
    snippet: str = ""
    html_only: bool = False
    attachments_json: str = "[]"  # [{"name", "size", "mime"}]
    raw_sha256: str | None = None
    size: int = 0
    fetched_at: datetime = Field(default_factory=utcnow)
    # Intake of corporate mail from strangers: pending until an Unsorted request
    # (or a form lead) is made from it, then unsorted | lead | none.
    intake: str | None = None


class MailLink(Row, table=True):
    __tablename__ = "mail_link"
    __table_args__ = (Index("ix_mail_link_entity", "entity_id", "sent_at"),)

    message_id: str = Field(foreign_key="mail_message.id", primary_key=True)
    entity_type: str = Field(primary_key=True)  # contact | deal | unsorted
    entity_id: str = Field(primary_key=True)
    sent_at: datetime = Field(default_factory=utcnow)  # copied from the message: the timeline pages by it


class MailOutbox(Row, table=True):
    __tablename__ = "mail_outbox"
    __table_args__ = (Index("ix_mail_outbox_status", "status", "created_at"),)

    id: str = Field(default_factory=new_id, primary_key=True, max_length=32)
    mailbox_id: str = Field(foreign_key="mailbox.id")
    user_id: str | None = None
    entity_type: str | None = None
    entity_id: str | None = None
    message_id: str  # the Message-ID header, made when queued
    to_json: str = "[]"
    cc_json: str = "[]"
    subject: str = ""
    raw_sha256: str  # the whole message as it will be sent (signature, headers, attachments)
    status: str = "queued"  # queued | sending | sent | cancelled | uncertain
    attempts: int = 0
    last_error: str | None = None
    created_at: datetime = Field(default_factory=utcnow)
    sent_at: datetime | None = None
    appended: bool = False
