"""Why deals are lost: by reason and by the stage they were lost from.

Deals closed as lost in the period (now in a lost stage, ``closed_at`` in
it), counted and summed (RUB budget) by loss reason («Другое: …» under
«Другое», as ``crm pipelines reasons`` counts them) and by the stage the
deal left for the lost stage (from ``stage_event``; «—» when it was created
lost).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from sqlalchemy import text

from tui_crm.services.context import Crm
from tui_crm.services.deal_values import from_minor
from tui_crm.services.reports.filters import ReportFilter, Scope, in_list, resolve_scope, scope_label
from tui_crm.services.reports.shape import Chart, ReportTable, label

NONE = "—"
COLUMNS = {
    "reason": ("Причина", "reason"),
    "stage": ("Этап, с которого потеряна", "lost from stage"),
    "deals": ("Сделок", "deals"),
    "value": ("Сумма, ₽", "value RUB"),
}
TITLE = ("Потери", "Losses")


@dataclass
class LossRow:
    label: str
    deals: int = 0
    value: Decimal = Decimal(0)


@dataclass
class LossesReport:
    period_start: str
    period_end: str
    scope: str
    deals: int = 0
    value: Decimal = Decimal(0)
    by_reason: list[LossRow] = field(default_factory=list)
    by_stage: list[LossRow] = field(default_factory=list)


def reason_key(reason: str | None, other: str | None) -> str:
    """The listed reason a stored one counts under."""
    text_ = (reason or "").strip() or NONE
    return other if other and text_.startswith(f"{other}:") else text_


def losses_report(crm: Crm, flt: ReportFilter | None = None) -> LossesReport:
    flt = flt or ReportFilter()
    with crm.read() as session:
        scope = resolve_scope(crm, session, flt)
        return _losses(crm, session, scope)


def _losses(crm: Crm, session: Any, scope: Scope) -> LossesReport:
    deal_cond, params = scope.deal_sql()
    lost_list, lost_params = in_list("lost", scope.stage_ids("lost"))
    params.update(lost_params, since=scope.since, until=scope.until)
    sql = f"""
        SELECT d.loss_reason,
               (SELECT e.from_stage FROM stage_event e WHERE e.deal_id = d.id AND e.to_stage = d.stage_id
                ORDER BY e.seq DESC LIMIT 1),
               count(*), sum(d.budget_rub)
        FROM deal d
        WHERE {deal_cond} AND d.stage_id IN {lost_list} AND d.closed_at >= :since AND d.closed_at < :until
        GROUP BY 1, 2
    """
    names = scope.stage_names()
    other = crm.pipelines.loss_other
    reasons: dict[str, LossRow] = {}
    stages: dict[str, LossRow] = {}
    report = LossesReport(scope.period.start.isoformat(), scope.period.end.isoformat(), scope_label(scope))
    for reason, from_stage, n, value in session.execute(text(sql), params):
        money = from_minor(value) or Decimal(0)
        stage = names.get(from_stage or "", NONE)
        for table, key in ((reasons, reason_key(reason, other)), (stages, stage)):
            row = table.setdefault(key, LossRow(key))
            row.deals += n
            row.value += money
        report.deals += n
        report.value += money
    report.by_reason = sorted(reasons.values(), key=lambda r: (-r.deals, -r.value, r.label))
    report.by_stage = sorted(stages.values(), key=lambda r: (-r.deals, -r.value, r.label))
    return report


def tables(report: LossesReport, lang: int) -> list[ReportTable]:
    out: list[ReportTable] = []
    for key, first, rows in (("losses_reason", "reason", report.by_reason), ("losses_stage", "stage", report.by_stage)):
        out.append(
            ReportTable(
                key,
                f"{TITLE[lang]}: {label(COLUMNS[first], lang)} · {report.scope}",
                [label(COLUMNS[k], lang) for k in (first, "deals", "value")],
                [[r.label, r.deals, r.value] for r in rows],
                {2},
                Chart("bar", label(COLUMNS[first], lang), [r.label for r in rows], [r.deals for r in rows]),
            )
        )
    return out
