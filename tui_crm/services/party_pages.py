"""Paging the contact and company lists by keyset, so row 90 000 costs what row 0 does.

The lists sort by ``(name_fold, id)``. ``LIMIT ... OFFSET n`` makes SQLite
walk ``n`` index entries *and* look each one up in the table (for
``deleted_at`` and the ``id`` tie-breaker): about 0.2-0.5 s at row 90k of
100k. A keyset page instead seeks the name index to the last key seen
(``name_fold >= k AND (name_fold > k OR id > i)``) and reads one page, in
well under a millisecond wherever it is.

``party_page`` is that query, forwards (after a key) or backwards (before a
key, for the end of the list), plus a ``skip`` for when no key is known
near the wanted row. ``PartyPager`` turns the virtual table's
``page(offset, limit)`` calls into keyset queries: it remembers the keys at
the edges of every page it served and starts each request from the closest
known key, or from either end of the list, so scrolling and paging (up or
down) never skip a row, and a jump (End, dragging the scrollbar) skips at
most half the list once.

The order and the responsible filter are exactly ``parties.list_parties``'s
(which decorates the page: first phone and e-mail, company, responsible),
so the rows are the ones offset paging returned. Full-text searches do not
page here: the list loads their capped hits once (see ``screens/lists``).
"""

from __future__ import annotations

import bisect
import threading
from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, or_
from sqlmodel import col, select

from tui_crm.services.context import Crm
from tui_crm.services.counts import count_party_list
from tui_crm.services.parties import find_user, list_parties, search_ids
from tui_crm.services.views import PartySummary
from tui_crm.storage.models import Company, Contact

SortKey = tuple[str, str]  # (name_fold, id): the lists' order, unique per row
_MODELS: dict[str, type[Contact] | type[Company]] = {"contact": Contact, "company": Company}


@dataclass(frozen=True)
class PartyPage:
    """One page of a list and each row's sort key (the next page starts after the last)."""

    rows: list[PartySummary]
    keys: list[SortKey]


def party_page(
    crm: Crm,
    entity_type: str,
    *,
    responsible: str | None = None,
    after: SortKey | None = None,
    before: SortKey | None = None,
    backwards: bool = False,
    skip: int = 0,
    limit: int = 100,
) -> PartyPage:
    """Live contacts or companies in name order, by keyset.

    Forwards: the ``limit`` rows after ``after`` (``None``: the start),
    ``skip`` rows further on. ``backwards``: the ``limit`` rows that end
    ``skip`` rows before ``before`` (``None``: the end of the list). Rows
    come back in list order either way.
    """
    if entity_type not in _MODELS:
        raise ValueError(f"a party list holds contacts or companies, not {entity_type!r}")
    model = _MODELS[entity_type]
    if limit <= 0:
        return PartyPage([], [])
    name, ident = col(model.name_fold), col(model.id)
    with crm.read() as session:
        conds: list[Any] = [col(model.deleted_at).is_(None)]
        if responsible:
            conds.append(model.responsible_id == find_user(session, responsible).id)
        if backwards:
            if before is not None:
                # ``name <= k`` alone lets SQLite seek the name index; the OR settles ties by id
                conds.append(and_(name <= before[0], or_(name < before[0], ident < before[1])))
            order = (name.desc(), ident.desc())
        else:
            if after is not None:
                conds.append(and_(name >= after[0], or_(name > after[0], ident > after[1])))
            order = (name, ident)
        stmt = select(model.id, model.name_fold).where(*conds).order_by(*order).offset(skip).limit(limit)
        keys: list[SortKey] = [(str(n), str(i)) for i, n in session.exec(stmt)]
        if backwards:
            keys.reverse()
        if not keys:
            return PartyPage([], [])
        # the same read transaction: decorate exactly these rows, in the same order
        rows = list_parties(session, entity_type, query_ids=[k[1] for k in keys], limit=len(keys))
    by_id = {row.id: row for row in rows}
    kept = [key for key in keys if key[1] in by_id]
    return PartyPage([by_id[key[1]] for key in kept], kept)


def party_ids(
    crm: Crm,
    entity_type: str,
    *,
    query: str | None = None,
    responsible: str | None = None,
    search_cap: int = 2000,
    limit: int = 100_000,
) -> list[str]:
    """Ids of every live contact or company a list state shows (select-all, mass actions).

    The same rows as the list: the responsible filter, and with a full-text
    ``query`` the list's capped hits (``search_cap``, as ``list_contacts``
    fetches them), so "select all" never reaches a row the user cannot see.
    Name order, like the list.
    """
    if entity_type not in _MODELS:
        raise ValueError(f"a party list holds contacts or companies, not {entity_type!r}")
    model = _MODELS[entity_type]
    with crm.read() as session:
        conds: list[Any] = [col(model.deleted_at).is_(None)]
        if responsible:
            conds.append(model.responsible_id == find_user(session, responsible).id)
        if query and query.strip():
            hits = search_ids(session, entity_type, query, limit=search_cap)
            if not hits:
                return []
            conds.append(col(model.id).in_(hits))
        stmt = select(model.id).where(*conds).order_by(col(model.name_fold), col(model.id)).limit(limit)
        return [str(i) for i in session.exec(stmt)]


class PartyPager:
    """``count()`` and ``page(offset, limit)`` for a virtual table, over keyset pages.

    One pager serves one list state (kind and responsible filter); the list
    makes a new one on every reload, so positions learnt before a change
    are never reused after it. Called from worker threads.
    """

    def __init__(self, crm: Crm, entity_type: str, *, responsible: str | None = None) -> None:
        self.crm = crm
        self.entity_type = entity_type
        self.responsible = responsible
        self.total: int | None = None
        self._anchors: dict[int, SortKey] = {}  # row position -> its sort key
        self._positions: list[int] = []  # sorted keys of _anchors
        self._lock = threading.Lock()

    def count(self) -> int:
        total = count_party_list(self.crm, self.entity_type, responsible=self.responsible)
        self.total = total
        return total

    def plan(self, offset: int, limit: int) -> dict[str, Any]:
        """The cheapest ``party_page`` arguments for rows ``offset..offset+limit-1``.

        Cost is the number of rows the query must step over: from the nearest
        remembered key before or after the page, or from either end.
        """
        with self._lock:
            index = bisect.bisect_left(self._positions, offset)
            below = self._positions[index - 1] if index > 0 else None
            above_index = bisect.bisect_left(self._positions, offset + limit)
            above = self._positions[above_index] if above_index < len(self._positions) else None
            options: list[tuple[int, dict[str, Any]]] = [(offset, {"skip": offset, "limit": limit})]
            if below is not None:
                gap = offset - below - 1
                options.append((gap, {"after": self._anchors[below], "skip": gap, "limit": limit}))
            if above is not None:
                gap = above - offset - limit
                options.append((gap, {"before": self._anchors[above], "backwards": True, "skip": gap, "limit": limit}))
        if self.total is not None:
            end = offset + limit
            if end >= self.total:  # the last page: read it backwards from the end
                options.append((0, {"backwards": True, "skip": 0, "limit": max(self.total - offset, 0)}))
            else:
                options.append((self.total - end, {"backwards": True, "skip": self.total - end, "limit": limit}))
        return min(options, key=lambda option: option[0])[1]

    def page(self, offset: int, limit: int) -> list[PartySummary]:
        page = party_page(self.crm, self.entity_type, responsible=self.responsible, **self.plan(offset, limit))
        if page.keys:
            with self._lock:
                for position, key in ((offset, page.keys[0]), (offset + len(page.keys) - 1, page.keys[-1])):
                    if position not in self._anchors:
                        bisect.insort(self._positions, position)
                    self._anchors[position] = key
        return page.rows
