"""Finding the existing contact or company before a new one is made.

The manual's rule: check first, and enrich the existing record instead of
creating a second. The keys are ``domain.matching``'s, so the check agrees
with capture, search, merge and import:

- an e-mail by its folded form (the store keeps e-mails folded);
- a phone by its E.164 form, however it was typed;
- a company by a valid INN whatever its name, and by its name without
  legal form, quotes, case or ё/е («ООО «Ромашка»» is «Ромашка»);
- a contact by its folded name.

The strongest reason is reported first, with the record's responsible: the
manual says a record that is someone else's is taken over only after
agreeing it with them.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlmodel import Session, col, select

from tui_crm.domain.matching import company_name_key, email_key
from tui_crm.domain.text import fold
from tui_crm.services.views import DuplicateCandidate
from tui_crm.storage import search_index
from tui_crm.storage.models import Channel, Company, Contact, User

_REASON_ORDER = {"inn": 0, "email": 1, "phone": 2, "name": 3}
NAME_CANDIDATES = 200  # companies sharing a word with the name, checked for the same key


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


def companies_named(session: Session, name: str, *, exclude_id: str | None = None) -> list[str]:
    """Live companies whose name means the same as ``name`` once legal forms,
    quotes, case and ё/е are set aside (``company_name_key``).

    Found through the search index (the words of the key, names only), then
    compared by key in Python: no column to keep in step, and whatever wrote
    the company (a form, sync, import) it is found.
    """
    key = company_name_key(name)
    if not key:
        return []
    ids = [h.entity_id for h in search_index.search(session.connection(), key, ("company",), NAME_CANDIDATES, title_only=True)]
    ids += list(session.exec(select(Company.id).where(Company.name_fold == fold(name))))
    found: list[str] = []
    for company_id in dict.fromkeys(ids):
        company = session.get(Company, company_id)
        if company is None or company.deleted_at is not None or company_id == exclude_id:
            continue
        if company_name_key(company.name) == key:
            found.append(company_id)
    return found


def find_duplicates(
    session: Session,
    entity_type: str,
    *,
    name: str | None = None,
    emails: Sequence[str] = (),
    phones: Sequence[str] = (),
    inn: str | None = None,
    exclude_id: str | None = None,
) -> list[DuplicateCandidate]:
    """Live records that look like the one described, best reason first.

    ``phones`` are E.164; ``emails`` validated (they are folded here).
    """
    model = Contact if entity_type == "contact" else Company
    reasons: dict[str, str] = {}

    def note(ids: list[str], reason: str) -> None:
        for entity_id in ids:
            current = reasons.get(entity_id)
            if current is None or _REASON_ORDER[reason] < _REASON_ORDER[current]:
                reasons[entity_id] = reason

    note(_by_channels(session, entity_type, "email", list(dict.fromkeys(email_key(e) for e in emails))), "email")
    note(_by_channels(session, entity_type, "phone", list(phones)), "phone")
    if inn and model is Company:
        note(list(session.exec(select(Company.id).where(Company.inn == inn))), "inn")
    if name:
        if model is Company:
            note(companies_named(session, name), "name")
        else:
            note(list(session.exec(select(Contact.id).where(Contact.name_fold == fold(name)))), "name")
    users = {u.id: u.name for u in session.exec(select(User))} if reasons else {}
    candidates: list[DuplicateCandidate] = []
    for entity_id, reason in reasons.items():
        record = session.get(model, entity_id)
        if record is None or record.deleted_at is not None or entity_id == exclude_id:
            continue
        candidates.append(
            DuplicateCandidate(
                id=record.id,
                entity_type=entity_type,
                name=record.name,
                reason=reason,
                responsible=users.get(record.responsible_id or ""),
                responsible_id=record.responsible_id,
            )
        )
    return sorted(candidates, key=lambda c: _REASON_ORDER[c.reason])
