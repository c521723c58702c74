"""The open CRM: engine, settings, pipelines, acting user and clock.

Every service function takes a ``Crm`` first, and so does the sync engine.
It lives here, below both ``services/`` and ``sync/``, so that sync never
imports services (services call sync, never the reverse);
``tui_crm.services.context`` opens one (``open_crm``) and still exports the
name for its callers.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, tzinfo

from sqlalchemy import Engine
from sqlmodel import Session

from tui_crm.config import Settings
from tui_crm.domain.pipelines import PipelineConfig
from tui_crm.storage.store_file import StoreLock, read_only_error, store_error
from tui_crm.storage.unit_of_work import UnitOfWork


@dataclass
class Crm:
    settings: Settings
    engine: Engine
    pipelines: PipelineConfig
    user_id: str
    user_name: str
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))
    notices: list[str] = field(default_factory=list)  # said once on opening (stderr, an app notice)
    # Held while open: ``crm db restore`` refuses a store some process holds.
    lock: StoreLock | None = field(default=None, repr=False)
    created: bool = False  # this open made a new database file
    read_only: bool = False  # the user took write permission away from the file
    pipelines_sha: str = ""  # of the stored configuration ``pipelines`` was parsed from

    @property
    def tz(self) -> tzinfo:
        if self.settings.timezone:
            from zoneinfo import ZoneInfo

            return ZoneInfo(self.settings.timezone)
        tz = datetime.now().astimezone().tzinfo
        assert tz is not None
        return tz

    def now(self) -> datetime:
        """Aware local time: what "today" and "tomorrow" are measured from."""
        return self.clock().astimezone(self.tz)

    def uow(self, batch_id: str | None = None) -> UnitOfWork:
        if self.read_only:
            raise read_only_error(self.settings.db_path)
        work = UnitOfWork(self.engine, self.user_id, batch_id)
        work.now = self.clock().astimezone(UTC)
        work.on_commit["task"] = self._tasks_changed
        return work

    def _tasks_changed(self) -> None:
        """After any committed task change (added by hand, by a stage rule,
        by a mass action or an import; completed, moved, handed over): keep a
        subscribed iCalendar feed current. One place, so no writer forgets."""
        from tui_crm.services.calendar_feed import refresh_feed  # services sit above; imported when used

        refresh_feed(self)

    @contextmanager
    def read(self) -> Iterator[Session]:
        """A read-only session; WAL lets it run beside a writer."""
        try:
            with Session(self.engine, expire_on_commit=False) as session:
                yield session
        except Exception as exc:
            error = store_error(exc, self.settings.db_path)
            if error is None:
                raise
            raise error from exc

    def close(self) -> None:
        self.engine.dispose()
        if self.lock is not None:
            self.lock.release()
