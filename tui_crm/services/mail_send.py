"""Sending mail from a card: signature, reply headers, the outbox, never twice.

Every message goes through the outbox (``mail_outbox``), built once (its
Message-ID made then) and kept as bytes, so what is retried is exactly what
was queued:

``queued`` → (committed) ``sending`` → SMTP → ``sent`` → APPEND to Sent.

Offline (the SMTP server unreachable) the row goes back to ``queued`` and
the next ``crm mail fetch`` (or the app's mail worker) sends it. A row found
in ``sending`` belongs to a process that died after handing the message to
the server, maybe: Sent is searched for its Message-ID; found, it is
``sent``; not found, it becomes ``uncertain`` and waits for the user
(``crm mail outbox retry``), because sending it again could send it twice.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from pathlib import Path

from sqlmodel import col, select

from tui_crm.domain.errors import NotFoundError, ValidationError
from tui_crm.domain.validation import normalize_email
from tui_crm.mail.compose import Draft, build
from tui_crm.mail.imap import ConnectionLost, ImapSession, MailError
from tui_crm.services.context import Crm
from tui_crm.services.mail_fetch import read_blob, store_blob, store_sent
from tui_crm.services.mail_messages import message_row
from tui_crm.services.mail_views import OutboxView, SendResult
from tui_crm.services.mailboxes import find_mailbox, is_removed, mailboxes_for, server_address
from tui_crm.storage.mail_tables import Mailbox, MailLink, MailOutbox
from tui_crm.storage.models import User

log = logging.getLogger("tui_crm.mail")


@dataclass
class OutgoingMail:
    to: list[str]
    subject: str | None = None
    body: str = ""
    cc: list[str] = field(default_factory=list)
    attachments: list[Path] = field(default_factory=list)
    entity_type: str | None = None  # deal | contact | company
    entity_ref: str | None = None
    reply_to: str | None = None  # a stored message's id
    mailbox: str | None = None


def _sending_mailbox(crm: Crm, ref: str | None) -> Mailbox:
    if ref:
        mailbox = find_mailbox(crm, ref)
        if not mailbox.corporate and mailbox.owner_id != crm.user_id:
            raise ValidationError("mailbox", f"{mailbox.name} is someone else's personal mailbox; send from yours")
        return mailbox
    boxes = [m for m in mailboxes_for(crm, None) if m.smtp_host and not is_removed(m)]
    mine = [m for m in boxes if m.owner_id == crm.user_id and not m.corporate]
    shared = [m for m in boxes if m.corporate]
    if mine or shared:
        return (mine or shared)[0]
    raise NotFoundError("No mailbox to send from: add yours with crm mail add NAME --imap ... --smtp HOST[:PORT] --login ...")


def _addresses(values: list[str], what: str) -> list[str]:
    found = []
    for value in values:
        for part in value.split(","):
            if part.strip():
                found.append(normalize_email(part))
    return found


def send_mail(crm: Crm, mail: OutgoingMail) -> SendResult:
    """Queue the message and try to send it now; nothing is queued when a value is bad."""
    mailbox = _sending_mailbox(crm, mail.mailbox)
    server_address(mailbox, "smtp")  # a mailbox without SMTP or password fails here, before queueing
    in_reply_to, references, subject = None, [], mail.subject
    to = _addresses(mail.to, "to")
    entity_type, entity_ref = mail.entity_type, mail.entity_ref
    if mail.reply_to:
        original = message_row(crm, mail.reply_to)
        in_reply_to = original.message_key if not original.message_key.startswith("sha256:") else None
        references = (original.references or "").split()
        if not subject:
            subject = original.subject if original.subject.lower().startswith("re:") else f"Re: {original.subject}"
        if not to:
            to = [original.from_addr] if original.direction == "in" else [a for _, a in json.loads(original.to_json)]
        if entity_type is None:
            entity_type, entity_ref = _card_of(crm, original.id)
    if not to:
        raise ValidationError("to", "say who gets the message: --to ADDRESS")
    cc = _addresses(mail.cc, "cc")
    if not (mail.body.strip() or mail.attachments):
        raise ValidationError("body", "the message is empty; give --body, --body-file or --attach")
    for path in mail.attachments:
        if not path.is_file():
            raise ValidationError("attach", f"no file {path}; nothing was sent")
    entity_id = _entity_id(crm, entity_type, entity_ref)
    with crm.read() as session:
        me = session.get(User, crm.user_id)
    draft = Draft(
        sender=mailbox.address,
        sender_name=me.name if me else crm.user_name,
        to=to,
        cc=cc,
        subject=subject or "",
        body=mail.body,
        signature=me.signature if me else None,
        in_reply_to=in_reply_to,
        references=references,
        attachments=list(mail.attachments),
    )
    message_id, raw = build(draft, crm.clock())
    sha = store_blob(crm, raw)
    row = MailOutbox(
        mailbox_id=mailbox.id,
        user_id=crm.user_id,
        entity_type=entity_type,
        entity_id=entity_id,
        message_id=message_id,
        to_json=json.dumps(to),
        cc_json=json.dumps(cc),
        subject=draft.subject,
        raw_sha256=sha,
    )
    with crm.uow() as work:
        work.session.add(row)
    status, error = _deliver(crm, row.id)
    return SendResult(row.id, status, message_id, error)


def _card_of(crm: Crm, message_id: str) -> tuple[str | None, str | None]:
    with crm.read() as session:
        links = session.exec(select(MailLink).where(MailLink.message_id == message_id)).all()
    for kind in ("deal", "contact"):
        for link in links:
            if link.entity_type == kind:
                return kind, link.entity_id
    return None, None


def _entity_id(crm: Crm, entity_type: str | None, ref: str | None) -> str | None:
    if entity_type is None or ref is None:
        return None
    from tui_crm.services.records import resolve
    from tui_crm.services.tasks import ENTITY_MODELS

    with crm.read() as session:
        return resolve(session, ENTITY_MODELS[entity_type], ref).id


def _set(crm: Crm, outbox_id: str, **values: object) -> MailOutbox:
    with crm.uow() as work:
        row = work.session.get(MailOutbox, outbox_id)
        if row is None:
            raise NotFoundError(f"No outgoing message {outbox_id}")
        for key, value in values.items():
            setattr(row, key, value)
        work.session.add(row)
    return row


def _claim(crm: Crm, outbox_id: str) -> MailOutbox | None:
    """Mark a queued row ``sending`` (committed before the SMTP call); None if someone else has it."""
    with crm.uow() as work:
        row = work.session.get(MailOutbox, outbox_id)
        if row is None or row.status != "queued":
            return None
        row.status = "sending"
        row.attempts += 1
        work.session.add(row)
    return row


def _deliver(crm: Crm, outbox_id: str) -> tuple[str, str | None]:
    from tui_crm.mail.smtp import send

    row = _claim(crm, outbox_id)
    if row is None:
        return "skipped", None
    with crm.read() as session:
        mailbox = session.get(Mailbox, row.mailbox_id)
    assert mailbox is not None
    raw = read_blob(crm, row.raw_sha256)
    recipients = json.loads(row.to_json) + json.loads(row.cc_json)
    try:
        send(server_address(mailbox, "smtp"), mailbox.address, recipients, raw)
    except ConnectionLost as exc:
        _set(crm, outbox_id, status="queued", last_error=str(exc))
        return "queued", str(exc)
    except MailError as exc:
        _set(crm, outbox_id, status="failed", last_error=str(exc))
        raise
    _record_sent(crm, row, mailbox, raw)
    _append_to_sent(crm, row.id, mailbox, raw, row.message_id)
    return "sent", None


def _record_sent(crm: Crm, row: MailOutbox, mailbox: Mailbox, raw: bytes) -> None:
    with crm.uow() as work:
        fresh = work.session.get(MailOutbox, row.id)
        assert fresh is not None
        fresh.status, fresh.sent_at, fresh.last_error = "sent", work.now, None
        work.session.add(fresh)
    store_sent(crm, mailbox, raw, row.entity_type, row.entity_id)


def _append_to_sent(crm: Crm, outbox_id: str, mailbox: Mailbox, raw: bytes, message_id: str) -> None:
    """Put the message into Sent unless the server did it already; failures wait for the next flush."""
    try:
        with ImapSession(server_address(mailbox)) as imap:
            sent = imap.folders().get("sent")
            if sent is None:
                _set(crm, outbox_id, appended=True)
                return
            if not imap.contains(sent, message_id):
                imap.append(sent, raw)
    except MailError as exc:
        log.warning("mailbox %s: could not append to Sent yet: %s", mailbox.name, exc)
        return
    _set(crm, outbox_id, appended=True)


def flush_outbox(crm: Crm, mailbox_ref: str | None = None) -> int:
    """Send what is queued, settle what a crash left ``sending``, append what is not in Sent yet."""
    boxes = {m.id: m for m in mailboxes_for(crm, mailbox_ref) if not is_removed(m)}
    with crm.read() as session:
        rows = list(
            session.exec(
                select(MailOutbox)
                .where(col(MailOutbox.mailbox_id).in_(list(boxes)))
                .where(
                    col(MailOutbox.status).in_(["queued", "sending"])
                    | ((col(MailOutbox.status) == "sent") & col(MailOutbox.appended).is_(False))
                )
                .order_by(col(MailOutbox.created_at))
            )
        )
    sent = 0
    for row in rows:
        mailbox = boxes[row.mailbox_id]
        try:
            if row.status == "sending":
                _settle_crashed(crm, row, mailbox)
            elif row.status == "queued":
                status, _ = _deliver(crm, row.id)
                sent += status == "sent"
            else:
                _append_to_sent(crm, row.id, mailbox, read_blob(crm, row.raw_sha256), row.message_id)
        except MailError as exc:
            log.warning("outbox %s: %s", row.id[:8], exc)
    return sent


def _settle_crashed(crm: Crm, row: MailOutbox, mailbox: Mailbox) -> None:
    try:
        with ImapSession(server_address(mailbox)) as imap:
            sent = imap.folders().get("sent")
            found = bool(sent) and imap.contains(sent, row.message_id)  # type: ignore[arg-type]
    except ConnectionLost:
        return  # offline: decide later
    if found:
        _set(crm, row.id, status="sent", appended=True)
        store_sent(crm, mailbox, read_blob(crm, row.raw_sha256), row.entity_type, row.entity_id)
    else:
        why = "the app stopped while sending; check with the recipient, then retry or cancel"
        _set(crm, row.id, status="uncertain", last_error=why)


def _view(row: MailOutbox, names: dict[str, str]) -> OutboxView:
    return OutboxView(
        row.id, names.get(row.mailbox_id, "?"), json.loads(row.to_json), json.loads(row.cc_json), row.subject, row.status,
        row.attempts, row.last_error, row.created_at, row.sent_at, row.message_id,
    )


def list_outbox(crm: Crm, include_done: bool = False) -> list[OutboxView]:
    with crm.read() as session:
        names = {m.id: m.name for m in session.exec(select(Mailbox))}
        stmt = select(MailOutbox).order_by(col(MailOutbox.created_at).desc())
        if not include_done:
            stmt = stmt.where(col(MailOutbox.status).in_(["queued", "sending", "uncertain", "failed"]))
        return [_view(r, names) for r in session.exec(stmt.limit(500))]


def _find(crm: Crm, ref: str) -> MailOutbox:
    with crm.read() as session:
        rows = session.exec(select(MailOutbox).where(col(MailOutbox.id).startswith(ref.strip()))).all()
    if not rows:
        raise NotFoundError(f"No outgoing message {ref!r}; see crm mail outbox")
    if len(rows) > 1:
        raise ValidationError("outbox", f"{ref!r} matches several messages; use a longer id")
    return rows[0]


def cancel_outgoing(crm: Crm, ref: str) -> OutboxView:
    row = _find(crm, ref)
    if row.status not in ("queued", "uncertain", "failed"):
        raise ValidationError("outbox", f"this message is {row.status}; only a queued one can be cancelled")
    with crm.uow() as work:
        fresh = work.session.get(MailOutbox, row.id)
        assert fresh is not None
        if fresh.status not in ("queued", "uncertain", "failed"):  # sent meanwhile
            raise ValidationError("outbox", f"this message is {fresh.status} now")
        fresh.status = "cancelled"
        work.session.add(fresh)
    return outgoing(crm, row.id)


def retry_uncertain(crm: Crm, ref: str) -> OutboxView:
    """The user's word that an uncertain or failed message should go (again)."""
    row = _find(crm, ref)
    if row.status not in ("uncertain", "failed"):
        raise ValidationError("outbox", f"this message is {row.status}; only uncertain or failed ones are retried")
    _set(crm, row.id, status="queued")
    _deliver(crm, row.id)
    return outgoing(crm, row.id)


def send_now(crm: Crm, ref: str) -> OutboxView:
    """The outbox's "send now": a queued message is tried at once; an uncertain or failed one on the user's word.

    Offline, a queued message stays queued (its error says why); a server
    that refuses it raises :class:`MailError` and leaves it ``failed``.
    """
    row = _find(crm, ref)
    if row.status in ("uncertain", "failed"):
        return retry_uncertain(crm, row.id)
    if row.status != "queued":
        raise ValidationError("outbox", f"this message is {row.status}; there is nothing to send")
    _deliver(crm, row.id)
    return outgoing(crm, row.id)


def outgoing(crm: Crm, outbox_id: str) -> OutboxView:
    """One outbox message as the outbox lists it."""
    with crm.read() as session:
        row = session.get(MailOutbox, outbox_id)
        if row is None:
            raise NotFoundError(f"No outgoing message {outbox_id}")
        mailbox = session.get(Mailbox, row.mailbox_id)
    return _view(row, {row.mailbox_id: mailbox.name if mailbox else "?"})
