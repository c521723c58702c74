"""The task agenda: Overdue / Today / Tomorrow / This week / Later.

"No overdue tasks" is the rule the agenda serves: overdue tasks come first,
in red, with how late they are (``TaskView.overdue_by``). From here a task
is completed with a result, rescheduled with the same WHEN syntax as
everywhere (``tomorrow 10:00``, ``+3d``, ``пятница 14:30``), or its deal,
contact or company card opened. The agenda shows the current user's tasks;
``a`` shows everyone's, ``w`` one colleague's.

Every group heading shows its true count (SQL counts, ``services.tasks.agenda``);
each group shows its first page of tasks and a "… N more" row that loads
the next page when the cursor reaches it, so 1 368 overdue tasks open as
fast as 10 and still read "1368 overdue".
"""

from __future__ import annotations

from collections.abc import Callable
from typing import ClassVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Footer, OptionList, Static
from textual.widgets.option_list import Option

from tui_crm.screens.card import CardScreen
from tui_crm.services.tasks import AGENDA_GROUPS, AgendaView, agenda, agenda_page
from tui_crm.services.users import list_users
from tui_crm.services.views import TaskView
from tui_crm.widgets.app_contract import ReportsFailedWorkers
from tui_crm.widgets.form_dialog import responsible_dialog
from tui_crm.widgets.plain_text import clean, crm_of, error_message, plain
from tui_crm.widgets.task_dialogs import add_task_dialog, complete_task_dialog, reschedule_task_dialog

PAGE = 20  # tasks per group per page: about a screenful; more load as the cursor goes down
GROUP_STYLES = {"Overdue": "bold red", "Today": "bold yellow", "Tomorrow": "bold", "This week": "bold", "Later": "bold dim"}
TYPE_LABELS = {"call": "call", "meeting": "meeting", "email": "e-mail", "follow-up": "follow-up", "other": "other"}


def _cell(text: Text, width: int, *, right: bool = False) -> Text:
    """``text`` cut or padded to exactly ``width`` terminal cells (Cyrillic and wide characters too)."""
    text = text.copy()
    text.truncate(width, overflow="ellipsis")
    pad = width - text.cell_len
    if pad > 0:
        text = Text(" " * pad) + text if right else text + Text(" " * pad)
    return text


def task_row(task: TaskView, *, show_responsible: bool, width: int = 100) -> Text:
    """One task as one line of fixed columns: due, type, text, linked record, lateness.

    A single ``Text`` rather than a table row: the list measures every
    option it holds, and a Rich table per task made the first frame of a
    full agenda several times slower (bench/bench_agenda.py).
    """
    overdue = task.overdue_by is not None
    fixed = 12 + 10 + (13 if show_responsible else 0) + 11
    flexible = max(width - fixed, 20)
    text_width = flexible * 3 // 5
    due = f"{task.due_at:%d.%m}" if task.all_day else f"{task.due_at:%d.%m %H:%M}"
    linked = plain(task.entity_name, one_line=True, style="cyan") if task.entity_name else Text("—", style="dim")
    row = Text(no_wrap=True, overflow="ellipsis")
    row.append_text(_cell(Text(due, style="bold red" if overdue else ""), 11) + " ")
    row.append_text(_cell(Text(TYPE_LABELS.get(task.task_type, task.task_type), style="dim"), 9) + " ")
    row.append_text(_cell(plain(task.text, one_line=True, style="red" if overdue else ""), text_width - 1) + " ")
    row.append_text(_cell(linked, flexible - text_width - 1) + " ")
    if show_responsible:
        row.append_text(_cell(plain(task.responsible, one_line=True, style="dim"), 12) + " ")
    row.append_text(_cell(Text(f"{task.overdue_by} late", style="bold red") if overdue else Text(""), 10, right=True))
    return row


class AgendaScreen(ReportsFailedWorkers, Screen[None]):
    """Open tasks by due group; see the module docstring."""

    CSS_PATH = "agenda.tcss"

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "back", "Back", id="agenda.back"),
        Binding("x", "complete", "Complete", id="agenda.complete"),
        Binding("r", "reschedule", "Reschedule", id="agenda.reschedule"),
        Binding("a", "everyone", "Everyone", id="agenda.everyone"),
        Binding("w", "responsible", "Whose", id="agenda.responsible"),
        Binding("n", "new_task", "New task", id="agenda.new"),
        Binding("ctrl+r", "reload", "Reload", show=False, id="agenda.reload"),
    ]

    class Loaded(Message):
        def __init__(self, view: AgendaView | None, error: str | None = None) -> None:
            super().__init__()
            self.view = view
            self.error = error

    class PageLoaded(Message):
        """The next page of one group (``generation`` drops pages of an older load)."""

        def __init__(self, group: str, tasks: list[TaskView], generation: int) -> None:
            super().__init__()
            self.group = group
            self.tasks = tasks
            self.generation = generation

    def __init__(self) -> None:
        super().__init__()
        self.everyone = False
        self.responsible: str | None = None
        self.tasks: dict[str, TaskView] = {}
        self.totals: dict[str, int] = dict.fromkeys(AGENDA_GROUPS, 0)
        self.loaded: dict[str, list[TaskView]] = {name: [] for name in AGENDA_GROUPS}
        self.generation = 0
        self.paging: set[str] = set()

    def compose(self) -> ComposeResult:
        with Vertical(id="agenda-header"):
            yield Static("Agenda", id="agenda-title")
            yield Static("", id="agenda-summary")
        yield OptionList(id="agenda-list", markup=False)
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#agenda-list").focus()

    def on_screen_resume(self) -> None:
        self.action_reload()

    @property
    def whose(self) -> str:
        if self.responsible:
            return self.responsible
        return "everyone" if self.everyone else crm_of(self).user_name

    def action_reload(self) -> None:
        self._load(self.responsible, self.everyone, max(PAGE, *(len(tasks) for tasks in self.loaded.values())))

    @work(thread=True, exclusive=True, group="agenda-load", exit_on_error=False)
    def _load(self, responsible: str | None, everyone: bool, limit: int) -> None:
        """Counts and the first pages (as many as were shown, so a reload keeps the place)."""
        try:
            view = agenda(crm_of(self), responsible=responsible, everyone=everyone, limit=limit)
        except Exception as exc:  # shown in the header; the screen stays usable
            self.post_message(self.Loaded(None, error_message(exc)))
            return
        self.post_message(self.Loaded(view))

    @work(thread=True, group="agenda-page", exit_on_error=False)
    def _load_page(self, group: str, offset: int, generation: int, responsible: str | None, everyone: bool) -> None:
        try:
            tasks = agenda_page(crm_of(self), group, offset=offset, limit=PAGE, responsible=responsible, everyone=everyone)
        except Exception as exc:
            self.app.call_from_thread(self.notify, error_message(exc), severity="error", markup=False)
            tasks = []
        self.post_message(self.PageLoaded(group, tasks, generation))

    def _more(self, group: str) -> None:
        """Fetch the next page of ``group`` unless it is complete or already coming."""
        if group in self.paging or len(self.loaded[group]) >= self.totals[group]:
            return
        self.paging.add(group)
        self._load_page(group, len(self.loaded[group]), self.generation, self.responsible, self.everyone)

    def on_agenda_screen_page_loaded(self, message: PageLoaded) -> None:
        self.paging.discard(message.group)
        if message.generation != self.generation:
            return
        known = {t.id for t in self.loaded[message.group]}
        self.loaded[message.group].extend(t for t in message.tasks if t.id not in known)
        self._show()

    @on(OptionList.OptionHighlighted, "#agenda-list")
    def _reached(self, event: OptionList.OptionHighlighted) -> None:
        if event.option.id and event.option.id.startswith("more:"):
            self._more(event.option.id.removeprefix("more:"))

    def on_agenda_screen_loaded(self, message: Loaded) -> None:
        title = Text("Agenda", style="bold")
        title.append(" · ")
        title.append_text(plain(self.whose, one_line=True))
        self.query_one("#agenda-title", Static).update(title)
        summary = self.query_one("#agenda-summary", Static)
        if message.view is None:
            summary.update(plain(message.error))
            return
        self.generation += 1
        self.totals = dict(message.view.totals)
        self.loaded = {name: list(message.view.groups.get(name, [])) for name in AGENDA_GROUPS}
        overdue = self.totals["Overdue"]
        line = Text()
        line.append(*(("✓ nothing overdue", "green") if not overdue else (f"{overdue} overdue", "bold red")))
        for name in AGENDA_GROUPS[1:]:
            line.append(f" · {self.totals[name]} {name.lower()}")
        summary.update(line)
        self._show()

    def _show(self) -> None:
        option_list = self.query_one("#agenda-list", OptionList)
        keep = self.current.id if self.current else None
        keep_index = option_list.highlighted
        self.tasks = {}
        options: list[Option] = []
        show_responsible = self.everyone or bool(self.responsible)
        width = option_list.scrollable_content_region.width or self.app.size.width - 4
        for name in AGENDA_GROUPS:
            tasks = self.loaded[name]
            heading = Text(f"{name} ({self.totals[name]})", style=GROUP_STYLES[name])
            options.append(Option(heading, id=f"group:{name}", disabled=True))
            for task in tasks:
                self.tasks[task.id] = task
                options.append(Option(task_row(task, show_responsible=show_responsible, width=width), id=task.id))
            if self.totals[name] > len(tasks):
                more = Text(f"  … {self.totals[name] - len(tasks)} more (loading as you scroll)", style="dim")
                options.append(Option(more, id=f"more:{name}"))
        option_list.clear_options()
        option_list.add_options(options)
        ids = [o.id for o in options]
        if keep in ids:
            option_list.highlighted = ids.index(keep)
        else:
            enabled = [i for i, o in enumerate(options) if not o.disabled and not (o.id or "").startswith("more:")]
            if enabled:
                after = [i for i in enabled if keep_index is None or i >= keep_index]
                option_list.highlighted = after[0] if after else enabled[-1]

    @property
    def current(self) -> TaskView | None:
        option_list = self.query_one("#agenda-list", OptionList)
        if option_list.highlighted is None or option_list.option_count == 0:
            return None
        option = option_list.get_option_at_index(option_list.highlighted)
        return self.tasks.get(option.id or "")

    # -- actions -------------------------------------------------------------------------

    @on(OptionList.OptionSelected, "#agenda-list")
    def _open(self, event: OptionList.OptionSelected) -> None:
        if (event.option.id or "").startswith("more:"):
            self._more((event.option.id or "").removeprefix("more:"))
            return
        task = self.tasks.get(event.option.id or "")
        if task is None:
            return
        if task.entity_type and task.entity_id:
            self.app.push_screen(CardScreen(task.entity_type, task.entity_id))
        else:
            self.notify("This task is not linked to a deal, contact or company.", severity="warning")

    def _with_task(self) -> TaskView | None:
        task = self.current
        if task is None:
            self.notify("No task here.", severity="warning")
        return task

    def action_complete(self) -> None:
        if task := self._with_task():
            self.app.push_screen(complete_task_dialog(crm_of(self), task), self._done("Completed"))

    def action_reschedule(self) -> None:
        if task := self._with_task():
            self.app.push_screen(reschedule_task_dialog(crm_of(self), task), self._done("Rescheduled"))

    def action_new_task(self) -> None:
        self.app.push_screen(add_task_dialog(crm_of(self), None, None), self._done("Task added"))

    def _done(self, verb: str) -> Callable[[TaskView | None], None]:
        """A dialog callback: say what happened to the task (the screen reloads on resume)."""

        def said(task: TaskView | None) -> None:
            if task is not None:
                self.notify(f"{verb}: {clean(task.text, one_line=True)}", markup=False)

        return said

    def action_everyone(self) -> None:
        self.everyone = not self.everyone
        self.responsible = None
        self.action_reload()

    @work(exclusive=True, group="agenda-responsible")
    async def action_responsible(self) -> None:
        crm = crm_of(self)
        users = await self.run_worker(lambda: list_users(crm, include_inactive=False), thread=True).wait()
        dialog = responsible_dialog(
            "Whose tasks", [u.name for u in users], self.responsible or crm.user_name, required=True, save_label="Show"
        )
        values = await self.app.push_screen_wait(dialog)
        if values is not None:
            self.responsible = str(values["responsible"]) or None
            self.everyone = False
            self.action_reload()

    def action_back(self) -> None:
        self.dismiss()
