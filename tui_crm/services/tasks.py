"""Tasks: add, complete, reschedule, the agenda, and automatic tasks.

"No overdue tasks" is the rule the agenda serves. Due times are stored as
UTC; an all-day task is stored at local midnight of its day and is
overdue only once that day has ended.

The agenda holds only real next steps, so:

- an automatic task (``Task.auto_rule`` = the key of the stage whose rule
  made it) is created only when a deal moves forward into the stage, and
  never while the same rule's task on that deal is still open;
- closing a deal completes its open automatic tasks with a result that
  says why, and completes the others only when asked (``close_deal_tasks``);
- automatic tasks are due on working days of the production calendar at
  the working hour of the pipelines file (``domain.when.auto_due``);
- the agenda counts every group in SQL and pages each group, so 1 368
  overdue tasks read "1368 overdue", not "500".
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import DateTime, TextClause, bindparam, literal_column, text
from sqlmodel import Session, col, select

from tui_crm.domain.errors import ValidationError
from tui_crm.domain.pipelines import AutoTaskRule
from tui_crm.domain.when import auto_due, check_not_past, parse_when
from tui_crm.services.calendar import work_calendar
from tui_crm.services.context import Crm
from tui_crm.services.parties import assignable_user, find_user
from tui_crm.services.records import resolve, user_names
from tui_crm.services.views import TaskView
from tui_crm.storage.models import Company, Contact, Deal, Record, Stage, Task, User
from tui_crm.storage.unit_of_work import UnitOfWork

TASK_TYPES = ("call", "meeting", "email", "follow-up", "other")
AGENDA_GROUPS = ("Overdue", "Today", "Tomorrow", "This week", "Later")
ENTITY_MODELS: dict[str, type[Record]] = {"deal": Deal, "contact": Contact, "company": Company}
# Tasks due at the same moment keep the order they were made in (a stable order for paging).
INSERTION_ORDER = literal_column("task.rowid")


def to_utc(moment: datetime) -> datetime:
    return moment.astimezone(UTC)


def as_utc(stored: datetime) -> datetime:
    """Stored times come back aware; raw SQL aggregates return them naive."""
    return stored.replace(tzinfo=UTC) if stored.tzinfo is None else stored


def to_local(crm: Crm, stored: datetime) -> datetime:
    return as_utc(stored).astimezone(crm.tz)


def check_task_type(raw: str) -> str:
    value = raw.strip().lower()
    aliases = {"звонок": "call", "встреча": "meeting", "письмо": "email", "followup": "follow-up", "другое": "other"}
    value = aliases.get(value, value)
    if value not in TASK_TYPES:
        raise ValidationError("type", f"{raw!r}: use one of {', '.join(TASK_TYPES)}")
    return value


def is_overdue(crm: Crm, task: Task, now: datetime | None = None) -> bool:
    now = now or crm.now()
    due = to_local(crm, task.due_at)
    if task.all_day:
        return due.date() < now.date()
    return due < now


def new_task(
    crm: Crm,
    work: UnitOfWork,
    *,
    text: str,
    due: datetime,
    all_day: bool,
    task_type: str = "follow-up",
    responsible_id: str | None,
    entity: Record | None,
    auto_rule: str | None = None,
) -> Task:
    """Create a task inside a caller's transaction.

    ``responsible_id`` here is implied (the deal's responsible for an
    automatic or mass task; explicit choices pass ``assignable_user`` first).
    A deactivated user cannot do the task and nobody would see it in their
    agenda, so it goes to the current user instead.
    """
    if not text.strip():
        raise ValidationError("task", "a task needs a text")
    if responsible_id and responsible_id != crm.user_id:
        holder = work.session.get(User, responsible_id)
        if holder is None or not holder.is_active or holder.deleted_at is not None:
            responsible_id = None
    task = Task(
        task_type=task_type,
        text=text.strip(),
        due_at=to_utc(due),
        all_day=all_day,
        responsible_id=responsible_id or crm.user_id,
        entity_type=str(entity.__tablename__) if entity is not None else None,
        entity_id=entity.id if entity is not None else None,
        auto_rule=auto_rule,
    )
    work.create(task)
    return task


def auto_task_due(crm: Crm, session: Session, rule: AutoTaskRule) -> datetime:
    """When ``rule``'s task created now is due: on a working day of the
    configured production calendar, at the configured working hour."""
    timing = crm.pipelines.auto_tasks
    now = crm.now()
    calendar = work_calendar(session, timing.country, now.date())
    amount, working = rule.due_offset()
    return auto_due(now, amount, working, calendar, timing.working_hour)


def open_auto_task(session: Session, deal_id: str, stage_key: str) -> Task | None:
    """The deal's open task made by ``stage_key``'s rule, if there is one."""
    return session.exec(
        select(Task).where(
            Task.entity_id == deal_id,
            Task.auto_rule == stage_key,
            col(Task.completed_at).is_(None),
            col(Task.deleted_at).is_(None),
        )
    ).first()


def create_auto_task(crm: Crm, work: UnitOfWork, deal: Deal, rule: AutoTaskRule, stage_key: str) -> Task | None:
    """The task a stage rule asks for on entry, for the deal's responsible;
    None when the same rule's task on this deal is still open (moving back
    and forward again must not stack a second «Связаться с лидом»)."""
    if open_auto_task(work.session, deal.id, stage_key) is not None:
        return None
    due = auto_task_due(crm, work.session, rule)
    return new_task(
        crm,
        work,
        text=rule.text,
        due=due,
        all_day=False,
        task_type=rule.task_type,
        responsible_id=deal.responsible_id,
        entity=deal,
        auto_rule=stage_key,
    )


def hand_over_open_tasks(work: UnitOfWork, record: Deal | Contact | Company, previous_id: str | None) -> int:
    """After a deal, contact or company changed hands, give its open tasks
    the previous responsible held to the new one; returns how many moved.

    Every path that changes a record's responsible calls this in its own
    transaction (amoCRM passes open deals and clients on "по наследству"
    with their tasks): otherwise the new manager never sees the next step
    and the old one keeps a task for a client that is no longer theirs.
    Completed and deleted tasks keep their user (history), and a task
    someone else holds stays with them. Clearing the responsible moves
    nothing: an unassigned task would vanish from every agenda.
    """
    new_id = record.responsible_id
    if new_id is None or previous_id is None or new_id == previous_id:
        return 0
    tasks = work.session.exec(
        select(Task).where(
            Task.entity_type == str(record.__tablename__),
            Task.entity_id == record.id,
            Task.responsible_id == previous_id,
            col(Task.completed_at).is_(None),
            col(Task.deleted_at).is_(None),
        )
    ).all()
    for task in tasks:
        work.update(task, responsible_id=new_id)
    return len(tasks)


@dataclass
class TaskInput:
    text: str
    due: str
    task_type: str = "follow-up"
    entity_type: str | None = None  # deal | contact | company
    entity_ref: str | None = None
    responsible: str | None = None


def add_task(crm: Crm, data: TaskInput) -> TaskView:
    due, all_day = parse_when(data.due, crm.now())
    task_type = check_task_type(data.task_type)
    with crm.uow() as work:
        entity = None
        if data.entity_ref:
            entity = resolve(work.session, ENTITY_MODELS[data.entity_type or "deal"], data.entity_ref)
        responsible_id = assignable_user(work.session, data.responsible).id if data.responsible else None
        if responsible_id is None and isinstance(entity, Deal | Contact | Company):
            responsible_id = entity.responsible_id
        task = new_task(
            crm,
            work,
            text=data.text,
            due=due,
            all_day=all_day,
            task_type=task_type,
            responsible_id=responsible_id,
            entity=entity,
        )
    return get_task(crm, task.id)


def complete_task(crm: Crm, ref: str, result: str | None = None) -> TaskView:
    """Close a task with its result note; completing twice is refused."""
    with crm.uow() as work:
        task = resolve(work.session, Task, ref)
        if task.completed_at is not None:
            raise ValidationError("task", "this task is already completed")
        work.update(task, completed_at=work.now, result=(result or "").strip() or None)
    return get_task(crm, task.id)


def reopen_task(crm: Crm, ref: str) -> TaskView:
    with crm.uow() as work:
        task = resolve(work.session, Task, ref)
        work.update(task, completed_at=None)
    return get_task(crm, task.id)


def reschedule_task(crm: Crm, ref: str, when: str, *, allow_past: bool = False) -> TaskView:
    """Move a task's due moment. A day offset without a time (``+3d``) keeps
    the task's time of day (or its all-day flag); a moment in the past is
    refused (``PastDue``, naming ``--past``) unless ``allow_past``."""
    now = crm.now()
    with crm.uow() as work:
        task = resolve(work.session, Task, ref)
        current = to_local(crm, task.due_at)
        due, all_day = parse_when(when, now, keep_time=current.time(), keep_all_day=task.all_day)
        if not allow_past:
            check_not_past(when, due, all_day, now)
        work.update(task, due_at=to_utc(due), all_day=all_day)
    return get_task(crm, task.id)


# -- closing a deal ------------------------------------------------------------------

CLOSING_RESULTS = {
    "won": "Сделка закрыта: успешно реализовано",
    "lost": "Сделка закрыта: закрыто и не реализовано",
}


@dataclass
class ClosedTasks:
    """What closing a deal did to its open tasks (texts, for the report)."""

    completed: list[str] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)


def open_tasks_of_deal(session: Session, deal_id: str) -> list[Task]:
    return list(
        session.exec(
            select(Task)
            .where(Task.entity_id == deal_id, col(Task.completed_at).is_(None), col(Task.deleted_at).is_(None))
            .order_by(Task.due_at, INSERTION_ORDER)
        )
    )


def close_deal_tasks(work: UnitOfWork, deal: Deal, kind: str, close_manual: bool | Collection[str] = False) -> ClosedTasks:
    """Complete the open tasks of a deal that is being closed (``kind`` won/lost).

    Automatic tasks always go, with a result that says why; the others
    (tasks a person set) go when ``close_manual`` is True or holds their
    ids, and stay open otherwise. Each completion is an ordinary logged
    task update, so it shows in the timeline and syncs.
    """
    result = CLOSING_RESULTS[kind]
    report = ClosedTasks()
    for task in open_tasks_of_deal(work.session, deal.id):
        chosen = close_manual if isinstance(close_manual, bool) else task.id in close_manual
        if task.auto_rule or chosen:
            work.update(task, completed_at=work.now, result=result)
            report.completed.append(task.text)
        else:
            report.kept.append(task.text)
    return report


def stage_entry_tasks(
    crm: Crm, work: UnitOfWork, deal: Deal, previous: Stage, stage: Stage, pipeline_key: str,
    close_manual: bool | Collection[str] = False,
) -> tuple[Task | None, ClosedTasks | None]:
    """The task side of a move that just happened: closing the deal
    completes its tasks (``close_deal_tasks``), and the stage's rule makes
    its task only on a forward move (a move back creates nothing)."""
    closed = close_deal_tasks(work, deal, stage.kind, close_manual) if stage.kind in CLOSING_RESULTS else None
    forward = stage.pipeline_id != previous.pipeline_id or stage.sort > previous.sort
    rule = crm.pipelines.pipeline(pipeline_key).stage(stage.key).auto_task
    task = create_auto_task(crm, work, deal, rule, stage.key) if rule and forward else None
    return task, closed


def manual_open_tasks(crm: Crm, deal_ref: str) -> list[TaskView]:
    """The open tasks a person set on a deal: what closing it asks about."""
    with crm.read() as session:
        deal = resolve(session, Deal, deal_ref)
        tasks = [t for t in open_tasks_of_deal(session, deal.id) if not t.auto_rule]
        return task_views(crm, session, tasks)


def _entity_names(session: Session, tasks: list[Task]) -> dict[str, str]:
    names: dict[str, str] = {}
    for entity_type, model in ENTITY_MODELS.items():
        ids = [t.entity_id for t in tasks if t.entity_type == entity_type and t.entity_id]
        if ids:
            names.update(dict(session.exec(select(model.id, model.name).where(col(model.id).in_(ids))).all()))  # type: ignore[attr-defined]
    return names


def _lateness(crm: Crm, task: Task, now: datetime) -> str | None:
    if task.completed_at is not None or not is_overdue(crm, task, now):
        return None
    due = to_local(crm, task.due_at)
    if task.all_day:
        days = (now.date() - due.date()).days
        return f"{days}d"
    delta = now - due
    if delta.days >= 1:
        return f"{delta.days}d"
    hours, rest = divmod(delta.seconds, 3600)
    return f"{hours}h" if hours else f"{max(rest // 60, 1)}m"


def task_views(crm: Crm, session: Session, tasks: list[Task]) -> list[TaskView]:
    users = user_names(session)
    names = _entity_names(session, tasks)
    now = crm.now()
    return [
        TaskView(
            id=t.id,
            task_type=t.task_type,
            text=t.text,
            due_at=to_local(crm, t.due_at),
            all_day=t.all_day,
            responsible=users.get(t.responsible_id or ""),
            entity_type=t.entity_type,
            entity_id=t.entity_id,
            entity_name=names.get(t.entity_id or ""),
            completed_at=t.completed_at,
            result=t.result,
            overdue_by=_lateness(crm, t, now),
        )
        for t in tasks
    ]


def get_task(crm: Crm, ref: str) -> TaskView:
    with crm.read() as session:
        return task_views(crm, session, [resolve(session, Task, ref)])[0]


def agenda_group(crm: Crm, task: TaskView, now: datetime | None = None) -> str:
    """Which agenda heading a task belongs under (the same bounds ``agenda`` counts with)."""
    now = now or crm.now()
    if task.overdue_by:
        return "Overdue"
    due = task.due_at
    bounds = _bounds(crm, now)
    for name, upper in zip(AGENDA_GROUPS[1:], bounds[1:], strict=False):
        if due.astimezone(UTC) < upper:
            return name
    return "Later"


@dataclass
class AgendaView:
    """The agenda: true counts of every group and the first tasks of each."""

    totals: dict[str, int]
    groups: dict[str, list[TaskView]]
    limit: int

    def shown(self, group: str) -> int:
        return len(self.groups.get(group, []))


def _day_start(crm: Crm, day: date) -> datetime:
    """Local midnight of ``day`` in UTC (all-day tasks are stored there)."""
    return datetime.combine(day, time(0, 0)).replace(tzinfo=crm.tz).astimezone(UTC)


def _bounds(crm: Crm, now: datetime) -> tuple[datetime, datetime, datetime, datetime]:
    """UTC bounds: start of today, of tomorrow, of the day after, of next week (or the day after, if later)."""
    today = now.date()
    next_monday = today + timedelta(days=7 - today.weekday())
    return (
        _day_start(crm, today),
        _day_start(crm, today + timedelta(days=1)),
        _day_start(crm, today + timedelta(days=2)),
        _day_start(crm, max(next_monday, today + timedelta(days=2))),
    )


# The agenda's SQL. It names its indexes (migration 0005): the partial indexes
# of open tasks make the counts an index-only walk over one user's open tasks,
# and the tiny partial indexes of deleted deals/contacts/companies make "its
# record is not deleted" a lookup in a near-empty index. SQLite's planner
# prefers the older ix_task_agenda on its own (measured: 0.8 s vs 40 ms on
# 100k deals), and SQLAlchemy cannot write INDEXED BY, hence the text.
_GROUP_SQL = {
    "Overdue": "(task.all_day = 1 AND task.due_at < :day0 OR task.all_day = 0 AND task.due_at < :now)",
    "Today": "NOT (task.all_day = 1 AND task.due_at < :day0 OR task.all_day = 0 AND task.due_at < :now) AND task.due_at < :day1",
    "Tomorrow": "task.due_at >= :day1 AND task.due_at < :day2",
    "This week": "task.due_at >= :day2 AND task.due_at < :week_end",
    "Later": "task.due_at >= :week_end",
}
_LIVE_RECORD = " ".join(
    f"AND NOT EXISTS (SELECT 1 FROM {table} INDEXED BY ix_{table}_deleted "
    f"WHERE {table}.id = task.entity_id AND {table}.deleted_at IS NOT NULL)"
    for table in ENTITY_MODELS
)
_BOUNDS = ("day0", "day1", "day2", "week_end")


def _open_tasks_sql(mine: bool) -> str:
    """FROM/WHERE of the open tasks of live records (``:user``'s when ``mine``)."""
    index = "ix_task_open_user" if mine else "ix_task_open_due"
    who = "AND task.responsible_id = :user" if mine else ""
    return f"FROM task INDEXED BY {index} WHERE task.completed_at IS NULL AND task.deleted_at IS NULL {who} {_LIVE_RECORD}"


def _agenda_params(crm: Crm, session: Session, now: datetime, responsible: str | None, everyone: bool) -> dict[str, object]:
    """Bound values: whose tasks (None for everyone's) and the group bounds."""
    user: str | None = None
    if responsible:
        user = find_user(session, responsible).id
    elif not everyone:
        user = crm.user_id
    params: dict[str, object] = {"user": user, "now": now.astimezone(UTC)}
    params.update(zip(_BOUNDS, _bounds(crm, now), strict=True))
    return params


def _bind(sql: str, params: dict[str, object]) -> TextClause:
    """``sql`` with its datetimes bound as the store writes them."""
    used = {k: v for k, v in params.items() if f":{k}" in sql}
    return text(sql).bindparams(*(bindparam(k, v, type_=DateTime if k != "user" else None) for k, v in used.items()))


def agenda_counts(crm: Crm, *, responsible: str | None = None, everyone: bool = False) -> dict[str, int]:
    """How many open tasks each agenda group holds, counted in SQL."""
    with crm.read() as session:
        return _counts(session, _agenda_params(crm, session, crm.now(), responsible, everyone))


def _counts(session: Session, params: dict[str, object]) -> dict[str, int]:
    sums = ", ".join(f"coalesce(sum(CASE WHEN {cond} THEN 1 ELSE 0 END), 0)" for cond in _GROUP_SQL.values())
    sql = f"SELECT {sums} {_open_tasks_sql(params['user'] is not None)}"
    row = session.connection().execute(_bind(sql, params)).one()
    return {name: int(value) for name, value in zip(_GROUP_SQL, row, strict=True)}


def agenda_page(
    crm: Crm,
    group: str,
    *,
    offset: int = 0,
    limit: int = 50,
    responsible: str | None = None,
    everyone: bool = False,
) -> list[TaskView]:
    """Tasks ``offset`` .. ``offset + limit`` of one agenda group, earliest first."""
    if group not in AGENDA_GROUPS:
        raise ValidationError("group", f"{group!r}: use one of {', '.join(AGENDA_GROUPS)}")
    with crm.read() as session:
        now = crm.now()
        return _page(crm, session, _agenda_params(crm, session, now, responsible, everyone), group, offset, limit)


def _page(crm: Crm, session: Session, params: dict[str, object], group: str, offset: int, limit: int) -> list[TaskView]:
    sql = (
        f"SELECT task.* {_open_tasks_sql(params['user'] is not None)} AND {_GROUP_SQL[group]} "
        f"ORDER BY task.due_at, task.rowid LIMIT {int(limit)} OFFSET {int(offset)}"
    )
    tasks = list(session.exec(select(Task).from_statement(_bind(sql, params))).scalars())  # type: ignore[call-overload]
    return task_views(crm, session, tasks)


def agenda(crm: Crm, *, responsible: str | None = None, everyone: bool = False, limit: int = 50) -> AgendaView:
    """Open tasks grouped Overdue / Today / Tomorrow / This week / Later:
    the true count of each group and its first ``limit`` tasks."""
    if limit < 0:
        raise ValidationError("limit", f"{limit}: give 0 or more tasks per group")
    with crm.read() as session:
        params = _agenda_params(crm, session, crm.now(), responsible, everyone)
        totals = _counts(session, params)
        groups = {
            name: _page(crm, session, params, name, 0, limit) if totals[name] and limit else [] for name in AGENDA_GROUPS
        }
    return AgendaView(totals=totals, groups=groups, limit=limit)


def tasks_of(crm: Crm, entity_id: str, include_done: bool = True) -> list[TaskView]:
    with crm.read() as session:
        stmt = select(Task).where(Task.entity_id == entity_id, col(Task.deleted_at).is_(None))
        if not include_done:
            stmt = stmt.where(col(Task.completed_at).is_(None))
        return task_views(crm, session, list(session.exec(stmt.order_by(Task.due_at))))
