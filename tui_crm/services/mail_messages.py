"""Reading stored mail: a card's messages (paged), one message as text, its attachments.

The private lock: a message that came only through personal mailboxes is
visible to the owner of that mailbox; everyone else sees that it exists
("private, Анна Петрова") without subject, text or attachments. Mail seen in
a corporate mailbox is shared.
"""

from __future__ import annotations

import json
import tempfile
from datetime import datetime
from pathlib import Path

from sqlmodel import Session, col, func, select

from tui_crm.domain.errors import NotFoundError, ValidationError
from tui_crm.services.context import Crm
from tui_crm.services.mail_views import AttachmentView, MessageView
from tui_crm.services.records import resolve
from tui_crm.services.views import TimelineItem
from tui_crm.storage.mail_tables import MailLink, MailMessage
from tui_crm.storage.models import User

PAGE = 50


def _addresses(raw: str) -> list[str]:
    try:
        pairs = json.loads(raw)
    except ValueError:
        return []
    return [f"{name} <{addr}>" if name else addr for name, addr in pairs]


def _visible(message: MailMessage, user_id: str) -> bool:
    return message.shared or message.owner_id in (None, user_id)


def _view(message: MailMessage, user_id: str, owners: dict[str, str], with_body: bool = False) -> MessageView:
    owner = owners.get(message.owner_id or "")
    if not _visible(message, user_id):
        return MessageView(
            message.id, message.sent_at, message.direction, True, owner, "", "", "", [], [], "", None, message.thread_key
        )
    attachments = [AttachmentView(a["index"], a["name"], a["size"], a["mime"]) for a in json.loads(message.attachments_json)]
    return MessageView(
        message.id,
        message.sent_at,
        message.direction,
        False,
        owner,
        message.subject,
        message.from_name,
        message.from_addr,
        _addresses(message.to_json),
        _addresses(message.cc_json),
        message.snippet,
        message.message_key if not message.message_key.startswith("sha256:") else None,
        message.thread_key,
        attachments,
        message.body if with_body else None,
    )


def _owners(session: Session) -> dict[str, str]:
    return {u.id: u.name for u in session.exec(select(User))}


def _record_id(session: Session, entity_type: str, ref: str) -> str:
    from tui_crm.services.tasks import ENTITY_MODELS

    if entity_type not in ENTITY_MODELS:
        raise ValidationError("entity", f"mail is shown on {', '.join(ENTITY_MODELS)}")
    return resolve(session, ENTITY_MODELS[entity_type], ref).id


def messages_of(
    crm: Crm, entity_type: str, ref: str, limit: int = PAGE, before: datetime | None = None
) -> list[MessageView]:
    """A card's messages, newest first, one page (``before`` = the last one shown, for the next page)."""
    with crm.read() as session:
        record_id = _record_id(session, entity_type, ref)
        stmt = (
            select(MailMessage)
            .join(MailLink, col(MailLink.message_id) == col(MailMessage.id))
            .where(MailLink.entity_id == record_id, MailLink.entity_type == entity_type)
        )
        if before is not None:
            stmt = stmt.where(col(MailLink.sent_at) < before)
        rows = session.exec(stmt.order_by(col(MailLink.sent_at).desc()).limit(limit)).all()
        owners = _owners(session)
    return [_local(_view(m, crm.user_id, owners), crm) for m in rows]


def _local(view: MessageView, crm: Crm) -> MessageView:
    """The time in the user's zone, as every other time the CLI and the card show."""
    from tui_crm.services.tasks import as_utc

    view.sent_at = as_utc(view.sent_at).astimezone(crm.tz)
    return view


def count_messages(crm: Crm, entity_type: str, ref: str) -> int:
    with crm.read() as session:
        record_id = _record_id(session, entity_type, ref)
        stmt = select(func.count()).select_from(MailLink)
        stmt = stmt.where(MailLink.entity_id == record_id, MailLink.entity_type == entity_type)
        return int(session.exec(stmt).one())


def _message(session: Session, ref: str) -> MailMessage:
    ref = ref.strip()
    row = session.get(MailMessage, ref)
    if row is None and len(ref) >= 4:
        rows = session.exec(select(MailMessage).where(col(MailMessage.id).startswith(ref)).limit(2)).all()
        if len(rows) > 1:
            raise ValidationError("message", f"{ref!r} matches several messages; use a longer id")
        row = rows[0] if rows else None
    if row is None:
        row = session.exec(select(MailMessage).where(MailMessage.message_key == ref)).first()
    if row is None:
        raise NotFoundError(f"No message {ref!r}; the card and `crm contacts show` list message ids")
    return row


def open_message(crm: Crm, ref: str) -> MessageView:
    """The whole message as plain text (HTML already converted); a private one stays closed."""
    with crm.read() as session:
        row = _message(session, ref)
        owners = _owners(session)
    view = _local(_view(row, crm.user_id, owners, with_body=True), crm)
    if view.private:
        raise ValidationError("message", f"this message is private, {view.owner or '?'}; only they can open it")
    return view


def message_row(crm: Crm, ref: str) -> MailMessage:
    """The stored row (for replies); refused when the message is private to someone else."""
    with crm.read() as session:
        row = _message(session, ref)
        owners = _owners(session)
    if not _visible(row, crm.user_id):
        raise ValidationError("message", f"this message is private, {owners.get(row.owner_id or '', '?')}")
    return row


def save_attachment(crm: Crm, ref: str, index: int, entity_type: str, entity_ref: str) -> str:
    """Save one attachment of a message into a record's files; returns the file's name."""
    from tui_crm.mail.parse import attachment_bytes
    from tui_crm.services.files import attach_file
    from tui_crm.services.mail_fetch import read_blob

    view = open_message(crm, ref)
    row = message_row(crm, ref)
    if not view.attachments or row.raw_sha256 is None:
        raise NotFoundError("this message has no attachments")
    if not 0 <= index < len(view.attachments):
        raise ValidationError("attachment", f"use a number from 1 to {len(view.attachments)}")
    name, data = attachment_bytes(read_blob(crm, row.raw_sha256), index)
    safe = Path(name).name or f"attachment-{index + 1}"
    with tempfile.TemporaryDirectory(prefix="crm-attachment-") as tmp:
        path = Path(tmp) / safe
        path.write_bytes(data)
        attach_file(crm, entity_type, entity_ref, path)
    return safe


def thread_of(crm: Crm, ref: str) -> list[MessageView]:
    """The messages of one conversation (In-Reply-To/References), oldest first."""
    with crm.read() as session:
        row = _message(session, ref)
        rows = session.exec(
            select(MailMessage).where(MailMessage.thread_key == row.thread_key).order_by(col(MailMessage.sent_at))
        ).all()
        owners = _owners(session)
    return [_view(m, crm.user_id, owners) for m in rows]


def with_mail(crm: Crm, entity_type: str, record_id: str, items: list[TimelineItem], limit: int = PAGE) -> list[TimelineItem]:
    """The card's timeline with its newest mail merged in (pinned notes still first).

    One page of mail (``limit``) is read through the ``(entity_id, sent_at)``
    index, so a contact with thousands of messages opens as fast as one with
    none; ``crm mail`` and the message screen reach the rest.
    """
    if entity_type not in ("deal", "contact"):
        return items
    mail = [
        TimelineItem(
            m.sent_at,
            "email",
            m.heading if m.private else f"{'→' if m.direction == 'out' else '←'} {m.heading}\n{m.snippet}".rstrip(),
            ref_id=m.id,
            author=None if m.private else (m.from_name or m.from_addr),
        )
        for m in messages_of(crm, entity_type, record_id, limit=limit)
    ]
    merged = items + mail
    merged.sort(key=lambda i: i.at, reverse=True)
    merged.sort(key=lambda i: not i.pinned)
    return merged


def count_new_mail(crm: Crm, since: datetime) -> int:
    """Incoming messages fetched after ``since`` that this user may read (the status bar's count)."""
    with crm.read() as session:
        stmt = (
            select(func.count())
            .select_from(MailMessage)
            .where(
                col(MailMessage.fetched_at) > since,
                MailMessage.direction == "in",
                col(MailMessage.shared) | col(MailMessage.owner_id).is_(None) | (col(MailMessage.owner_id) == crm.user_id),
            )
        )
        return int(session.exec(stmt).one())
