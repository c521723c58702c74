"""Matching: e-mails folded, phones searchable by their last seven digits

Revision ID: 0007_matching
Revises: 0006_closing_rate
Create Date: 2026-12-04 15:20:00

Issue 8, "one person, one record":

- an e-mail is stored (``channel.normalized``) by its matching key
  (``domain.matching.email_key``: case folded), so ``Olga@Elka.ru`` and
  ``olga@elka.ru`` are one address for the duplicate check, capture and
  search. Folding is Python's ``casefold`` (SQLite's ``lower()`` folds
  ASCII only), done row by row here; a record left with the same address
  twice keeps one;
- a phone is indexed under its last seven digits too
  (``domain.matching.phone_index_terms``), so ``555-12-34`` finds it: the
  search entries of contacts and companies with phones, and of the deals
  those contacts are on, get the new terms.

The migration is frozen: it carries its own copy of the two rules.
"""

from __future__ import annotations

import unicodedata
from collections import defaultdict

import sqlalchemy as sa
from alembic import op

revision = "0007_matching"
down_revision = "0006_closing_rate"
branch_labels = None
depends_on = None


def _email_key(email: str) -> str:
    return unicodedata.normalize("NFC", email.strip()).casefold()


def _tail(e164: str) -> str | None:
    digits = "".join(ch for ch in e164 if "0" <= ch <= "9")
    return digits[-7:] if len(digits) > 7 else None


def _fold_emails(conn: sa.Connection) -> None:
    rows = conn.execute(
        sa.text("SELECT id, entity_type, entity_id, normalized FROM channel WHERE kind = 'email' ORDER BY entity_id, sort, id")
    ).all()
    seen: set[tuple[str, str, str]] = set()
    for channel_id, entity_type, entity_id, normalized in rows:
        key = _email_key(normalized)
        if (entity_type, entity_id, key) in seen:
            conn.execute(sa.text("DELETE FROM channel WHERE id = :id"), {"id": channel_id})
            continue
        seen.add((entity_type, entity_id, key))
        if key != normalized:
            conn.execute(sa.text("UPDATE channel SET normalized = :n WHERE id = :id"), {"n": key, "id": channel_id})


def _index_phone_tails(conn: sa.Connection) -> None:
    tails: dict[str, set[str]] = defaultdict(set)  # entity id -> tails to add to its search entry
    phones = conn.execute(sa.text("SELECT entity_type, entity_id, normalized FROM channel WHERE kind = 'phone'")).all()
    by_contact: dict[str, set[str]] = defaultdict(set)
    for entity_type, entity_id, normalized in phones:
        tail = _tail(normalized)
        if tail is None:
            continue
        tails[entity_id].add(tail)
        if entity_type == "contact":
            by_contact[entity_id].add(tail)
    if by_contact:
        for deal_id, contact_id in conn.execute(sa.text("SELECT deal_id, contact_id FROM deal_contact")).all():
            if contact_id in by_contact:
                tails[deal_id] |= by_contact[contact_id]
    for entity_id, terms in tails.items():
        row = conn.execute(
            sa.text(
                "SELECT f.rowid, f.body FROM search_doc d JOIN search_fts f ON f.rowid = d.rowid WHERE d.entity_id = :id"
            ),
            {"id": entity_id},
        ).first()
        if row is None:
            continue
        have = set((row[1] or "").split())
        missing = sorted(terms - have)
        if missing:
            conn.execute(
                sa.text("UPDATE search_fts SET body = :body WHERE rowid = :r"),
                {"body": " ".join([row[1] or "", *missing]).strip(), "r": row[0]},
            )


def upgrade() -> None:
    conn = op.get_bind()
    _fold_emails(conn)
    _index_phone_tails(conn)


def downgrade() -> None:
    """Nothing to undo: folded e-mails and extra search terms are valid for the old code too."""
