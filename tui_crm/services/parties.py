"""What contacts and companies share: validated channels, responsible
user lookup, the duplicate policy and the list query."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from sqlalchemy import func
from sqlmodel import Session, col, select

from tui_crm.domain.errors import DuplicateFound, NotFoundError, ValidationError
from tui_crm.domain.matching import email_key
from tui_crm.domain.text import fold
from tui_crm.domain.validation import normalize_email, normalize_phone
from tui_crm.services.duplicates import find_duplicates
from tui_crm.services.records import add_channel, user_names
from tui_crm.services.views import DuplicateCandidate, PartySummary
from tui_crm.storage import search_index
from tui_crm.storage.models import Channel, Company, Contact, Record, User
from tui_crm.storage.unit_of_work import UnitOfWork


class OnDuplicate(StrEnum):
    """What to do when a new record matches an existing one."""

    ERROR = "error"  # refuse, listing the candidates (the default)
    ENRICH = "enrich"  # add the new details to the best match instead
    MATCH = "match"  # enrich on a same email/phone/INN, otherwise create (quick capture)
    CREATE = "create"  # create anyway


@dataclass
class Channels:
    phones: list[tuple[str, str]]  # (as typed, E.164)
    emails: list[tuple[str, str]]  # (as typed, matching key: validated and case folded)


def email_channel(raw: str) -> str:
    """An e-mail as the store keeps it: validated, then folded by
    ``domain.matching.email_key``, so every lookup (duplicates, capture,
    removal, sync) is a plain, indexed equality and case never makes a
    second record."""
    return email_key(normalize_email(raw))


def validate_channels(phones: list[str], emails: list[str], region: str) -> Channels:
    """Validate every phone and email before anything is written."""
    return Channels(
        phones=[(p.strip(), normalize_phone(p, region)) for p in phones if p.strip()],
        emails=[(e.strip(), email_channel(e)) for e in emails if e.strip()],
    )


def attach_channels(work: UnitOfWork, record: Record, channels: Channels) -> None:
    for typed, normalized in channels.phones:
        add_channel(work, record, "phone", typed, normalized)
    for typed, normalized in channels.emails:
        add_channel(work, record, "email", typed, normalized)


def find_user(session: Session, ref: str) -> User:
    """An active user by name, email, or unique name prefix (any case)."""
    key = fold(ref)
    users = [u for u in session.exec(select(User).where(col(User.deleted_at).is_(None)))]
    exact = [u for u in users if fold(u.name) == key or (u.email and fold(u.email) == key) or u.id.startswith(ref)]
    prefix = [u for u in users if fold(u.name).startswith(key)]
    found = exact or prefix
    if len(found) == 1:
        return found[0]
    names = ", ".join(u.name for u in users)
    raise NotFoundError(f"No single user matches {ref!r}. Users: {names}")


def assignable_user(session: Session, ref: str) -> User:
    """A user records may be given to: as ``find_user``, and still active."""
    user = find_user(session, ref)
    if not user.is_active:
        raise ValidationError("responsible", f"{user.name} is deactivated; choose an active user (crm users list)")
    return user


def check_duplicates(
    session: Session,
    entity_type: str,
    policy: OnDuplicate,
    *,
    name: str,
    channels: Channels,
    inn: str | None = None,
    user_id: str | None = None,
) -> DuplicateCandidate | None:
    """Apply the duplicate policy; returns the record to enrich, if any.

    A refusal names each candidate's responsible, and says to agree a
    transfer with them when the record is not the acting user's (``user_id``).
    """
    if policy is OnDuplicate.CREATE:
        return None
    candidates = find_duplicates(
        session,
        entity_type,
        name=name,
        emails=[e for _, e in channels.emails],
        phones=[p for _, p in channels.phones],
        inn=inn,
    )
    if policy is OnDuplicate.MATCH:
        candidates = [c for c in candidates if c.reason != "name"]
    if not candidates:
        return None
    if policy in (OnDuplicate.ENRICH, OnDuplicate.MATCH):
        return candidates[0]
    listing = "; ".join(f"{c.id[:8]} {c.name} ({candidate_note(c)})" for c in candidates[:5])
    others = sorted({c.responsible for c in candidates[:5] if c.responsible and c.responsible_id != user_id})
    transfer = f" It is {', '.join(others)}'s: agree a transfer with them first." if others else ""
    raise DuplicateFound(
        f"A {entity_type} like this exists: {listing}.{transfer} Use --enrich to add to it or --force to create another.",
        candidates,
    )


def candidate_note(candidate: DuplicateCandidate) -> str:
    """``same email, responsible: Иван`` — why a record is a likely duplicate, and whose it is."""
    reason = {"email": "same email", "phone": "same phone", "inn": "same INN", "name": "same name"}.get(
        candidate.reason, f"same {candidate.reason}"
    )
    return f"{reason}, responsible: {candidate.responsible or 'nobody'}"


def list_parties(
    session: Session,
    entity_type: str,
    *,
    query_ids: list[str] | None = None,
    responsible_id: str | None = None,
    company_id: str | None = None,
    limit: int = 100,
    offset: int = 0,
) -> list[PartySummary]:
    """Contacts or companies sorted by folded name (Cyrillic-aware)."""
    model = Contact if entity_type == "contact" else Company
    stmt = select(model).where(col(model.deleted_at).is_(None))
    if query_ids is not None:
        stmt = stmt.where(col(model.id).in_(query_ids))
    if responsible_id:
        stmt = stmt.where(model.responsible_id == responsible_id)
    if company_id and model is Contact:
        stmt = stmt.where(Contact.company_id == company_id)
    rows = session.exec(stmt.order_by(model.name_fold, model.id).offset(offset).limit(limit)).all()
    ids = [r.id for r in rows]
    first: dict[tuple[str, str], str] = {}
    if ids:
        for channel in session.exec(
            select(Channel).where(Channel.entity_type == entity_type, col(Channel.entity_id).in_(ids)).order_by(Channel.sort)
        ):
            first.setdefault((channel.entity_id, channel.kind), channel.normalized)
    users = user_names(session)
    company_names: dict[str, str] = {}
    if model is Contact:
        company_ids = {r.company_id for r in rows if r.company_id}  # type: ignore[attr-defined]
        if company_ids:
            company_names = dict(session.exec(select(Company.id, Company.name).where(col(Company.id).in_(company_ids))).all())
    return [
        PartySummary(
            id=r.id,
            entity_type=entity_type,
            name=r.name,
            company=company_names.get(getattr(r, "company_id", None) or ""),
            phone=first.get((r.id, "phone")),
            email=first.get((r.id, "email")),
            responsible=users.get(r.responsible_id or ""),
            updated_at=r.updated_at,
        )
        for r in rows
    ]


def count_parties(session: Session, entity_type: str) -> int:
    model = Contact if entity_type == "contact" else Company
    return int(session.exec(select(func.count()).select_from(model).where(col(model.deleted_at).is_(None))).one())


def search_ids(session: Session, entity_type: str, query: str, limit: int = 200) -> list[str]:
    return [h.entity_id for h in search_index.search(session.connection(), query, (entity_type,), limit=limit)]
