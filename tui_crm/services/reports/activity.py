"""What each manager did: calls, tasks, overdue tasks, deals left without a task.

Per user (active users, or the one ``--responsible`` names):

- *calls*: call notes the user logged in the period;
- *tasks done*: tasks of the user completed in the period;
- *overdue now*: the user's open tasks past due now (an all-day task once
  its day has ended), on records that are not deleted — the agenda's rule;
- *without task*: the user's open deals (not won or lost) with no open task
  («никакой просрочки» and every deal has its next step);
- *touched*: deals the user changed in the period (any change-log entry).

Pipeline and tag filters apply to the deal columns (without task, touched).
``overdue_by_day``: all selected users' tasks overdue at the end of each day
of the period up to today (at most the last 366 days of it).
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import text

from tui_crm.services.context import Crm
from tui_crm.services.reports.filters import ReportFilter, Scope, in_list, resolve_scope, scope_label
from tui_crm.services.reports.period import local_midnight, sql_time
from tui_crm.services.reports.shape import Chart, ReportTable, label

COLUMNS = {
    "user": ("Менеджер", "manager"),
    "calls": ("Звонки", "calls"),
    "tasks_done": ("Задач выполнено", "tasks done"),
    "overdue_now": ("Просрочено сейчас", "overdue now"),
    "without_task": ("Сделки без задачи", "deals without task"),
    "touched": ("Сделок в работе", "deals touched"),
}
DAY_COLUMNS = {"day": ("День", "day"), "overdue": ("Просрочено на конец дня", "overdue at day end")}
TITLE = ("Активность", "Activity")
MAX_DAYS = 366
# Tasks on a deleted record are not shown anywhere, so they are not counted.
LIVE_ENTITY = (
    "t.entity_id IS NULL OR t.entity_id NOT IN (SELECT id FROM deal WHERE deleted_at IS NOT NULL"
    " UNION ALL SELECT id FROM contact WHERE deleted_at IS NOT NULL"
    " UNION ALL SELECT id FROM company WHERE deleted_at IS NOT NULL)"
)


@dataclass
class UserActivity:
    user_id: str
    user: str
    calls: int = 0
    tasks_done: int = 0
    overdue_now: int = 0
    without_task: int = 0
    touched: int = 0


@dataclass
class DayOverdue:
    day: str
    overdue: int


@dataclass
class ActivityReport:
    period_start: str
    period_end: str
    scope: str
    users: list[UserActivity] = field(default_factory=list)
    overdue_by_day: list[DayOverdue] = field(default_factory=list)


def activity_report(crm: Crm, flt: ReportFilter | None = None) -> ActivityReport:
    flt = flt or ReportFilter()
    with crm.read() as session:
        scope = resolve_scope(crm, session, flt)
        return _activity(crm, session, scope)


def _moment(value: Any) -> datetime:
    moment = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _activity(crm: Crm, session: Any, scope: Scope) -> ActivityReport:
    if scope.user_id:
        people = [(scope.user_id, scope.user_name or "")]
    else:
        people = list(session.execute(text("SELECT id, name FROM user WHERE deleted_at IS NULL AND is_active ORDER BY name")))
    users = {uid: UserActivity(uid, name) for uid, name in people}
    ids, id_params = in_list("u", list(users))
    window = {"since": scope.since, "until": scope.until, **id_params}

    def per_user(sql: str, params: dict[str, Any], attr: str) -> None:
        for uid, n in session.execute(text(sql), params):
            if uid in users:
                setattr(users[uid], attr, int(n))

    per_user(
        f"SELECT author_id, count(*) FROM note WHERE kind = 'call' AND deleted_at IS NULL AND author_id IN {ids}"
        " AND created_at >= :since AND created_at < :until GROUP BY author_id",
        window,
        "calls",
    )
    per_user(
        f"SELECT responsible_id, count(*) FROM task WHERE completed_at IS NOT NULL AND deleted_at IS NULL"
        f" AND completed_at >= :since AND completed_at < :until AND responsible_id IN {ids} GROUP BY responsible_id",
        window,
        "tasks_done",
    )
    now = crm.now()
    today_start = sql_time(local_midnight(now.date(), crm.tz))
    per_user(
        f"SELECT t.responsible_id, count(*) FROM task t WHERE t.completed_at IS NULL AND t.deleted_at IS NULL"
        f" AND t.responsible_id IN {ids} AND ((NOT t.all_day AND t.due_at < :now) OR (t.all_day AND t.due_at < :today))"
        f" AND ({LIVE_ENTITY}) GROUP BY t.responsible_id",
        {**id_params, "now": sql_time(now), "today": today_start},
        "overdue_now",
    )
    deal_cond, deal_params = scope.deal_sql()
    closed, closed_params = in_list("closed", scope.stage_ids("won", "lost"))
    per_user(
        f"SELECT d.responsible_id, count(*) FROM deal d WHERE {deal_cond} AND d.responsible_id IN {ids}"
        f" AND d.stage_id NOT IN {closed} AND NOT EXISTS (SELECT 1 FROM task t WHERE t.entity_id = d.id"
        " AND t.completed_at IS NULL AND t.deleted_at IS NULL) GROUP BY d.responsible_id",
        {**deal_params, **id_params, **closed_params},
        "without_task",
    )
    per_user(
        f"SELECT c.user_id, count(DISTINCT c.entity_id) FROM change_log c WHERE c.entity = 'deal' AND c.user_id IN {ids}"
        f" AND c.at >= :since AND c.at < :until AND c.entity_id IN (SELECT d.id FROM deal d WHERE {deal_cond})"
        " GROUP BY c.user_id",
        {**window, **deal_params},
        "touched",
    )
    report = ActivityReport(scope.period.start.isoformat(), scope.period.end.isoformat(), scope_label(scope))
    report.users = sorted(users.values(), key=lambda u: u.user)
    report.overdue_by_day = _overdue_by_day(crm, session, scope, ids, id_params, now.date())
    return report


def _overdue_by_day(
    crm: Crm, session: Any, scope: Scope, ids: str, id_params: dict[str, Any], today: date
) -> list[DayOverdue]:
    """Tasks overdue at the end of each day: a sweep over when each became overdue and was done."""
    last = min(scope.period.end, today)
    first = max(scope.period.start, last - timedelta(days=MAX_DAYS - 1))
    if last < first:
        return []
    now = crm.now()
    # Today's figure is "overdue now": its day has not ended yet.
    ends = [min(local_midnight(first + timedelta(days=n + 1), crm.tz), now) for n in range((last - first).days + 1)]
    rows = session.execute(
        text(
            f"SELECT t.due_at, t.all_day, t.completed_at FROM task t WHERE t.deleted_at IS NULL AND t.responsible_id IN {ids}"
            " AND t.due_at < :last_end AND (t.completed_at IS NULL OR t.completed_at >= :first_start)"
            f" AND ({LIVE_ENTITY})"
        ),
        {**id_params, "last_end": sql_time(ends[-1]), "first_start": sql_time(local_midnight(first, crm.tz))},
    )
    # Compared as SQLite's fixed-width UTC text (it sorts as time): no datetime per timed task.
    starts: list[str] = []
    dones: list[str] = []
    for due_at, all_day, completed_at in rows:
        due = str(due_at)
        if all_day:  # stored at its local midnight: overdue once its day has ended
            start = sql_time(local_midnight(_moment(due_at).astimezone(crm.tz).date() + timedelta(days=1), crm.tz))
        else:
            start = due if "." in due else due + ".000000"
        done = None if completed_at is None else str(completed_at)
        if done is not None and done <= start:
            continue  # done in time: never overdue
        starts.append(start)
        if done is not None:
            dones.append(done)
    starts.sort()
    dones.sort()
    # Overdue at the end E of a day: became overdue before E, not done by E.
    marks = [sql_time(end) for end in ends]
    return [
        DayOverdue((first + timedelta(days=n)).isoformat(), bisect_left(starts, mark) - bisect_right(dones, mark))
        for n, mark in enumerate(marks)
    ]


def tables(report: ActivityReport, lang: int) -> list[ReportTable]:
    keys = list(COLUMNS)
    overdue, by_day = label(COLUMNS["overdue_now"], lang), label(DAY_COLUMNS["overdue"], lang)
    users = ReportTable(
        "activity_users",
        f"{TITLE[lang]}: {report.scope}",
        [label(COLUMNS[k], lang) for k in keys],
        [[getattr(u, k) for k in keys] for u in report.users],
        chart=Chart("bar", overdue, [u.user for u in report.users], [u.overdue_now for u in report.users]),
    )
    days = ReportTable(
        "activity_days",
        by_day,
        [label(DAY_COLUMNS[k], lang) for k in DAY_COLUMNS],
        [[d.day, d.overdue] for d in report.overdue_by_day],
        chart=Chart("line", by_day, [d.day for d in report.overdue_by_day], [d.overdue for d in report.overdue_by_day]),
    )
    return [users, days]
