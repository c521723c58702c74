"""Dialogs for tasks: add one to a record, complete it with a result,
reschedule it. Each saves through ``services.tasks`` and keeps the dialog
open with the error when the WHEN text cannot be read."""

from __future__ import annotations

from tui_crm.services.context import Crm
from tui_crm.services.tasks import TASK_TYPES, TaskInput, add_task, complete_task, reschedule_task
from tui_crm.services.views import TaskView
from tui_crm.widgets.form_dialog import FormDialog, FormField
from tui_crm.widgets.plain_text import clean

WHEN_HINT = "tomorrow 10:00, +3d, friday 14:30, завтра в 10:00, 01.12"
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


def reschedule_task_dialog(crm: Crm, task: TaskView) -> FormDialog[TaskView]:
    """Move a task's due time; WHEN is read like everywhere else."""

    def submit(values: dict[str, object]) -> TaskView:
        return reschedule_task(crm, task.id, str(values["due"]))

    return FormDialog(
        "Reschedule task",
        [FormField("due", "New due", placeholder=WHEN_HINT, required=True, aliases=WHEN_ALIASES)],
        submit,
        intro=_task_line(task),
        save_label="Reschedule",
    )
