"""Reports: the funnel, sources, losses and managers' activity, with charts.

The tables are the ones ``crm report`` prints (``services.reports``), in
Russian; each has its chart beside or under it (bars, the funnel narrowing
stage by stage, the overdue tasks of each day). ``1``-``4`` switch reports,
``t`` steps through periods, ``p`` through pipelines. Reports are computed
in a worker; the screen only shows what the service returned.
"""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Footer, Static, TabbedContent, TabPane

from tui_crm.services.reports import REPORTS, ReportFilter, tables_of
from tui_crm.services.reports.shape import RU, ReportTable
from tui_crm.widgets.app_contract import ReportsFailedWorkers
from tui_crm.widgets.plain_text import crm_of, error_message, plain
from tui_crm.widgets.report_chart import ChartView, table_of

# The screen's words in one place (moving to gettext with the Russian UI issue).
TEXT = {
    "title": "Отчёты",
    "tabs": {"funnel": "1 Воронка", "sources": "2 Источники", "losses": "3 Потери", "activity": "4 Активность"},
    "periods": {
        "this-month": "этот месяц",
        "last-month": "прошлый месяц",
        "this-quarter": "этот квартал",
        "last-quarter": "прошлый квартал",
        "this-year": "этот год",
        "all": "всё время",
    },
    "loading": "Считаю…",
    "hint": "t период · p воронка · 1-4 отчёт",
}
ORDER = tuple(TEXT["tabs"])
PERIODS = tuple(TEXT["periods"])
WIDE = 4  # columns: a table with more has its chart under it


class ReportsScreen(ReportsFailedWorkers, Screen[None]):
    """See the module docstring."""

    CSS_PATH = "reports.tcss"

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "back", "Back", id="reports.back"),
        Binding("1", "show('funnel')", "Funnel", show=False, id="reports.funnel"),
        Binding("2", "show('sources')", "Sources", show=False, id="reports.sources"),
        Binding("3", "show('losses')", "Losses", show=False, id="reports.losses"),
        Binding("4", "show('activity')", "Activity", show=False, id="reports.activity"),
        Binding("t", "next_period", "Period", id="reports.period"),
        Binding("p", "next_pipeline", "Pipeline", id="reports.pipeline"),
        Binding("ctrl+r", "reload", "Reload", show=False, id="reports.reload"),
    ]

    class Loaded(Message):
        def __init__(self, name: str, tables: list[ReportTable] | None, error: str | None = None) -> None:
            super().__init__()
            self.name = name
            self.tables = tables
            self.error = error

    def __init__(self, pipeline_key: str, period: str = "this-month") -> None:
        super().__init__()
        self.pipeline_key = pipeline_key
        self.period = period
        self.tables: dict[str, list[ReportTable]] = {}

    def compose(self) -> ComposeResult:
        with Vertical(id="reports-header"):
            yield Static("", id="reports-title")
            yield Static(TEXT["hint"], id="reports-hint")
        with TabbedContent(id="reports-tabs", initial="funnel"):
            for name in ORDER:
                with TabPane(TEXT["tabs"][name], id=name):
                    yield VerticalScroll(Static(TEXT["loading"], classes="reports-loading"), id=f"{name}-body")
        yield Footer()

    def on_mount(self) -> None:
        self._title()
        self.action_reload()

    @property
    def current(self) -> str:
        return self.query_one("#reports-tabs", TabbedContent).active or "funnel"

    def _title(self) -> None:
        crm = crm_of(self)
        pipeline = next((p.name for p in crm.pipelines.pipelines if p.key == self.pipeline_key), self.pipeline_key)
        title = Text(TEXT["title"], style="bold")
        title.append(" · ")
        title.append_text(plain(pipeline, one_line=True))
        title.append(f" · {TEXT['periods'].get(self.period, self.period)}")
        self.query_one("#reports-title", Static).update(title)

    def action_back(self) -> None:
        self.app.pop_screen()

    def action_show(self, name: str) -> None:
        self.query_one("#reports-tabs", TabbedContent).active = name

    @on(TabbedContent.TabActivated)
    def _tab_changed(self) -> None:
        if self.current not in self.tables:
            self._load(self.current, self.pipeline_key, self.period)

    def action_next_period(self) -> None:
        self.period = PERIODS[(PERIODS.index(self.period) + 1) % len(PERIODS)] if self.period in PERIODS else PERIODS[0]
        self.action_reload()

    def action_next_pipeline(self) -> None:
        keys = [p.key for p in crm_of(self).pipelines.pipelines]
        self.pipeline_key = keys[(keys.index(self.pipeline_key) + 1) % len(keys)] if self.pipeline_key in keys else keys[0]
        self.action_reload()

    def action_reload(self) -> None:
        self.tables.clear()
        self._title()
        self._load(self.current, self.pipeline_key, self.period)

    @work(thread=True, exclusive=True, group="reports-load", exit_on_error=False)
    def _load(self, name: str, pipeline_key: str, period: str) -> None:
        try:
            report = REPORTS[name](crm_of(self), ReportFilter(pipeline=pipeline_key, period=period))
            tables = tables_of(report, RU)
        except Exception as exc:  # shown in place of the report
            self.post_message(self.Loaded(name, None, error_message(exc)))
            return
        self.post_message(self.Loaded(name, tables))

    async def on_reports_screen_loaded(self, message: Loaded) -> None:
        body = self.query_one(f"#{message.name}-body", VerticalScroll)
        await body.remove_children()
        if message.tables is None:
            await body.mount(Static(plain(message.error), classes="reports-error"))
            return
        self.tables[message.name] = message.tables
        for part in message.tables:
            # A narrow table has its chart beside it; a wide one (the funnel) above it.
            row = Horizontal(classes="reports-row") if len(part.columns) <= WIDE else Vertical(classes="reports-row")
            await body.mount(row)
            await row.mount(Static(table_of(part), classes="reports-table", id=f"table-{part.key}"))
            if part.chart is not None:
                await row.mount(ChartView(part.chart, classes="reports-chart", id=f"chart-{part.key}"))
