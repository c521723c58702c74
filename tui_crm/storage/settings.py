"""The ``setting`` key/value table: small state kept with the data.

One upsert for every service that remembers something there (the last
merge, the pipelines configuration in effect, sync state, the subscribed
calendar feed), so each need not fetch, create and fill the row itself.
"""

from __future__ import annotations

from sqlmodel import Session

from tui_crm.storage.models import Setting

# When the last sync finished (ISO time): the sync engine writes it, the status bar reads it.
LAST_SYNC_KEY = "sync.last_at"


def get_setting(session: Session, key: str) -> str | None:
    """The value kept under ``key``, or None when nothing is."""
    row = session.get(Setting, key)
    return None if row is None else row.value


def put_setting(session: Session, key: str, value: str | None) -> None:
    """Keep ``value`` under ``key`` in the current transaction; None forgets the key."""
    row = session.get(Setting, key)
    if value is None:
        if row is not None:
            session.delete(row)
        return
    row = row or Setting(key=key, value="")
    row.value = value
    session.add(row)
