"""One search box over deals, contacts and companies."""

from __future__ import annotations

from sqlmodel import select

from tui_crm.services.context import Crm
from tui_crm.services.parties import list_parties
from tui_crm.services.views import PartySummary, SearchResult
from tui_crm.storage import search_index
from tui_crm.storage.models import Company, Contact, Deal, Record

_MODELS: dict[str, type[Record]] = {"deal": Deal, "contact": Contact, "company": Company}


def search(crm: Crm, query: str, *, types: tuple[str, ...] | None = None, limit: int = 20) -> list[SearchResult]:
    """Ranked matches; every word is a prefix, case and ё/е do not matter."""
    with crm.read() as session:
        hits = search_index.search(session.connection(), query, types, limit=limit)
        names: dict[str, tuple[str, str]] = {}
        for entity_type, model in _MODELS.items():
            ids = [h.entity_id for h in hits if h.entity_type == entity_type]
            if not ids:
                continue
            for row in session.exec(select(model).where(model.id.in_(ids))):  # type: ignore[attr-defined]
                names[row.id] = (row.name, _detail(row))  # type: ignore[attr-defined]
    return [
        SearchResult(h.entity_type, h.entity_id, names[h.entity_id][0], names[h.entity_id][1])
        for h in hits
        if h.entity_id in names
    ]


def search_parties(crm: Crm, query: str, entity_type: str = "contact", *, limit: int = 20) -> list[PartySummary]:
    """Contacts (or companies) matching ``query``, best match first, with their
    first phone, e-mail and company: enough to tell two «Иван Петров» apart
    when picking one (to link to a deal, say).

    Name, phone (any way it is typed: ``storage.search_index.match_expression``)
    and e-mail all match, as in ``search``.
    """
    if not query.strip():
        return []
    with crm.read() as session:
        hits = search_index.search(session.connection(), query, (entity_type,), limit=limit)
        ids = [h.entity_id for h in hits]
        if not ids:
            return []
        rows = {r.id: r for r in list_parties(session, entity_type, query_ids=ids, limit=len(ids))}
    return [rows[i] for i in ids if i in rows]


def _detail(row: Record) -> str:
    if isinstance(row, Contact):
        return row.position or ""
    if isinstance(row, Company):
        return row.inn or row.industry or ""
    return ""
