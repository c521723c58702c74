"""Identifiers and clocks shared by every layer.

Ids are random UUID4 hex strings made on the client, so a record created
offline keeps its identity through sync, and any 6-8 leading characters are
enough for a person to address it (time-ordered ids would share prefixes).
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime


def new_id() -> str:
    """A fresh client-side id (32 hex characters)."""
    return uuid.uuid4().hex


def utcnow() -> datetime:
    """Current time, aware, in UTC: the form the store keeps."""
    return datetime.now(UTC)


def short_id(record_id: str) -> str:
    """The prefix shown to people; long enough to be unique in practice."""
    return record_id[:8]
