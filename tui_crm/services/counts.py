"""How many contacts or companies a list shows, for the TUI's virtual tables.

A table over 100k contacts needs the row count (its scroll height) without
loading the rows; ``parties.count_parties`` counts every live record, and
this adds the responsible filter the lists offer.
"""

from __future__ import annotations

from sqlalchemy import func
from sqlmodel import col, select

from tui_crm.services.context import Crm
from tui_crm.services.parties import count_parties, find_user
from tui_crm.storage.models import Company, Contact


def count_party_list(crm: Crm, entity_type: str, *, responsible: str | None = None) -> int:
    """Live contacts (``entity_type="contact"``) or companies, optionally one user's."""
    with crm.read() as session:
        if not responsible:
            return count_parties(session, entity_type)
        model = Contact if entity_type == "contact" else Company
        user = find_user(session, responsible)
        stmt = select(func.count()).select_from(model).where(col(model.deleted_at).is_(None), model.responsible_id == user.id)
        return int(session.exec(stmt).one())
