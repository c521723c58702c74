"""What every record service shares: addressing records by id prefix or
name, labels and plurals, and (from ``storage.record_edits``, where the sync
engine uses them too) tags, custom values, contact channels and keeping the
search index current."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import TypeVar

from sqlalchemy import func
from sqlmodel import Session, col, select

from tui_crm.domain.errors import AmbiguousError, NotFoundError
from tui_crm.domain.ids import short_id
from tui_crm.domain.text import fold, preview
from tui_crm.storage import record_edits as _edits
from tui_crm.storage import search_index
from tui_crm.storage.models import Record, User

# The record edits live in storage.record_edits (the sync engine uses them too); callers import them from here.
add_channel, change_tags, channels_of = _edits.add_channel, _edits.change_tags, _edits.channels_of
custom_values, reindex, reindex_linked = _edits.custom_values, _edits.reindex, _edits.reindex_linked
remove_channel, set_custom_value, tags_of = _edits.remove_channel, _edits.set_custom_value, _edits.tags_of

R = TypeVar("R", bound=Record)
_HEX = re.compile(r"^[0-9a-f]{4,32}$")
ENTITY_LABEL = {"deal": "deal", "contact": "contact", "company": "company", "task": "task", "note": "note", "user": "user"}


PLURAL = {"company": "companies", "sync_conflict": "sync conflicts"}


def plural(entity: str, count: int | None = None) -> str:
    """``deals``, ``companies``; with ``count``: ``1 deal``, ``2 companies``."""
    many = PLURAL.get(entity, f"{entity}s")
    if count is None:
        return many
    return f"{count} {entity if count == 1 else many}"


SHOWN_CANDIDATES = 6


def _ambiguous(entity: str, total: int, what: str, rows: Sequence[Record]) -> AmbiguousError:
    """Several records match: the true count, the first few to choose from."""
    lines = [f"{short_id(r.id)}  {getattr(r, 'name', getattr(r, 'text', ''))}" for r in rows[:SHOWN_CANDIDATES]]
    if total > len(lines):
        lines.append(f"… and {total - len(lines)} more")
    return AmbiguousError(f"{plural(entity, total)} {what}", lines)


def resolve(session: Session, model: type[R], ref: str, *, include_deleted: bool = False) -> R:
    """A record by id prefix (4+ hex chars) or by name; errors list the choices."""
    entity = str(model.__tablename__)
    live = [] if include_deleted else [col(model.deleted_at).is_(None)]
    ref = ref.strip()
    shown = preview(ref)
    if _HEX.match(ref.lower()):
        by_id = (col(model.id).startswith(ref.lower()), *live)
        rows = session.exec(select(model).where(*by_id).limit(SHOWN_CANDIDATES)).all()
        if len(rows) == 1:
            return rows[0]
        if len(rows) > 1:
            total = session.exec(select(func.count()).select_from(model).where(*by_id)).one()
            raise _ambiguous(entity, total, f"start with «{shown}»; type more of the id", rows)
    if hasattr(model, "name_fold"):
        by_name = (model.name_fold == fold(ref), *live)  # type: ignore[attr-defined]
        rows = session.exec(select(model).where(*by_name).limit(SHOWN_CANDIDATES)).all()
        total = len(rows)
        if len(rows) == SHOWN_CANDIDATES:
            total = session.exec(select(func.count()).select_from(model).where(*by_name)).one()
        if len(rows) == 1:
            return rows[0]
        if not rows:
            hits = search_index.search(session.connection(), ref, (entity,), limit=1000, title_only=True)
            found = (session.get(model, h.entity_id) for h in hits)
            rows = [r for r in found if r is not None and (include_deleted or r.deleted_at is None)]
            total = len(rows)
            if len(rows) == 1:
                return rows[0]
        if len(rows) > 1:
            raise _ambiguous(entity, total, f"match «{shown}»; use the id", rows)
    raise NotFoundError(f"No {entity} «{shown}». Try `crm search {shown}` or `crm {plural(entity)} list`.")


def user_names(session: Session) -> dict[str, str]:
    return {u.id: u.name for u in session.exec(select(User))}
