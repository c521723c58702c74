"""Remote incoming requests (amoCRM "Unsorted") <-> local Unsorted entries.

* Pull: every request waiting remotely becomes an
  :class:`~tui_crm.storage.models.UnsortedEntry` (source ``amocrm`` style:
  ``form``/``mail``/``call``) linked by its ``uid``. A linked entry still
  new here but no longer waiting remotely was triaged by a teammate: it
  becomes accepted (with the deal its lead became) or declined.
* Push: an entry accepted or declined here goes back as
  ``POST /leads/unsorted/{uid}/accept`` or ``DELETE .../decline``. On
  accept, the local deal made from the entry is linked to the remote lead
  (and its main contact to the remote contact) instead of being created a
  second time; the deal's fields then go out as an ordinary update.
* Entries filed locally (mail intake, web forms) stay local: amoCRM takes
  only forms/sip requests with source metadata through the API; their
  deals are pushed once accepted.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING

from sqlmodel import col, select

from tui_crm.storage.models import Deal, DealContact, Pipeline, Stage, UnsortedEntry
from tui_crm.storage.sync_tables import SyncUnsortedLink
from tui_crm.sync.adapter import Ref

if TYPE_CHECKING:
    from tui_crm.sync.engine import SyncEngine


def _phone(value: str | None, region: str) -> str | None:
    if not value:
        return None
    from tui_crm.domain.validation import normalize_phone

    try:
        return normalize_phone(value, region)
    except Exception:  # noqa: BLE001 - keep it as given
        return value.strip()


def _email(value: str | None) -> str | None:
    if not value:
        return None
    from tui_crm.domain.validation import normalize_email

    try:
        return normalize_email(value)
    except Exception:  # noqa: BLE001
        return value.strip().lower()


def push_incoming(engine: SyncEngine) -> None:
    adapter = engine.adapter
    if not hasattr(adapter, "accept_incoming"):
        return
    with engine.crm.read() as session:
        links = list(
            session.exec(
                select(SyncUnsortedLink).where(SyncUnsortedLink.adapter == engine.name, col(SyncUnsortedLink.pushed).is_(None))
            )
        )
        todo = []
        for link in links:
            entry = session.get(UnsortedEntry, link.local_id)
            if entry is not None and entry.status in ("accepted", "declined"):
                stage_ref = None
                if entry.status == "accepted" and entry.deal_id:
                    deal = session.get(Deal, entry.deal_id)
                    stage = session.get(Stage, deal.stage_id) if deal else None
                    remote_stage = engine.maps.remote("stage", stage.id) if stage else None
                    stage_ref = Ref("stage", remote_stage) if remote_stage else None
                todo.append((link, entry, stage_ref))
    for link, entry, stage_ref in todo:
        engine.progress("push", "unsorted", 0, len(todo))
        if entry.status == "accepted":
            lead = adapter.accept_incoming(link.uid, stage_ref)
            remote_lead = lead.remote_id if lead else link.remote_lead_id
            with engine.uow() as work:
                session = work.session
                if entry.deal_id and remote_lead:
                    if engine.maps.remote("deal", entry.deal_id) is None and engine.maps.local("deal", remote_lead) is None:
                        engine.maps.set(session, "deal", entry.deal_id, remote_lead, "linked", work.now)
                        engine._drop_shadow(session, "deal", entry.deal_id)
                    main = session.exec(
                        select(DealContact).where(DealContact.deal_id == entry.deal_id).order_by(col(DealContact.is_main).desc())
                    ).first()
                    if (
                        main is not None
                        and link.remote_contact_id
                        and engine.maps.remote("contact", main.contact_id) is None
                        and engine.maps.local("contact", link.remote_contact_id) is None
                    ):
                        engine.maps.set(session, "contact", main.contact_id, link.remote_contact_id, "linked", work.now)
                        engine._drop_shadow(session, "contact", main.contact_id)
                row = session.get(SyncUnsortedLink, (engine.name, link.uid))
                assert row is not None
                row.pushed, row.updated_at = "accepted", work.now
                session.add(row)
        else:
            adapter.decline_incoming(link.uid)
            with engine.uow() as work:
                row = work.session.get(SyncUnsortedLink, (engine.name, link.uid))
                assert row is not None
                row.pushed, row.updated_at = "declined", work.now
                work.session.add(row)
                lead_local = engine.maps.local("deal", link.remote_lead_id) if link.remote_lead_id else None
                if lead_local is not None:
                    engine.maps.set(work.session, "deal", lead_local, link.remote_lead_id, "remote_deleted", work.now)


def pull_incoming(engine: SyncEngine) -> None:
    adapter = engine.adapter
    if not hasattr(adapter, "incoming"):
        return
    engine.progress("pull", "unsorted", 0, None)
    items = adapter.incoming()
    region = engine.crm.settings.phone_region
    with engine.uow() as work:
        session = work.session
        existing = {
            link.uid: link for link in session.exec(select(SyncUnsortedLink).where(SyncUnsortedLink.adapter == engine.name))
        }
        default_pipeline = session.exec(select(Pipeline).where(Pipeline.key == engine.crm.settings.default_pipeline)).first()
        default_pipeline = default_pipeline or session.exec(select(Pipeline).order_by(Pipeline.sort)).first()
        for item in items:
            if item.uid in existing:
                continue
            pipeline_id = engine.maps.local("pipeline", item.pipeline_ref.remote_id) if item.pipeline_ref else None
            pipeline_id = pipeline_id or (default_pipeline.id if default_pipeline else None)
            if pipeline_id is None:
                continue
            entry = UnsortedEntry(
                pipeline_id=pipeline_id,
                source=item.source,
                sender_name=item.sender_name,
                sender_email=_email(item.sender_email),
                sender_phone=_phone(item.sender_phone, region),
                subject=item.subject,
                body=item.body,
                received_at=datetime.fromtimestamp(item.created_at, UTC) if item.created_at else work.now,
            )
            work.create(entry)
            session.add(
                SyncUnsortedLink(
                    adapter=engine.name,
                    uid=item.uid,
                    local_id=entry.id,
                    remote_lead_id=item.lead.remote_id if item.lead else None,
                    remote_contact_id=item.contact.remote_id if item.contact else None,
                    updated_at=work.now,
                )
            )
            engine.report.stats["unsorted"].pulled_new += 1
        waiting = {item.uid for item in items}
        for link in existing.values():
            if link.uid in waiting or link.pushed:
                continue
            entry = session.get(UnsortedEntry, link.local_id)
            if entry is None or entry.status != "new":
                continue
            deal_id = engine.maps.local("deal", link.remote_lead_id) if link.remote_lead_id else None
            if deal_id is not None:
                work.update(entry, status="accepted", deal_id=deal_id)
            else:
                work.update(entry, status="declined", decline_reason="declined in amoCRM")
            link.pushed, link.updated_at = "remote", work.now
            session.add(link)
            engine.report.stats["unsorted"].pulled_changed += 1
    engine.progress("pull", "unsorted", len(items), len(items))
