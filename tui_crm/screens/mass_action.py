"""Mass actions on the selected deals (`m` on the board and the deals list)
and on selected contacts or companies (`m` on their lists).

A menu picks the action, a small prompt asks for its argument, and the
matching ``services.bulk`` call runs once for all ids in a worker thread.
A stage change goes through every deal's gate and ends on a per-deal
report; closing as lost asks the gate's fields (the loss reason) once for
all the deals first, then (won or lost, when a selected deal has one) whether
the tasks people set are completed too. A delete can be undone (`z`). The pickers here (:class:`ChoiceScreen`,
:class:`PromptScreen`) are plain modal helpers the board reuses.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from rich.table import Table
from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen, Screen
from textual.widgets import Label, OptionList, Static
from textual.widgets.option_list import Option

from tui_crm.domain.errors import CrmError
from tui_crm.domain.when import parse_when
from tui_crm.screens.dialogs import DIALOGS_TCSS
from tui_crm.services import bulk, party_bulk
from tui_crm.services.bulk import BulkReport
from tui_crm.services.context import Crm
from tui_crm.services.tasks import CLOSING_RESULTS, open_tasks_of_deal
from tui_crm.services.users import list_users
from tui_crm.services.views import PipelineView
from tui_crm.widgets.form_dialog import ConfirmDialog, FormDialog, FormField
from tui_crm.widgets.plain_text import crm_of, plain


class ChoiceScreen(ModalScreen[str | None]):
    """Pick one of ``options`` (``(value, label)``); Escape picks nothing."""

    CSS_PATH = DIALOGS_TCSS
    DEFAULT_CLASSES = "pick-dialog"
    BINDINGS = [Binding("escape", "cancel", "Cancel", id="form.cancel")]

    def __init__(self, title: str, options: list[tuple[str, str]], current: str | None = None) -> None:
        super().__init__()
        self.title_text = title
        self.options = options
        self.current = current

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label(plain(self.title_text, one_line=True), classes="dialog-title")
            yield OptionList(*[Option(plain(label, one_line=True), id=value) for value, label in self.options], id="choices")
            yield Label("enter picks · esc cancels", classes="dialog-hint", markup=False)

    def on_mount(self) -> None:
        options = self.query_one("#choices", OptionList)
        values = [value for value, _ in self.options]
        if self.current in values:
            options.highlighted = values.index(self.current)
        options.focus()

    @on(OptionList.OptionSelected)
    def _picked(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(event.option.id)

    def action_cancel(self) -> None:
        self.dismiss(None)


@dataclass
class PromptField:
    """One input of a :class:`PromptScreen`."""

    key: str
    label: str
    placeholder: str = ""
    value: str = ""


Validator = Callable[[dict[str, str]], dict[str, str]]
"""Returns errors by field key; empty when the values are fine."""


class FieldErrors(Exception):
    """A prompt's validator refused some values: the message for each field, by key."""

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__("; ".join(errors.values()))
        self.errors = errors


class PromptScreen(FormDialog[dict[str, str]]):
    """A few labelled inputs (the one form framework, ``FormDialog``); Enter
    moves to the next input and submits from the last; the validator's
    errors show under their fields, all at once."""

    ENTER_SAVES_ANYWHERE = False

    def __init__(self, title: str, fields: list[PromptField], validate: Validator | None = None) -> None:
        specs = [FormField(item.key, item.label, value=item.value, placeholder=item.placeholder) for item in fields]
        super().__init__(title, specs, self._checked, save_label="OK")
        self.validate = validate

    def _checked(self, values: dict[str, Any]) -> dict[str, str]:
        """Worker thread: the stripped values, or ``FieldErrors``."""
        stripped = {key: str(value).strip() for key, value in values.items()}
        errors = self.validate(stripped) if self.validate else {}
        if errors:
            raise FieldErrors(errors)
        return stripped

    def show_error(self, exc: BaseException) -> None:
        if not isinstance(exc, FieldErrors):
            super().show_error(exc)
            return
        self.clear_errors()
        bad = [spec for spec in self.fields if spec.key in exc.errors]
        for spec in bad:
            self.show_field_error(spec, exc.errors[spec.key])
        if bad:
            self.query_one(f"#{bad[0].dom_id}").focus()
        self.app.bell()


def outcome_lines(report: BulkReport) -> list[tuple[Text, Text]]:
    """``(mark, line)`` per deal of a mass stage change; untrusted text stays plain."""
    rows: list[tuple[Text, Text]] = []
    for outcome in report.outcomes:
        name = plain(outcome.deal_name, one_line=True)
        name.stylize("bold")
        if outcome.moved:
            line = name + plain(f": {outcome.from_stage} → {outcome.to_stage}", one_line=True)
            if outcome.auto_task:
                line.append_text(plain(f" (task: {outcome.auto_task})", one_line=True))
            if outcome.tasks_completed or outcome.tasks_kept:
                settled = f" (tasks: {len(outcome.tasks_completed)} completed, {len(outcome.tasks_kept)} kept open)"
                line.append_text(Text(settled, style="dim"))
            rows.append((Text("✓", style="green"), line))
        elif outcome.missing:
            missing = ", ".join(outcome.missing)
            refused = plain(f": stays in {outcome.from_stage}; missing {missing}", one_line=True)
            rows.append((Text("✗", style="red"), name + refused))
        elif outcome.error:
            rows.append((Text("✗", style="red"), name + plain(f": {outcome.error}", one_line=True)))
        else:
            rows.append((Text("·", style="dim"), name + plain(f": already in {outcome.to_stage}", one_line=True)))
    return rows


def outcome_table(report: BulkReport) -> Table:
    """The report as a two-column grid: mark, then what happened."""
    table = Table.grid(padding=(0, 1))
    table.add_column(no_wrap=True)
    table.add_column(ratio=1)
    for mark, line in outcome_lines(report):
        table.add_row(mark, line)
    return table


class MassReportScreen(ModalScreen[None]):
    """The result of a mass stage change, deal by deal."""

    CSS_PATH = DIALOGS_TCSS
    DEFAULT_CLASSES = "pick-dialog"
    BINDINGS = [Binding("escape,enter,q", "close", "Close", id="form.close")]

    def __init__(self, report: BulkReport) -> None:
        super().__init__()
        self.report = report

    def compose(self) -> ComposeResult:
        report = self.report
        refused = report.selected - report.changed
        title = f"Stage change: {report.changed} of {report.selected} moved" + (f", {refused} stayed" if refused else "")
        with Vertical(classes="dialog"):
            yield Label(Text(title), classes="dialog-title", id="report-title")
            with VerticalScroll():
                yield Static(outcome_table(report), id="report-lines")
            yield Label("Fill the missing fields from the card or the board, then move again · enter closes",
                        classes="dialog-hint", markup=False)

    def action_close(self) -> None:
        self.dismiss(None)


ACTIONS: list[tuple[str, str]] = [
    ("stage", "Change stage (through gates)…"),
    ("responsible", "Change responsible…"),
    ("task", "Add a task to each…"),
    ("tag_add", "Add tags…"),
    ("tag_remove", "Remove tags…"),
    ("delete", "Delete (z undoes)"),
]

PARTY_ACTIONS: list[tuple[str, str]] = [item for item in ACTIONS if item[0] != "stage"]
"""Contacts and companies have no stage; otherwise the deals' menu, in the same order."""

PARTY_NOUNS = {"contact": ("contact", "contacts"), "company": ("company", "companies")}


def _tags(raw: str) -> list[str]:
    return [t.strip().lstrip("#") for t in raw.split(",") if t.strip().lstrip("#")]


def count_of(count: int, noun: tuple[str, str]) -> str:
    """``1 company``, ``2 companies``: ``noun`` is (singular, plural)."""
    return f"{count} {noun[0] if count == 1 else noun[1]}"


async def _ask_user(host: Screen[Any]) -> str | None:
    """The new responsible: an active user's id, or None when cancelled."""
    crm = crm_of(host)
    users = await host.run_worker(lambda: list_users(crm, include_inactive=False), thread=True).wait()
    return await host.app.push_screen_wait(ChoiceScreen("New responsible", [(u.id, u.name) for u in users]))


async def _ask_task(host: Screen[Any], count: int) -> dict[str, str] | None:
    """Text and due moment of the task each record gets (checked as typed)."""
    crm = crm_of(host)

    def check_task(values: dict[str, str]) -> dict[str, str]:
        errors: dict[str, str] = {}
        if not values["text"]:
            errors["text"] = "what should be done?"
        try:
            parse_when(values["when"] or "", crm.now())
        except CrmError as error:
            errors["when"] = getattr(error, "message", str(error))
        return errors

    fields = [
        PromptField("text", "Task", "Позвонить клиенту"),
        PromptField("when", "Due", "tomorrow 10:00, +3d, 01.12", "tomorrow 10:00"),
    ]
    return await host.app.push_screen_wait(PromptScreen(f"Add a task to each of {count}", fields, check_task))


async def _ask_tags(host: Screen[Any], count: int, adding: bool) -> list[str] | None:
    """The tags to add or remove, or None when cancelled."""

    def check_tags(values: dict[str, str]) -> dict[str, str]:
        return {} if _tags(values["tags"]) else {"tags": "enter one or more tags, comma-separated"}

    prompt = PromptScreen(
        f"{'Add tags to' if adding else 'Remove tags from'} {count}", [PromptField("tags", "Tags", "vip, tender")], check_tags
    )
    tags = await host.app.push_screen_wait(prompt)
    return _tags(tags["tags"]) if tags else None


async def _ask_closing(host: Screen[Any], pipeline: PipelineView, stage_key: str, count: int) -> dict[str, str] | None:
    """Closing as lost: the fields of its gate (the loss reason), asked once
    for every selected deal. ``{}`` for other stages; None when cancelled."""
    from tui_crm.domain.gates import missing_fields
    from tui_crm.widgets.gate_move import gate_form

    stage = next(s for s in pipeline.stages if s.key == stage_key)
    if stage.kind != "lost":
        return {}
    asked = missing_fields(crm_of(host).pipelines, pipeline.key, stage_key, {})
    if not asked:
        return {}
    noun = count_of(count, ("deal", "deals"))
    form = gate_form(noun, stage.name, asked, title=f"Close {noun} as «{stage.name}»: one answer for all")
    return await host.app.push_screen_wait(form)


def _has_people_set_tasks(crm: Crm, ids: list[str]) -> bool:
    """Whether any of the deals has an open task a person set (not a stage's
    automatic one). Worker thread."""
    with crm.read() as session:
        return any(not task.auto_rule for deal_id in ids for task in open_tasks_of_deal(session, deal_id))


async def _ask_close_tasks(host: Screen[Any], pipeline: PipelineView, stage_key: str, ids: list[str]) -> bool:
    """Closing (won/lost) completes the deals' automatic tasks; the tasks
    people set go too only when the user says so. Asked once for all, and
    only when the stage closes and some selected deal has such a task;
    ``n``/escape keeps them open."""
    if not any(s.key == stage_key and s.kind in CLOSING_RESULTS for s in pipeline.stages):
        return False
    crm = crm_of(host)
    if not await host.run_worker(lambda: _has_people_set_tasks(crm, ids), thread=True).wait():
        return False
    question = ConfirmDialog(
        "Tasks of the closed deals",
        "Their automatic tasks are completed with them. Complete the tasks people set on them too?",
        yes="Complete them", no="Keep them open",
    )
    return bool(await host.app.push_screen_wait(question))


async def _run(host: Screen[Any], call: Callable[[], BulkReport]) -> BulkReport | None:
    """The service call in a thread worker; a refusal becomes a notification."""
    try:
        report: BulkReport = await host.run_worker(call, thread=True, group="mass", exit_on_error=False).wait()
    except Exception as error:  # noqa: BLE001 - WorkerFailed wraps the service's CrmError
        cause = error.__cause__ or getattr(error, "error", None) or error
        host.app.notify(str(cause), title="Mass action failed", severity="error", markup=False)
        return None
    return report


async def run_mass_action(host: Screen[Any], ids: list[str], pipeline: PipelineView) -> BulkReport | None:
    """Ask for the action and its argument, run it on ``ids``, show the outcome.

    Must run inside an (async) worker of ``host``: it waits on modal
    screens. The bulk call itself runs in a thread worker. Returns the
    report, or None when the user cancelled.
    """
    app = host.app
    crm = crm_of(host)
    count = len(ids)
    choice = await app.push_screen_wait(ChoiceScreen(f"{count_of(count, ('deal', 'deals'))} selected: what to do?", ACTIONS))
    call: Callable[[], BulkReport] | None = None
    if choice == "stage":
        options = [(s.key, s.name) for s in pipeline.stages if s.kind != "unsorted"]  # the inbox is not a stage
        stage = await app.push_screen_wait(ChoiceScreen(f"Move {count} to stage", options))
        values = await _ask_closing(host, pipeline, stage, count) if stage else None
        if stage and values is not None:
            close_tasks = await _ask_close_tasks(host, pipeline, stage, ids)
            call = lambda: bulk.change_stage(  # noqa: E731
                crm, stage, pipeline_ref=pipeline.key, ids=ids, close_tasks=close_tasks, set_values=values
            )
    elif choice == "responsible":
        user = await _ask_user(host)
        if user:
            call = lambda: bulk.change_responsible(crm, user, ids=ids)  # noqa: E731
    elif choice == "task":
        task = await _ask_task(host, count)
        if task:
            call = lambda: bulk.add_task_to_each(crm, task["text"], task["when"], ids=ids)  # noqa: E731
    elif choice in ("tag_add", "tag_remove"):
        adding = choice == "tag_add"
        names = await _ask_tags(host, count, adding)
        if names:
            call = lambda: bulk.change_tags_of_each(crm, names if adding else [], [] if adding else names, ids=ids)  # noqa: E731
    elif choice == "delete":
        call = lambda: bulk.delete(crm, ids=ids)  # noqa: E731
    if call is None:
        return None
    report = await _run(host, call)
    if report is None:
        return None
    if report.action == "stage":
        await app.push_screen_wait(MassReportScreen(report))
    _tell_handover(host, report)
    return report


def _tell_handover(host: Screen[Any], report: BulkReport) -> None:
    """A new responsible took the records' open tasks too: say how many."""
    if report.action == "responsible" and report.tasks_moved:
        host.app.notify(f"{report.tasks_moved} open task(s) went along to the new responsible", markup=False)


async def run_party_mass_action(host: Screen[Any], entity_type: str, ids: list[str]) -> BulkReport | None:
    """The mass-action menu for contacts or companies (``entity_type``):
    responsible, a task for each, tags, delete; ``services.party_bulk`` runs it.

    The same dialogs as the deals' menu and the same contract: call it
    from an async worker of ``host``; None means cancelled or refused (the
    refusal has been notified).
    """
    app = host.app
    crm = crm_of(host)
    count = len(ids)
    title = f"{count_of(count, PARTY_NOUNS[entity_type])} selected: what to do?"
    choice = await app.push_screen_wait(ChoiceScreen(title, PARTY_ACTIONS))
    call: Callable[[], BulkReport] | None = None
    if choice == "responsible":
        user = await _ask_user(host)
        if user:
            call = lambda: party_bulk.change_responsible(crm, entity_type, user, ids=ids)  # noqa: E731
    elif choice == "task":
        task = await _ask_task(host, count)
        if task:
            call = lambda: party_bulk.add_task_to_each(crm, entity_type, task["text"], task["when"], ids=ids)  # noqa: E731
    elif choice in ("tag_add", "tag_remove"):
        adding = choice == "tag_add"
        names = await _ask_tags(host, count, adding)
        if names:
            add, remove = (names, []) if adding else ([], names)
            call = lambda: party_bulk.change_tags_of_each(crm, entity_type, add, remove, ids=ids)  # noqa: E731
    elif choice == "delete":
        call = lambda: party_bulk.delete(crm, entity_type, ids=ids)  # noqa: E731
    if call is None:
        return None
    report = await _run(host, call)
    if report is not None:
        _tell_handover(host, report)
    return report
