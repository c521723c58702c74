"""Schema migrations applied at start, after a backup copy.

The common case (schema already current, file marked as ours) must cost
almost nothing, since every ``crm add lead`` opens the store: it is one
stdlib sqlite3 connection reading ``application_id`` and ``alembic_version``
(storage/store_file.py). Alembic itself is imported only when an upgrade is
due, and then runs under the write lock.
"""

from __future__ import annotations

import os
import sqlite3
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Connection, Engine

from tui_crm.storage.engine import WRITE_OPTION

if TYPE_CHECKING:
    from tui_crm.storage.store_file import FileInfo

MIGRATIONS_DIR = Path(__file__).with_name("migrations")
# The newest revision in migrations/versions; tests check they agree.
SCHEMA_HEAD = "0013_mail_tls"


def current_revision(path: Path) -> str | None:
    """The schema revision of a database file, None when it has none yet."""
    from tui_crm.storage.store_file import inspect

    return inspect(path).revision


def known_revisions() -> set[str]:
    """Every revision this version has a migration for (file name = revision)."""
    return {p.stem for p in (MIGRATIONS_DIR / "versions").glob("*.py") if not p.name.startswith("_")}


def private_copy(source: Path, target: Path) -> Path:
    """A consistent copy of ``source`` (SQLite's online backup) at ``target``, mode 0600.

    Written to a temporary file beside ``target`` and renamed over it, so a
    failure leaves no empty or half-written file and an existing target is
    replaced whole (taking the new file's 0600, not the old file's mode).
    """
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
    os.close(fd)
    try:
        src = sqlite3.connect(f"{source.resolve().as_uri()}?mode=ro", uri=True, timeout=30)
        try:
            dest = sqlite3.connect(tmp)
            try:
                src.backup(dest)
            finally:
                dest.close()
        finally:
            src.close()
        os.chmod(tmp, 0o600)
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    fsync_dir(target.parent)
    return target


def fsync_dir(folder: Path) -> None:
    """Make a rename in ``folder`` durable (POSIX; a no-op where folders cannot be opened)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def backup_copy(path: Path, suffix: str) -> Path:
    """A copy beside the database, ``<name>.<suffix>-<UTC stamp>.bak``, mode 0600."""
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
    target = path.with_name(f"{path.name}.{suffix}-{stamp}.bak")
    n = 1
    while target.exists():  # two in one second: keep both
        n += 1
        target = path.with_name(f"{path.name}.{suffix}-{stamp}-{n}.bak")
    return private_copy(path, target)


def alembic_config(engine: Engine | None = None) -> object:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    if engine is not None:
        # ConfigParser interpolates '%': a path such as "50%.sqlite3" must not break it
        config.set_main_option("sqlalchemy.url", str(engine.url).replace("%", "%%"))
    return config


def needs_work(info: FileInfo) -> bool:
    """Anything to do under the write lock: create, migrate or mark."""
    return info.revision != SCHEMA_HEAD or not info.marked


def upgrade_if_needed(engine: Engine, path: Path) -> tuple[Path | None, bool]:
    """Create, migrate and mark the store under the write lock.

    Returns the backup made (if any) and whether this call created the
    schema in a new file.

    The lock is SQLite's own (``BEGIN IMMEDIATE``), the one every write
    takes: of several processes opening a new file at once, one creates the
    schema and the others, once they get the lock, find it done. The
    revision is read again under the lock for that reason. A newer schema
    is refused before anything is written or copied.
    """
    from tui_crm.storage.store_file import APPLICATION_ID, refuse_foreign, refuse_newer

    with engine.connect() as conn:
        conn = conn.execution_options(**{WRITE_OPTION: True})
        with conn.begin():
            info = _info_in(conn, path)
            refuse_foreign(info)
            if info.revision != SCHEMA_HEAD:
                refuse_newer(info, known_revisions())
            backup = None
            if info.revision != SCHEMA_HEAD:
                backup = backup_copy(path, f"before-{SCHEMA_HEAD}") if info.revision is not None else None
                from alembic import command

                config = alembic_config(engine)
                config.attributes["connection"] = conn  # type: ignore[attr-defined]
                command.upgrade(config, "head")  # type: ignore[arg-type]
            if not info.marked:
                conn.exec_driver_sql(f"PRAGMA application_id = {APPLICATION_ID}")
    return backup, info.revision is None


def _info_in(conn: Connection, path: Path) -> FileInfo:
    """The file's mark, tables and revision as this transaction sees them."""
    from tui_crm.storage.store_file import FileInfo

    app_id = conn.exec_driver_sql("PRAGMA application_id").scalar() or 0
    tables = frozenset(r[0] for r in conn.exec_driver_sql("SELECT name FROM sqlite_master WHERE type='table'"))
    revision = None
    if "alembic_version" in tables:
        revision = conn.exec_driver_sql("SELECT version_num FROM alembic_version").scalar()
    return FileInfo(path, exists=bool(tables) or bool(app_id), application_id=app_id, revision=revision, tables=tables)


def schema_head_from_scripts() -> str | None:
    """Alembic's own view of the head revision (used by tests)."""
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(alembic_config()).get_current_head()  # type: ignore[arg-type]

