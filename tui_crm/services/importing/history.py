"""Imports after the fact: list them, and undo one.

Undo removes what the import created and restores what it changed, in one
transaction that logs like any edit (so a sync sends the undo too):

- records the import created (every ``change_log`` "create" row carrying
  the import's id: contacts, companies, deals, notes) get a tombstone and
  leave the search index: one UPDATE per table, not one ORM round-trip per
  record, so undoing 100 000 contacts is quick;
- records it changed get their old values back from the same change-log
  rows (fields, phones and e-mails added, tags, custom values), newest first;
- the import's row fingerprints are cleared, so the file can be imported again;
- pipelines and stages it created (``--create-stages``) leave the pipelines
  file again, unless a deal outside the import sits in them by then (after
  the records' transaction, since the pipelines apply in one of their own).

An import killed half-way (status ``running``) can be undone the same way.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import text
from sqlmodel import col, select

from tui_crm.domain.errors import AmbiguousError, NotFoundError, ValidationError
from tui_crm.domain.text import fold
from tui_crm.services.context import Crm
from tui_crm.services.importing.bulk import db_time
from tui_crm.services.importing.stages import remove_created_stages
from tui_crm.services.records import change_tags, reindex, reindex_linked, remove_channel, set_custom_value
from tui_crm.storage.import_models import ImportBatch
from tui_crm.storage.models import ChangeLog, Company, Contact, Deal

_MODELS: dict[str, Any] = {"contact": Contact, "company": Company, "deal": Deal}
_TABLES = ("contact", "company", "deal", "note")


@dataclass
class ImportSummary:
    id: str
    file_name: str
    kind: str
    mode: str
    status: str
    created_at: datetime
    counts: dict[str, int]


@dataclass
class UndoReport:
    id: str
    removed: int
    restored: int
    removed_stages: list[str] = field(default_factory=list)  # "pipeline / stage" the import had created
    kept_stages: list[str] = field(default_factory=list)  # created by it, but other deals sit there now


def list_imports(crm: Crm, limit: int = 50) -> list[ImportSummary]:
    with crm.read() as session:
        rows = session.exec(select(ImportBatch).order_by(col(ImportBatch.created_at).desc()).limit(limit)).all()
    return [
        ImportSummary(r.id, r.file_name, r.kind, r.mode, r.status, r.created_at, json.loads(r.counts_json or "{}")) for r in rows
    ]


def _find(session: Any, ref: str) -> ImportBatch:
    ref = ref.strip().lower()
    if len(ref) < 4:
        raise ValidationError("import", f"{ref!r} is too short; give 4+ characters of the id (crm import list)")
    rows = session.exec(select(ImportBatch).where(col(ImportBatch.id).startswith(ref)).limit(3)).all()
    if not rows:
        raise NotFoundError(f"No import {ref!r}. See `crm import list`.")
    if len(rows) > 1:
        raise AmbiguousError(f"several imports start with {ref!r}; type more of the id", [r.id for r in rows])
    return rows[0]


def undo_import(crm: Crm, ref: str) -> UndoReport:
    """Remove what an import created and restore what it changed (see the module docstring)."""
    with crm.uow() as work:
        session = work.session
        batch = _find(session, ref)
        if batch.status == "undone":
            raise ValidationError("import", f"import {batch.id[:8]} was already undone")
        work.batch_id = f"undo-{batch.id}"
        conn = session.connection()
        params = {"b": batch.id}
        born_sql = "SELECT entity_id FROM change_log WHERE batch_id = :b AND op = 'create' AND entity = :e"
        created = {e: [r[0] for r in conn.execute(text(born_sql), {**params, "e": e})] for e in _TABLES}
        removed = 0
        stamp = db_time(work.now)
        gone = json.dumps({"deleted_at": [None, work.now.isoformat()]})
        for entity in _TABLES:
            ids = created[entity]
            if not ids:
                continue
            removed += len(ids) if entity != "note" else 0
            conn.execute(
                text(
                    f"UPDATE {entity} SET deleted_at = :now, updated_at = :now, revision = revision + 1 "
                    f"WHERE id IN ({born_sql}) AND deleted_at IS NULL"
                ),
                {**params, "e": entity, "now": stamp},
            )
            conn.execute(
                text(
                    "INSERT INTO change_log (entity, entity_id, op, changes, user_id, at, batch_id) "
                    f"SELECT :e, entity_id, 'delete', :c, :u, :now, :nb FROM ({born_sql})"
                ),
                {**params, "e": entity, "c": gone, "u": work.user_id, "now": stamp, "nb": work.batch_id},
            )  # fmt: skip
            if entity != "note":
                conn.execute(
                    text(
                        "DELETE FROM search_fts WHERE rowid IN (SELECT d.rowid FROM search_doc d WHERE d.entity_id IN "
                        f"({born_sql}))"
                    ),
                    {**params, "e": entity},
                )
                conn.execute(
                    text(f"DELETE FROM search_doc WHERE entity_id IN ({born_sql})"),
                    {**params, "e": entity},
                )
        born = {i for ids in created.values() for i in ids}
        restored = _restore_updates(work, batch.id, born)
        # records that kept a link to something removed (a deal's company, an existing contact's deals) re-index
        for entity_id in restored:
            entity = restored[entity_id]
            reindex(session, entity, entity_id)
            reindex_linked(session, entity, entity_id)
        conn.execute(text("UPDATE import_row SET fingerprint = NULL WHERE import_id = :b"), params)
        batch.status = "undone"
        session.add(batch)
    removed_stages, kept_stages = remove_created_stages(crm, batch.id)
    return UndoReport(
        id=batch.id, removed=removed, restored=len(restored), removed_stages=removed_stages, kept_stages=kept_stages
    )


def _restore_updates(work: Any, import_id: str, born: set[str]) -> dict[str, str]:
    """Put back the old values of records the import changed; returns {id: entity}."""
    session = work.session
    rows = session.exec(
        select(ChangeLog)
        .where(ChangeLog.batch_id == import_id, ChangeLog.op == "update", col(ChangeLog.entity).in_(list(_MODELS)))
        .order_by(col(ChangeLog.seq).desc())
    ).all()
    touched: dict[str, str] = {}
    for row in rows:
        if row.entity_id in born:
            continue
        record = session.get(_MODELS[row.entity], row.entity_id)
        if record is None:
            continue
        touched[row.entity_id] = row.entity
        for key, (old, new) in json.loads(row.changes).items():
            if key in ("phones", "emails"):
                if old is None and new:
                    remove_channel(work, record, key[:-1], new)
            elif key == "tags":
                added = [t for t in (new or []) if t not in (old or [])]
                change_tags(work, record, remove=added)
            elif key.startswith("custom."):
                set_custom_value(work, record, key[len("custom.") :], old)
            elif key == "name" and old:
                work.update(record, name=old, name_fold=fold(old))
            elif hasattr(record, key):
                work.update(record, **{key: _column_value(record, key, old)})
    return touched


def _column_value(record: Any, key: str, old: Any) -> Any:
    """A change-log value (JSON) back in the column's Python type."""
    if old is None:
        return None
    current = type(record).model_fields[key].annotation
    text_ = str(current)
    if "datetime" in text_:
        return datetime.fromisoformat(old)
    if "date" in text_:
        from datetime import date

        return date.fromisoformat(old)
    return old
