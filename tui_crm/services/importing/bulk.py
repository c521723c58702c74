"""The bulk write path for new records: one ``executemany`` per table.

Creating records one by one through the ORM costs ~1 ms each; an import of
100 000 contacts must cost about what inserting the rows costs. This module
keeps the invariants the per-record services keep, for *new* records only:

- every record gets its ``change_log`` "create" row (fields, phones,
  e-mails, tags, custom values) under the import's id as ``batch_id``, so
  a later sync sends it and ``crm import undo`` finds it;
- every record gets its search entry, built as ``records.reindex`` builds it
  (names, phone forms, e-mails, company, position...);
- all of it inside the caller's ``UnitOfWork`` transaction: a batch
  commits whole or not at all.

Changes to records that already exist go through the ordinary services
(``UnitOfWork.update``, ``records.add_channel``...), which log and re-index
one record at a time.
"""

from __future__ import annotations

import json
import random
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import text

from tui_crm.domain.matching import email_key, phone_index_terms, phone_key
from tui_crm.domain.text import fold
from tui_crm.storage.unit_of_work import UnitOfWork, to_jsonable

_RANDOM = random.Random()
_CHUNK = 500


def fast_id() -> str:
    """A random 32-hex id (UUID4 layout) without a system call per id."""
    bits = _RANDOM.getrandbits(128)
    bits = (bits & ~(0xF000 << 64)) | (0x4000 << 64)
    bits = (bits & ~(0xC000 << 48)) | (0x8000 << 48)
    return f"{bits:032x}"


def db_time(moment: datetime) -> str:
    """How SQLAlchemy stores an aware datetime in SQLite (naive UTC text)."""
    return moment.astimezone(UTC).replace(tzinfo=None).isoformat(" ", "microseconds")


def _db_value(value: Any) -> Any:
    if value is None or type(value) in _PLAIN:
        return value
    if isinstance(value, datetime):
        return db_time(value)
    if isinstance(value, date):
        return value.isoformat()
    return value


_PLAIN = (str, int)
_ENCODE = json.JSONEncoder(ensure_ascii=False).encode  # json.dumps without its per-call argument checks


def _jsonable(value: Any) -> Any:
    return value if type(value) in _PLAIN else to_jsonable(value)


def digits_of(e164: str) -> str:
    """``matching.phone_key`` of a normalised phone, without a loop per character."""
    tail = e164[1:]
    return tail if e164[:1] == "+" and tail.isascii() and tail.isdigit() else phone_key(e164)


COLUMNS = {
    "contact": ("responsible_id", "company_id", "position", "department", "gender", "birthday"),
    "company": (
        "responsible_id", "web", "address", "inn", "company_type", "turnover", "industry", "employees", "needs", "territory",
    ),
    "deal": (
        "pipeline_id", "stage_id", "responsible_id", "company_id", "budget_rub", "budget_usd", "source_channel",
        "source_site", "source_message", "source_url", "loss_reason", "closed_at", "stage_entered_at",
    ),
}  # fmt: skip


@dataclass(slots=True)
class NewRecord:
    """A record to insert, with what hangs off it."""

    entity: str  # contact | company | deal
    id: str
    name: str
    values: dict[str, Any] = field(default_factory=dict)  # model columns
    created_at: datetime | None = None
    phones: list[tuple[str, str]] = field(default_factory=list)
    emails: list[tuple[str, str]] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    custom: dict[str, Any] = field(default_factory=dict)
    contacts: list[str] = field(default_factory=list)  # a deal's contact ids, main first
    search_extra: list[str] = field(default_factory=list)  # company / contact text for the search entry
    name_fold: str = ""  # set when written

    def has_channel(self, kind: str, normalized: str) -> bool:
        """Already there: the same number, or the same address in any case (``matching.email_key``)."""
        if kind == "phone":
            return any(n == normalized for _, n in self.phones)
        return any(email_key(n) == email_key(normalized) for _, n in self.emails)


class BulkInsert:
    """New records collected during a batch, written by :meth:`flush`."""

    def __init__(self, work: UnitOfWork) -> None:
        self.work = work
        self.records: dict[str, NewRecord] = {}
        self.flushed_deals: list[str] = []  # for the caller to re-index from the stored links

    def add(self, record: NewRecord) -> NewRecord:
        self.records[record.id] = record
        return record

    def get(self, record_id: str) -> NewRecord | None:
        return self.records.get(record_id)

    def flush(self) -> None:
        """Insert everything collected (in the caller's transaction)."""
        if not self.records:
            return
        conn = self.work.session.connection()
        raw = conn.connection.driver_connection
        now = self.work.now
        stamp = db_time(now)
        user_id, batch_id = self.work.user_id, self.work.batch_id
        by_entity: dict[str, list[NewRecord]] = defaultdict(list)
        for record in self.records.values():
            by_entity[record.entity].append(record)
        logs: list[tuple[Any, ...]] = []
        channels: list[tuple[Any, ...]] = []
        notes: list[tuple[Any, ...]] = []
        customs: list[tuple[Any, ...]] = []
        links: list[tuple[Any, ...]] = []
        tag_pairs: list[tuple[str, str, str]] = []
        for entity in ("company", "contact", "deal"):  # companies first: contacts and deals point at them
            records = by_entity.get(entity, [])
            if not records:
                continue
            columns = COLUMNS[entity]
            rows = []
            for r in records:
                created = db_time(r.created_at) if r.created_at else stamp
                values = r.values
                r.name_fold = fold(r.name)
                rows.append((r.id, created, stamp, 1, None, r.name, r.name_fold, *[_db_value(values.get(c)) for c in columns]))
                changes: dict[str, Any] = {"name": [None, r.name]}
                for k, v in values.items():
                    if v is not None:
                        changes[k] = [None, _jsonable(v)]
                if r.phones:
                    changes["phones"] = [None, [n for _, n in r.phones]]
                if r.emails:
                    changes["emails"] = [None, [n for _, n in r.emails]]
                if r.tags:
                    changes["tags"] = [None, r.tags]
                if r.contacts:
                    changes["contacts"] = [None, r.contacts]
                for key, value in r.custom.items():
                    changes[f"custom.{key}"] = [None, to_jsonable(value)]
                    customs.append((entity, r.id, key, json.dumps(to_jsonable(value), ensure_ascii=False)))
                logs.append((entity, r.id, "create", _ENCODE(changes), user_id, stamp, batch_id))
                pairs = [*(("phone", p) for p in r.phones), *(("email", e) for e in r.emails)]
                for sort, (kind, (typed, normalized)) in enumerate(pairs):
                    channels.append((fast_id(), entity, r.id, kind, typed, normalized, sort))
                for note in r.notes:
                    note_id = fast_id()
                    notes.append((note_id, stamp, stamp, 1, entity, r.id, note, self.work.user_id))
                    note_changes = {"entity_type": [None, entity], "entity_id": [None, r.id], "text": [None, note]}
                    logs.append(("note", note_id, "create", _ENCODE(note_changes), user_id, stamp, batch_id))
                for n, contact_id in enumerate(r.contacts):
                    links.append((r.id, contact_id, n == 0))
                tag_pairs.extend((entity, r.id, t) for t in r.tags)
            names = ("id", "created_at", "updated_at", "revision", "deleted_at", "name", "name_fold", *columns)
            raw.executemany(f"INSERT INTO {entity} ({', '.join(names)}) VALUES ({', '.join('?' * len(names))})", rows)
        raw.executemany(
            "INSERT INTO change_log (entity, entity_id, op, changes, user_id, at, batch_id) VALUES (?, ?, ?, ?, ?, ?, ?)", logs
        )
        if channels:
            raw.executemany(
                "INSERT INTO channel (id, entity_type, entity_id, kind, value, normalized, sort) VALUES (?, ?, ?, ?, ?, ?, ?)",
                channels,
            )
        if notes:
            raw.executemany(
                "INSERT INTO note (id, created_at, updated_at, revision, entity_type, entity_id, kind, text, pinned, author_id)"
                " VALUES (?, ?, ?, ?, ?, ?, 'note', ?, 0, ?)",
                notes,
            )
        if customs:
            raw.executemany(
                "INSERT OR REPLACE INTO custom_value (entity_type, entity_id, field_key, value_json) VALUES (?, ?, ?, ?)", customs
            )
        if links:
            raw.executemany("INSERT OR IGNORE INTO deal_contact (deal_id, contact_id, is_main) VALUES (?, ?, ?)", links)
        if tag_pairs:
            self._tags(conn, raw, tag_pairs)
        self._index(raw)
        self.flushed_deals.extend(r.id for r in by_entity.get("deal", []))
        self.records.clear()

    @staticmethod
    def _tags(conn: Any, raw: Any, pairs: list[tuple[str, str, str]]) -> None:
        known = {f: tid for tid, f in conn.execute(text("SELECT id, name_fold FROM tag"))}
        new: list[tuple[str, str, str]] = []
        links = set()
        for entity, record_id, name in pairs:
            key = fold(name)
            if key not in known:
                known[key] = fast_id()
                new.append((known[key], name, key))
            links.add((entity, record_id, known[key]))
        raw.executemany("INSERT INTO tag (id, name, name_fold) VALUES (?, ?, ?)", new)
        raw.executemany("INSERT OR IGNORE INTO entity_tag (entity_type, entity_id, tag_id) VALUES (?, ?, ?)", list(links))

    def _index(self, raw: Any) -> None:
        """Search entries as ``records.reindex`` builds them (records are new: no entry yet)."""
        start = raw.execute("SELECT coalesce(max(rowid), 0) FROM search_doc").fetchone()[0]
        docs = []
        fts = []
        for n, r in enumerate(self.records.values(), start + 1):
            body: list[str] = []
            if r.entity == "deal":
                body.extend(r.search_extra)
            else:
                for _, e164 in r.phones:
                    body.extend(phone_index_terms(e164))
                body.extend(e for _, e in r.emails)
                keys = ("position", "department") if r.entity == "contact" else ("inn", "web", "industry")
                body.extend(str(r.values.get(k) or "") for k in keys)
                body.extend(r.search_extra)
            body.extend(r.notes[:50])
            docs.append((n, r.entity, r.id))
            fts.append((n, r.name_fold or fold(r.name), fold(" ".join(b for b in body if b))))
        raw.executemany("INSERT INTO search_doc (rowid, entity_type, entity_id) VALUES (?, ?, ?)", docs)
        raw.executemany("INSERT INTO search_fts (rowid, title, body) VALUES (?, ?, ?)", fts)
