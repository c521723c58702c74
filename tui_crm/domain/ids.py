"""Identifiers and clocks shared by every layer.

Ids are random UUID4 hex strings made on the client, so a record created
offline keeps its identity through sync, and any 6-8 leading characters are
enough for a person to address it (time-ordered ids would share prefixes).
"""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime

_ID_PREFIX = re.compile(r"^[0-9a-f]{1,32}$")


def new_id() -> str:
    """A fresh client-side id (32 hex characters)."""
    return uuid.uuid4().hex


def utcnow() -> datetime:
    """Current time, aware, in UTC: the form the store keeps."""
    return datetime.now(UTC)


def short_id(record_id: str) -> str:
    """The prefix shown to people; long enough to be unique in practice."""
    return record_id[:8]


def could_be_id(ref: str) -> bool:
    """Whether ``ref`` can be the start of an id (1-32 hex digits).

    Checked before an id-prefix ``LIKE``: anything else matches nothing, and
    a long pattern makes SQLite fail ("LIKE or GLOB pattern too complex").
    """
    return bool(_ID_PREFIX.match(ref))
