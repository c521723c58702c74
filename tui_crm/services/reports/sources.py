"""Where deals come from: leads, won deals and won value by source.

- *leads*: deals created in the period;
- *won*, *won value*: deals closed as Won in the period (their RUB budget),
  whenever they were created;

each by source channel, by site (RU/COM) and by territory (the deal's
«Территория» field). Deals without one count under «—». Unsorted requests
received in the period: accepted, declined (with each reason) and still new.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from sqlalchemy import text

from tui_crm.services.context import Crm
from tui_crm.services.deal_values import from_minor
from tui_crm.services.reports.filters import ReportFilter, Scope, in_list, resolve_scope, scope_label
from tui_crm.services.reports.shape import Cell, Chart, ReportTable, label

NONE = "—"
DIMENSIONS = {"channel": ("Канал", "channel"), "site": ("Сайт", "site"), "territory": ("Территория", "territory")}
COLUMNS = {
    "value": ("Источник", "source"),
    "leads": ("Лиды", "leads"),
    "won": ("Выиграно", "won"),
    "won_value": ("Сумма выигранных, ₽", "won value RUB"),
}
UNSORTED = {"accepted": ("Принято", "accepted"), "declined": ("Отклонено", "declined"), "new": ("Новые", "new")}
TITLE = ("Источники", "Sources")
UNSORTED_TITLE = ("Неразобранное", "Unsorted")


@dataclass
class SourceRow:
    value: str
    leads: int = 0
    won: int = 0
    won_value: Decimal = Decimal(0)


@dataclass
class UnsortedSummary:
    accepted: int = 0
    declined: int = 0
    new: int = 0
    decline_reasons: dict[str, int] = field(default_factory=dict)


@dataclass
class SourcesReport:
    period_start: str
    period_end: str
    scope: str
    channel: list[SourceRow] = field(default_factory=list)
    site: list[SourceRow] = field(default_factory=list)
    territory: list[SourceRow] = field(default_factory=list)
    unsorted: UnsortedSummary = field(default_factory=UnsortedSummary)


def sources_report(crm: Crm, flt: ReportFilter | None = None) -> SourcesReport:
    flt = flt or ReportFilter()
    with crm.read() as session:
        scope = resolve_scope(crm, session, flt)
        return _sources(session, scope)


def _sources(session: Any, scope: Scope) -> SourcesReport:
    deal_cond, params = scope.deal_sql()
    won_list, won_params = in_list("won", scope.stage_ids("won"))
    params.update(won_params, since=scope.since, until=scope.until)
    won_now = f"(d.stage_id IN {won_list} AND d.closed_at >= :since AND d.closed_at < :until)"
    sql = f"""
        SELECT d.source_channel, d.source_site, json_extract(cv.value_json, '$'),
               sum(d.created_at >= :since AND d.created_at < :until), sum({won_now}),
               sum(CASE WHEN {won_now} THEN d.budget_rub END)
        FROM deal d LEFT JOIN custom_value cv
            ON cv.entity_type = 'deal' AND cv.entity_id = d.id AND cv.field_key = 'territory'
        WHERE {deal_cond} AND ((d.created_at >= :since AND d.created_at < :until) OR {won_now})
        GROUP BY 1, 2, 3
    """
    tallies: dict[str, dict[str, SourceRow]] = {name: {} for name in DIMENSIONS}
    for channel, site, territory, leads, won, value in session.execute(text(sql), params):
        for name, key in (("channel", channel), ("site", site), ("territory", territory)):
            label = str(key).strip() if key not in (None, "") else NONE
            row = tallies[name].setdefault(label, SourceRow(label))
            row.leads += int(leads or 0)
            row.won += int(won or 0)
            row.won_value += from_minor(value) or Decimal(0)
    report = SourcesReport(scope.period.start.isoformat(), scope.period.end.isoformat(), scope_label(scope))
    for name, rows in tallies.items():
        setattr(report, name, sorted(rows.values(), key=lambda r: (-r.leads, -r.won, r.value)))
    pipe_list, pipe_params = in_list("pl", [p.id for p in scope.pipelines])
    unsorted_sql = f"""
        SELECT status, decline_reason, count(*) FROM unsorted_entry
        WHERE deleted_at IS NULL AND pipeline_id IN {pipe_list} AND received_at >= :since AND received_at < :until
        GROUP BY status, decline_reason
    """
    summary = report.unsorted
    for status, reason, n in session.execute(text(unsorted_sql), {**pipe_params, "since": scope.since, "until": scope.until}):
        if status == "declined":
            summary.declined += n
            why = (reason or "").strip() or NONE
            summary.decline_reasons[why] = summary.decline_reasons.get(why, 0) + n
        elif status == "accepted":
            summary.accepted += n
        else:
            summary.new += n
    summary.decline_reasons = dict(sorted(summary.decline_reasons.items(), key=lambda kv: (-kv[1], kv[0])))
    return report


def tables(report: SourcesReport, lang: int) -> list[ReportTable]:
    out: list[ReportTable] = []
    for name, dim in DIMENSIONS.items():
        rows: list[SourceRow] = getattr(report, name)
        columns = [dim[lang], *(label(COLUMNS[k], lang) for k in ("leads", "won", "won_value"))]
        chart = Chart("bar", f"{label(COLUMNS['leads'], lang)}: {dim[lang]}", [r.value for r in rows], [r.leads for r in rows])
        out.append(
            ReportTable(
                f"sources_{name}",
                f"{TITLE[lang]}: {dim[lang]} · {report.scope}",
                columns,
                [[r.value, r.leads, r.won, r.won_value] for r in rows],
                {3},
                chart,
            )
        )
    summary = report.unsorted
    rows_u: list[list[Cell]] = [[label(UNSORTED[k], lang), getattr(summary, k)] for k in UNSORTED]
    rows_u += [[f"  {reason}", n] for reason, n in summary.decline_reasons.items()]
    count = ("Заявок", "requests")[lang]
    statuses = [label(UNSORTED[k], lang) for k in UNSORTED]
    out.append(
        ReportTable(
            "sources_unsorted",
            UNSORTED_TITLE[lang],
            [UNSORTED_TITLE[lang], count],
            rows_u,
            chart=Chart("bar", UNSORTED_TITLE[lang], statuses, [getattr(summary, k) for k in UNSORTED]),
        )
    )
    return out
