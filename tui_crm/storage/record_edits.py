"""Session-level edits every record shares: tags, custom values, contact
channels, the search index entry, and a deal's values as gates see them.

They take a ``UnitOfWork`` or a ``Session`` (never a ``Crm``), so both the
services and the sync engine (which writes pulled changes through its own
unit of work) use them. They sit in storage, below both: sync never imports
services. ``tui_crm.services.records`` and ``services.deal_values`` still
export these names for their callers.
"""

from __future__ import annotations

import json
from collections import defaultdict
from typing import Any

from sqlmodel import Session, col, select

from tui_crm.domain.text import fold
from tui_crm.storage import search_index
from tui_crm.storage.models import Channel, Company, Contact, CustomValue, Deal, DealContact, EntityTag, Note, Record, Tag
from tui_crm.storage.unit_of_work import UnitOfWork

# -- tags -------------------------------------------------------------------


def tags_of(session: Session, entity_type: str, ids: list[str]) -> dict[str, list[str]]:
    result: dict[str, list[str]] = defaultdict(list)
    if not ids:
        return result
    rows = session.exec(
        select(EntityTag.entity_id, Tag.name)
        .join(Tag, col(Tag.id) == col(EntityTag.tag_id))
        .where(EntityTag.entity_type == entity_type, col(EntityTag.entity_id).in_(ids))
        .order_by(Tag.name_fold)
    ).all()
    for entity_id, name in rows:
        result[entity_id].append(name)
    return result


def change_tags(work: UnitOfWork, record: Record, add: list[str] = (), remove: list[str] = ()) -> list[str]:  # type: ignore[assignment]
    """Add/remove tags (case-insensitive, spelling of first use kept); logs."""
    session = work.session
    entity = str(record.__tablename__)
    before = tags_of(session, entity, [record.id]).get(record.id, [])
    for name in add:
        name = name.strip()
        if not name:
            continue
        tag = session.exec(select(Tag).where(Tag.name_fold == fold(name))).first()
        if tag is None:
            tag = Tag(name=name, name_fold=fold(name))
            session.add(tag)
            session.flush()
        if session.get(EntityTag, (entity, record.id, tag.id)) is None:
            session.add(EntityTag(entity_type=entity, entity_id=record.id, tag_id=tag.id))
    for name in remove:
        tag = session.exec(select(Tag).where(Tag.name_fold == fold(name))).first()
        link = tag and session.get(EntityTag, (entity, record.id, tag.id))
        if link:
            session.delete(link)
    session.flush()
    after = tags_of(session, entity, [record.id]).get(record.id, [])
    if after != before:
        work.touch(record)
        work.log(entity, record.id, "update", {"tags": [before, after]})
    return after


# -- custom values ------------------------------------------------------------


def custom_values(session: Session, entity_type: str, entity_id: str) -> dict[str, Any]:
    rows = session.exec(
        select(CustomValue).where(CustomValue.entity_type == entity_type, CustomValue.entity_id == entity_id)
    ).all()
    return {r.field_key: json.loads(r.value_json) for r in rows}


def set_custom_value(work: UnitOfWork, record: Record, key: str, value: Any) -> bool:
    """Store one validated custom value (None clears it); logs the change."""
    entity = str(record.__tablename__)
    row = work.session.get(CustomValue, (entity, record.id, key))
    old = json.loads(row.value_json) if row else None
    if old == value:
        return False
    if value is None or value == "" or value == []:
        if row:
            work.session.delete(row)
    elif row is None:
        work.session.add(
            CustomValue(entity_type=entity, entity_id=record.id, field_key=key, value_json=json.dumps(value, ensure_ascii=False))
        )
    else:
        row.value_json = json.dumps(value, ensure_ascii=False)
        work.session.add(row)
    work.touch(record)
    work.log(entity, record.id, "update", {f"custom.{key}": [old, value]})
    return True


# -- channels -----------------------------------------------------------------


def channels_of(session: Session, entity_type: str, entity_id: str) -> list[Channel]:
    return list(
        session.exec(
            select(Channel).where(Channel.entity_type == entity_type, Channel.entity_id == entity_id).order_by(Channel.sort)
        )
    )


def add_channel(work: UnitOfWork, record: Record, kind: str, value: str, normalized: str) -> bool:
    """Attach a phone/email/handle unless the record already has it."""
    entity = str(record.__tablename__)
    existing = channels_of(work.session, entity, record.id)
    if any(c.kind == kind and c.normalized == normalized for c in existing):
        return False
    work.session.add(
        Channel(entity_type=entity, entity_id=record.id, kind=kind, value=value, normalized=normalized, sort=len(existing))
    )
    work.touch(record)
    work.log(entity, record.id, "update", {f"{kind}s": [None, normalized]})
    return True


def remove_channel(work: UnitOfWork, record: Record, kind: str, normalized: str) -> bool:
    entity = str(record.__tablename__)
    for channel in channels_of(work.session, entity, record.id):
        if channel.kind == kind and channel.normalized == normalized:
            work.session.delete(channel)
            work.touch(record)
            work.log(entity, record.id, "update", {f"{kind}s": [normalized, None]})
            return True
    return False


# -- search index ---------------------------------------------------------------


def _notes_text(session: Session, entity_id: str) -> list[str]:
    return list(session.exec(select(Note.text).where(Note.entity_id == entity_id, col(Note.deleted_at).is_(None)).limit(50)))


def _channel_terms(session: Session, entity_type: str, entity_id: str) -> list[str]:
    terms: list[str] = []
    for channel in channels_of(session, entity_type, entity_id):
        if channel.kind == "phone":
            terms.extend(search_index.phone_search_forms(channel.normalized))
        else:
            terms.append(channel.normalized)
    return terms


def reindex(session: Session, entity_type: str, entity_id: str) -> None:
    """Rebuild one record's search entry from its current state."""
    conn = session.connection()
    session.flush()
    if entity_type == "deal":
        deal = session.get(Deal, entity_id)
        if deal is None or deal.deleted_at is not None:
            search_index.unindex_record(conn, entity_id)
            return
        body: list[str] = []
        if deal.company_id and (company := session.get(Company, deal.company_id)) and company.deleted_at is None:
            body.append(company.name)
        for contact in session.exec(
            select(Contact)
            .join(DealContact, col(DealContact.contact_id) == col(Contact.id))
            .where(DealContact.deal_id == deal.id, col(Contact.deleted_at).is_(None))
        ):
            body.append(contact.name)
            body.extend(_channel_terms(session, "contact", contact.id))
        body.extend(_notes_text(session, deal.id))
        search_index.index_record(conn, "deal", deal.id, deal.name, body)
    elif entity_type in ("contact", "company"):
        model = Contact if entity_type == "contact" else Company
        record = session.get(model, entity_id)
        if record is None or record.deleted_at is not None:
            search_index.unindex_record(conn, entity_id)
            return
        body = _channel_terms(session, entity_type, record.id)
        if isinstance(record, Contact):
            body += [record.position or "", record.department or ""]
            if record.company_id and (company := session.get(Company, record.company_id)) and company.deleted_at is None:
                body.append(company.name)
        else:
            body += [record.inn or "", record.web or "", record.industry or ""]
        body.extend(_notes_text(session, record.id))
        search_index.index_record(conn, entity_type, record.id, record.name, body)


def reindex_linked(session: Session, entity_type: str, entity_id: str) -> None:
    """Rebuild the entries that carry this contact's or company's name.

    A deal is found by its company and its contacts (names, phones,
    e-mails) and a contact by its company, so renaming, editing, deleting
    or restoring one of them must rebuild those entries too; otherwise a
    search finds a deal by a name it no longer has, or by a deleted contact.
    """
    deal_ids: list[str] = []
    if entity_type == "contact":
        deal_ids = list(session.exec(select(DealContact.deal_id).where(DealContact.contact_id == entity_id)))
    elif entity_type == "company":
        deal_ids = list(session.exec(select(Deal.id).where(Deal.company_id == entity_id)))
        for contact_id in session.exec(select(Contact.id).where(Contact.company_id == entity_id)).all():
            reindex(session, "contact", contact_id)
    for deal_id in deal_ids:
        reindex(session, "deal", deal_id)


# -- a deal's values, by gate key ------------------------------------------------


def gate_values(session: Session, deal: Deal) -> dict[str, Any]:
    """The deal's values by gate key."""
    values: dict[str, Any] = dict(custom_values(session, "deal", deal.id))
    values["budget_rub"] = deal.budget_rub
    values["budget_usd"] = deal.budget_usd
    values["loss_reason"] = deal.loss_reason
    company = session.get(Company, deal.company_id) if deal.company_id else None
    values["company.inn"] = company.inn if company else None
    return values
