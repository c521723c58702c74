"""The Textual application: the board as home, sections a key away.

Contract every screen relies on: ``self.app.crm`` is the open
``tui_crm.services.context.Crm``; screens call services only (never
storage), and do database work in thread workers. ``self.app.pipeline_key``
is the pipeline the board shows (quick add and Unsorted use it).

Navigation is a shallow stack: the board is the base screen, a section
(deals, contacts, companies, agenda, unsorted) is pushed on top of it —
replacing whichever section was there — and a card goes on top of that.
Keys, palette and `?` help all come from the bindings declared with ids
(see :mod:`tui_crm.commands`).

Start-up: the status poll and the interval sync start once the board has
shown its first data (:class:`~tui_crm.screens.board.BoardScreen.Ready`),
and the garbage collector paused by :mod:`tui_crm.startup` is released
after that frame.

Sync: `S` runs a sync now (push then pull) in a thread worker, its progress
in the status bar, its outcome in a notification, then reloads what is on
screen; `C` opens the sync conflicts. With ``sync_interval_minutes = N`` in
config.toml (off by default) a connected store also syncs every N minutes.
"""

from __future__ import annotations

import importlib
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from textual import work
from textual.app import App
from textual.binding import Binding
from textual.reactive import reactive
from textual.screen import ModalScreen, Screen
from textual.signal import Signal
from textual.worker import Worker, WorkerState, get_current_worker

from tui_crm.commands import CrmCommands, load_keymap, screen_actions
from tui_crm.domain.errors import CrmError
from tui_crm.domain.text import safe_text
from tui_crm.screens.board import BoardScreen
from tui_crm.services.context import Crm
from tui_crm.services.status import last_sync, pending_changes
from tui_crm.services.views import DealDetail
from tui_crm.startup import release_gc
from tui_crm.widgets.app_contract import DealsDeleted, OpenCard, PipelineShown, StoreChanged, WorkerFailed
from tui_crm.widgets.plain_text import error_message
from tui_crm.widgets.status_bar import StatusBar, StoreStatus
from tui_crm.widgets.sync_runner import Outcome, ProgressLine, explain_failure, summarize

if TYPE_CHECKING:
    from tui_crm.sync.adapter import Adapter
    from tui_crm.sync.engine import SyncReport

THEMES = {"dark": "textual-dark", "light": "textual-light"}
STATUS_EVERY = 5.0
"""Seconds between polls of the sync status (one indexed count)."""

# Sections another module provides: mode name -> (module, class).
SECTIONS = {
    "deals": ("tui_crm.screens.lists", "ListScreen"),
    "contacts": ("tui_crm.screens.lists", "ListScreen"),
    "companies": ("tui_crm.screens.lists", "ListScreen"),
    "agenda": ("tui_crm.screens.agenda", "AgendaScreen"),
    "unsorted": ("tui_crm.screens.unsorted", "UnsortedScreen"),
    "conflicts": ("tui_crm.screens.conflicts", "ConflictsScreen"),
    "import": ("tui_crm.screens.import_screen", "ImportScreen"),
    "reports": ("tui_crm.screens.reports", "ReportsScreen"),
    "outbox": ("tui_crm.screens.outbox", "OutboxScreen"),
    "users": ("tui_crm.screens.users", "UsersScreen"),
}


CALLER_REPORTS = {"mass"}
"""Worker groups whose caller awaits them and reports a failure itself."""


def worker_failure(worker: Worker[object]) -> str:
    """One line for a failed worker: what it was doing and the error, made safe."""
    doing = (worker.group if worker.group != "default" else worker.name) or "background work"
    error = worker.error if worker.error is not None else RuntimeError("unknown error")
    return f"{doing} failed: {error_message(error)}"


class SyncStopped(Exception):
    """Raised from the progress callback when the app stops a running sync (quit)."""


class CrmApp(App[None]):
    """tui-crm: kanban board, lists, cards, agenda and unsorted over one store."""

    TITLE = "tui-crm"
    # The board is the default screen, which Textual installs without loading
    # a screen's own CSS_PATH: its stylesheet is listed here too.
    CSS_PATH = ["app.tcss", "screens/board.tcss"]
    COMMANDS = {CrmCommands}

    BINDINGS = [
        Binding("n", "quick_add", "New lead", id="app.quick_add"),
        Binding("question_mark", "help", "Keys", key_display="?", id="app.help"),
        Binding("b", "open_board", "Board", show=False, id="app.board"),
        Binding("d", "open_list('deals')", "Deals list", show=False, id="app.deals"),
        Binding("c", "open_list('contacts')", "Contacts", show=False, id="app.contacts"),
        Binding("o", "open_list('companies')", "Companies", show=False, id="app.companies"),
        Binding("a", "open_agenda", "Agenda", show=False, id="app.agenda"),
        Binding("u", "open_unsorted", "Unsorted inbox", show=False, id="app.unsorted"),
        Binding("R", "open_reports", "Reports", show=False, id="app.reports"),
        Binding("z", "undo_delete", "Undo delete", id="app.undo_delete"),
        Binding("S", "sync_now", "Sync now", show=False, id="app.sync_now"),
        Binding("C", "open_conflicts", "Sync conflicts", show=False, id="app.conflicts"),
        Binding("O", "open_section('outbox')", "Mail outbox", show=False, id="app.outbox"),
        Binding("U", "open_section('users')", "Users and signatures", show=False, id="app.users"),
        Binding("ctrl+t", "toggle_theme", "Light/dark theme", show=False, id="app.theme"),
        Binding("q", "quit", "Quit", show=False, id="app.quit"),
    ]
    PALETTE_ACTIONS = [
        ("app.change_theme", "Choose a theme…", "change_theme"),
        ("app.refresh_status", "Refresh sync status", "refresh_status"),
        ("app.import", "Import a file (amoCRM CSV, vCard)…", "open_import"),
    ]

    pipeline_key: reactive[str] = reactive("", init=False)
    """The pipeline the board shows (``PipelineShown``); quick add, Unsorted and new deals start there."""

    def __init__(self, crm: Crm, pipeline: str | None = None) -> None:
        super().__init__()
        self.crm = crm
        self.set_reactive(CrmApp.pipeline_key, pipeline or crm.settings.default_pipeline)
        wanted = THEMES.get(crm.settings.theme, crm.settings.theme)
        self.theme = wanted if wanted in self.available_themes else THEMES["dark"]
        self.set_keymap(load_keymap(crm.settings))
        self.store_status = StoreStatus(user=crm.user_name, pending=0, last_sync=None)
        self._started_at = crm.clock()  # the status bar counts mail that arrived after this
        self.status_signal: Signal[StoreStatus] = Signal(self, "store-status")
        self._undo_batch: tuple[str, int] | None = None
        self._sync_progress = ""
        self._syncing = False
        self._hub_listener: Any = None  # LISTEN/NOTIFY on the team hub while the app runs (services/hub.py)
        self._hub_live = False
        self._hub_pending = False  # a hub change arrived during a sync: one more sync after it
        self.startup_notice: str | None = None  # e.g. "this is the demo database"
        self.is_demo = False  # the store is the seeded demo (cli.main.open_tui)
        self._started = False
        self.mail_idling: set[str] = set()  # mailboxes whose INBOX waits in IMAP IDLE now

    def notify(self, message: str, *, title: str = "", markup: bool = True, **options: Any) -> None:  # type: ignore[override]
        """Every notification (from any screen or widget) is cleaned of escape sequences here.

        Messages quote record names; a name carrying OSC 52 or CSI 2J must
        not reach the terminal through a toast any more than through a table.
        """
        if isinstance(message, str):
            message = safe_text(message)
        super().notify(message, title=safe_text(title, keep_newlines=False), markup=markup, **options)

    # ---- screens ------------------------------------------------------
    def get_default_screen(self) -> Screen[Any]:
        return BoardScreen(self.pipeline_key)

    def on_mount(self) -> None:
        self.screen_change_signal.subscribe(self, self._screen_changed)
        self._started = False

    def on_board_screen_ready(self, message: BoardScreen.Ready) -> None:
        """Start-up is over once the board has shown its data (or failed to).

        Everything else waits until then: the status poll's worker imports
        the sync tables and queries the store, and on two cores that thread
        would slow the first frame down instead of running beside it.
        """
        if self._started:
            return
        self._started = True
        self.call_after_refresh(release_gc)
        self.refresh_status()
        self.set_interval(STATUS_EVERY, self.refresh_status)
        minutes = self.crm.settings.sync_interval_minutes
        if minutes > 0:
            self.set_interval(minutes * 60, self._background_sync)
        self._start_hub_listener()
        mail_minutes = self.crm.settings.mail_interval_minutes
        if mail_minutes > 0:
            self.watch_mail()  # a first fetch, then IMAP IDLE: new INBOX mail within seconds
            self.set_interval(mail_minutes * 60, self.fetch_mail_now)  # Sent, the outbox, servers without IDLE
        if self.startup_notice:
            self.notify(self.startup_notice, title="Demo", timeout=20, markup=False)
        for notice in self.crm.notices:  # e.g. a broken pipelines file: the last good one is in effect
            self.notify(notice, title="Pipelines", severity="warning", timeout=30, markup=False)

    @property
    def board(self) -> BoardScreen:
        """The board at the bottom of the stack."""
        base = self.screen_stack[0]
        assert isinstance(base, BoardScreen)
        return base

    def _screen_changed(self, screen: Screen[Any]) -> None:
        """Give every full screen the status bar (unless it opts out)."""
        if isinstance(screen, ModalScreen) or not getattr(screen, "STATUS_BAR", True):
            return
        screen.call_after_refresh(self._ensure_status_bar, screen)

    @staticmethod
    def _ensure_status_bar(screen: Screen[Any]) -> None:
        if screen.is_attached and not screen.query(StatusBar):
            screen.mount(StatusBar())

    def _section(self, name: str, *args: Any) -> Screen[Any] | None:
        module_name, class_name = SECTIONS[name]
        try:
            factory = getattr(importlib.import_module(module_name), class_name)
        except (ImportError, AttributeError):
            self.notify(f"The {name} screen is not available in this build yet.", severity="warning", markup=False)
            return None
        screen: Screen[Any] = factory(*args)
        return screen

    async def _show_section(self, screen: Screen[Any] | None) -> None:
        """Put a section right above the board (replacing any other section)."""
        if screen is None:
            return
        while len(self.screen_stack) > 1:
            await self.pop_screen()
        await self.push_screen(screen)

    async def action_open_board(self) -> None:
        while len(self.screen_stack) > 1:
            await self.pop_screen()

    async def action_open_list(self, kind: str) -> None:
        await self._show_section(self._section(kind, kind))

    async def action_open_agenda(self) -> None:
        await self._show_section(self._section("agenda"))

    async def action_open_unsorted(self) -> None:
        await self._show_section(self._section("unsorted", self.pipeline_key))

    async def action_open_reports(self) -> None:
        await self._show_section(self._section("reports", self.pipeline_key))

    async def action_open_import(self) -> None:
        await self._show_section(self._section("import"))

    async def action_open_conflicts(self) -> None:
        await self._show_section(self._section("conflicts"))

    # ---- what screens ask for (widgets.app_contract) --------------------
    def on_open_card(self, message: OpenCard) -> None:
        self.open_card(message.entity_type, message.entity_id)

    def on_store_changed(self, message: StoreChanged) -> None:
        self.refresh_status()

    def on_pipeline_shown(self, message: PipelineShown) -> None:
        self.pipeline_key = message.key

    def on_deals_deleted(self, message: DealsDeleted) -> None:
        self.remember_delete(message.batch_id, message.count)

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.state == WorkerState.ERROR:  # the app's own workers (a screen's come as WorkerFailed)
            self._report_failure(event.worker)

    def on_worker_failed(self, message: WorkerFailed) -> None:
        self._report_failure(message.worker)

    def _report_failure(self, worker: Worker[object]) -> None:
        """One place for every worker that failed: a one-line notice, never silence.

        Workers catch the ``CrmError`` they expect and say so themselves;
        anything else (a broken row, a bug) ends here instead of vanishing
        with the worker (they run with ``exit_on_error=False``).
        """
        if worker.group in CALLER_REPORTS:
            return
        self.notify(worker_failure(worker), title="Something went wrong", severity="error", timeout=15, markup=False)

    async def action_open_section(self, name: str) -> None:
        """A section whose screen takes no arguments (the outbox, the users)."""
        await self._show_section(self._section(name))

    def open_card(self, entity_type: str, entity_id: str) -> None:
        """Push the card of a deal, contact or company on top of the stack."""
        try:
            from tui_crm.screens.card import CardScreen
        except ImportError:
            self.notify("The card screen is not available in this build yet.", severity="warning", markup=False)
            return
        self.push_screen(CardScreen(entity_type, entity_id))

    # ---- keys, help, theme --------------------------------------------
    def action_help(self) -> None:
        """`?`: the keys of the screen you are on (same registry as the palette)."""
        from tui_crm.widgets.help_screen import HelpScreen

        screen = self.screen
        name = type(screen).__name__.removesuffix("Screen") or "Screen"
        self.push_screen(HelpScreen(screen_actions(screen), f"Keys: {name}"))

    def action_toggle_theme(self) -> None:
        self.theme = THEMES["light"] if self.current_theme.dark else THEMES["dark"]

    # ---- quick add ----------------------------------------------------
    def action_quick_add(self) -> None:
        from tui_crm.screens.quick_add import QuickAddScreen

        board = self.board
        name = board.pipeline.name if board.pipeline else self.pipeline_key

        def created(deal: DealDetail | None) -> None:
            if deal is None:
                return
            self.notify(f"Lead «{safe_text(deal.name, keep_newlines=False)}» created in {deal.stage}", markup=False)
            for notice in deal.notices:  # e.g. the phone belongs to another contact than the one typed
                self.notify(safe_text(notice, keep_newlines=False), severity="warning", markup=False, timeout=10)
            board.show_deal(deal.stage_key, deal.id)
            self.refresh_status()

        self.push_screen(QuickAddScreen(self.pipeline_key, name), created)

    # ---- undo of a mass delete ---------------------------------------
    def remember_delete(self, batch_id: str, count: int) -> None:
        """Offer `z` to undo the mass delete that just happened."""
        self._undo_batch = (batch_id, count)
        self.notify(f"Deleted {count} deal{'s' if count != 1 else ''}. Press z to undo.", timeout=10, markup=False)
        self.refresh_bindings()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "undo_delete":
            return self._undo_batch is not None
        return True

    @work(thread=True, exclusive=True, group="undo", exit_on_error=False)
    def action_undo_delete(self) -> None:
        from tui_crm.services.bulk import undo_delete

        if self._undo_batch is None:
            return
        batch_id, _count = self._undo_batch
        try:
            report = undo_delete(self.crm, batch_id)
        except CrmError as error:
            self.call_from_thread(self.notify, str(error), severity="error", markup=False)
            return
        self.call_from_thread(self._undone, report.changed)

    def _undone(self, count: int) -> None:
        self._undo_batch = None
        self.refresh_bindings()
        self.notify(f"Restored {count} deal{'s' if count != 1 else ''}.", markup=False)
        self.board.reload()
        self.refresh_status()

    # ---- sync ---------------------------------------------------------
    def _start_hub_listener(self) -> None:
        """With a team hub connected: a teammate's change starts a quiet sync within seconds."""
        from tui_crm.services.hub import start_listener

        def changed() -> None:
            self.call_from_thread(self._hub_changed)

        def live(online: bool) -> None:
            self._hub_live = online
            self.call_from_thread(self.refresh_status)

        try:
            self._hub_listener = start_listener(self.crm, changed, live)
        except Exception:  # noqa: BLE001 - no hub settings readable: the app works without live updates
            self._hub_listener = None

    def _hub_changed(self) -> None:
        """A teammate changed something: sync now, or right after the sync running now (it may have pulled already)."""
        if self._syncing:
            self._hub_pending = True
        else:
            self._background_sync()

    def on_unmount(self) -> None:
        """Stop what listens for others' changes: the hub's LISTEN and the IMAP IDLE watch."""
        if self._hub_listener is not None:
            self._hub_listener.stop()
            self._hub_listener = None
        stop = getattr(self, "_stop_mail_watch", None)
        if stop is not None:
            stop()

    def make_sync_adapter(self) -> Adapter:
        """The connected account's adapter (tests replace this to lift the rate limit)."""
        from tui_crm.services.sync import make_adapter

        return make_adapter(self.crm)

    def action_sync_now(self) -> None:
        """`S`: push then pull now; progress in the status bar, outcome in a notification."""
        if self._syncing:
            self.notify("A sync is already running.", title="Sync", markup=False)
            return
        self._syncing = True
        self._run_sync(quiet=False)

    def _background_sync(self) -> None:
        """Every ``sync_interval_minutes``: a quiet sync if an account is connected."""
        if not self._syncing:
            self._syncing = True
            self._run_sync(quiet=True)

    @work(thread=True, exclusive=True, group="sync", exit_on_error=False)
    def _run_sync(self, quiet: bool) -> None:
        from tui_crm.services.hub import hub_url
        from tui_crm.services.sync import connected_account, run_sync

        worker = get_current_worker()
        throttle = ProgressLine()

        def progress(phase: str, entity: str, done: int, total: int | None) -> None:
            if worker.is_cancelled:
                raise SyncStopped("the app stopped the sync")
            line = throttle(phase, entity, done, total)
            if line is not None:
                self.call_from_thread(self._show_sync_progress, line)

        result: SyncReport | BaseException | None = None
        try:
            if not quiet or connected_account(self.crm) is not None or hub_url(self.crm):
                self.call_from_thread(self._show_sync_progress, "connecting")
                adapter = self.make_sync_adapter()
                try:
                    result = run_sync(self.crm, adapter=adapter, progress=progress)
                finally:
                    adapter.close()
        except SyncStopped:
            return
        except Exception as exc:  # every failure is reported, none crashes the app
            result = exc
        if not worker.is_cancelled:
            self.call_from_thread(self._sync_finished, result, quiet)

    def _conflicts_key(self) -> str:
        """The key that opens the conflicts (after keymap overrides), for messages."""
        for active in self.screen.active_bindings.values():
            if active.binding.action == "open_conflicts":
                return self.get_key_display(active.binding)
        return "C"

    def _show_sync_progress(self, line: str) -> None:
        self._sync_progress = line
        self._publish_status(self.store_status)

    def _sync_finished(self, result: SyncReport | BaseException | None, quiet: bool) -> None:
        self._syncing = False
        if self._hub_pending and not isinstance(result, BaseException):
            self._hub_pending = False
            self.call_after_refresh(self._background_sync)
        self._show_sync_progress("")
        outcome: Outcome | None
        if isinstance(result, BaseException):
            outcome = explain_failure(result)
        elif result is not None:
            outcome = summarize(result, self._conflicts_key())
            if quiet and outcome.severity == "information":
                outcome = None
        else:
            outcome = None
        if outcome is not None:
            timeout = 5 if outcome.severity == "information" else 12
            self.notify(outcome.text, title=outcome.title, severity=outcome.severity, timeout=timeout, markup=False)
        self.refresh_status()
        if result is not None:
            self._reload_screens()

    def _reload_screens(self) -> None:
        """After a sync: reload the board and the full screen on top of it."""
        full = [s for s in self.screen_stack if not isinstance(s, ModalScreen)]
        if full and isinstance(full[0], BoardScreen):
            full[0].reload()
        if len(full) > 1:
            top = full[-1]
            reload = getattr(top, "action_reload", None) or getattr(top, "reload", None)
            if callable(reload):
                reload()

    # ---- mail -----------------------------------------------------------
    @work(thread=True, exclusive=True, group="mail", exit_on_error=False)
    def fetch_mail_now(self) -> None:
        """Fetch every mailbox and send the outbox (a timer runs it every few minutes)."""
        from tui_crm.services.mail_fetch import fetch_in_background

        try:
            arrived = fetch_in_background(self.crm)
        except Exception:  # noqa: BLE001 - a mailbox's error is kept on it (crm mail list); the app goes on
            return
        if arrived:
            self._mail_arrived(arrived)

    def watch_mail(self) -> None:
        """Fetch everything, then wait in IMAP IDLE on each INBOX (services.mail_watch) until the app stops."""
        from tui_crm.services.mail_watch import start_watching

        def idling(name: str, on: bool) -> None:
            (self.mail_idling.add if on else self.mail_idling.discard)(name)

        self._stop_mail_watch = start_watching(self.crm, self._mail_arrived, idling)

    def _mail_arrived(self, count: int) -> None:
        """From a mail thread: new mail is stored; the status bar and the screen on top show it."""
        try:
            self.call_from_thread(self.refresh_status)
            self.call_from_thread(self._reload_screens)
        except RuntimeError:  # the app is closing
            pass

    # ---- status bar ---------------------------------------------------
    @work(thread=True, exclusive=True, group="status", exit_on_error=False)
    def refresh_status(self) -> None:
        """Poll pending sync changes, the last sync time and open conflicts; publish to bars."""
        from tui_crm.services.sync import sync_status

        try:
            info = sync_status(self.crm)
        except Exception:  # noqa: BLE001 - no sync tables or a busy store: the counts alone
            status = StoreStatus(
                user=self.crm.user_name, pending=pending_changes(self.crm), last_sync=last_sync(self.crm), now=self.crm.now(),
                new_mail=self._new_mail(),
            )
        else:
            status = StoreStatus(
                user=self.crm.user_name,
                pending=info.pending,
                last_sync=info.last_sync,
                now=self.crm.now(),
                conflicts=info.open_conflicts + info.open_notices,
                new_mail=self._new_mail(),
                hub=self._hub_status_label(info.account),
            )
        self.call_from_thread(self._publish_status, status)

    def _hub_status_label(self, account: str | None) -> str:
        from tui_crm.services.hub import hub_label

        label = hub_label(account)
        return f"{label} · live" if label and self._hub_live else label

    def _publish_status(self, status: StoreStatus) -> None:
        status = replace(status, syncing=self._sync_progress, demo=self.is_demo)
        if status != self.store_status:
            self.store_status = status
            self.status_signal.publish(status)


    def _new_mail(self) -> int:
        """Incoming mail fetched since the app started (0 before any mailbox exists)."""
        try:
            from tui_crm.services.mail_messages import count_new_mail

            return count_new_mail(self.crm, self._started_at)
        except Exception:  # noqa: BLE001 - the count is a nicety; the bar shows the rest
            return 0


def mail_interval_minutes(config_dir: Path) -> int:
    """``mail_interval_minutes`` from config.toml (default 5; 0 turns the background fetch off).

    The app reads ``crm.settings.mail_interval_minutes``; this is the same
    parse for a config folder alone."""
    from tui_crm.config import options_in

    return options_in(config_dir).mail_interval_minutes


def make_app(crm: Crm, pipeline: str | None = None) -> CrmApp:
    """Used by ``crm`` with no arguments and by the tests."""
    return CrmApp(crm, pipeline)
