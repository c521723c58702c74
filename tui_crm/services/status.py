"""What the status bar shows about the store: pending sync work, last sync.

The TUI's status bar polls these every few seconds from a worker thread, so
both are single indexed reads (``ix_change_pending`` covers the count).
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import func
from sqlmodel import col, select

from tui_crm.services.context import Crm
from tui_crm.storage.models import ChangeLog, Setting
from tui_crm.storage.settings import LAST_SYNC_KEY


def pending_changes(crm: Crm) -> int:
    """Change-log rows no sync has pushed yet (what ``crm sync`` would send)."""
    with crm.read() as session:
        return int(session.exec(select(func.count()).select_from(ChangeLog).where(col(ChangeLog.synced_at).is_(None))).one())


def last_sync(crm: Crm) -> datetime | None:
    """When a sync last finished (aware, local time), or None if never.

    Sync stores the moment as ISO text under the ``sync.last_at`` setting; a
    naive value is read as UTC, an unreadable one as "never".
    """
    with crm.read() as session:
        row = session.get(Setting, LAST_SYNC_KEY)
    if row is None or not row.value:
        return None
    try:
        moment = datetime.fromisoformat(row.value)
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(crm.tz)
