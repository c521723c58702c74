"""Tasks as iCalendar, for a calendar app: an export, and a feed file that
is rewritten after every task change so a calendar can subscribe to it.

Each open task is a VTODO (due date, summary, linked record) and, when it
has a time, also a VEVENT of 30 minutes so calendars that ignore to-dos
show it. UIDs are the task's id (``<id>@tui-crm`` / ``<id>-event@tui-crm``):
re-exporting updates the same entries instead of adding copies. Built with
the ``icalendar`` library; the feed is written to a temporary file and
renamed, so a calendar never reads half a file.

The feed's path is a setting in the store (``ical_feed_path``);
``refresh_feed`` rewrites it when one is set and does nothing otherwise.
It is called from one place: after any write transaction that changed a
task commits (``Crm.uow`` hooks it on the ``task`` table), so a task made
by a stage rule, a loss follow-up, a mass action or an import updates the
feed as one added by hand does, and a rolled-back change never does.
"""

from __future__ import annotations

import os
from datetime import UTC, timedelta
from pathlib import Path

from sqlmodel import col, select

from tui_crm.services.context import Crm
from tui_crm.services.tasks import task_views
from tui_crm.services.views import TaskView
from tui_crm.storage.models import Setting, Task
from tui_crm.storage.settings import put_setting

FEED_SETTING = "ical_feed_path"
EVENT_LENGTH = timedelta(minutes=30)


def _open_tasks(crm: Crm, everyone: bool = True) -> list[TaskView]:
    with crm.read() as session:
        stmt = select(Task).where(col(Task.deleted_at).is_(None), col(Task.completed_at).is_(None))
        if not everyone:
            stmt = stmt.where(Task.responsible_id == crm.user_id)
        tasks = list(session.exec(stmt.order_by(col(Task.due_at))))
        return task_views(crm, session, tasks)


def calendar_bytes(crm: Crm, tasks: list[TaskView] | None = None) -> bytes:
    """The tasks as one VCALENDAR."""
    from icalendar import Calendar, Event, Todo

    cal = Calendar()
    cal.add("prodid", "-//tui-crm//tasks//RU")
    cal.add("version", "2.0")
    cal.add("x-wr-calname", "tui-crm tasks")
    stamp = crm.clock().astimezone(UTC)
    for task in tasks if tasks is not None else _open_tasks(crm):
        summary = task.text if not task.entity_name else f"{task.text} — {task.entity_name}"
        todo = Todo()
        todo.add("uid", f"{task.id}@tui-crm")
        todo.add("dtstamp", stamp)
        todo.add("summary", summary)
        todo.add("due", task.due_at.date() if task.all_day else task.due_at.astimezone(UTC))
        todo.add("status", "COMPLETED" if task.completed_at else "NEEDS-ACTION")
        todo.add("categories", [task.task_type])
        if task.responsible:
            todo.add("description", f"{task.task_type}; responsible: {task.responsible}")
        cal.add_component(todo)
        if not task.all_day:
            event = Event()
            event.add("uid", f"{task.id}-event@tui-crm")
            event.add("dtstamp", stamp)
            event.add("summary", summary)
            event.add("dtstart", task.due_at.astimezone(UTC))
            event.add("dtend", task.due_at.astimezone(UTC) + EVENT_LENGTH)
            cal.add_component(event)
    return cal.to_ical()


def write_atomically(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_bytes(data)
    tmp.replace(path)


def write_ical(crm: Crm, path: Path | None, tasks: list[TaskView] | None = None) -> int:
    """Write the open tasks to ``path`` (stdout when None); returns how many."""
    listed = tasks if tasks is not None else _open_tasks(crm)
    data = calendar_bytes(crm, listed)
    if path is None:
        import sys

        sys.stdout.write(data.decode("utf-8"))
    else:
        write_atomically(path, data)
    return len(listed)


def set_feed(crm: Crm, path: Path | None) -> None:
    """Remember (or, with None, forget) the file to keep current."""
    with crm.uow() as work:
        put_setting(work.session, FEED_SETTING, None if path is None else str(path.expanduser().resolve()))


def refresh_feed(crm: Crm) -> Path | None:
    """Rewrite the subscribed feed, if one is set; returns its path."""
    with crm.read() as session:
        row = session.get(Setting, FEED_SETTING)
    if row is None:
        return None
    path = Path(row.value)
    write_atomically(path, calendar_bytes(crm))
    return path


def agenda_ical(crm: Crm, output: Path | None, tasks: list[TaskView]) -> int:
    """``crm agenda --ical``: the agenda's tasks (already selected) as iCalendar."""
    return write_ical(crm, output, tasks)
