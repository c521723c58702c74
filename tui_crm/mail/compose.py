"""Build an outgoing message: body with the sender's signature, reply headers, attachments."""

from __future__ import annotations

import mimetypes
from dataclasses import dataclass, field
from datetime import datetime
from email.message import EmailMessage
from email.utils import format_datetime, formataddr, make_msgid
from pathlib import Path

SIGNATURE_SEPARATOR = "-- "


@dataclass
class Draft:
    sender: str
    sender_name: str
    to: list[str]
    cc: list[str] = field(default_factory=list)
    subject: str = ""
    body: str = ""
    signature: str | None = None
    in_reply_to: str | None = None
    references: list[str] = field(default_factory=list)
    attachments: list[Path] = field(default_factory=list)


def with_signature(body: str, signature: str | None) -> str:
    """The body with the signature under the usual ``-- `` line (once)."""
    body = body.rstrip("\n")
    if not signature or not signature.strip():
        return body + "\n"
    return f"{body}\n\n{SIGNATURE_SEPARATOR}\n{signature.strip()}\n"


def build(draft: Draft, now: datetime) -> tuple[str, bytes]:
    """(Message-ID, the message's bytes)."""
    message = EmailMessage()
    domain = draft.sender.rpartition("@")[2] or "tui-crm.local"
    message_id = make_msgid(domain=domain)
    message["Message-ID"] = message_id
    message["Date"] = format_datetime(now)
    message["From"] = formataddr((draft.sender_name, draft.sender))
    message["To"] = ", ".join(draft.to)
    if draft.cc:
        message["Cc"] = ", ".join(draft.cc)
    message["Subject"] = draft.subject
    if draft.in_reply_to:
        message["In-Reply-To"] = draft.in_reply_to
        refs = [r for r in draft.references if r != draft.in_reply_to] + [draft.in_reply_to]
        message["References"] = " ".join(refs)
    message.set_content(with_signature(draft.body, draft.signature))
    for path in draft.attachments:
        mime = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        maintype, subtype = mime.split("/", 1)
        message.add_attachment(path.read_bytes(), maintype=maintype, subtype=subtype, filename=path.name)
    return message_id, bytes(message)
