"""Unsorted (Неразобранное): incoming requests waiting for daily triage.

Accept turns an entry into a deal at the pipeline's lead stage with its
contact matched by email/phone or created; decline keeps it, with a reason,
out of the pipeline.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import func
from sqlmodel import col, select

from tui_crm.domain.errors import ValidationError
from tui_crm.domain.validation import normalize_email, normalize_phone
from tui_crm.services.context import Crm
from tui_crm.services.deals import LeadInput, capture_lead
from tui_crm.services.pipelines import find_pipeline
from tui_crm.services.records import resolve
from tui_crm.services.views import DealDetail, UnsortedView
from tui_crm.storage.models import Note, Pipeline, UnsortedEntry


@dataclass
class IncomingRequest:
    pipeline: str | None = None
    source: str = "form"
    sender_name: str | None = None
    sender_email: str | None = None
    sender_phone: str | None = None
    subject: str | None = None
    body: str | None = None


def add_incoming(crm: Crm, request: IncomingRequest) -> UnsortedView:
    """File a request into a pipeline's Unsorted (mail intake, web forms)."""
    pipeline = find_pipeline(crm, request.pipeline)
    email = normalize_email(request.sender_email) if request.sender_email else None
    phone = normalize_phone(request.sender_phone, crm.settings.phone_region) if request.sender_phone else None
    if not (request.subject or request.body or request.sender_name):
        raise ValidationError("request", "an incoming request needs a subject, body or sender")
    with crm.uow() as work:
        entry = UnsortedEntry(
            pipeline_id=pipeline.id,
            source=request.source,
            sender_name=request.sender_name,
            sender_email=email,
            sender_phone=phone,
            subject=request.subject,
            body=request.body,
            received_at=work.now,
        )
        work.create(entry)
    return _view(entry, pipeline.name)


def _view(entry: UnsortedEntry, pipeline_name: str) -> UnsortedView:
    return UnsortedView(
        entry.id,
        pipeline_name,
        entry.source,
        entry.sender_name,
        entry.sender_email,
        entry.sender_phone,
        entry.subject,
        entry.body,
        entry.received_at,
        entry.status,
        entry.decline_reason,
        entry.deal_id,
    )


def _unsorted_where(crm: Crm, pipeline: str | None, status: str) -> list[Any]:
    conditions: list[Any] = [col(UnsortedEntry.deleted_at).is_(None)]
    if pipeline:
        conditions.append(UnsortedEntry.pipeline_id == find_pipeline(crm, pipeline).id)
    if status != "all":
        conditions.append(UnsortedEntry.status == status)
    return conditions


def list_unsorted(crm: Crm, pipeline: str | None = None, status: str = "new", limit: int = 200) -> list[UnsortedView]:
    with crm.read() as session:
        stmt = select(UnsortedEntry, Pipeline.name).join(Pipeline, col(Pipeline.id) == col(UnsortedEntry.pipeline_id))
        stmt = stmt.where(*_unsorted_where(crm, pipeline, status))
        rows = session.exec(stmt.order_by(col(UnsortedEntry.received_at).desc()).limit(limit)).all()
        return [_view(entry, name) for entry, name in rows]


def count_unsorted(crm: Crm, pipeline: str | None = None) -> int:
    """New requests waiting in the inbox: counted in SQL, not capped at a page."""
    with crm.read() as session:
        stmt = select(func.count()).select_from(UnsortedEntry).where(*_unsorted_where(crm, pipeline, "new"))
        return int(session.exec(stmt).one())


def accept(crm: Crm, ref: str, deal_name: str | None = None) -> DealDetail:
    """Make the request a deal at stage Lead; the original text goes to Marketing."""
    with crm.read() as session:
        entry = resolve(session, UnsortedEntry, ref)
        pipeline = session.get(Pipeline, entry.pipeline_id)
        assert pipeline is not None
    if entry.status != "new":
        raise ValidationError("unsorted", f"this request was already {entry.status}")
    name = deal_name or entry.subject or entry.sender_name or entry.sender_email or "Новый лид"
    deal = capture_lead(
        crm,
        LeadInput(
            name=name,
            email=entry.sender_email,
            phone=entry.sender_phone,
            contact_name=entry.sender_name or entry.sender_email,
            link_named_contact=False,  # a sender's name is not the user's pick: match by e-mail/phone only
            pipeline=pipeline.key,
            source=entry.source,
            values={"source_message": entry.body or ""} if entry.body else {},
        ),
    )
    with crm.uow() as work:
        fresh = work.session.get(UnsortedEntry, entry.id)
        assert fresh is not None
        work.update(fresh, status="accepted", deal_id=deal.id)
    return deal


def decline(crm: Crm, ref: str, reason: str) -> UnsortedView:
    if not reason.strip():
        raise ValidationError("reason", "say why the request is declined (spam, not our profile, ...)")
    with crm.uow() as work:
        entry = resolve(work.session, UnsortedEntry, ref)
        if entry.status != "new":
            raise ValidationError("unsorted", f"this request was already {entry.status}")
        work.update(entry, status="declined", decline_reason=reason.strip())
        pipeline = work.session.get(Pipeline, entry.pipeline_id)
        work.create(Note(entity_type="unsorted", entity_id=entry.id, text=reason.strip(), kind="system", author_id=crm.user_id))
    return _view(entry, pipeline.name if pipeline else "")
