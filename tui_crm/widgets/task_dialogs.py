"""Dialogs for tasks: add one to a record, complete it with a result,
reschedule it, and choose what happens to a closing deal's tasks. Each
saves through ``services.tasks`` and keeps the dialog open with the error
when the WHEN text cannot be read; a reschedule into the past asks first."""

from __future__ import annotations

from typing import Any, ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, SelectionList, Static

from tui_crm.domain.when import PastDue
from tui_crm.screens.dialogs import DIALOGS_TCSS
from tui_crm.services.context import Crm
from tui_crm.services.tasks import (
    CLOSING_RESULTS,
    TASK_TYPES,
    TaskInput,
    add_task,
    complete_task,
    manual_open_tasks,
    reschedule_task,
)
from tui_crm.services.views import TaskView
from tui_crm.widgets.form_dialog import ConfirmDialog, FormDialog, FormField
from tui_crm.widgets.plain_text import clean, plain

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


class ClosingTasksDialog(ModalScreen[frozenset[str] | None]):
    """Closing a deal (won/lost): what happens to the tasks people set on it.

    Its automatic tasks are completed with the deal anyway (``services.tasks
    .close_deal_tasks``); this lists the others, each kept open unless
    ticked (space) to be completed with it. Enter/ctrl+s closes the deal
    with that choice (the ids to complete), Escape cancels the move.
    """

    CSS_PATH = DIALOGS_TCSS
    DEFAULT_CLASSES = "form-dialog"

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+s,enter", "close_deal", "Close the deal", id="closing.save", priority=True),
        Binding("escape", "cancel", "Cancel", id="closing.cancel"),
    ]

    def __init__(self, deal_name: str, stage_name: str, tasks: list[TaskView]) -> None:
        super().__init__()
        self.deal_name = deal_name
        self.stage_name = stage_name
        self.open_tasks = tasks

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Static(
                plain(f"Close «{self.deal_name}» as «{self.stage_name}»", one_line=True),
                classes="dialog-title",
            )
            yield Static(
                "Its automatic tasks are completed with it. Open tasks people set: "
                "tick (space) those to complete too; the others stay open.",
                classes="dialog-intro",
            )
            yield SelectionList[str](*[(Text(_task_line(t)), t.id, False) for t in self.open_tasks], id="closing-tasks")
            with Horizontal(classes="dialog-buttons"):
                yield Button("Close the deal", variant="primary", id="closing-save")
                yield Button("Cancel", id="closing-cancel")

    def on_mount(self) -> None:
        self.query_one("#closing-tasks").focus()

    def chosen(self) -> frozenset[str]:
        return frozenset(self.query_one("#closing-tasks", SelectionList).selected)

    def action_close_deal(self) -> None:
        self.dismiss(self.chosen())

    def action_cancel(self) -> None:
        self.dismiss(None)

    @on(Button.Pressed)
    def _pressed(self, event: Button.Pressed) -> None:
        self.dismiss(self.chosen() if event.button.id == "closing-save" else None)


def needs_closing_choice(crm: Crm, deal_id: str, stage_key: str) -> list[TaskView]:
    """The open tasks people set that closing the deal into ``stage_key`` of
    its pipeline would ask about (empty when that does not close it). Worker thread."""
    from tui_crm.services.deals import get_deal

    pipeline = crm.pipelines.pipeline(get_deal(crm, deal_id).pipeline_key)
    if not any(s.key == stage_key and s.kind in CLOSING_RESULTS for s in pipeline.stages):
        return []
    return manual_open_tasks(crm, deal_id)
