"""The funnel of one pipeline over a period.

Definitions (the CLI's help and the screen say the same):

- *entered*: deals that entered the stage during the period (a deal that
  entered twice counts once); a deal created in a stage entered it.
- *went on*: of those, deals that reached a later working stage or Won at any
  time (up to now); *conversion* = went on / entered.
- *won*: of those, deals that reached Won; *to Won* = won / entered.
- *median days*: the median time in the stage of the stays that began in
  the period and have ended (the deal moved on); stays still going are left
  out, and a stay whose end is logged before its start (a clock set back)
  counts as 0.
- *open*: the deals in the stage now and their RUB budget (a snapshot: the
  period does not apply); *weighted* = open value × the stage's probability
  from the pipelines file (``probability = 40``), summed as the forecast.

Counts come from ``stage_event`` (migration 0016), the budget from ``deal``.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import text

from tui_crm.services.context import Crm
from tui_crm.services.deal_values import from_minor
from tui_crm.services.reports.filters import ReportFilter, Scope, in_list, percent, resolve_scope, scope_label
from tui_crm.services.reports.shape import Cell, Chart, ReportTable, label

# Column titles: Russian for the screen and the page, English for the CLI.
COLUMNS = {
    "stage": ("Этап", "stage"),
    "entered": ("Вошло", "entered"),
    "went_on": ("Дальше", "went on"),
    "conversion": ("Конв., %", "conversion %"),
    "won": ("Won", "won"),
    "to_won": ("В Won, %", "to won %"),
    "median_days": ("Медиана, дн.", "median days"),
    "open_deals": ("Открыто", "open"),
    "open_value": ("Открыто, ₽", "open value RUB"),
    "probability": ("Вер., %", "probability %"),
    "weighted": ("Взвешено, ₽", "weighted RUB"),
}
TITLE = ("Воронка", "Funnel")


@dataclass
class FunnelStage:
    key: str
    name: str
    kind: str
    entered: int = 0
    went_on: int = 0
    conversion: float | None = None
    won: int = 0
    to_won: float | None = None
    median_days: float | None = None
    open_deals: int = 0
    open_value: Decimal = Decimal(0)
    probability: int | None = None
    weighted: Decimal = Decimal(0)


@dataclass
class FunnelReport:
    pipeline_key: str
    pipeline: str
    period_start: str
    period_end: str
    scope: str
    stages: list[FunnelStage] = field(default_factory=list)
    lost_entered: int = 0
    open_deals: int = 0
    open_value: Decimal = Decimal(0)
    weighted_forecast: Decimal = Decimal(0)


def _days(later: Any, earlier: Any) -> float:
    return (_moment(later) - _moment(earlier)).total_seconds() / 86400


def _moment(value: Any) -> datetime:
    return value if isinstance(value, datetime) else datetime.fromisoformat(str(value))


def funnel_report(crm: Crm, flt: ReportFilter | None = None) -> FunnelReport:
    flt = flt or ReportFilter()
    with crm.read() as session:
        scope = resolve_scope(crm, session, flt, one_pipeline=True)
        return _funnel(crm, session, scope)


def _funnel(crm: Crm, session: Any, scope: Scope) -> FunnelReport:
    pipeline = scope.pipelines[0]
    pdef = next((p for p in crm.pipelines.pipelines if p.key == pipeline.key), None)
    probability = {s.key: s.probability for s in pdef.stages} if pdef else {}
    working = [s for s in pipeline.stages if s.kind not in ("unsorted", "lost")]
    won_n = next((n for n, s in enumerate(working) if s.kind == "won"), len(working))
    deal_cond, params = scope.deal_sql()
    params.update(since=scope.since, until=scope.until, won_n=won_n)
    ord_values = ", ".join(f"(:st{n}, {n})" for n in range(len(working))) or "(NULL, NULL)"
    params.update({f"st{n}": s.id for n, s in enumerate(working)})
    # Deals a report may count: the filter, resolved once into a set.
    allowed = f"SELECT d.id FROM deal d WHERE {deal_cond}"
    # Each deal entering a stage in the period (the cohort, an index range per stage), with
    # how far it ever got (a lookup of that deal's own entries).
    cohort_sql = f"""
        WITH ord(stage_id, n) AS (VALUES {ord_values}),
        cohort AS (
            SELECT DISTINCT e.deal_id, o.n FROM ord o CROSS JOIN stage_event e ON e.to_stage = o.stage_id
            WHERE e.at >= :since AND e.at < :until AND e.deal_id IN ({allowed})
        )
        ,topped AS MATERIALIZED (
            SELECT c.n, (SELECT max(o.n) FROM stage_event x INDEXED BY ix_stage_event_deal
                         JOIN ord o ON o.stage_id = x.to_stage WHERE x.deal_id = c.deal_id) AS top
            FROM cohort c
        )
        SELECT n, count(*), sum(top > n), sum(top = :won_n) FROM topped GROUP BY n
    """
    counts = {n: (int(a), int(b or 0), int(c or 0)) for n, a, b, c in session.execute(text(cohort_sql), params)}
    # Stays that began in the period and ended: the next entry of the same deal ends them.
    stay_sql = f"""
        WITH ord(stage_id, n) AS (VALUES {ord_values})
        SELECT o.n, e.at, (SELECT nx.at FROM stage_event nx WHERE nx.deal_id = e.deal_id AND nx.seq > e.seq
                           ORDER BY nx.seq LIMIT 1)
        FROM stage_event e JOIN ord o ON o.stage_id = e.to_stage
        WHERE e.at >= :since AND e.at < :until AND e.deal_id IN ({allowed}) AND o.n != :won_n
    """
    stays: dict[int, list[float]] = {}
    for n, began, ended in session.execute(text(stay_sql), params):
        if ended is not None:  # max: a clock set back (an import, another device) never makes a stay negative
            stays.setdefault(int(n), []).append(max(0.0, _days(ended, began)))
    lost_list, lost_params = in_list("lost", scope.stage_ids("lost"))
    lost_sql = f"""
        SELECT count(DISTINCT e.deal_id) FROM stage_event e
        WHERE e.to_stage IN {lost_list} AND e.at >= :since AND e.at < :until AND e.deal_id IN ({allowed})
    """
    lost_entered = int(session.execute(text(lost_sql), {**params, **lost_params}).scalar_one())
    open_sql = f"SELECT d.stage_id, count(*), sum(d.budget_rub) FROM deal d WHERE {deal_cond} GROUP BY d.stage_id"
    open_rows = {sid: (int(c), from_minor(v) or Decimal(0)) for sid, c, v in session.execute(text(open_sql), params)}
    report = FunnelReport(
        pipeline_key=pipeline.key,
        pipeline=pipeline.name,
        period_start=scope.period.start.isoformat(),
        period_end=scope.period.end.isoformat(),
        scope=scope_label(scope),
        lost_entered=lost_entered,
    )
    for n, stage in enumerate(working):
        entered, went_on, won = counts.get(n, (0, 0, 0))
        row = FunnelStage(key=stage.key, name=stage.name, kind=stage.kind, entered=entered, won=won)
        if stage.kind != "won":
            row.went_on = went_on
            row.conversion = percent(went_on, entered)
            durations = stays.get(n)
            row.median_days = round(statistics.median(durations), 2) if durations else None
            row.open_deals, row.open_value = open_rows.get(stage.id, (0, Decimal(0)))
            row.probability = probability.get(stage.key)
            row.weighted = weighted(row.open_value, row.probability)
        row.to_won = percent(won, entered)
        report.stages.append(row)
        report.open_deals += row.open_deals
        report.open_value += row.open_value
        report.weighted_forecast += row.weighted
    return report


def weighted(value: Decimal, probability: int | None) -> Decimal:
    """``value`` × probability %, to the kopeck."""
    return (value * (probability or 0) / 100).quantize(Decimal("0.01"))


def tables(report: FunnelReport, lang: int) -> list[ReportTable]:
    keys = list(COLUMNS)
    rows: list[list[Cell]] = [[getattr(s, k) if k != "stage" else s.name for k in keys] for s in report.stages]
    total = ("Итого", "total")[lang]
    rows.append([total, None, None, None, None, None, None, report.open_deals, report.open_value, None, report.weighted_forecast])
    money = {keys.index("open_value"), keys.index("weighted")}
    chart = Chart("funnel", TITLE[lang], [s.name for s in report.stages], [float(s.entered) for s in report.stages])
    lost = (f"Проиграно за период: {report.lost_entered}", f"lost in the period: {report.lost_entered}")[lang]
    return [
        ReportTable(
            "funnel",
            f"{TITLE[lang]}: {report.scope} ({lost})",
            [label(COLUMNS[k], lang) for k in keys],
            rows,
            money,
            chart,
        )
    ]
