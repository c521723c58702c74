"""Deals (a lead is a deal in an early stage): capture, show, edit, move
through gates, delete and restore."""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from decimal import Decimal

from sqlmodel import Session, col, select

from tui_crm.domain.errors import ClosingChoiceNeeded, GateHeld, GateRefused, NoAdjacentStage, ValidationError
from tui_crm.domain.gates import emptied_required, missing_fields
from tui_crm.domain.text import fold
from tui_crm.domain.when import parse_when
from tui_crm.services.contacts import ContactInput, company_for, lead_contact
from tui_crm.services.context import Crm
from tui_crm.services.deal_values import ParsedValue, from_minor, gate_values, parse_deal_values, write_deal_values
from tui_crm.services.parties import assignable_user
from tui_crm.services.pipelines import find_pipeline, find_stage
from tui_crm.services.records import change_tags, custom_values, reindex, resolve, tags_of, user_names
from tui_crm.services.tasks import (
    CLOSING_RESULTS,
    check_task_type,
    create_auto_task,
    hand_over_open_tasks,
    new_task,
    open_tasks_of_deal,
    stage_entry_tasks,
    task_views,
)
from tui_crm.services.views import DealDetail, LinkView, MoveOutcome, PipelineView, StageView
from tui_crm.storage.models import Company, Contact, Deal, DealContact, EntityFile, Note, Pipeline, Stage
from tui_crm.storage.unit_of_work import UnitOfWork


@dataclass
class LeadInput:
    """Everything ``crm add lead`` takes; only the name is required."""

    name: str
    phone: str | None = None
    email: str | None = None
    contact_name: str | None = None
    company: str | None = None
    budget: str | None = None
    budget_usd: str | None = None
    pipeline: str | None = None
    stage: str | None = None
    source: str | None = None
    note: str | None = None
    task: str | None = None
    due: str | None = None
    task_type: str = "call"
    responsible: str | None = None
    tags: list[str] = field(default_factory=list)
    values: dict[str, str] = field(default_factory=dict)
    link_named_contact: bool = True  # contact_name (or an id prefix) may pick an existing contact


def capture_lead(
    crm: Crm, data: LeadInput, also: Callable[[UnitOfWork, Deal], None] | None = None
) -> DealDetail:
    """Create a deal with its contact, company, note and task in one commit.

    All input is validated before the transaction starts; the contact is
    matched by email/phone (enriched, not duplicated). A stage other than the
    lead stage goes through its gate like any move. ``also`` runs in the same
    transaction (intake marks its e-mail filed there, so a crash can neither
    lose the lead nor make it twice).
    """
    name = data.name.strip()
    if not name:
        raise ValidationError("name", 'a lead needs a name, e.g. crm add lead "Сайт для Магнита"')
    pipeline = find_pipeline(crm, data.pipeline)
    pdef = crm.pipelines.pipeline(pipeline.key)
    stage = find_stage(pipeline, data.stage) if data.stage else _stage_of_kind(pipeline, "lead")
    values = dict(data.values)
    if data.budget:
        values["budget_rub"] = data.budget
    if data.budget_usd:
        values["budget_usd"] = data.budget_usd
    if data.source:
        values["source_channel"] = data.source
    parsed = parse_deal_values(crm, values)
    due = parse_when(data.due, crm.now()) if data.due else None
    if data.task and due is None:
        due = parse_when("tomorrow 10:00", crm.now())
    task_type = check_task_type(data.task_type)
    wants_contact = bool(data.phone or data.email or data.contact_name)
    with crm.uow() as work:
        session = work.session
        responsible_id = assignable_user(session, data.responsible).id if data.responsible else crm.user_id
        deal = Deal(
            name=name,
            name_fold=fold(name),
            pipeline_id=pipeline.id,
            stage_id=stage.id,
            responsible_id=responsible_id,
            stage_entered_at=work.now,
        )
        work.create(deal)
        session.flush()
        contact: Contact | None = None
        notices: list[str] = []
        if wants_contact:
            contact, notices = lead_contact(
                crm,
                work,
                ContactInput(
                    name=data.contact_name or data.email or data.phone or name,
                    phones=[data.phone] if data.phone else [],
                    emails=[data.email] if data.email else [],
                    company=data.company,
                    responsible=data.responsible,
                ),
                typed=data.contact_name if data.link_named_contact else None,
            )
            _link_contact(work, deal, contact, main=True)
        if data.company:
            work.update(deal, company_id=company_for(work, data.company, responsible_id).id)
        elif contact is not None and contact.company_id:  # the matched contact's company
            work.update(deal, company_id=contact.company_id)
        write_deal_values(crm, work, deal, parsed)
        check_gate(crm, session, deal, pipeline.key, stage)
        if data.tags:
            change_tags(work, deal, add=data.tags)
        if data.note:
            work.create(Note(entity_type="deal", entity_id=deal.id, text=data.note, author_id=crm.user_id))
        rule = pdef.stage(stage.key).auto_task
        if rule:
            create_auto_task(crm, work, deal, rule, stage.key)
        if data.task and due:
            new_task(
                crm,
                work,
                text=data.task,
                due=due[0],
                all_day=due[1],
                task_type=task_type,
                responsible_id=responsible_id,
                entity=deal,
            )
        if also is not None:
            also(work, deal)
        reindex(session, "deal", deal.id)
        detail = deal_detail(session, deal)  # read in the same transaction: no second one
        detail.notices = notices
    return detail


def _stage_of_kind(pipeline: PipelineView, kind: str) -> StageView:
    return next(s for s in pipeline.stages if s.kind == kind)


def _link_contact(work: UnitOfWork, deal: Deal, contact: Contact, main: bool = False) -> None:
    session = work.session
    if session.get(DealContact, (deal.id, contact.id)) is not None:
        return
    links = session.exec(select(DealContact).where(DealContact.deal_id == deal.id)).all()
    if main:  # one main contact per deal (sync sends it as amoCRM's is_main)
        for link in links:
            if link.is_main:
                link.is_main = False
                session.add(link)
    session.add(DealContact(deal_id=deal.id, contact_id=contact.id, is_main=main or not links))
    work.touch(deal)
    work.log("deal", deal.id, "update", {"contacts": [None, contact.id]})


def link_contact(crm: Crm, deal_ref: str, contact_ref: str, main: bool = False) -> DealDetail:
    with crm.uow() as work:
        deal = resolve(work.session, Deal, deal_ref)
        contact = resolve(work.session, Contact, contact_ref)
        _link_contact(work, deal, contact, main)
        reindex(work.session, "deal", deal.id)
    return get_deal(crm, deal.id)


def check_gate(crm: Crm, session: Session, deal: Deal, pipeline_key: str, stage: StageView | Stage) -> None:
    session.flush()
    missing = missing_fields(crm.pipelines, pipeline_key, stage.key, gate_values(session, deal))
    if missing:
        raise GateRefused(stage.name, missing, stage_key=stage.key)


def deal_detail(session: Session, deal: Deal) -> DealDetail:
    pipeline = session.get(Pipeline, deal.pipeline_id)
    stage = session.get(Stage, deal.stage_id)
    assert pipeline is not None and stage is not None
    company = session.get(Company, deal.company_id) if deal.company_id else None
    links = session.exec(
        select(Contact, DealContact.is_main)
        .join(DealContact, col(DealContact.contact_id) == col(Contact.id))
        .where(DealContact.deal_id == deal.id, col(Contact.deleted_at).is_(None))
        .order_by(col(DealContact.is_main).desc(), Contact.name_fold)
    ).all()
    files = session.exec(
        select(EntityFile.name).where(EntityFile.entity_id == deal.id, col(EntityFile.deleted_at).is_(None))
    ).all()
    return DealDetail(
        id=deal.id,
        name=deal.name,
        pipeline_key=pipeline.key,
        pipeline=pipeline.name,
        stage_key=stage.key,
        stage=stage.name,
        responsible=user_names(session).get(deal.responsible_id or ""),
        budget_rub=from_minor(deal.budget_rub),
        budget_usd=from_minor(deal.budget_usd),
        company=LinkView(company.id, company.name, "company") if company else None,
        contacts=[LinkView(c.id, c.name, "contact", bool(is_main)) for c, is_main in links],
        tags=tags_of(session, "deal", [deal.id]).get(deal.id, []),
        custom=custom_values(session, "deal", deal.id),
        source_channel=deal.source_channel,
        source_site=deal.source_site,
        source_message=deal.source_message,
        source_url=deal.source_url,
        loss_reason=deal.loss_reason,
        created_at=deal.created_at,
        updated_at=deal.updated_at,
        closed_at=deal.closed_at,
        revision=deal.revision,
        files=list(files),
        closing_rate=Decimal(deal.closing_rate) if deal.closing_rate else None,
        closing_rate_date=deal.closing_rate_date,
    )


def get_deal(crm: Crm, ref: str) -> DealDetail:
    with crm.read() as session:
        return deal_detail(session, resolve(session, Deal, ref))


@dataclass
class DealEdit:
    """What an edit did: the deal as it is now, and how many of its open
    tasks followed a new responsible (``hand_over_open_tasks``)."""

    deal: DealDetail
    tasks_moved: int = 0


def edit_deal(crm: Crm, ref: str, values: dict[str, str]) -> DealDetail:
    """Set fields; validated first, nothing written if any value is bad."""
    return update_deal(crm, ref, values).deal


def update_deal(crm: Crm, ref: str, values: dict[str, str]) -> DealEdit:
    """``edit_deal`` that also says how many open tasks changed hands."""
    parsed = parse_deal_values(crm, values)
    with crm.uow() as work:
        deal = resolve(work.session, Deal, ref)
        before = gate_values(work.session, deal)
        moved = _write_values(crm, work, deal, parsed)
        hold_gate(crm, work.session, deal, before)
        reindex(work.session, "deal", deal.id)
    return DealEdit(get_deal(crm, deal.id), moved)


def hold_gate(crm: Crm, session: Session, deal: Deal, before: dict[str, object]) -> None:
    """Refuse (GateHeld, nothing saved) when an edit emptied a field the
    deal's current stage requires: a gate holds while the deal is there."""
    session.flush()
    stage = session.get(Stage, deal.stage_id)
    pipeline = session.get(Pipeline, deal.pipeline_id)
    assert stage is not None and pipeline is not None
    pdef = next((p for p in crm.pipelines.pipelines if p.key == pipeline.key), None)
    if pdef is None or not any(s.key == stage.key for s in pdef.stages):
        return  # a stage the configuration no longer has holds nothing
    emptied = emptied_required(crm.pipelines, pipeline.key, stage.key, before, gate_values(session, deal))
    if emptied:
        raise GateHeld(stage.name, emptied)


def _write_values(crm: Crm, work: UnitOfWork, deal: Deal, parsed: list[ParsedValue]) -> int:
    """``write_deal_values`` for an existing deal: a new responsible takes
    over the deal's open tasks in the same transaction. Returns how many."""
    previous = deal.responsible_id
    write_deal_values(crm, work, deal, parsed)
    return hand_over_open_tasks(work, deal, previous)


def refuse_inbox(crm: Crm, stage: Stage | StageView, pipeline_key: str) -> None:
    """Неразобранное is the inbox of incoming requests, not a stage: no move puts a deal there."""
    if stage.kind == "unsorted":
        lead = crm.pipelines.pipeline(pipeline_key).stage_by_kind("lead")
        raise ValidationError(
            "stage",
            f"«{stage.name}» is the inbox for incoming requests, not a stage a deal can move into; "
            f"move it to «{lead.name if lead else 'Лид'}» to work it, or close it as lost",
        )


def move_in(
    crm: Crm, work: UnitOfWork, deal: Deal, stage: Stage, pipeline_key: str, close_tasks: bool | Collection[str] = False
) -> MoveOutcome:
    """Move inside a caller's transaction; raises GateRefused with every missing field.

    ``close_tasks``: on a close, which open tasks a person set are completed
    too (True: all, or their ids); automatic ones always are."""
    session = work.session
    current = session.get(Stage, deal.stage_id)
    assert current is not None
    outcome = MoveOutcome(deal.id, deal.name, current.name, stage.name, moved=False)
    if current.id == stage.id:
        return outcome
    refuse_inbox(crm, stage, pipeline_key)
    check_gate(crm, session, deal, pipeline_key, stage)
    closing = stage.kind in ("won", "lost")
    work.update(
        deal,
        pipeline_id=stage.pipeline_id,
        stage_id=stage.id,
        stage_entered_at=work.now,
        closed_at=work.now if closing else None,
    )
    if stage.kind == "won":
        from tui_crm.services.rates import stamp_closing_rate  # not on the capture path

        stamp_closing_rate(crm, work, deal)  # the Bank of Russia's rate of the closing day, when known
    outcome.moved = True
    task, closed = stage_entry_tasks(crm, work, deal, current, stage, pipeline_key, close_tasks)
    outcome.auto_task = task.text if task else None
    if closed:
        outcome.tasks_completed, outcome.tasks_kept = closed.completed, closed.kept
    return outcome


def move_deal(
    crm: Crm,
    ref: str,
    stage_ref: str | None = None,
    set_values: dict[str, str] | None = None,
    pipeline_ref: str | None = None,
    close_tasks: bool | Collection[str] | None = False,
    *,
    step: int = 0,
) -> MoveOutcome:
    """Fill ``set_values`` and move; on a refusal nothing is saved.

    The target is ``stage_ref``, or with ``step=+1``/``-1`` the next or
    previous working stage (``adjacent_in``), found in the same transaction
    as the move. ``close_tasks=None`` asks first: a move that closes the deal
    while it has open tasks a person set raises ``ClosingChoiceNeeded``
    (the TUI lists them and retries with the user's choice).
    """
    if stage_ref is None and step == 0:
        raise ValueError("move_deal needs a stage or a step")
    parsed = parse_deal_values(crm, set_values or {})
    with crm.uow() as work:
        deal = resolve(work.session, Deal, ref)
        pipeline_row = work.session.get(Pipeline, deal.pipeline_id)
        assert pipeline_row is not None
        pipeline = find_pipeline(crm, pipeline_ref or pipeline_row.key)
        if stage_ref is None:
            current = work.session.get(Stage, deal.stage_id)
            assert current is not None
            stage_view = adjacent_in(pipeline, current.key, step)
            if stage_view is None:
                where = "last" if step > 0 else "first"
                raise NoAdjacentStage("stage", f"«{deal.name}» is already in the {where} working stage", key="stage")
        else:
            stage_view = find_stage(pipeline, stage_ref)
        stage = work.session.get(Stage, stage_view.id)
        assert stage is not None
        if close_tasks is None:
            close_tasks = False
            if stage.kind in CLOSING_RESULTS and stage.id != deal.stage_id:
                tasks = [t for t in open_tasks_of_deal(work.session, deal.id) if not t.auto_rule]
                if tasks:
                    raise ClosingChoiceNeeded(stage.key, stage.name, task_views(crm, work.session, tasks))
        _write_values(crm, work, deal, parsed)  # --set responsible=... hands over the open tasks too
        outcome = move_in(crm, work, deal, stage, pipeline.key, close_tasks)
        reindex(work.session, "deal", deal.id)
    outcome.to_stage_key = stage.key
    return outcome


def adjacent_in(pipeline: PipelineView, stage_key: str, step: int) -> StageView | None:
    """The next (+1) or previous (-1) working stage after ``stage_key``; lost
    is never "next", and the Неразобранное inbox is never "previous" (a deal
    still in it goes forward to the lead stage)."""
    order = [s for s in pipeline.stages if s.kind not in ("lost", "unsorted")]
    keys = [s.key for s in order]
    if stage_key not in keys:
        inbox = any(s.key == stage_key and s.kind == "unsorted" for s in pipeline.stages)
        return order[0] if inbox and step > 0 and order else None
    index = keys.index(stage_key) + step
    return order[index] if 0 <= index < len(order) else None


def adjacent_stage(crm: Crm, ref: str, step: int) -> StageView | None:
    """``adjacent_in`` for a deal by reference (a read; ``move_deal(step=…)`` moves)."""
    detail = get_deal(crm, ref)
    return adjacent_in(find_pipeline(crm, detail.pipeline_key), detail.stage_key, step)


def delete_deal(crm: Crm, ref: str) -> str:
    with crm.uow() as work:
        deal = resolve(work.session, Deal, ref)
        work.soft_delete(deal)
        reindex(work.session, "deal", deal.id)
    return deal.id


def restore_deal(crm: Crm, ref: str) -> DealDetail:
    with crm.uow() as work:
        deal = resolve(work.session, Deal, ref, include_deleted=True)
        work.restore(deal)
        reindex(work.session, "deal", deal.id)
    return get_deal(crm, deal.id)


def set_deal_tags(crm: Crm, ref: str, add: list[str], remove: list[str]) -> list[str]:
    with crm.uow() as work:
        deal = resolve(work.session, Deal, ref)
        return change_tags(work, deal, add=add, remove=remove)
