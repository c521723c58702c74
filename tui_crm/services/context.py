"""The open CRM: engine, settings, pipelines, acting user and clock.

Every service function takes a ``Crm`` first (the class is in
``tui_crm.crm``, below services and sync). It is cheap to open (no
Alembic unless the schema is behind, pipelines re-synced only when their
TOML changed) because ``crm add lead`` opens one per process.

The pipelines configuration in effect is the last one applied, kept in the
database (``setting`` ``pipelines_toml``): the user's file takes effect on
``crm pipelines reload`` only, and a broken file never stops anything: the
store opens with the last good configuration and ``Crm.notices`` says why.
"""

from __future__ import annotations

import getpass
import tomllib
from collections.abc import Callable
from datetime import datetime
from importlib import resources

from sqlmodel import select

from tui_crm.config import Settings
from tui_crm.crm import Crm
from tui_crm.domain.errors import ConfigError, NotFoundError, ValidationError
from tui_crm.domain.pipelines import ConfigAt, PipelineConfig, line_of, parse_pipeline_config
from tui_crm.domain.text import fold
from tui_crm.storage.models import User
from tui_crm.storage.store_file import open_store


def default_pipelines_text() -> str:
    return resources.files("tui_crm.defaults").joinpath("pipelines.toml").read_text(encoding="utf-8")


def pipelines_text(settings: Settings) -> str:
    """The user's pipelines TOML if they have one, else the shipped default.

    A file that is not UTF-8 (or not readable) is a ConfigError naming the
    file and the line of the first bad byte.
    """
    path = settings.pipelines_file
    if not path.exists():
        return default_pipelines_text()
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"{path}: cannot be read ({exc.strerror}); fix it or delete it to use the defaults") from None
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise ConfigError(
            f"{path} line {line}: not valid UTF-8 (byte 0x{raw[exc.start]:02x}); save the file as UTF-8"
        ) from None


def parse_pipelines_text(text: str, origin: str) -> PipelineConfig:
    """Parse and check a pipelines TOML; every mistake is a ConfigError that
    names ``origin`` (the file) and, where it can be found, the line."""
    try:
        return parse_pipeline_config(tomllib.loads(text))
    except tomllib.TOMLDecodeError as exc:  # its message ends "(at line N, column M)"
        raise ConfigError(f"{origin}: {exc}") from None
    except ConfigAt as exc:
        line = line_of(text, exc.anchor)
        raise ConfigError(f"{origin}{f' line {line}' if line else ''}: {exc}") from None
    except ConfigError as exc:
        raise ConfigError(f"{origin}: {exc}") from None
    except (TypeError, AttributeError, KeyError, ValueError) as exc:  # a table where a list belongs, and the like
        raise ConfigError(f"{origin}: unexpected layout ({exc!r}); compare with the shipped file (crm pipelines edit)") from None


def open_crm(settings: Settings, clock: Callable[[], datetime] | None = None, create: bool = True) -> Crm:
    """Open the store the settings point at; with ``create``, make it on first use.

    Commands that only read pass ``create=False``: a typo in ``--db`` must
    not leave a new empty database (and its folders) behind.
    """
    store = open_store(settings.db_path, create)
    crm = Crm(settings=settings, engine=store.engine, pipelines=PipelineConfig(pipelines=()), user_id="", user_name="")
    crm.lock, crm.created, crm.read_only = store.lock, store.created, store.read_only
    if clock is not None:
        crm.clock = clock
    from tui_crm.services.pipelines import load_pipelines

    try:
        load_pipelines(crm)
        user = _resolve_current_user(crm)
    except BaseException:
        crm.close()
        raise
    crm.user_id, crm.user_name = user.id, user.name
    return crm


def _resolve_current_user(crm: Crm) -> User:
    """The user this process acts as: the one asked for (``--user``,
    ``CRM_USER``, config.toml), else the first active admin; on first use
    of an empty store, a new admin.

    A deactivated user is refused here, once, instead of in every write:
    like amoCRM, deactivation locks the person out (reading too), so neither
    a command nor the app runs and writes change-log rows as them.
    """
    wanted = crm.settings.user
    with crm.read() as session:
        users = list(session.exec(select(User).where(User.deleted_at.is_(None))))  # type: ignore[union-attr]
    active = [u for u in users if u.is_active]
    if wanted:
        key = fold(wanted)
        for user in users:
            if fold(user.name) == key or (user.email and fold(user.email) == key):
                if not user.is_active:
                    raise _deactivated(user, active)
                return user
        if users:
            names = ", ".join(u.name for u in users)
            raise NotFoundError(f"No user {wanted!r}. Users: {names}. Add one with: crm users add NAME")
    if users:
        if not active:
            raise ValidationError("user", "every user of this CRM is deactivated; nobody can act in it")
        admins = [u for u in active if u.is_admin] or active
        return admins[0]
    with crm.uow() as work:
        # Under the write lock: of processes opening a new store at once,
        # only the first makes the admin; the others act as that one.
        first = work.session.exec(select(User).where(User.deleted_at.is_(None))).first()  # type: ignore[union-attr]
        if first is not None:
            return first
        user = User(name=wanted or getpass.getuser(), is_admin=True)
        work.create(user)
    return user


def _deactivated(user: User, active: list[User]) -> ValidationError:
    """The refusal for a deactivated user, naming who can undo it and how."""
    admins = [u for u in active if u.is_admin]
    as_admin = f"--user {_arg(admins[0].name)} " if admins else ""
    who = ", ".join(u.name for u in admins) or "an admin"
    return ValidationError(
        "user",
        f"{user.name} is deactivated and cannot work in this CRM. "
        f"{who} can reactivate them: crm {as_admin}users activate {_arg(user.name)}",
    )


def _arg(name: str) -> str:
    """A name as typed on a command line (quoted only when it has spaces)."""
    return f'"{name}"' if any(c.isspace() for c in name) else name
