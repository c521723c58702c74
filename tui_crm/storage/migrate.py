"""Schema migrations applied at start, after a backup copy.

The common case (schema already current) must cost almost nothing, since
every ``crm add lead`` opens the store: it is one stdlib sqlite3 query
against ``alembic_version``. Alembic itself is imported only when an upgrade
is due.
"""

from __future__ import annotations

import shutil
import sqlite3
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import Engine

MIGRATIONS_DIR = Path(__file__).with_name("migrations")
# The newest revision in migrations/versions; tests check they agree.
SCHEMA_HEAD = "0005_agenda_indexes"


def current_revision(path: Path) -> str | None:
    """The schema revision of a database file, None when it has none yet."""
    if not path.exists() or path.stat().st_size == 0:
        return None
    conn = sqlite3.connect(path, timeout=30)
    try:
        row = conn.execute("SELECT name FROM sqlite_master WHERE type='table' AND name='alembic_version'").fetchone()
        if row is None:
            return None
        version = conn.execute("SELECT version_num FROM alembic_version").fetchone()
        return version[0] if version else None
    finally:
        conn.close()


def backup_copy(path: Path, suffix: str) -> Path:
    """A consistent copy of the database (SQLite's online backup), mode 0600."""
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
    target = path.with_name(f"{path.name}.{suffix}-{stamp}.bak")
    source = sqlite3.connect(path, timeout=30)
    try:
        target.touch(mode=0o600)
        dest = sqlite3.connect(target)
        try:
            source.backup(dest)
        finally:
            dest.close()
    finally:
        source.close()
    return target


def alembic_config(engine: Engine | None = None) -> object:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    if engine is not None:
        config.set_main_option("sqlalchemy.url", str(engine.url))
    return config


def upgrade_if_needed(engine: Engine, path: Path) -> Path | None:
    """Bring the schema to head; returns the backup made, if any."""
    revision = current_revision(path)
    if revision == SCHEMA_HEAD:
        return None
    backup = backup_copy(path, f"before-{SCHEMA_HEAD}") if revision is not None else None
    from alembic import command

    config = alembic_config(engine)
    with engine.begin() as connection:
        config.attributes["connection"] = connection  # type: ignore[attr-defined]
        command.upgrade(config, "head")  # type: ignore[arg-type]
    return backup


def schema_head_from_scripts() -> str | None:
    """Alembic's own view of the head revision (used by tests)."""
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(alembic_config()).get_current_head()  # type: ignore[arg-type]


def shutil_copy_private(src: Path, dst: Path) -> None:
    """Copy a file keeping it private (used by restore)."""
    shutil.copyfile(src, dst)
    dst.chmod(0o600)
