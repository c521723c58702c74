"""Database housekeeping: backup, restore and check.

These work on the file itself (restore must not run with the store open),
so they take a path rather than an open ``Crm``.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from tui_crm.domain.errors import CrmError, NotFoundError, StoreError
from tui_crm.storage.migrate import SCHEMA_HEAD, backup_copy, fsync_dir, known_revisions, private_copy
from tui_crm.storage.store_file import StoreLock, inspect, refuse_newer, require_store, same_file, store_error


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
    """A consistent copy, safe while the app is running (SQLite backup API).

    The copy is written beside ``target`` and renamed over it: it is 0600
    even over an existing file, and a failed backup leaves no file. The
    database itself is never a target.
    """
    require_store(db_path)
    if target is None:
        return _copying(db_path, db_path, lambda: backup_copy(db_path, "backup"))
    if target.is_dir():
        target = target / f"{db_path.name}.backup-{datetime.now(UTC):%Y%m%dT%H%M%S}.bak"
    if target.exists() and same_file(target, db_path):
        raise CrmError(f"{target} is the database itself (same file); back up to another file")
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise StoreError(f"cannot write {target}: {exc.strerror}") from exc
    return _copying(db_path, target, lambda: private_copy(db_path, target))


def _copying(source: Path, target: Path, copy: Callable[[], Path]) -> Path:
    """Run a copy, with SQLite's and the OS's failures as one-line errors."""
    try:
        return copy()
    except sqlite3.Error as exc:
        raise store_error(exc, source) or StoreError(f"cannot copy {source}: {exc}") from exc
    except OSError as exc:
        raise StoreError(f"cannot write {exc.filename or target}: {exc.strerror or exc}; nothing written") from exc


def check(db_path: Path) -> CheckReport:
    require_store(db_path)
    conn = sqlite3.connect(f"{db_path.resolve().as_uri()}?mode=ro", uri=True, timeout=30)
    try:
        integrity = "; ".join(r[0] for r in conn.execute("PRAGMA integrity_check"))
        fk_errors = len(conn.execute("PRAGMA foreign_key_check").fetchall())
        journal = conn.execute("PRAGMA journal_mode").fetchone()[0]
        info = inspect(db_path)
    except (sqlite3.DatabaseError, StoreError) as exc:  # not SQLite at all, or damaged beyond reading
        return CheckReport(str(db_path), f"unreadable ({exc})", 0, None, False, "?", db_path.stat().st_size)
    finally:
        conn.close()
    if not info.is_ours:
        integrity = f"{integrity}; not a tui-crm database"
    return CheckReport(
        str(db_path), integrity, fk_errors, info.revision, info.revision == SCHEMA_HEAD, journal, db_path.stat().st_size
    )


def check_restore_source(db_path: Path, source: Path) -> CheckReport:
    """Everything that would make a restore from ``source`` refused, before anyone is asked."""
    if not source.is_file():
        raise NotFoundError(f"No backup at {source}" + (" (it is a folder)" if source.is_dir() else ""))
    if db_path.exists() and same_file(source, db_path):
        raise CrmError(f"{source} is the database itself (same file as {db_path}); restore from a backup copy of it")
    if source.stat().st_size == 0:
        raise CrmError(f"{source} is empty, not a tui-crm database; not restoring it")
    report = check(source)
    if report.integrity != "ok":
        reason = "not a tui-crm database" if "not a tui-crm database" in report.integrity else f"damaged ({report.integrity})"
        raise CrmError(f"{source} is {reason}; not restoring it")
    info = inspect(source)
    if info.revision is None or not info.is_ours:
        raise CrmError(f"{source} is not a tui-crm database (no schema version); not restoring it")
    refuse_newer(info, known_revisions())
    return report


def _safety_copy(db_path: Path) -> Path:
    """The database as it is before a restore; byte for byte when SQLite cannot read it (damaged)."""
    try:
        return _copying(db_path, db_path, lambda: backup_copy(db_path, "before-restore"))
    except StoreError:
        if not db_path.stat().st_size:
            raise
    target = db_path.with_name(f"{db_path.name}.before-restore-{datetime.now(UTC):%Y%m%dT%H%M%S}.damaged.bak")
    fd = os.open(target, os.O_CREAT | os.O_TRUNC | os.O_WRONLY, 0o600)
    with os.fdopen(fd, "wb") as out, db_path.open("rb") as src:
        shutil.copyfileobj(src, out)
    return target


def restore(db_path: Path, source: Path) -> Path | None:
    """Replace the database with a backup after checking the backup is sound.

    Refused while any tui-crm process has the database open (their later
    writes would be reported saved and be lost). The current file is backed
    up first; returns that safety copy. The backup is staged beside the
    database and renamed over it, so a failure leaves the old one in place.
    """
    check_restore_source(db_path, source)
    try:
        db_path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise StoreError(f"cannot write {db_path}: {exc.strerror}") from exc
    lock = StoreLock(db_path).exclusive()
    try:
        present = db_path.exists() and db_path.stat().st_size > 0
        safety = _safety_copy(db_path) if present else None
        staged = db_path.with_name(f".{db_path.name}.restoring")
        _copying(source, staged, lambda: private_copy(source, staged))
        for suffix in ("-wal", "-shm"):
            Path(str(db_path) + suffix).unlink(missing_ok=True)
        os.replace(staged, db_path)
        fsync_dir(db_path.parent)
    finally:
        lock.release()
    return safety
