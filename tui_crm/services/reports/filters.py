"""What a report is about: pipeline, period, responsible, tags.

``ReportFilter`` is what a user types (names, period words); ``Scope`` is it
resolved once to ids and SQL, so each report adds the same conditions on
deals (``d``) and never resolves a name twice.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlmodel import Session, col, select

from tui_crm.domain.errors import NotFoundError
from tui_crm.domain.text import fold
from tui_crm.services.context import Crm
from tui_crm.services.parties import find_user
from tui_crm.services.pipelines import find_pipeline, list_pipelines
from tui_crm.services.reports.period import Period, resolve_period
from tui_crm.services.views import PipelineView
from tui_crm.storage.models import Tag


@dataclass
class ReportFilter:
    pipeline: str | None = None  # name or key; None: every pipeline (the funnel takes the default one)
    period: str | None = None  # this-month, last-quarter… (default this-month)
    start: str | None = None  # --from
    end: str | None = None  # --to
    responsible: str | None = None
    tags: list[str] = field(default_factory=list)  # a deal must have every one


@dataclass
class Scope:
    """A filter resolved: ids, the period's UTC bounds and the deal conditions."""

    pipelines: list[PipelineView]
    period: Period
    since: str  # UTC text, inclusive
    until: str  # UTC text, exclusive
    user_id: str | None
    user_name: str | None
    tag_ids: list[str]
    tag_names: list[str]

    def deal_sql(self, alias: str = "d") -> tuple[str, dict[str, Any]]:
        """Conditions a deal row must meet (not deleted, pipeline, responsible, tags)."""
        conds = [f"{alias}.deleted_at IS NULL"]
        params: dict[str, Any] = {}
        ids = [p.id for p in self.pipelines]
        conds.append(f"{alias}.pipeline_id IN ({', '.join(f':pl{n}' for n in range(len(ids)))})")
        params.update({f"pl{n}": pid for n, pid in enumerate(ids)})
        if self.user_id:
            conds.append(f"{alias}.responsible_id = :user_id")
            params["user_id"] = self.user_id
        for n, tag_id in enumerate(self.tag_ids):
            conds.append(
                f"EXISTS (SELECT 1 FROM entity_tag t WHERE t.entity_type = 'deal' AND t.entity_id = {alias}.id"
                f" AND t.tag_id = :tag{n})"
            )
            params[f"tag{n}"] = tag_id
        return " AND ".join(conds), params

    def stage_ids(self, *kinds: str) -> list[str]:
        return [s.id for p in self.pipelines for s in p.stages if s.kind in kinds]

    def stage_names(self) -> dict[str, str]:
        return {s.id: s.name for p in self.pipelines for s in p.stages}


def in_list(name: str, values: list[str]) -> tuple[str, dict[str, Any]]:
    """``(:name0, :name1…)`` and its parameters (``('')`` when empty: matches nothing)."""
    if not values:
        return "('')", {}
    return "(" + ", ".join(f":{name}{n}" for n in range(len(values))) + ")", {f"{name}{n}": v for n, v in enumerate(values)}


def resolve_scope(crm: Crm, session: Session, flt: ReportFilter, one_pipeline: bool = False) -> Scope:
    """Names to ids (a clear error for an unknown pipeline, user or tag)."""
    if flt.pipeline or one_pipeline:
        pipelines = [find_pipeline(crm, flt.pipeline)]
    else:
        pipelines = list_pipelines(crm)
    period = resolve_period(crm.now().date(), flt.period, flt.start, flt.end)
    since, until = period.bounds(crm.tz)
    user = find_user(session, flt.responsible) if flt.responsible else None
    tag_ids: list[str] = []
    for name in flt.tags:
        tag_id = session.exec(select(Tag.id).where(col(Tag.name_fold) == fold(name))).first()
        if tag_id is None:
            raise NotFoundError(f"No tag {name!r}: see the tags on a deal with crm deals show, or drop --tag")
        tag_ids.append(tag_id)
    return Scope(
        pipelines=pipelines,
        period=period,
        since=since,
        until=until,
        user_id=user.id if user else None,
        user_name=user.name if user else None,
        tag_ids=tag_ids,
        tag_names=list(flt.tags),
    )


def scope_label(scope: Scope) -> str:
    """One line saying what a report covers (titles, the HTML page)."""
    parts = [", ".join(p.name for p in scope.pipelines), scope.period.label]
    if scope.user_name:
        parts.append(scope.user_name)
    if scope.tag_names:
        parts.append("#" + " #".join(scope.tag_names))
    return " · ".join(parts)


def percent(part: int, whole: int) -> float | None:
    """``part`` of ``whole`` in percent, one decimal; None when there is no whole."""
    return round(100 * part / whole, 1) if whole else None
