"""Mass actions on the deals a filter selects.

Each action runs in one transaction with one ``batch_id`` on its change-log
rows, so a soft delete can be undone as a whole. A stage change goes through
each deal's gate and reports per deal instead of failing the lot.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TypeVar

from sqlmodel import Session, col, select

from tui_crm.domain.errors import GateRefused, NotFoundError, ValidationError
from tui_crm.domain.gates import missing_fields
from tui_crm.domain.ids import could_be_id, new_id
from tui_crm.domain.text import preview
from tui_crm.domain.when import parse_when
from tui_crm.services.context import Crm
from tui_crm.services.deal_queries import DealFilter, deal_ids
from tui_crm.services.deal_values import ParsedValue, gate_values, parse_deal_values, write_deal_values
from tui_crm.services.deals import move_in, refuse_inbox
from tui_crm.services.parties import assignable_user
from tui_crm.services.pipelines import find_pipeline, find_stage
from tui_crm.services.rates import closing_value, prefetch
from tui_crm.services.records import change_tags, reindex, tags_of
from tui_crm.services.tasks import check_task_type, hand_over_open_tasks, new_task
from tui_crm.services.views import MoveOutcome
from tui_crm.storage.models import ChangeLog, Deal, Pipeline, Record, Stage
from tui_crm.storage.settings import get_setting, put_setting
from tui_crm.storage.unit_of_work import UnitOfWork

LAST_DELETE_KEY = "bulk.last_delete_batch"
R = TypeVar("R", bound=Record)


@dataclass
class BulkReport:
    batch_id: str
    action: str
    selected: int
    changed: int
    outcomes: list[MoveOutcome] = field(default_factory=list)
    tasks_moved: int = 0  # responsible: open tasks that followed their records to the new user


def _deals(crm: Crm, ids: list[str] | None, flt: DealFilter | None) -> list[str]:
    if ids is not None:
        return ids
    return deal_ids(crm, flt or DealFilter())


def live_records(work: UnitOfWork, model: type[R], ids: list[str]) -> Iterator[R]:
    """The records of ``ids`` that exist and are not deleted: a selection
    can outlive a delete made elsewhere, and acting on a tombstone would
    bring nothing back but noise."""
    for record_id in ids:
        record = work.session.get(model, record_id)
        if record is not None and record.deleted_at is None:
            yield record


def reassign_each(crm: Crm, model: type[Record], targets: list[str], user_ref: str) -> BulkReport:
    """Give each live record to another (active) user in one batch; the open
    tasks the previous responsible held go along (``hand_over_open_tasks``).
    Shared by deals and the contact/company lists (``party_bulk``)."""
    changed = moved = 0
    with crm.uow(batch_id=new_id()) as work:
        user = assignable_user(work.session, user_ref)
        for record in live_records(work, model, targets):
            previous = record.responsible_id  # type: ignore[attr-defined]
            if work.update(record, responsible_id=user.id):
                changed += 1
                moved += hand_over_open_tasks(work, record, previous)  # type: ignore[arg-type]
    return BulkReport(work.batch_id or "", "responsible", len(targets), changed, tasks_moved=moved)


def add_task_each(crm: Crm, model: type[Record], targets: list[str], text: str, when: str, task_type: str) -> BulkReport:
    """One task per live record, for its responsible (``new_task`` gives it
    to the current user when that one is deactivated). The due moment and
    the type are checked before anything is written."""
    due, all_day = parse_when(when, crm.now())
    kind = check_task_type(task_type)
    changed = 0
    with crm.uow(batch_id=new_id()) as work:
        for record in live_records(work, model, targets):
            new_task(
                crm,
                work,
                text=text,
                due=due,
                all_day=all_day,
                task_type=kind,
                responsible_id=record.responsible_id,  # type: ignore[attr-defined]
                entity=record,
            )
            changed += 1
    return BulkReport(work.batch_id or "", "task", len(targets), changed)


def tag_each(crm: Crm, model: type[Record], targets: list[str], add: list[str], remove: list[str]) -> BulkReport:
    """Add and remove tags on each live record (``records.change_tags``:
    case-insensitive, logged only when a record's tags really changed);
    ``changed`` counts those."""
    entity_type = str(model.__tablename__)
    changed = 0
    with crm.uow(batch_id=new_id()) as work:
        for record in live_records(work, model, targets):
            before = tags_of(work.session, entity_type, [record.id]).get(record.id, [])
            if change_tags(work, record, add=add, remove=remove) != before:
                changed += 1
    return BulkReport(work.batch_id or "", "tags", len(targets), changed)


def change_responsible(crm: Crm, user_ref: str, *, ids: list[str] | None = None, flt: DealFilter | None = None) -> BulkReport:
    """Give the deals to another (active) user; their open tasks go along."""
    return reassign_each(crm, Deal, _deals(crm, ids, flt), user_ref)


def add_task_to_each(
    crm: Crm, text: str, when: str, task_type: str = "follow-up", *, ids: list[str] | None = None, flt: DealFilter | None = None
) -> BulkReport:
    return add_task_each(crm, Deal, _deals(crm, ids, flt), text, when, task_type)


def change_stage(
    crm: Crm,
    stage_ref: str,
    *,
    pipeline_ref: str | None = None,
    ids: list[str] | None = None,
    flt: DealFilter | None = None,
    close_tasks: bool = False,
    set_values: dict[str, str] | None = None,
) -> BulkReport:
    """Move every selected deal through the gate; refusals are reported, not fatal.

    ``close_tasks``: closing also completes the tasks people set (``move_in``).
    ``set_values`` (``--set loss_reason=…``, the mass-close form) are checked
    once, then written on each deal that moves, before its gate: a deal the
    gate still refuses keeps none of them. A deal already in the stage is
    left as it is. Into a won stage, each deal's closing sum is its
    budget_usd at today's rate when the rate is known (``services.rates``).
    """
    _refuse_inbox_target(crm, stage_ref, pipeline_ref)
    parsed = parse_deal_values(crm, set_values or {})
    targets = _deals(crm, ids, flt)
    prefetch(crm, stage_ref)  # a won stage: today's rate into the cache, before the transaction
    outcomes: list[MoveOutcome] = []
    with crm.uow(batch_id=new_id()) as work:
        session = work.session
        for deal in live_records(work, Deal, targets):
            pipeline_row = session.get(Pipeline, deal.pipeline_id)
            assert pipeline_row is not None
            try:
                pipeline = find_pipeline(crm, pipeline_ref or pipeline_row.key)
                stage = session.get(Stage, find_stage(pipeline, stage_ref).id)
                assert stage is not None
                closing = closing_value(crm, session, deal, pipeline.key, stage, parsed)
                values = [*parsed, closing] if closing else parsed
                if values and stage.id != deal.stage_id:
                    _check_gate_with(crm, session, deal, pipeline.key, stage, values)
                    write_deal_values(crm, work, deal, values)
                outcomes.append(move_in(crm, work, deal, stage, pipeline.key, close_tasks))
            except GateRefused as refusal:
                current = session.get(Stage, deal.stage_id)
                outcomes.append(
                    MoveOutcome(
                        deal.id,
                        deal.name,
                        current.name if current else "?",
                        refusal.stage_name,
                        False,
                        missing=[m.label for m in refusal.missing],
                        error=str(refusal),
                    )
                )
            except (NotFoundError, ValidationError) as exc:
                outcomes.append(MoveOutcome(deal.id, deal.name, "?", stage_ref, False, error=str(exc)))
    return BulkReport(work.batch_id or "", "stage", len(targets), sum(o.moved for o in outcomes), outcomes)


def _refuse_inbox_target(crm: Crm, stage_ref: str, pipeline_ref: str | None) -> None:
    """The whole mass move is refused when its target is an inbox (Неразобранное), before any deal is read."""
    for name in [pipeline_ref] if pipeline_ref else [p.key for p in crm.pipelines.pipelines]:
        pipeline = find_pipeline(crm, name)
        try:
            stage = find_stage(pipeline, stage_ref)
        except NotFoundError:
            continue
        refuse_inbox(crm, stage, pipeline.key)


def _check_gate_with(crm: Crm, session: Session, deal: Deal, pipeline_key: str, stage: Stage, parsed: list[ParsedValue]) -> None:
    """The gate check as if ``parsed`` were written: a refused deal is
    refused before anything is written on it (no partial writes to undo)."""
    values = gate_values(session, deal)
    values.update({p.key: p.value for p in parsed if p.key in values or p.key in crm.pipelines.fields})
    missing = missing_fields(crm.pipelines, pipeline_key, stage.key, values)
    if missing:
        raise GateRefused(stage.name, missing, stage_key=stage.key)


def change_tags_of_each(
    crm: Crm, add: list[str], remove: list[str], *, ids: list[str] | None = None, flt: DealFilter | None = None
) -> BulkReport:
    return tag_each(crm, Deal, _deals(crm, ids, flt), add, remove)


def delete(crm: Crm, *, ids: list[str] | None = None, flt: DealFilter | None = None) -> BulkReport:
    """Soft-delete; the batch id undoes it (``undo_delete``)."""
    targets = _deals(crm, ids, flt)
    with crm.uow(batch_id=new_id()) as work:
        for deal in live_records(work, Deal, targets):
            work.soft_delete(deal)
            reindex(work.session, "deal", deal.id)
        put_setting(work.session, LAST_DELETE_KEY, work.batch_id or "")
    return BulkReport(work.batch_id or "", "delete", len(targets), len(targets))


def undo_delete(crm: Crm, batch_id: str | None = None) -> BulkReport:
    """Restore every deal a mass delete removed (the last one by default)."""
    with crm.uow(batch_id=new_id()) as work:
        session = work.session
        if batch_id is None:
            batch_id = get_setting(session, LAST_DELETE_KEY)
            if not batch_id:
                raise NotFoundError("No mass delete to undo.")
        if not could_be_id(batch_id):
            raise NotFoundError(f"No mass delete «{preview(batch_id)}» to undo; a batch id is hex, e.g. 3f9c2a1b")
        rows = session.exec(
            select(ChangeLog).where(
                col(ChangeLog.batch_id).startswith(batch_id), ChangeLog.op == "delete", ChangeLog.entity == "deal"
            )
        ).all()
        if not rows:
            raise NotFoundError(f"No mass delete «{preview(batch_id)}» to undo.")
        for log_row in rows:
            deal = session.get(Deal, log_row.entity_id)
            if deal is not None:
                work.restore(deal)
                reindex(session, "deal", deal.id)
        if get_setting(session, LAST_DELETE_KEY) == batch_id:
            put_setting(session, LAST_DELETE_KEY, None)
    return BulkReport(work.batch_id or "", "undo", len(rows), len(rows))
