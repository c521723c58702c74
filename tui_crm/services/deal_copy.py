"""Copying a deal (the manual's monthly invoices): choose the target
pipeline and stage, which fields come along, and whether tags, files and
the creation date do. The copy enters its stage through the gate, with
``set_values`` filled first (``crm copy --set``, the TUI's gate form).

How the source was closed is not copied: the closing sum, its rate and
date, the loss reason and the closed date belong to that deal's outcome,
not to the next month's invoice.

Without a chosen stage a copy is new work: it stays in the source's stage
only while that is an open working stage of the same pipeline; the copy of
a won or lost deal (or one in another pipeline) starts at the Lead stage.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlmodel import Session, col, select

from tui_crm.domain.errors import ValidationError
from tui_crm.domain.text import fold
from tui_crm.services.context import Crm
from tui_crm.services.deal_values import canonical_key, parse_deal_values, write_deal_values
from tui_crm.services.deals import _link_contact, check_gate, get_deal
from tui_crm.services.pipelines import find_pipeline, find_stage
from tui_crm.services.records import change_tags, custom_values, reindex, resolve, set_custom_value, tags_of
from tui_crm.services.tasks import create_auto_task
from tui_crm.services.views import DealDetail, PipelineView, StageView
from tui_crm.storage.models import Contact, Deal, DealContact, EntityFile, Pipeline, User

COPYABLE_COLUMNS = ("budget_rub", "budget_usd", "company", "source_channel", "source_site", "source_message", "source_url")


@dataclass
class CopyOptions:
    pipeline: str | None = None  # default: the source deal's
    stage: str | None = None  # default: ``default_copy_stage`` (the source's stage while open, else Lead)
    fields: list[str] | None = None  # None: every field; [] none
    name: str | None = None
    contacts: bool = True
    tags: bool = True
    files: bool = True
    keep_created_at: bool = False
    set_values: dict[str, str] | None = None  # FIELD=VALUE written on the copy before its gate


_NOT_A_START = ("won", "lost", "unsorted")


def _default_stage(pipeline: PipelineView, source_stage_id: str) -> StageView:
    same = next((s for s in pipeline.stages if s.id == source_stage_id), None)
    if same is not None and same.kind not in _NOT_A_START:
        return same
    return next(s for s in pipeline.stages if s.kind == "lead")


def default_copy_stage(crm: Crm, deal: DealDetail, pipeline_ref: str | None = None) -> StageView:
    """Where a copy lands when no stage is chosen (the CLI without --stage;
    what a copy dialog should preselect): the deal's own stage while it is
    an open stage of the target pipeline, else that pipeline's Lead stage."""
    pipeline = find_pipeline(crm, pipeline_ref or deal.pipeline_key)
    same = next((s for s in pipeline.stages if s.key == deal.stage_key), None) if pipeline.key == deal.pipeline_key else None
    return _default_stage(pipeline, same.id if same else "")


def _copy_responsible(crm: Crm, session: Session, source: Deal) -> str | None:
    """The source's responsible, unless deactivated: a deactivated user gets
    no new deals, so the copy goes to whoever makes it."""
    holder = session.get(User, source.responsible_id) if source.responsible_id else None
    if holder is None or not holder.is_active or holder.deleted_at is not None:
        return crm.user_id
    return holder.id


def copy_deal(crm: Crm, ref: str, options: CopyOptions) -> DealDetail:
    parsed = parse_deal_values(crm, options.set_values or {})
    with crm.uow() as work:
        session = work.session
        source = resolve(session, Deal, ref)
        source_pipeline = session.get(Pipeline, source.pipeline_id)
        assert source_pipeline is not None
        pipeline = find_pipeline(crm, options.pipeline or source_pipeline.key)
        stage = find_stage(pipeline, options.stage) if options.stage else _default_stage(pipeline, source.stage_id)
        closing = crm.pipelines.closing_fields()
        custom = {k: v for k, v in custom_values(session, "deal", source.id).items() if k not in closing}
        chosen = (
            set(COPYABLE_COLUMNS) | set(custom) if options.fields is None else {canonical_key(crm, f) for f in options.fields}
        )
        unknown = chosen - set(COPYABLE_COLUMNS) - set(crm.pipelines.fields)
        if unknown:
            raise ValidationError("fields", f"cannot copy {', '.join(sorted(unknown))}")
        if chosen & closing:
            named = ", ".join(sorted(chosen & closing))
            raise ValidationError("fields", f"{named}: how a deal was closed is not copied; set it on the copy with --set")
        name = (options.name or source.name).strip()
        copy = Deal(
            name=name,
            name_fold=fold(name),
            pipeline_id=pipeline.id,
            stage_id=stage.id,
            responsible_id=_copy_responsible(crm, session, source),
            stage_entered_at=work.now,
            closed_at=work.now if stage.kind in ("won", "lost") else None,
            company_id=source.company_id if "company" in chosen else None,
            **{c: getattr(source, c) for c in COPYABLE_COLUMNS if c != "company" and c in chosen},
        )
        if options.keep_created_at:
            copy.created_at = source.created_at
        work.create(copy)
        session.flush()
        for key, value in custom.items():
            if key in chosen:
                set_custom_value(work, copy, key, value)
        if options.contacts:
            links = session.exec(
                select(DealContact).where(DealContact.deal_id == source.id).order_by(col(DealContact.is_main).desc())
            ).all()
            for link in links:
                contact = session.get(Contact, link.contact_id)
                if contact is not None and contact.deleted_at is None:
                    _link_contact(work, copy, contact, main=link.is_main)  # logged, like any link
        if options.tags:
            change_tags(work, copy, add=tags_of(session, "deal", [source.id]).get(source.id, []))
        if options.files:
            for f in session.exec(
                select(EntityFile).where(EntityFile.entity_id == source.id, col(EntityFile.deleted_at).is_(None))
            ):
                work.create(EntityFile(entity_type="deal", entity_id=copy.id, sha256=f.sha256, name=f.name))
        write_deal_values(crm, work, copy, parsed)
        check_gate(crm, session, copy, pipeline.key, stage)
        rule = crm.pipelines.pipeline(pipeline.key).stage(stage.key).auto_task
        if rule:
            create_auto_task(crm, work, copy, rule, stage.key)
        work.log("deal", copy.id, "update", {"copied_from": [None, source.id]})
        reindex(session, "deal", copy.id)
    return get_deal(crm, copy.id)
