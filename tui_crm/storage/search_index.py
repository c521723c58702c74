"""Full-text search over FTS5.

Text is folded in Python (casefold, ё→е) before it is indexed and before it
is queried, because SQLite's own lower()/LIKE fold only ASCII. The FTS table
is keyed by the rowid of ``search_doc``, which maps to the record, so
re-indexing a record is two indexed statements.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from sqlalchemy import Connection, text

from tui_crm.domain.matching import phone_index_terms, phone_query_terms, without_legal_forms
from tui_crm.domain.text import fold

SHORT_QUERY = 2  # letters; see search()
_TOKEN = re.compile(r"\w+", re.UNICODE)


@dataclass(frozen=True)
class SearchHit:
    entity_type: str
    entity_id: str
    score: float


def phone_search_forms(e164: str) -> list[str]:
    """Digits of a phone as people type them: whole, national and the last
    seven (``domain.matching.phone_index_terms``)."""
    return phone_index_terms(e164)


def index_record(conn: Connection, entity_type: str, entity_id: str, title: str, body: list[str]) -> None:
    """(Re)index one record; ``body`` holds emails, phone forms, company, notes."""
    row = conn.execute(text("SELECT rowid FROM search_doc WHERE entity_id = :id"), {"id": entity_id}).first()
    if row is None:
        rowid = conn.execute(
            text("INSERT INTO search_doc(entity_type, entity_id) VALUES (:t, :id) RETURNING rowid"),
            {"t": entity_type, "id": entity_id},
        ).scalar_one()
    else:
        rowid = row[0]
        conn.execute(text("DELETE FROM search_fts WHERE rowid = :r"), {"r": rowid})
    conn.execute(
        text("INSERT INTO search_fts(rowid, title, body) VALUES (:r, :title, :body)"),
        {"r": rowid, "title": fold(title), "body": fold(" ".join(b for b in body if b))},
    )


def unindex_record(conn: Connection, entity_id: str) -> None:
    """Drop a record from search (tombstoned records are not found)."""
    row = conn.execute(text("SELECT rowid FROM search_doc WHERE entity_id = :id"), {"id": entity_id}).first()
    if row is not None:
        conn.execute(text("DELETE FROM search_fts WHERE rowid = :r"), {"r": row[0]})
        conn.execute(text("DELETE FROM search_doc WHERE rowid = :r"), {"r": row[0]})


def match_expression(query: str, title_only: bool = False) -> str | None:
    """An FTS5 query where every word is a prefix and all must match.

    A query that looks like a phone (digits and ``+ - ( )``, however
    grouped: ``8 916 555-12-34``, ``916 555``, ``555-12-34``) matches its
    digits joined, as prefixes of the forms a phone is indexed under
    (``domain.matching``), so a number is found however it was typed; a
    lone number (``2026``, an INN) is its own prefix as before.
    Legal-form words beside others are left out (``ООО Ромашка`` finds
    «Ромашка»).
    """
    tokens = without_legal_forms(_TOKEN.findall(fold(query)))
    if not tokens:
        return None
    expression = " AND ".join(f'"{token}"*' for token in tokens)
    phone = None if title_only else phone_query_terms(query)
    if phone:  # its digits joined are what it means: "+7 916 12" is not the words 7, 916 and 12
        expression = " OR ".join(f'"{term}"*' for term in phone)
    return f"title : ({expression})" if title_only else expression


def search(
    conn: Connection, query: str, entity_types: tuple[str, ...] | None = None, limit: int = 20, title_only: bool = False
) -> list[SearchHit]:
    """Best matches first (bm25, the name weighted above the rest).

    A query of one or two letters (someone starting to type a name) matches
    tens of thousands of rows, and bm25 would score every one before the
    LIMIT; such a query looks at names only, newest first, which FTS5 answers
    in rowid order without scoring.
    """
    short = len(_TOKEN.findall(fold(query))) == 1 and len(fold(query).strip()) <= SHORT_QUERY
    expression = match_expression(query, title_only or short)
    if expression is None:
        return []
    order = "search_fts.rowid DESC" if short else "search_fts.rank"
    params: dict[str, object] = {"q": expression, "limit": limit}
    type_filter = ""
    if entity_types:
        names = [f":t{i}" for i in range(len(entity_types))]
        type_filter = f" AND d.entity_type IN ({', '.join(names)})"
        params.update({f"t{i}": t for i, t in enumerate(entity_types)})
    rows = conn.execute(
        text(
            f"SELECT d.entity_type, d.entity_id, {'0.0' if short else 'search_fts.rank'} FROM search_fts"
            " JOIN search_doc d ON d.rowid = search_fts.rowid"
            f" WHERE search_fts MATCH :q{type_filter} ORDER BY {order} LIMIT :limit"
        ),
        params,
    ).all()
    return [SearchHit(r[0], r[1], float(r[2])) for r in rows]
