"""``stage_event``: every time a deal entered a stage, for the reports.

The change log already holds each stage change (``{"stage_id": [old, new]}``
in its JSON), but reading the JSON of half a million rows costs seconds. A
trigger on ``change_log`` (migration 0016) copies each deal row that carries
``stage_id`` here as it is written, whoever writes it (services, sync,
import, the benchmark generator), so the funnel reads one narrow, indexed
table and never parses JSON. Rows are never edited: history is append-only.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index
from sqlmodel import Field

from tui_crm.storage.models import Row

# The trigger and the backfill of migration 0016 share these statements.
STAGE_EVENT_COLUMNS = "seq, deal_id, at, from_stage, to_stage, user_id"
STAGE_EVENT_VALUES = (
    "{row}.seq, {row}.entity_id, {row}.at, json_extract({row}.changes, '$.stage_id[0]'),"
    " json_extract({row}.changes, '$.stage_id[1]'), {row}.user_id"
)
STAGE_EVENT_WHEN = "{row}.entity = 'deal' AND json_extract({row}.changes, '$.stage_id[1]') IS NOT NULL"


class StageEvent(Row, table=True):
    """A deal entered ``to_stage`` (from ``from_stage``; None when it was created there)."""

    __tablename__ = "stage_event"
    __table_args__ = (
        # The funnel: entries of a pipeline's stages in a period, covering.
        Index("ix_stage_event_stage", "to_stage", "at", "deal_id", "from_stage"),
        # A deal's path, in order (time in stage, furthest stage reached).
        Index("ix_stage_event_deal", "deal_id", "seq", "to_stage", "at", "from_stage"),
    )

    seq: int = Field(primary_key=True)  # the change_log row it came from
    deal_id: str
    at: datetime
    from_stage: str | None = None
    to_stage: str
    user_id: str | None = None
