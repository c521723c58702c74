"""Finding the existing contact or company before a new one is made.

The manual's rule: check first, and enrich the existing record instead of
creating a second. Matches by normalised email, E.164 phone, INN and folded
name; the strongest reason is reported first.
"""

from __future__ import annotations

from sqlmodel import Session, col, select

from tui_crm.services.views import DuplicateCandidate
from tui_crm.storage.models import Channel, Company, Contact

_REASON_ORDER = {"inn": 0, "email": 1, "phone": 2, "name": 3}


def _by_channels(session: Session, entity_type: str, kind: str, values: list[str]) -> list[str]:
    if not values:
        return []
    return list(
        session.exec(
            select(Channel.entity_id).where(
                Channel.entity_type == entity_type, Channel.kind == kind, col(Channel.normalized).in_(values)
            )
        )
    )


def find_duplicates(
    session: Session,
    entity_type: str,
    *,
    name: str | None = None,
    emails: list[str] = (),  # type: ignore[assignment]
    phones: list[str] = (),  # type: ignore[assignment]
    inn: str | None = None,
    exclude_id: str | None = None,
) -> list[DuplicateCandidate]:
    """Live records that look like the one described, best reason first."""
    from tui_crm.domain.text import fold

    model = Contact if entity_type == "contact" else Company
    reasons: dict[str, str] = {}

    def note(ids: list[str], reason: str) -> None:
        for entity_id in ids:
            current = reasons.get(entity_id)
            if current is None or _REASON_ORDER[reason] < _REASON_ORDER[current]:
                reasons[entity_id] = reason

    note(_by_channels(session, entity_type, "email", list(emails)), "email")
    note(_by_channels(session, entity_type, "phone", list(phones)), "phone")
    if inn and model is Company:
        note(list(session.exec(select(Company.id).where(Company.inn == inn))), "inn")
    if name:
        note(list(session.exec(select(model.id).where(model.name_fold == fold(name)))), "name")
    candidates: list[DuplicateCandidate] = []
    for entity_id, reason in reasons.items():
        record = session.get(model, entity_id)
        if record is None or record.deleted_at is not None or entity_id == exclude_id:
            continue
        candidates.append(DuplicateCandidate(id=record.id, entity_type=entity_type, name=record.name, reason=reason))
    return sorted(candidates, key=lambda c: _REASON_ORDER[c.reason])
