"""Mass actions on the contacts or companies a list selects.

The party counterpart of ``services.bulk`` (which is about deals): change
responsible, add a task to each, add/remove tags, soft delete and undo.
Each action is one transaction with one ``batch_id`` on its change-log rows,
so the timeline and the sync outbox see every change, and a mass delete is
undone as a whole, by that batch and nothing else.

Targets are either explicit ``ids`` (the rows ticked in a list) or, when
``ids`` is None, every record the list's state shows (``query`` and
``responsible``, see ``party_pages.party_ids``). A stale id (deleted since
it was selected, or gone) is skipped, not an error: a selection can
outlive a change made elsewhere.

A new responsible takes the record's open tasks the previous one held
(``tasks.hand_over_open_tasks``), as in ``edit_contact`` and for deals.
"""

from __future__ import annotations

from sqlmodel import col, select

from tui_crm.domain.errors import AmbiguousError, NotFoundError
from tui_crm.domain.ids import could_be_id, new_id
from tui_crm.domain.text import preview
from tui_crm.services.bulk import BulkReport, add_task_each, live_records, reassign_each, tag_each
from tui_crm.services.context import Crm
from tui_crm.services.party_pages import party_ids
from tui_crm.services.records import reindex, reindex_linked
from tui_crm.storage.models import ChangeLog, Company, Contact
from tui_crm.storage.settings import get_setting, put_setting

PartyModel = type[Contact] | type[Company]
_MODELS: dict[str, PartyModel] = {"contact": Contact, "company": Company}
NOUNS = {"contact": "contacts", "company": "companies"}
LAST_DELETE_KEY = "party_bulk.last_delete_batch.{entity_type}"
"""One "last mass delete" per kind, so `z` on the contacts list never
brings back companies (or deals: ``bulk`` keeps its own)."""


def _model(entity_type: str) -> PartyModel:
    if entity_type not in _MODELS:
        raise ValueError(f"party mass actions are for contacts or companies, not {entity_type!r}")
    return _MODELS[entity_type]


def _targets(
    crm: Crm, entity_type: str, ids: list[str] | None, query: str | None, responsible: str | None
) -> list[str]:
    """The explicit selection, or everything the list state shows."""
    _model(entity_type)
    if ids is not None:
        return list(dict.fromkeys(ids))  # a repeated id must not count (or act) twice
    return party_ids(crm, entity_type, query=query, responsible=responsible)


def change_responsible(
    crm: Crm,
    entity_type: str,
    user_ref: str,
    *,
    ids: list[str] | None = None,
    query: str | None = None,
    responsible: str | None = None,
) -> BulkReport:
    """Give the records to another user; a deactivated user is refused
    (``assignable_user``) before anything is written."""
    return reassign_each(crm, _model(entity_type), _targets(crm, entity_type, ids, query, responsible), user_ref)


def add_task_to_each(
    crm: Crm,
    entity_type: str,
    text: str,
    when: str,
    task_type: str = "follow-up",
    *,
    ids: list[str] | None = None,
    query: str | None = None,
    responsible: str | None = None,
) -> BulkReport:
    """One task per record, for that record's responsible."""
    model = _model(entity_type)
    return add_task_each(crm, model, _targets(crm, entity_type, ids, query, responsible), text, when, task_type)


def change_tags_of_each(
    crm: Crm,
    entity_type: str,
    add: list[str],
    remove: list[str],
    *,
    ids: list[str] | None = None,
    query: str | None = None,
    responsible: str | None = None,
) -> BulkReport:
    """Add and remove tags on each record; ``changed`` counts those whose tags changed."""
    return tag_each(crm, _model(entity_type), _targets(crm, entity_type, ids, query, responsible), add, remove)


def delete(
    crm: Crm,
    entity_type: str,
    *,
    ids: list[str] | None = None,
    query: str | None = None,
    responsible: str | None = None,
) -> BulkReport:
    """Soft-delete (tombstones, so sync and undo keep working) and drop each
    record from search; remembers the batch so ``undo_delete`` can bring
    exactly these records back."""
    model = _model(entity_type)
    targets = _targets(crm, entity_type, ids, query, responsible)
    changed = 0
    with crm.uow(batch_id=new_id()) as work:
        for record in live_records(work, model, targets):
            work.soft_delete(record)
            reindex(work.session, entity_type, record.id)
            reindex_linked(work.session, entity_type, record.id)
            changed += 1
        if changed:
            key = LAST_DELETE_KEY.format(entity_type=entity_type)
            put_setting(work.session, key, work.batch_id or "")
    return BulkReport(work.batch_id or "", "delete", len(targets), changed)


def undo_delete(crm: Crm, entity_type: str, batch_id: str | None = None) -> BulkReport:
    """Restore the records one mass delete removed (the last one of this kind
    by default, or the batch ``batch_id`` starts) and put them back in search.

    Only the rows logged as deleted by that batch come back: a record deleted
    another way, or by another mass delete, stays deleted.
    """
    model = _model(entity_type)
    key = LAST_DELETE_KEY.format(entity_type=entity_type)
    noun = NOUNS[entity_type]
    with crm.uow(batch_id=new_id()) as work:
        session = work.session
        last = get_setting(session, key)
        if batch_id is None:
            if not last:
                raise NotFoundError(f"No mass delete of {noun} to undo.")
            batch_id = last
        if not could_be_id(batch_id):
            raise NotFoundError(f"No mass delete «{preview(batch_id)}» to undo; a batch id is hex, e.g. 3f9c2a1b")
        rows = session.exec(
            select(ChangeLog).where(
                col(ChangeLog.batch_id).startswith(batch_id), ChangeLog.op == "delete", ChangeLog.entity == entity_type
            )
        ).all()
        if not rows:
            raise NotFoundError(f"No mass delete of {noun} «{preview(batch_id)}» to undo.")
        batches = sorted({row.batch_id or "" for row in rows})
        if len(batches) > 1:
            raise AmbiguousError(f"{len(batches)} mass deletes start with {batch_id!r}; type more of the id", batches)
        restored = 0
        for log_row in rows:
            record = session.get(model, log_row.entity_id)
            if record is not None and record.deleted_at is not None:
                work.restore(record)
                reindex(session, entity_type, record.id)
                reindex_linked(session, entity_type, record.id)
                restored += 1
        if last == batches[0]:
            put_setting(session, key, None)
    return BulkReport(work.batch_id or "", "undo", len(rows), restored)
