"""Reports: the funnel, sources, losses and activity (issue 14).

Each report is a function ``crm, ReportFilter -> plain dataclass`` reading
with SQL aggregates (``stage_event`` for the stage history, migration 0016);
the CLI (``crm report``), the Reports screen and the HTML page only show
what these return, so their numbers cannot disagree.
"""

from tui_crm.services.reports import activity, funnel, losses, sources
from tui_crm.services.reports.activity import ActivityReport, activity_report
from tui_crm.services.reports.filters import ReportFilter
from tui_crm.services.reports.funnel import FunnelReport, funnel_report
from tui_crm.services.reports.losses import LossesReport, losses_report
from tui_crm.services.reports.shape import ReportTable
from tui_crm.services.reports.sources import SourcesReport, sources_report

REPORTS = {"funnel": funnel_report, "sources": sources_report, "losses": losses_report, "activity": activity_report}
_TABLES = {
    FunnelReport: funnel.tables,
    SourcesReport: sources.tables,
    LossesReport: losses.tables,
    ActivityReport: activity.tables,
}


def tables_of(report: object, lang: int) -> list[ReportTable]:
    """A report's tables and charts, labelled in ``lang`` (shape.RU or shape.EN)."""
    return _TABLES[type(report)](report, lang)  # type: ignore[operator]


__all__ = [
    "REPORTS",
    "ActivityReport",
    "FunnelReport",
    "LossesReport",
    "ReportFilter",
    "SourcesReport",
    "activity_report",
    "funnel_report",
    "losses_report",
    "sources_report",
    "tables_of",
]
