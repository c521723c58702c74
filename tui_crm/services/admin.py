"""Database housekeeping: backup, restore and check.

These work on the file itself (restore must not run with the store open),
so they take a path rather than an open ``Crm``.
"""

from __future__ import annotations

import os
import sqlite3
from dataclasses import dataclass
from pathlib import Path

from tui_crm.domain.errors import CrmError, NotFoundError
from tui_crm.storage.migrate import SCHEMA_HEAD, backup_copy, current_revision


@dataclass
class CheckReport:
    path: str
    integrity: str
    foreign_key_errors: int
    schema: str | None
    schema_current: bool
    journal_mode: str
    size_bytes: int

    @property
    def ok(self) -> bool:
        return self.integrity == "ok" and self.foreign_key_errors == 0 and self.schema_current


def backup(db_path: Path, target: Path | None = None) -> Path:
    """A consistent copy, safe while the app is running (SQLite backup API)."""
    if not db_path.exists():
        raise NotFoundError(f"No database at {db_path}")
    if target is None:
        return backup_copy(db_path, "backup")
    target.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(target, os.O_CREAT | os.O_WRONLY | os.O_TRUNC, 0o600)
    os.close(fd)
    source = sqlite3.connect(db_path, timeout=30)
    dest = sqlite3.connect(target)
    try:
        source.backup(dest)
    finally:
        dest.close()
        source.close()
    return target


def check(db_path: Path) -> CheckReport:
    if not db_path.exists():
        raise NotFoundError(f"No database at {db_path}")
    conn = sqlite3.connect(db_path, timeout=30)
    try:
        integrity = "; ".join(r[0] for r in conn.execute("PRAGMA integrity_check"))
        fk_errors = len(conn.execute("PRAGMA foreign_key_check").fetchall())
        journal = conn.execute("PRAGMA journal_mode").fetchone()[0]
        schema = current_revision(db_path)
    except sqlite3.DatabaseError as exc:  # not SQLite at all, or damaged beyond reading
        return CheckReport(str(db_path), f"unreadable ({exc})", 0, None, False, "?", db_path.stat().st_size)
    finally:
        conn.close()
    return CheckReport(str(db_path), integrity, fk_errors, schema, schema == SCHEMA_HEAD, journal, db_path.stat().st_size)


def restore(db_path: Path, source: Path) -> Path | None:
    """Replace the database with a backup after checking the backup is sound.

    The current file is backed up first; returns that safety copy.
    """
    if not source.exists():
        raise NotFoundError(f"No backup at {source}")
    report = check(source)
    if report.integrity != "ok":
        raise CrmError(f"{source} is damaged ({report.integrity}); not restoring it")
    if report.schema is None:
        raise CrmError(f"{source} is not a tui-crm database (no schema version); not restoring it")
    safety = backup_copy(db_path, "before-restore") if db_path.exists() else None
    for suffix in ("-wal", "-shm"):
        Path(str(db_path) + suffix).unlink(missing_ok=True)
    backup(source, db_path)
    return safety
