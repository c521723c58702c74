"""Dialogs for tasks: add one to a record, complete it with a result,
reschedule it, and choose what happens to a closing deal's tasks. Each
saves through ``services.tasks`` and keeps the dialog open with the error
when the WHEN text cannot be read; a reschedule into the past asks first."""

from __future__ import annotations

from typing import Any

from tui_crm.domain.when import PastDue
from tui_crm.services.context import Crm
from tui_crm.services.tasks import TASK_TYPES, TaskInput, add_task, complete_task, reschedule_task
from tui_crm.services.views import TaskView
from tui_crm.widgets.form_dialog import ConfirmDialog, FormDialog, FormField
from tui_crm.widgets.plain_text import clean

WHEN_HINT = "tomorrow 10:00, +3d (keeps the time), friday 14:30, завтра в 10:00, 01.12"
WHEN_ALIASES = ("due", "when")


def _task_line(task: TaskView) -> str:
    linked = f" · {clean(task.entity_name, one_line=True)}" if task.entity_name else ""
    return f"{clean(task.text, one_line=True)} (due {task.due_at:%Y-%m-%d %H:%M}){linked}"


def add_task_dialog(crm: Crm, entity_type: str | None, entity_id: str | None, entity_name: str = "") -> FormDialog[TaskView]:
    """A new task, linked to the record when one is given."""

    def submit(values: dict[str, object]) -> TaskView:
        return add_task(
            crm,
            TaskInput(
                text=str(values["text"]), due=str(values["due"]), task_type=str(values["task_type"]),
                entity_type=entity_type, entity_ref=entity_id,
            ),
        )

    return FormDialog(
        "New task",
        [
            FormField("text", "What to do", required=True, placeholder="Call back about the estimate"),
            FormField("due", "When", value="tomorrow 10:00", placeholder=WHEN_HINT, required=True, aliases=WHEN_ALIASES),
            FormField("task_type", "Type", kind="select", value="call", options=[(t, t) for t in TASK_TYPES], required=True),
        ],
        submit,
        intro=f"For: {clean(entity_name, one_line=True)}" if entity_name else "",
    )


def complete_task_dialog(crm: Crm, task: TaskView) -> FormDialog[TaskView]:
    """Close a task with what came of it (the manual's result note)."""

    def submit(values: dict[str, object]) -> TaskView:
        return complete_task(crm, task.id, str(values["result"]))

    return FormDialog(
        "Complete task",
        [FormField("result", "Result", placeholder="Agreed on a demo on Monday", aliases=("task",))],
        submit,
        intro=_task_line(task),
        save_label="Complete",
    )


class RescheduleDialog(FormDialog[TaskView]):
    """Move a task's due time; WHEN is read like everywhere else. A moment
    in the past is not refused outright: the dialog asks, and saves it only
    on a yes (the CLI's ``--past``)."""

    def __init__(self, crm: Crm, task: TaskView) -> None:
        self.crm = crm
        self.task_view = task
        self.allow_past = False
        super().__init__(
            "Reschedule task",
            [FormField("due", "New due", placeholder=WHEN_HINT, required=True, aliases=WHEN_ALIASES)],
            self._reschedule,
            intro=_task_line(task),
            save_label="Reschedule",
        )

    def _reschedule(self, values: dict[str, Any]) -> TaskView:
        allow, self.allow_past = self.allow_past, False
        return reschedule_task(self.crm, self.task_view.id, str(values["due"]), allow_past=allow)

    def handle_error(self, exc: BaseException) -> bool:
        if not isinstance(exc, PastDue):
            return False
        shown = f"{exc.due:%d.%m.%Y}" if exc.all_day else f"{exc.due:%d.%m.%Y %H:%M}"
        values = self.values()

        def answered(yes: bool | None) -> None:
            if yes:
                self.allow_past = True
                self.run_submit(values)
            else:
                self.query_one("#field-due").focus()

        question = f"{shown} is in the past: the task will be overdue at once. Set it anyway?"
        self.app.push_screen(ConfirmDialog("Due in the past", question, yes="Set it", no="Change it"), answered)
        return True


def reschedule_task_dialog(crm: Crm, task: TaskView) -> FormDialog[TaskView]:
    """Move a task's due time (see ``RescheduleDialog``)."""
    return RescheduleDialog(crm, task)
