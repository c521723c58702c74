"""Fetch INBOX and Sent of each mailbox into the store: idempotent, incremental, resumable.

Per folder the store keeps UIDVALIDITY and the highest UID stored
(:class:`~tui_crm.storage.mail_tables.MailFolder`), written in the same
transaction as each batch of messages. So:

- a second fetch asks the server only for UIDs above that (none: one SELECT);
- a dropped connection mid-FETCH loses at most the batch in flight: the
  fetch reconnects and goes on from the last stored UID;
- a changed UIDVALIDITY (the server renumbered the folder) re-reads the
  folder, and the Message-ID dedupe keeps every message once, as it does
  for a message in both INBOX and Sent or in two mailboxes.

A message that cannot be parsed or stored is logged and skipped; the rest
arrive. Each stored message is linked to the contacts whose addresses are
in its From/To/Cc and to their open deals. Corporate mail from strangers is
marked for intake and filed into Unsorted after its batch commits
(``services.intake``), so a crash in between leaves it pending, not lost.
"""

from __future__ import annotations

import json
import logging
import os
import threading
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ProcessPoolExecutor, ThreadPoolExecutor
from datetime import UTC, datetime

from sqlalchemy import insert, update
from sqlmodel import Session, col, select

from tui_crm.domain.ids import new_id
from tui_crm.domain.matching import email_key
from tui_crm.mail.imap import ConnectionLost, ImapSession, MailError
from tui_crm.mail.parse import ParsedMessage, parse_many, parse_message
from tui_crm.services.context import Crm
from tui_crm.services.mail_views import FetchReport
from tui_crm.services.mailboxes import is_removed, mailboxes_for, server_address
from tui_crm.storage.mail_tables import Mailbox, MailFolder, MailLink, MailMessage
from tui_crm.storage.models import Channel, Contact, Deal, DealContact, Stage

log = logging.getLogger("tui_crm.mail")

BATCH = 200
PARALLEL_PARSE_BATCHES = 5  # from 1000 new messages on, parse in a second process (starting it costs ~0.3 s)
MAX_RECONNECTS = 5
# One fetch at a time in this process (the app's interval fetch and its IDLE watchers);
# other processes are kept from doubling anything by the Message-ID dedupe.
FETCH_LOCK = threading.RLock()
Progress = Callable[[str, int, int], None]  # (mailbox/folder, done, total)


def store_blob(crm: Crm, data: bytes) -> str:
    """Keep bytes once under the files dir, addressed by their SHA-256 (mode 0600)."""
    import hashlib

    from tui_crm.services.files import blob_path

    sha = hashlib.sha256(data).hexdigest()
    target = blob_path(crm, sha)
    if not target.exists():
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(f"{sha}.{os.getpid()}.tmp")
        with open(tmp, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o600)
        os.replace(tmp, target)
    return sha


def read_blob(crm: Crm, sha: str) -> bytes:
    from tui_crm.services.files import blob_path

    return blob_path(crm, sha).read_bytes()


def fetch_mail(crm: Crm, ref: str | None = None, progress: Progress | None = None) -> list[FetchReport]:
    """Fetch every mailbox (or the one named); a failing mailbox is reported, the others still run."""
    reports = []
    for mailbox in mailboxes_for(crm, ref):
        if is_removed(mailbox):
            continue
        report = FetchReport(mailbox.name)
        try:
            _fetch_mailbox(crm, mailbox, report, progress)
        except MailError as exc:
            report.error = str(exc)
            if ref:
                _stamp(crm, mailbox.id, str(exc))
                raise
        _stamp(crm, mailbox.id, report.error)
        from tui_crm.services.intake import process_pending_mail

        made = process_pending_mail(crm)
        report.unsorted += made.get("unsorted", 0)
        report.leads += made.get("lead", 0)
        reports.append(report)
    return reports


def _stamp(crm: Crm, mailbox_id: str, error: str | None) -> None:
    with crm.uow() as work:
        row = work.session.get(Mailbox, mailbox_id)
        if row is not None:
            row.last_fetch_at = work.now
            row.last_error = error
            work.session.add(row)


def _fetch_mailbox(crm: Crm, mailbox: Mailbox, report: FetchReport, progress: Progress | None) -> None:
    address = server_address(mailbox)
    session = ImapSession(address)
    with crm.read() as read:
        matcher = _ContactMatcher(read)
    try:
        folders = session.folders()
        for role in ("inbox", "sent"):
            name = folders.get(role)
            if name is None:
                continue
            while True:
                try:
                    report.folders[role] = report.folders.get(role, 0) + _fetch_folder(
                        crm, mailbox, session, role, name, report, progress, matcher
                    )
                    break
                except ConnectionLost as exc:
                    report.reconnects += 1
                    log.warning("mailbox %s: %s; reconnecting (%d)", mailbox.name, exc, report.reconnects)
                    if report.reconnects > MAX_RECONNECTS:
                        raise
                    session.close()
                    session = ImapSession(address)
    finally:
        session.close()


def _folder_state(crm: Crm, mailbox_id: str, role: str, name: str) -> MailFolder:
    with crm.read() as session:
        state = session.get(MailFolder, (mailbox_id, role))
    return state or MailFolder(mailbox_id=mailbox_id, role=role, name=name)


def _fetch_folder(
    crm: Crm,
    mailbox: Mailbox,
    imap: ImapSession,
    role: str,
    name: str,
    report: FetchReport,
    progress: Progress | None,
    matcher: _ContactMatcher,
) -> int:
    state = _folder_state(crm, mailbox.id, role, name)
    uidvalidity, uidnext = imap.select(name)
    last_uid = state.last_uid
    if state.uidvalidity != uidvalidity:
        if state.uidvalidity is not None:
            log.info("mailbox %s/%s: UIDVALIDITY changed, reading the folder again", mailbox.name, name)
        last_uid = 0
    elif uidnext is not None and uidnext <= last_uid + 1:
        return 0  # nothing new: one SELECT
    uids = imap.uids_after(last_uid)
    stored = 0
    batches = [uids[at : at + BATCH] for at in range(0, len(uids), BATCH)]
    done = 0
    # A pipeline of three: the next batch downloads (in a thread: the socket
    # waits without the GIL) while this one is parsed (in a second process
    # when there is much to read: parsing is as costly as the download) and
    # the one before is stored. The connection is used by one thread at a time.
    parser = _parser_pool() if len(batches) >= PARALLEL_PARSE_BATCHES else None
    try:
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="imap-fetch") as pool:
            pending = pool.submit(lambda b: list(imap.fetch(b)), batches[0]) if batches else None
            parsing: tuple[list[int], list, Future | None] | None = None
            for index in range(len(batches) + 1):
                ready = parsing
                parsing = None
                if index < len(batches):
                    assert pending is not None
                    fetched = pending.result()
                    more = index + 1 < len(batches)
                    pending = pool.submit(lambda b: list(imap.fetch(b)), batches[index + 1]) if more else None
                    job = parser.submit(parse_many, [item.raw for item in fetched]) if parser is not None else None
                    parsing = (batches[index], fetched, job)
                if ready is None:
                    continue
                batch, items, job_done = ready
                try:
                    parsed = job_done.result() if job_done is not None else None
                except Exception as exc:  # the parser process died: parse here
                    log.warning("mailbox %s: parser process failed (%s); parsing here", mailbox.name, exc.__class__.__name__)
                    parsed = None
                stored += _store_batch(crm, mailbox, role, name, uidvalidity, batch[-1], items, report, matcher, parsed)
                done += len(batch)
                if progress:
                    progress(f"{mailbox.name}/{name}", done, len(uids))
    finally:
        if parser is not None:
            parser.shutdown(wait=False, cancel_futures=True)
    if not uids and state.uidvalidity != uidvalidity:
        _store_batch(crm, mailbox, role, name, uidvalidity, 0, [], report, matcher)
    return stored


def _parser_pool() -> ProcessPoolExecutor | None:
    """One parser process, started fresh (``spawn``: this process has threads and open connections)."""
    import multiprocessing

    try:
        return ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn"))
    except (OSError, ValueError, NotImplementedError):  # no processes here: parse in this one
        return None


def _store_batch(
    crm: Crm,
    mailbox: Mailbox,
    role: str,
    folder_name: str,
    uidvalidity: int,
    upto_uid: int,
    fetched: Iterable,
    report: FetchReport,
    matcher: _ContactMatcher | None = None,
    results: list[ParsedMessage | str] | None = None,
) -> int:
    items = list(fetched)
    if results is None:
        results = parse_many([item.raw for item in items])
    parsed: list[tuple[ParsedMessage, bytes, datetime | None]] = []
    for item, result in zip(items, results, strict=True):
        if isinstance(result, str):  # hostile mail: log it, skip it, keep fetching
            report.skipped += 1
            log.warning("mailbox %s/%s: message UID %s skipped: %s", mailbox.name, folder_name, item.uid, result)
            continue
        parsed.append((result, item.raw, item.internal_date))
    blobs = {}
    for message, raw, _ in parsed:
        if message.attachments:
            try:
                blobs[message.key] = store_blob(crm, raw)
            except OSError as exc:
                log.warning("mailbox %s: attachments of %s not kept: %s", mailbox.name, message.key, exc)
    new = 0
    with crm.uow() as work:
        session = work.session
        keys = [m.key for m, _, _ in parsed]
        known: dict[str, tuple[str, bool]] = {}
        for at in range(0, len(keys), 500):
            stmt = select(MailMessage.message_key, MailMessage.id, MailMessage.shared)
            for key, message_id, shared in session.exec(stmt.where(col(MailMessage.message_key).in_(keys[at : at + 500]))):
                known[key] = (message_id, shared)
        if matcher is None:
            matcher = _ContactMatcher(session)
        matcher.load_deals(session, [a for m, _, _ in parsed for a in m.addresses])
        rows: list[dict] = []
        links: list[dict] = []
        threads: dict[str, str] = {}
        for message, _raw, internal in parsed:
            existing = known.get(message.key)
            if existing is not None:
                report.duplicates += 1
                if mailbox.corporate and not existing[1]:
                    session.exec(update(MailMessage).where(col(MailMessage.id) == existing[0]).values(shared=True))  # type: ignore[call-overload]
                    known[message.key] = (existing[0], True)
                continue
            try:
                raw_sha = blobs.get(message.key)
                values = _message_values(session, mailbox, role, message, internal, raw_sha, matcher, work.now, threads)
                message_links = _link_values(values, matcher.contacts_of(message.addresses), matcher)
            except Exception as exc:  # a value that cannot be stored: skip this message only
                report.skipped += 1
                log.warning("mailbox %s/%s: message %s not stored: %s", mailbox.name, folder_name, message.key[:60], exc)
                continue
            known[message.key] = (values["id"], values["shared"])
            rows.append(values)
            links.extend(message_links)
        new = _insert_rows(session, rows, links, report, mailbox.name)
        state = session.get(MailFolder, (mailbox.id, role)) or MailFolder(mailbox_id=mailbox.id, role=role, name=folder_name)
        state.name = folder_name
        if state.uidvalidity != uidvalidity:
            state.uidvalidity, state.last_uid = uidvalidity, 0
        state.last_uid = max(state.last_uid, upto_uid)
        state.updated_at = work.now
        session.add(state)
    report.new += new
    return new


class _ContactMatcher:
    """Contacts by e-mail key (read once per fetch) and the open deals of those a batch names.

    Channels keep an address's local part as typed, so the comparison is
    made here with ``email_key`` (SQLite's lower() folds ASCII only).
    """

    def __init__(self, session: Session) -> None:
        self.by_key: dict[str, list[str]] = {}
        rows = session.exec(
            select(Channel.normalized, Channel.entity_id)
            .join(Contact, col(Contact.id) == col(Channel.entity_id))
            .where(Channel.entity_type == "contact", Channel.kind == "email", col(Contact.deleted_at).is_(None))
        )
        for address, contact_id in rows:
            ids = self.by_key.setdefault(email_key(address), [])
            if contact_id not in ids:
                ids.append(contact_id)
        self.deals: dict[str, list[str]] = {}

    def load_deals(self, session: Session, addresses: list[str]) -> None:
        """The open deals of the contacts these addresses belong to."""
        contact_ids = sorted({c for a in addresses for c in self.by_key.get(email_key(a), []) if c not in self.deals})
        for start in range(0, len(contact_ids), 500):
            chunk = contact_ids[start : start + 500]
            for contact_id in chunk:
                self.deals[contact_id] = []
            rows = session.exec(
                select(DealContact.contact_id, Deal.id)
                .join(Deal, col(Deal.id) == col(DealContact.deal_id))
                .join(Stage, col(Stage.id) == col(Deal.stage_id))
                .where(
                    col(DealContact.contact_id).in_(chunk),
                    col(Deal.deleted_at).is_(None),
                    col(Stage.kind).not_in(["won", "lost"]),
                )
            )
            for contact_id, deal_id in rows:
                self.deals[contact_id].append(deal_id)

    def contacts_of(self, addresses: list[str]) -> list[str]:
        found: list[str] = []
        for address in addresses:
            for contact_id in self.by_key.get(email_key(address), []):
                if contact_id not in found:
                    found.append(contact_id)
        return found


def _thread_key(session: Session, message: ParsedMessage) -> str:
    if message.references:
        return message.references[0]
    if message.in_reply_to:
        parent = session.exec(select(MailMessage.thread_key).where(MailMessage.message_key == message.in_reply_to)).first()
        return parent or message.in_reply_to
    return message.key


def _message_values(
    session: Session,
    mailbox: Mailbox,
    role: str,
    message: ParsedMessage,
    internal: datetime | None,
    raw_sha: str | None,
    matcher: _ContactMatcher,
    now: datetime,
    threads: dict[str, str] | None = None,
) -> dict:
    """The columns of a new ``mail_message`` row (inserted in bulk by the fetch)."""
    outgoing = role == "sent" or email_key(message.from_addr) == email_key(mailbox.address)
    if internal is not None and internal.tzinfo is None:
        internal = internal.replace(tzinfo=UTC)
    when = message.date or (internal.astimezone(UTC) if internal else now)
    intake = None
    if mailbox.corporate and not outgoing and not matcher.contacts_of([message.from_addr]):
        intake = "pending"
    thread = threads.get(message.in_reply_to or "") if threads is not None and not message.references else None
    thread = thread or _thread_key(session, message)
    if threads is not None:
        threads[message.key] = thread
    return {
        "id": new_id(),
        "message_key": message.key,
        "mailbox_id": mailbox.id,
        "folder": role,
        "direction": "out" if outgoing else "in",
        "shared": mailbox.corporate,
        "owner_id": None if mailbox.corporate else mailbox.owner_id,
        "subject": message.subject,
        "from_addr": message.from_addr,
        "from_name": message.from_name,
        "to_json": json.dumps(message.to, ensure_ascii=False),
        "cc_json": json.dumps(message.cc, ensure_ascii=False),
        "sent_at": when,
        "date_missing": message.date is None,
        "in_reply_to": message.in_reply_to,
        "references": " ".join(message.references) or None,
        "thread_key": thread,
        "body": message.body,
        "snippet": message.snippet,
        "html_only": message.html_only,
        "attachments_json": json.dumps([a.__dict__ for a in message.attachments], ensure_ascii=False),
        "raw_sha256": raw_sha,
        "size": message.size,
        "fetched_at": now,
        "intake": intake,
    }


def _link_values(values: dict, contact_ids: list[str], matcher: _ContactMatcher) -> list[dict]:
    """``mail_link`` rows: the message's contacts and their open deals."""
    links = []
    deal_ids: list[str] = []
    message_id, sent_at = values["id"], values["sent_at"]
    for contact_id in contact_ids:
        links.append({"message_id": message_id, "entity_type": "contact", "entity_id": contact_id, "sent_at": sent_at})
        for deal_id in matcher.deals.get(contact_id, []):
            if deal_id not in deal_ids:
                deal_ids.append(deal_id)
    for deal_id in deal_ids:
        links.append({"message_id": message_id, "entity_type": "deal", "entity_id": deal_id, "sent_at": sent_at})
    return links


def _insert_rows(session: Session, rows: list[dict], links: list[dict], report: FetchReport, mailbox_name: str) -> int:
    """Insert a batch at once (executemany); should the batch fail, row by row, skipping the bad one."""
    if not rows:
        return 0
    messages, link_table = MailMessage.__table__, MailLink.__table__  # type: ignore[attr-defined]
    try:
        with session.begin_nested():
            session.execute(insert(messages), rows)
            if links:
                session.execute(insert(link_table), links)
        return len(rows)
    except Exception as exc:
        log.warning("mailbox %s: batch insert failed (%s); storing one by one", mailbox_name, exc.__class__.__name__)
    stored = 0
    for row in rows:
        try:
            with session.begin_nested():
                session.execute(insert(messages), [row])
                mine = [link for link in links if link["message_id"] == row["id"]]
                if mine:
                    session.execute(insert(link_table), mine)
            stored += 1
        except Exception as exc:
            report.skipped += 1
            key = str(row["message_key"])[:60]
            log.warning("mailbox %s: message %s not stored: %s", mailbox_name, key, exc.__class__.__name__)
    return stored


def link_message(crm: Crm, message_id: str, entity_type: str, entity_id: str) -> None:
    """Put a stored message on one more card (an accepted request's deal, a sent reply's record)."""
    with crm.uow() as work:
        link_in(work.session, message_id, entity_type, entity_id)


def link_in(session: Session, message_id: str, entity_type: str, entity_id: str) -> None:
    """:func:`link_message` inside the caller's transaction (once; a missing message is no error)."""
    row = session.get(MailMessage, message_id)
    if row is None or session.get(MailLink, (message_id, entity_type, entity_id)) is not None:
        return
    session.add(MailLink(message_id=message_id, entity_type=entity_type, entity_id=entity_id, sent_at=row.sent_at))


def store_sent(crm: Crm, mailbox: Mailbox, raw: bytes, entity_type: str | None, entity_id: str | None) -> str:
    """Keep a message we sent, as the fetch of Sent would (it dedupes against it later); returns its id."""
    message = parse_message(raw)
    raw_sha = store_blob(crm, raw) if message.attachments else None
    with crm.uow() as work:
        session = work.session
        existing = session.exec(select(MailMessage).where(MailMessage.message_key == message.key)).first()
        if existing is not None:
            row = existing
        else:
            matcher = _ContactMatcher(session)
            matcher.load_deals(session, message.addresses)
            values = _message_values(session, mailbox, "sent", message, None, raw_sha, matcher, work.now)
            _insert_rows(session, [values], _link_values(values, matcher.contacts_of(message.addresses), matcher),
                         FetchReport(mailbox.name), mailbox.name)
            row = session.get(MailMessage, values["id"])
            assert row is not None
        if entity_type and entity_id and session.get(MailLink, (row.id, entity_type, entity_id)) is None:
            session.add(MailLink(message_id=row.id, entity_type=entity_type, entity_id=entity_id, sent_at=row.sent_at))
    return row.id


def fetch_in_background(crm: Crm) -> int:
    """The app's periodic fetch: every mailbox, then the outbox; returns how many messages arrived.

    A mailbox that fails is reported on it (``crm mail list`` shows the
    error) and does not stop the others; nothing is raised to the worker.
    """
    from tui_crm.services.mail_send import flush_outbox

    if not mailboxes_for(crm, None):
        return 0
    with FETCH_LOCK:
        reports = fetch_mail(crm)
        try:
            flush_outbox(crm)
        except MailError as exc:
            log.warning("outbox: %s", exc)
    return sum(r.new for r in reports)
