"""Tasks: add, complete, reschedule, the agenda, and automatic tasks.

"No overdue tasks" is the rule the agenda serves. Due times are stored as
UTC; an all-day task is stored at local midnight of its day and is
overdue only once that day has ended.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import exists
from sqlmodel import Session, col, select

from tui_crm.domain.errors import ValidationError
from tui_crm.domain.pipelines import AutoTaskRule
from tui_crm.domain.when import add_working_days, parse_when
from tui_crm.services.context import Crm
from tui_crm.services.parties import assignable_user, find_user
from tui_crm.services.records import resolve, user_names
from tui_crm.services.views import TaskView
from tui_crm.storage.models import Company, Contact, Deal, Record, Task, User
from tui_crm.storage.unit_of_work import UnitOfWork

TASK_TYPES = ("call", "meeting", "email", "follow-up", "other")
AGENDA_GROUPS = ("Overdue", "Today", "Tomorrow", "This week", "Later")
ENTITY_MODELS: dict[str, type[Record]] = {"deal": Deal, "contact": Contact, "company": Company}


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


def create_auto_task(crm: Crm, work: UnitOfWork, deal: Deal, rule: AutoTaskRule, stage_key: str) -> Task:
    """The task a stage rule asks for on entry, for the deal's responsible."""
    amount, working = rule.due_offset()
    now = crm.now()
    due = add_working_days(now, amount) if working else now + timedelta(days=amount)
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
    _feed_changed(crm)
    return get_task(crm, task.id)


def complete_task(crm: Crm, ref: str, result: str | None = None) -> TaskView:
    """Close a task with its result note; completing twice is refused."""
    with crm.uow() as work:
        task = resolve(work.session, Task, ref)
        if task.completed_at is not None:
            raise ValidationError("task", "this task is already completed")
        work.update(task, completed_at=work.now, result=(result or "").strip() or None)
    _feed_changed(crm)
    return get_task(crm, task.id)


def reopen_task(crm: Crm, ref: str) -> TaskView:
    with crm.uow() as work:
        task = resolve(work.session, Task, ref)
        work.update(task, completed_at=None)
    _feed_changed(crm)
    return get_task(crm, task.id)


def reschedule_task(crm: Crm, ref: str, when: str) -> TaskView:
    due, all_day = parse_when(when, crm.now())
    with crm.uow() as work:
        task = resolve(work.session, Task, ref)
        work.update(task, due_at=to_utc(due), all_day=all_day)
    _feed_changed(crm)
    return get_task(crm, task.id)


def _feed_changed(crm: Crm) -> None:
    """Keep a subscribed iCalendar feed current (``crm export tasks --subscribe``)."""
    from tui_crm.services.calendar_feed import refresh_feed

    refresh_feed(crm)


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
    """Which agenda heading a task belongs under."""
    now = now or crm.now()
    if task.overdue_by:
        return "Overdue"
    day = task.due_at.date()
    today = now.date()
    if day <= today:
        return "Today"
    if day == today + timedelta(days=1):
        return "Tomorrow"
    end_of_week = today + timedelta(days=6 - today.weekday())
    return "This week" if day <= end_of_week else "Later"


def agenda(crm: Crm, *, responsible: str | None = None, everyone: bool = False, limit: int = 500) -> dict[str, list[TaskView]]:
    """Open tasks grouped Overdue / Today / Tomorrow / This week / Later."""
    with crm.read() as session:
        stmt = select(Task).where(col(Task.completed_at).is_(None), col(Task.deleted_at).is_(None))
        # a deleted deal/contact/company takes its tasks out of the agenda (restoring brings them back)
        for model in ENTITY_MODELS.values():
            stmt = stmt.where(~exists().where(col(model.id) == col(Task.entity_id), col(model.deleted_at).is_not(None)))
        if responsible:
            stmt = stmt.where(Task.responsible_id == find_user(session, responsible).id)
        elif not everyone:
            stmt = stmt.where(Task.responsible_id == crm.user_id)
        tasks = list(session.exec(stmt.order_by(Task.due_at).limit(limit)))
        views = task_views(crm, session, tasks)
    now = crm.now()
    groups: dict[str, list[TaskView]] = {name: [] for name in AGENDA_GROUPS}
    for view in views:
        groups[agenda_group(crm, view, now)].append(view)
    return groups


def tasks_of(crm: Crm, entity_id: str, include_done: bool = True) -> list[TaskView]:
    with crm.read() as session:
        stmt = select(Task).where(Task.entity_id == entity_id, col(Task.deleted_at).is_(None))
        if not include_done:
            stmt = stmt.where(col(Task.completed_at).is_(None))
        return task_views(crm, session, list(session.exec(stmt.order_by(Task.due_at))))
