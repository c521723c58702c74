"""Deals' stage paths, read from ``stage_event`` (migration 0016)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import text
from sqlmodel import Session

from tui_crm.services.views import StageStep


def stage_paths(session: Session, deal_ids: Sequence[str]) -> dict[str, list[StageStep]]:
    """Every stage each deal entered, oldest first, as (pipeline key, stage key, when)."""
    if not deal_ids:
        return {}
    marks = ", ".join(f":d{n}" for n in range(len(deal_ids)))
    rows = session.execute(
        text(
            "SELECT e.deal_id, p.key, s.key, e.at FROM stage_event e JOIN stage s ON s.id = e.to_stage"
            f" JOIN pipeline p ON p.id = s.pipeline_id WHERE e.deal_id IN ({marks}) ORDER BY e.deal_id, e.seq"
        ),
        {f"d{n}": deal_id for n, deal_id in enumerate(deal_ids)},
    )
    paths: dict[str, list[StageStep]] = {}
    for deal_id, pipeline_key, stage_key, at in rows:
        paths.setdefault(deal_id, []).append(StageStep(pipeline_key, stage_key, _utc(at)))
    return paths


def _utc(value: Any) -> datetime:
    moment = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
