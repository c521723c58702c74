"""The local side of sync: records read and written in canonical form.

Pulled changes are written through :class:`SyncUnitOfWork`: the same
write path as every service (``updated_at``/``revision`` stamped, the
search index kept current, a change-log row per mutation so the timeline
shows what the remote changed) except that its change-log rows are born
with ``synced_at`` set, so they never go back out as pending changes.
"""

from __future__ import annotations

import json
import os
import random
import threading
from collections import defaultdict
from collections.abc import Iterable, Iterator
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import text
from sqlmodel import Session, col, select

from tui_crm.domain.text import fold
from tui_crm.storage.models import (
    Channel,
    Company,
    Contact,
    CustomValue,
    Deal,
    DealContact,
    EntityTag,
    Note,
    Pipeline,
    Record,
    Stage,
    Tag,
    Task,
)
from tui_crm.storage.record_edits import add_channel, change_tags, reindex, remove_channel, set_custom_value
from tui_crm.storage.unit_of_work import UnitOfWork
from tui_crm.sync.mapping import CUSTOM_PREFIX, clean, messenger_parts

MODELS: dict[str, type[Record]] = {"company": Company, "contact": Contact, "deal": Deal, "task": Task, "note": Note}
_CHUNK = 500
# Channel kinds that are fields of their own; every other kind (telegram, skype, ...) is a messenger,
# carried as ``"kind:handle"`` in the canonical ``messengers`` set.
_PLAIN_CHANNELS = ("phone", "email", "web")
COMPANY_COLUMNS = ("inn", "web", "address", "company_type", "industry", "territory", "turnover", "employees", "needs")
DEAL_SOURCE_COLUMNS = ("source_channel", "source_site", "source_url", "source_message")


class SyncUnitOfWork(UnitOfWork):
    """A write transaction for pulled changes: its change-log rows are already synced."""

    writes_synced_rows = True


_RANDOM = random.Random(os.urandom(32))
_RANDOM_LOCK = threading.Lock()


def fast_id() -> str:
    """A random UUID4 as 32 hex characters, like ``new_id`` but without a system call each.

    Bulk imports make tens of thousands of ids; ``os.urandom`` per id costs more
    than writing the row on some machines. Uniqueness, not secrecy, is needed.
    """
    with _RANDOM_LOCK:
        bits = _RANDOM.getrandbits(128)
    bits = (bits & ~(0xF000 << 64)) | (0x4000 << 64)  # version 4
    bits = (bits & ~(0xC000 << 48)) | (0x8000 << 48)  # RFC 4122 variant
    return f"{bits:032x}"


def db_time(moment: datetime) -> str:
    """A timestamp as SQLAlchemy stores aware datetimes in SQLite (naive UTC text)."""
    return moment.astimezone(UTC).replace(tzinfo=None).strftime("%Y-%m-%d %H:%M:%S.%f")


def _chunks(ids: list[str]) -> Iterable[list[str]]:
    for start in range(0, len(ids), _CHUNK):
        yield ids[start : start + _CHUNK]


def _rows_in(raw: Any, sql: str, ids: list[str]) -> Iterator[tuple[Any, ...]]:
    """Rows of ``sql`` (one ``{marks}`` for the ``IN`` list) for every id, in chunks, through the
    sqlite3 connection: SQLAlchemy's ``text()`` parses each of a thousand named parameters, which
    cost a first sync more than the queries themselves."""
    for chunk in _chunks(ids):
        yield from raw.execute(sql.format(marks=",".join("?" * len(chunk))), chunk)


def _custom_key(field_key: str) -> str:
    return field_key if ":" in field_key else CUSTOM_PREFIX + field_key


def _storage_key(canonical_key: str) -> str:
    return canonical_key[len(CUSTOM_PREFIX) :] if canonical_key.startswith(CUSTOM_PREFIX) else canonical_key


def _ts(moment: datetime | None) -> int | None:
    if moment is None:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp())


def _from_ts(value: Any) -> datetime | None:
    if value is None:
        return None
    return datetime.fromtimestamp(int(value), UTC)


def _iso_date(value: Any) -> date | None:
    if not value:
        return None
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value)[:10])
    except ValueError:
        return None


class LocalStore:
    """Reads and writes canonical records of one store."""

    def __init__(self, default_stage: tuple[str, str] | None = None) -> None:
        self.default_stage = default_stage  # (pipeline key, stage key) for deals that arrive without one

    # ------------------------------------------------------------------ read

    def read_many(self, session: Session, entity: str, ids: list[str]) -> dict[str, dict[str, Any]]:
        """Canonical fields of the records that exist (tombstones included, ``deleted`` True)."""
        out: dict[str, dict[str, Any]] = {}
        if not ids:
            return out
        model = MODELS[entity]
        for chunk in _chunks(ids):
            rows = session.exec(select(model).where(col(model.id).in_(chunk))).all()
            found = [r.id for r in rows]
            tags = self._tags(session, entity, found) if entity in ("deal", "contact", "company") else {}
            custom = self._custom(session, entity, found) if entity in ("deal", "contact", "company") else {}
            channels = self._channels(session, entity, found) if entity in ("contact", "company") else {}
            links, mains = self._deal_contacts(session, found) if entity == "deal" else ({}, {})
            for row in rows:
                fields = getattr(self, f"_read_{entity}")(row)
                if entity in ("deal", "contact", "company"):
                    fields["tags"] = tags.get(row.id, [])
                    fields.update(custom.get(row.id, {}))
                if entity in ("contact", "company"):
                    fields["phones"] = channels.get((row.id, "phone"), [])
                    fields["emails"] = channels.get((row.id, "email"), [])
                    fields["messengers"] = channels.get((row.id, "messenger"), [])
                if entity == "deal":
                    fields["contacts"] = links.get(row.id, [])
                    fields["main_contact"] = mains.get(row.id)
                fields["deleted"] = row.deleted_at is not None
                out[row.id] = clean(entity, fields)
        return out

    def read(self, session: Session, entity: str, local_id: str) -> dict[str, Any] | None:
        return self.read_many(session, entity, [local_id]).get(local_id)

    @staticmethod
    def _tags(session: Session, entity: str, ids: list[str]) -> dict[str, list[str]]:
        result: dict[str, list[str]] = defaultdict(list)
        rows = session.exec(
            select(EntityTag.entity_id, Tag.name)
            .join(Tag, col(Tag.id) == col(EntityTag.tag_id))
            .where(EntityTag.entity_type == entity, col(EntityTag.entity_id).in_(ids))
        ).all()
        for entity_id, name in rows:
            result[entity_id].append(name)
        return result

    @staticmethod
    def _custom(session: Session, entity: str, ids: list[str]) -> dict[str, dict[str, Any]]:
        result: dict[str, dict[str, Any]] = defaultdict(dict)
        rows = session.exec(
            select(CustomValue).where(CustomValue.entity_type == entity, col(CustomValue.entity_id).in_(ids))
        ).all()
        for row in rows:
            result[row.entity_id][_custom_key(row.field_key)] = json.loads(row.value_json)
        return result

    @staticmethod
    def _channels(session: Session, entity: str, ids: list[str]) -> dict[tuple[str, str], list[str]]:
        result: dict[tuple[str, str], list[str]] = defaultdict(list)
        rows = session.exec(
            select(Channel).where(Channel.entity_type == entity, col(Channel.entity_id).in_(ids), col(Channel.kind) != "web")
        ).all()
        for row in rows:
            if row.kind in _PLAIN_CHANNELS:
                result[(row.entity_id, row.kind)].append(row.normalized)
            else:
                result[(row.entity_id, "messenger")].append(f"{row.kind}:{row.normalized}")
        return result

    @staticmethod
    def _deal_contacts(session: Session, ids: list[str]) -> tuple[dict[str, list[str]], dict[str, str]]:
        """(deal -> linked contacts, deal -> its main contact)."""
        result: dict[str, list[str]] = defaultdict(list)
        mains: dict[str, str] = {}
        for link in session.exec(select(DealContact).where(col(DealContact.deal_id).in_(ids))):
            result[link.deal_id].append(link.contact_id)
            if link.is_main and link.contact_id < mains.get(link.deal_id, "~"):  # one, whatever the row order
                mains[link.deal_id] = link.contact_id
        return result, mains

    @staticmethod
    def _read_deal(row: Deal) -> dict[str, Any]:
        return {
            "name": row.name,
            "stage_id": row.stage_id,
            "responsible_id": row.responsible_id,
            "company_id": row.company_id,
            "budget_rub": row.budget_rub,
            "budget_usd": row.budget_usd,
            "loss_reason": row.loss_reason,
            **{key: getattr(row, key) for key in DEAL_SOURCE_COLUMNS},
        }

    @staticmethod
    def _read_contact(row: Contact) -> dict[str, Any]:
        return {
            "name": row.name,
            "responsible_id": row.responsible_id,
            "company_id": row.company_id,
            "position": row.position,
            "department": row.department,
            "gender": row.gender,
            "birthday": row.birthday.isoformat() if row.birthday else None,
        }

    @staticmethod
    def _read_company(row: Company) -> dict[str, Any]:
        return {"name": row.name, "responsible_id": row.responsible_id, **{key: getattr(row, key) for key in COMPANY_COLUMNS}}

    @staticmethod
    def _read_task(row: Task) -> dict[str, Any]:
        return {
            "text": row.text,
            "due_at": _ts(row.due_at),
            "all_day": bool(row.all_day),
            "task_type": row.task_type,
            "responsible_id": row.responsible_id,
            "entity": f"{row.entity_type}:{row.entity_id}" if row.entity_type and row.entity_id else None,
            "completed": row.completed_at is not None,
            "result": row.result,
        }

    @staticmethod
    def _read_note(row: Note) -> dict[str, Any]:
        return {"entity": f"{row.entity_type}:{row.entity_id}", "text": row.text, "kind": row.kind, "pinned": bool(row.pinned)}

    # ------------------------------------------------------------ bulk create

    def create_many(self, work: UnitOfWork, entity: str, items: list[tuple[str, dict[str, Any]]]) -> None:
        """Insert new records in bulk (a first sync brings tens of thousands).

        The same rows the per-record path writes (the record, its tags,
        channels, custom values, deal contacts, one change-log row and the
        search entry), written with one ``executemany`` per table.
        """
        if not items:
            return
        if entity not in ("deal", "contact", "company"):
            for local_id, values in items:
                self.apply(work, entity, local_id, values, new=True)
            return
        conn = work.session.connection()
        raw = conn.connection.driver_connection  # executemany without SQLAlchemy's per-row parameter processing
        now = work.now
        stamp = db_time(now)
        rows: list[dict[str, Any]] = []
        logs: list[dict[str, Any]] = []
        customs: list[dict[str, Any]] = []
        channels: list[dict[str, Any]] = []
        links: list[dict[str, Any]] = []
        tag_links: list[tuple[str, str]] = []
        stages = {sid: (pid, kind) for sid, pid, kind in conn.execute(text("SELECT id, pipeline_id, kind FROM stage"))}
        default = self._stage_for(work.session, None)
        contacts_known: set[str] = set()
        if entity == "deal":
            wanted = {c for _, v in items for c in v.get("contacts") or []}
            contacts_known.update(r[0] for r in _rows_in(raw, "SELECT id FROM contact WHERE id IN ({marks})", sorted(wanted)))
        for local_id, values in items:
            name = (values.get("name") or "").strip() or {"deal": "Сделка", "contact": "Контакт", "company": "Компания"}[entity]
            row: dict[str, Any] = {
                "id": local_id,
                "created_at": stamp,
                "updated_at": stamp,
                "revision": 1,
                "deleted_at": stamp if values.get("deleted") else None,
                "name": name,
                "name_fold": fold(name),
                "responsible_id": values.get("responsible_id"),
            }
            if entity == "deal":
                stage_id = values.get("stage_id") if values.get("stage_id") in stages else (default.id if default else None)
                pipeline_id, kind = stages.get(stage_id, (None, "normal"))
                row.update(
                    pipeline_id=pipeline_id,
                    stage_id=stage_id,
                    company_id=values.get("company_id"),
                    budget_rub=values.get("budget_rub"),
                    budget_usd=values.get("budget_usd"),
                    loss_reason=values.get("loss_reason"),
                    **{key: values.get(key) for key in DEAL_SOURCE_COLUMNS},
                    closed_at=stamp if kind in ("won", "lost") else None,
                    stage_entered_at=stamp,
                )
                linked = [c for c in values.get("contacts") or [] if c in contacts_known]
                main = values.get("main_contact") if values.get("main_contact") in linked else (linked[0] if linked else None)
                for contact_id in linked:
                    links.append({"d": local_id, "c": contact_id, "m": contact_id == main})
            elif entity == "contact":
                birthday = _iso_date(values.get("birthday"))
                row.update(
                    company_id=values.get("company_id"),
                    position=values.get("position"),
                    department=values.get("department"),
                    gender=values.get("gender"),
                    birthday=birthday.isoformat() if birthday else None,
                )
            else:
                row.update({k: values.get(k) for k in COMPANY_COLUMNS})
            rows.append(row)
            for key, value in values.items():
                if (key.startswith(CUSTOM_PREFIX) or ":" in key) and value not in (None, "", []):
                    customs.append(
                        {"t": entity, "i": local_id, "k": _storage_key(key), "v": json.dumps(value, ensure_ascii=False)}
                    )
            if entity in ("contact", "company"):
                n = 0
                for kind in ("phone", "email"):
                    for value in values.get(kind + "s") or []:
                        channels.append({"id": fast_id(), "t": entity, "i": local_id, "k": kind, "v": value, "n": value, "s": n})
                        n += 1
                for item in values.get("messengers") or []:
                    kind, handle = messenger_parts(item)
                    channels.append({"id": fast_id(), "t": entity, "i": local_id, "k": kind, "v": handle, "n": handle, "s": n})
                    n += 1
            for tag in values.get("tags") or []:
                tag_links.append((local_id, str(tag)))
            changes = {k: [None, v] for k, v in values.items() if v not in (None, "", [], False)}
            logs.append(
                {
                    "e": entity,
                    "i": local_id,
                    "c": json.dumps(changes, ensure_ascii=False, default=str),
                    "u": work.user_id,
                    "a": stamp,
                    "b": work.batch_id,
                    "s": stamp if isinstance(work, SyncUnitOfWork) else None,
                }
            )
        columns = list(rows[0])
        raw.executemany(f"INSERT INTO {entity} ({', '.join(columns)}) VALUES ({', '.join(':' + c for c in columns)})", rows)
        raw.executemany(
            "INSERT INTO change_log (entity, entity_id, op, changes, user_id, at, batch_id, synced_at) "
            "VALUES (:e, :i, 'create', :c, :u, :a, :b, :s)",
            logs,
        )
        if customs:
            raw.executemany(
                "INSERT OR REPLACE INTO custom_value (entity_type, entity_id, field_key, value_json) VALUES (:t, :i, :k, :v)",
                customs,
            )
        if channels:
            raw.executemany(
                "INSERT INTO channel (id, entity_type, entity_id, kind, value, normalized, label, sort) "
                "VALUES (:id, :t, :i, :k, :v, :n, NULL, :s)",
                channels,
            )
        if links:
            raw.executemany("INSERT OR IGNORE INTO deal_contact (deal_id, contact_id, is_main) VALUES (:d, :c, :m)", links)
        if tag_links:
            self._bulk_tags(conn, raw, entity, tag_links)
        self._bulk_index(conn, raw, entity, [r for r in rows if r["deleted_at"] is None], channels)

    @staticmethod
    def _bulk_tags(conn: Any, raw: Any, entity: str, pairs: list[tuple[str, str]]) -> None:
        known = {fold_: tid for tid, fold_ in conn.execute(text("SELECT id, name_fold FROM tag"))}
        new_tags: dict[str, dict[str, Any]] = {}
        links: dict[tuple[str, str], dict[str, Any]] = {}
        for local_id, name in pairs:
            key = fold(name)
            tag_id = known.get(key)
            if tag_id is None:
                tag_id = fast_id()
                known[key] = tag_id
                new_tags[key] = {"id": tag_id, "n": name, "f": key}
            links[(local_id, tag_id)] = {"t": entity, "i": local_id, "g": tag_id}
        if new_tags:
            raw.executemany("INSERT INTO tag (id, name, name_fold) VALUES (:id, :n, :f)", list(new_tags.values()))
        raw.executemany(
            "INSERT OR IGNORE INTO entity_tag (entity_type, entity_id, tag_id) VALUES (:t, :i, :g)", list(links.values())
        )

    @staticmethod
    def _bulk_index(conn: Any, raw: Any, entity: str, rows: list[dict[str, Any]], channels: list[dict[str, Any]]) -> None:
        """Search entries as ``services.records.reindex`` makes them, for new records."""
        if not rows:
            return
        from tui_crm.storage.search_index import phone_search_forms

        terms: dict[str, list[str]] = defaultdict(list)

        def channel_terms(rows_: Iterable[Any]) -> None:
            for owner, kind, normalized in rows_:
                terms[owner].extend(phone_search_forms(normalized) if kind == "phone" else [normalized])

        channel_terms((c["i"], c["k"], c["n"]) for c in channels)
        company_ids = sorted({r["company_id"] for r in rows if r.get("company_id")})
        companies: dict[str, str] = dict(_rows_in(raw, "SELECT id, name FROM company WHERE id IN ({marks})", company_ids))
        deal_contacts: dict[str, list[str]] = defaultdict(list)
        contact_names: dict[str, str] = {}
        if entity == "deal":
            for deal_id, contact_id, name in _rows_in(
                raw,
                "SELECT dc.deal_id, c.id, c.name FROM deal_contact dc JOIN contact c ON c.id = dc.contact_id "
                "WHERE dc.deal_id IN ({marks})",
                [r["id"] for r in rows],
            ):
                deal_contacts[deal_id].append(contact_id)
                contact_names[contact_id] = name
            channel_terms(
                _rows_in(
                    raw,
                    "SELECT entity_id, kind, normalized FROM channel WHERE entity_type = 'contact' AND entity_id IN ({marks})",
                    sorted(contact_names),
                )
            )
        docs: list[dict[str, Any]] = []
        for row in rows:
            body: list[str] = []
            if entity == "deal":
                if row.get("company_id") in companies:
                    body.append(companies[row["company_id"]])
                for contact_id in deal_contacts.get(row["id"], []):
                    body.append(contact_names[contact_id])
                    body.extend(terms.get(contact_id, []))
            elif entity == "contact":
                body = [*terms.get(row["id"], []), row.get("position") or "", row.get("department") or ""]
                if row.get("company_id") in companies:
                    body.append(companies[row["company_id"]])
            else:
                body = [*terms.get(row["id"], []), row.get("inn") or "", row.get("web") or "", row.get("industry") or ""]
            docs.append({"t": entity, "i": row["id"], "title": fold(row["name"]), "body": fold(" ".join(b for b in body if b))})
        raw.executemany(
            "INSERT INTO search_doc (entity_type, entity_id) VALUES (:t, :i)", [{"t": d["t"], "i": d["i"]} for d in docs]
        )
        rowids: dict[str, int] = {
            eid: rid
            for rid, eid in _rows_in(
                raw, "SELECT rowid, entity_id FROM search_doc WHERE entity_id IN ({marks})", [d["i"] for d in docs]
            )
        }
        raw.executemany(
            "INSERT INTO search_fts (rowid, title, body) VALUES (:r, :title, :body)",
            [{"r": rowids[d["i"]], "title": d["title"], "body": d["body"]} for d in docs],
        )

    # ----------------------------------------------------------------- write

    def apply(self, work: UnitOfWork, entity: str, local_id: str, values: dict[str, Any], *, new: bool) -> Record:
        """Write canonical ``values`` onto a record (creating it when ``new``)."""
        session = work.session
        model = MODELS[entity]
        record = None if new else session.get(model, local_id)
        if record is None and not new:
            raise LookupError(f"{entity} {local_id} is not in the store")
        record = getattr(self, f"_write_{entity}")(work, record, local_id, values)
        if entity in ("deal", "contact", "company"):
            if "tags" in values:
                self._write_tags(work, record, values["tags"] or [])
            for key, value in values.items():
                if key.startswith(CUSTOM_PREFIX) or ":" in key:
                    set_custom_value(work, record, _storage_key(key), value)
        if entity in ("contact", "company"):
            for kind in ("phone", "email"):
                if kind + "s" in values:
                    self._write_channels(work, record, kind, values[kind + "s"] or [])
            if "messengers" in values:
                self._write_messengers(work, record, values["messengers"] or [])
        if "deleted" in values:
            if values["deleted"]:
                work.soft_delete(record)
            else:
                work.restore(record)
        if entity in ("deal", "contact", "company"):
            reindex(session, entity, record.id)
        elif entity == "note" and isinstance(record, Note) and record.entity_type in ("deal", "contact", "company"):
            reindex(session, record.entity_type, record.entity_id)
        return record

    @staticmethod
    def _finish(work: UnitOfWork, record: Record | None, model: type[Record], local_id: str, cols: dict[str, Any]) -> Record:
        if record is None:
            record = model(id=local_id, **cols)
            work.create(record)
            work.session.flush()
            return record
        work.update(record, **cols)
        return record

    def _stage_for(self, session: Session, stage_id: str | None) -> Stage | None:
        if stage_id:
            stage = session.get(Stage, stage_id)
            if stage is not None:
                return stage
        if self.default_stage is None:
            return session.exec(select(Stage).where(col(Stage.deleted_at).is_(None)).order_by(Stage.sort)).first()
        pipeline_key, stage_key = self.default_stage
        return session.exec(
            select(Stage)
            .join(Pipeline, col(Pipeline.id) == col(Stage.pipeline_id))
            .where(Pipeline.key == pipeline_key, Stage.key == stage_key)
        ).first()

    def _write_deal(self, work: UnitOfWork, record: Deal | None, local_id: str, values: dict[str, Any]) -> Deal:
        session = work.session
        cols: dict[str, Any] = {}
        if "name" in values or record is None:
            name = (values.get("name") or "").strip() or "Сделка"
            cols["name"], cols["name_fold"] = name, fold(name)
        if "stage_id" in values or record is None:
            stage = self._stage_for(session, values.get("stage_id"))
            if stage is not None and (record is None or stage.id != record.stage_id):
                cols["stage_id"], cols["pipeline_id"] = stage.id, stage.pipeline_id
                cols["stage_entered_at"] = work.now
                cols["closed_at"] = work.now if stage.kind in ("won", "lost") else None
        for key in ("responsible_id", "company_id", "budget_rub", "budget_usd", "loss_reason", *DEAL_SOURCE_COLUMNS):
            if key in values:
                cols[key] = values[key]
        deal = self._finish(work, record, Deal, local_id, cols)
        assert isinstance(deal, Deal)
        if "contacts" in values:
            wanted = [c for c in values["contacts"] or [] if session.get(Contact, c) is not None]
            links = {link.contact_id: link for link in session.exec(select(DealContact).where(DealContact.deal_id == deal.id))}
            before = sorted(links)
            for contact_id, link in links.items():
                if contact_id not in wanted:
                    session.delete(link)
            has_main = any(link.is_main for cid, link in links.items() if cid in wanted)
            for contact_id in wanted:
                if contact_id not in links:
                    session.add(DealContact(deal_id=deal.id, contact_id=contact_id, is_main=not has_main))
                    has_main = True
            after = sorted(set(wanted))
            if after != before:
                session.flush()
                work.touch(deal)
                work.log("deal", deal.id, "update", {"contacts": [before, after]})
        if values.get("main_contact"):
            self._write_main_contact(work, deal, str(values["main_contact"]))
        return deal

    @staticmethod
    def _write_main_contact(work: UnitOfWork, deal: Deal, contact_id: str) -> None:
        """Make ``contact_id`` the deal's main contact (when it is linked); the others lose the mark."""
        session = work.session
        links = list(session.exec(select(DealContact).where(DealContact.deal_id == deal.id)))
        if not any(link.contact_id == contact_id for link in links):
            return
        before = next((link.contact_id for link in links if link.is_main), None)
        if before == contact_id:
            return
        for link in links:
            if link.is_main != (link.contact_id == contact_id):
                link.is_main = link.contact_id == contact_id
                session.add(link)
        session.flush()
        work.touch(deal)
        work.log("deal", deal.id, "update", {"main_contact": [before, contact_id]})

    def _write_contact(self, work: UnitOfWork, record: Contact | None, local_id: str, values: dict[str, Any]) -> Contact:
        cols: dict[str, Any] = {}
        if "name" in values or record is None:
            name = (values.get("name") or "").strip() or "Контакт"
            cols["name"], cols["name_fold"] = name, fold(name)
        for key in ("responsible_id", "company_id", "position", "department", "gender"):
            if key in values:
                cols[key] = values[key]
        if "birthday" in values:
            cols["birthday"] = _iso_date(values["birthday"])
        contact = self._finish(work, record, Contact, local_id, cols)
        assert isinstance(contact, Contact)
        return contact

    def _write_company(self, work: UnitOfWork, record: Company | None, local_id: str, values: dict[str, Any]) -> Company:
        cols: dict[str, Any] = {}
        if "name" in values or record is None:
            name = (values.get("name") or "").strip() or "Компания"
            cols["name"], cols["name_fold"] = name, fold(name)
        for key in ("responsible_id", *COMPANY_COLUMNS):
            if key in values:
                cols[key] = values[key]
        company = self._finish(work, record, Company, local_id, cols)
        assert isinstance(company, Company)
        return company

    def _write_task(self, work: UnitOfWork, record: Task | None, local_id: str, values: dict[str, Any]) -> Task:
        cols: dict[str, Any] = {}
        if "text" in values or record is None:
            cols["text"] = (values.get("text") or "").strip() or "—"
        if "due_at" in values or record is None:
            cols["due_at"] = _from_ts(values.get("due_at")) or work.now
        for key in ("task_type", "responsible_id", "result"):
            if key in values:
                cols[key] = values[key] if key != "task_type" else (values[key] or "other")
        if "all_day" in values:
            cols["all_day"] = bool(values["all_day"])
        if "entity" in values:
            ref = values["entity"]
            kind, _, ident = (ref or "").partition(":")
            cols["entity_type"], cols["entity_id"] = (kind, ident) if ident else (None, None)
        if "completed" in values:
            done = bool(values["completed"])
            if record is None or (record.completed_at is not None) != done:
                cols["completed_at"] = work.now if done else None
        task = self._finish(work, record, Task, local_id, cols)
        assert isinstance(task, Task)
        return task

    def _write_note(self, work: UnitOfWork, record: Note | None, local_id: str, values: dict[str, Any]) -> Note:
        cols: dict[str, Any] = {}
        if "text" in values or record is None:
            cols["text"] = values.get("text") or ""
        if "kind" in values:
            cols["kind"] = values["kind"] or "note"
        if "pinned" in values:
            cols["pinned"] = bool(values["pinned"])
        if "entity" in values or record is None:
            kind, _, ident = (values.get("entity") or "").partition(":")
            cols["entity_type"], cols["entity_id"] = kind or "deal", ident
        note = self._finish(work, record, Note, local_id, cols)
        assert isinstance(note, Note)
        return note

    @staticmethod
    def _write_tags(work: UnitOfWork, record: Record, wanted: list[str]) -> None:
        session = work.session
        entity = str(record.__tablename__)
        current = LocalStore._tags(session, entity, [record.id]).get(record.id, [])
        have = {fold(n) for n in current}
        want = {fold(n) for n in wanted}
        add = [n for n in wanted if fold(n) not in have]
        remove = [n for n in current if fold(n) not in want]
        if add or remove:
            change_tags(work, record, add=add, remove=remove)

    @staticmethod
    def _write_channels(work: UnitOfWork, record: Record, kind: str, wanted: list[str]) -> None:
        entity = str(record.__tablename__)
        current = [
            c.normalized
            for c in work.session.exec(
                select(Channel).where(Channel.entity_type == entity, Channel.entity_id == record.id, Channel.kind == kind)
            )
        ]
        for value in current:
            if value not in wanted:
                remove_channel(work, record, kind, value)
        for value in wanted:
            if value not in current:
                add_channel(work, record, kind, value, value)

    @staticmethod
    def _write_messengers(work: UnitOfWork, record: Record, wanted: list[str]) -> None:
        """Messenger channels (every kind but phone, e-mail and web) to exactly ``wanted`` (``"kind:handle"``)."""
        entity = str(record.__tablename__)
        want = {messenger_parts(item) for item in wanted}
        current = {
            (c.kind, c.normalized)
            for c in work.session.exec(select(Channel).where(Channel.entity_type == entity, Channel.entity_id == record.id))
            if c.kind not in _PLAIN_CHANNELS
        }
        for kind, handle in sorted(current - want):
            remove_channel(work, record, kind, handle)
        for kind, handle in sorted(want - current):
            if handle:
                add_channel(work, record, kind, handle, handle)
