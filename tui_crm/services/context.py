"""The open CRM: engine, settings, pipelines, acting user and clock.

Every service function takes a ``Crm`` first. It is cheap to open (no
Alembic unless the schema is behind, pipelines re-synced only when their
TOML changed) because ``crm add lead`` opens one per process.
"""

from __future__ import annotations

import getpass
import hashlib
import tomllib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, tzinfo
from importlib import resources

from sqlalchemy import Engine
from sqlmodel import Session, select

from tui_crm.config import Settings
from tui_crm.domain.errors import ConfigError, NotFoundError
from tui_crm.domain.pipelines import PipelineConfig, parse_pipeline_config
from tui_crm.domain.text import fold
from tui_crm.storage.engine import make_engine
from tui_crm.storage.migrate import upgrade_if_needed
from tui_crm.storage.models import Setting, User
from tui_crm.storage.unit_of_work import UnitOfWork


def default_pipelines_text() -> str:
    return resources.files("tui_crm.defaults").joinpath("pipelines.toml").read_text(encoding="utf-8")


def pipelines_text(settings: Settings) -> str:
    """The user's pipelines TOML if they have one, else the shipped default."""
    path = settings.pipelines_file
    return path.read_text(encoding="utf-8") if path.exists() else default_pipelines_text()


def parse_pipelines_text(text: str, origin: str) -> PipelineConfig:
    try:
        return parse_pipeline_config(tomllib.loads(text))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{origin}: {exc}") from exc


@dataclass
class Crm:
    settings: Settings
    engine: Engine
    pipelines: PipelineConfig
    user_id: str
    user_name: str
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))

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
        work = UnitOfWork(self.engine, self.user_id, batch_id)
        work.now = self.clock().astimezone(UTC)
        return work

    @contextmanager
    def read(self) -> Iterator[Session]:
        """A read-only session; WAL lets it run beside a writer."""
        with Session(self.engine, expire_on_commit=False) as session:
            yield session

    def close(self) -> None:
        self.engine.dispose()


def open_crm(settings: Settings, clock: Callable[[], datetime] | None = None) -> Crm:
    """Open (and on first use create) the store the settings point at."""
    engine = make_engine(settings.db_path)
    upgrade_if_needed(engine, settings.db_path)
    text = pipelines_text(settings)
    config = parse_pipelines_text(text, str(settings.pipelines_file))
    crm = Crm(settings=settings, engine=engine, pipelines=config, user_id="", user_name="")
    if clock is not None:
        crm.clock = clock
    _sync_pipelines_if_changed(crm, text)
    user = _resolve_current_user(crm)
    crm.user_id, crm.user_name = user.id, user.name
    return crm


def _sync_pipelines_if_changed(crm: Crm, text: str) -> None:
    digest = hashlib.sha256(text.encode()).hexdigest()
    with crm.read() as session:
        stored = session.get(Setting, "pipelines_sha256")
    if stored is not None and stored.value == digest:
        return
    from tui_crm.services.pipelines import apply_pipeline_config

    with crm.uow() as work:
        apply_pipeline_config(work, crm.pipelines)
        row = work.session.get(Setting, "pipelines_sha256") or Setting(key="pipelines_sha256", value="")
        row.value = digest
        work.session.add(row)


def _resolve_current_user(crm: Crm) -> User:
    wanted = crm.settings.user
    with crm.read() as session:
        users = list(session.exec(select(User).where(User.deleted_at.is_(None))))  # type: ignore[union-attr]
    if wanted:
        key = fold(wanted)
        for user in users:
            if fold(user.name) == key or (user.email and fold(user.email) == key):
                return user
        if users:
            names = ", ".join(u.name for u in users)
            raise NotFoundError(f"No user {wanted!r}. Users: {names}. Add one with: crm users add NAME")
    if users:
        admins = [u for u in users if u.is_admin and u.is_active] or [u for u in users if u.is_active] or users
        return admins[0]
    with crm.uow() as work:
        user = User(name=wanted or getpass.getuser(), is_admin=True)
        work.create(user)
    return user
