"""The database file on disk: whose it is, who has it open, what went wrong.

- Our files carry ``PRAGMA application_id`` = :data:`APPLICATION_ID`; a
  store made before the mark existed is recognised by its ``alembic_version``
  and core tables and is marked when opened. Any other SQLite file is
  refused rather than converted in place.
- Every open store holds a shared ``flock`` on ``<db>.lock`` for its whole
  life; ``crm db restore`` needs it exclusively, so it cannot pull the file
  from under the app or another command (whose later writes would be
  reported saved and be gone).
- :func:`store_error` turns SQLite's failures about the file itself (read
  only, disk full, damaged, cannot open) into one-line ``CrmError``s.

Everything here is stdlib: ``crm add lead`` opens a store per process.
"""

from __future__ import annotations

import os
import sqlite3
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from tui_crm.domain.errors import IncompatibleStore, StoreError, StoreMissing

# "tCRM": what ``PRAGMA application_id`` says in a tui-crm database.
APPLICATION_ID = 0x7443524D
# Tables only a tui-crm store has (with ``alembic_version``): a store made
# before the application_id mark is recognised by them.
OUR_TABLES = frozenset({"alembic_version", "deal", "change_log", "pipeline"})
LOCK_WAIT_S = 30.0

if TYPE_CHECKING:
    from sqlalchemy import Engine


@dataclass
class FileInfo:
    """What a database file holds, read without writing anything."""

    path: Path
    exists: bool  # a file with content (a 0-byte file is a new store)
    application_id: int = 0
    revision: str | None = None
    tables: frozenset[str] = field(default_factory=frozenset)

    @property
    def is_ours(self) -> bool:
        if self.application_id == APPLICATION_ID:
            return True
        return self.application_id == 0 and OUR_TABLES <= self.tables

    @property
    def is_blank(self) -> bool:
        """No content of anybody's: safe to make a store in."""
        return not self.exists or (self.application_id == 0 and not self.tables)

    @property
    def marked(self) -> bool:
        return self.application_id == APPLICATION_ID


def inspect(path: Path) -> FileInfo:
    """Read the mark, the tables and the schema revision of ``path``."""
    if path.is_dir():
        raise StoreError(f"{path} is a folder; the database must be a file (check --db / CRM_DB)")
    try:
        if path.stat().st_size == 0:
            return FileInfo(path, exists=False)
    except FileNotFoundError:
        return FileInfo(path, exists=False)
    except OSError as exc:
        raise StoreError(f"cannot read {path}: {exc.strerror}") from exc
    try:
        conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, timeout=30)
        try:
            app_id = conn.execute("PRAGMA application_id").fetchone()[0]
            tables = frozenset(r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'"))
            revision = None
            if "alembic_version" in tables:
                row = conn.execute("SELECT version_num FROM alembic_version").fetchone()
                revision = row[0] if row else None
        finally:
            conn.close()
    except sqlite3.Error as exc:
        raise store_error(exc, path) or StoreError(f"cannot read {path}: {exc}") from exc
    return FileInfo(path, exists=True, application_id=app_id, revision=revision, tables=tables)


def refuse_foreign(info: FileInfo) -> None:
    """A SQLite file of another program is never converted into ours."""
    if info.is_ours or info.is_blank:
        return
    tables = ", ".join(sorted(info.tables)[:5]) or "none"
    raise IncompatibleStore(
        f"{info.path} is not a tui-crm database (application_id {info.application_id:#x}, tables: {tables}); "
        "tui-crm will not convert it: point --db at a tui-crm database or at a new file"
    )


def refuse_newer(info: FileInfo, known: set[str]) -> None:
    if info.revision is not None and info.revision not in known:
        raise IncompatibleStore(
            f"{info.path} was made by a newer tui-crm; upgrade tui-crm to open it "
            f"(its schema {info.revision} is unknown to this version)"
        )


def is_read_only(path: Path) -> bool:
    """The user took write permission away (kept even for root)."""
    try:
        mode = path.stat().st_mode
    except OSError:
        return False
    return not mode & 0o200 or not os.access(path, os.W_OK)


def same_file(a: Path, b: Path) -> bool:
    """Same inode (through symlinks and hard links), or the same real path."""
    try:
        return os.path.samefile(a, b)
    except OSError:
        return os.path.realpath(a) == os.path.realpath(b)


def backups_of(path: Path) -> list[Path]:
    """The ``.bak`` copies beside the database, newest first."""
    try:
        found = list(path.parent.glob(f"{path.name}.*.bak"))
    except OSError:
        return []
    return sorted(found, key=lambda p: p.name, reverse=True)


def damaged(path: Path, detail: str) -> StoreError:
    """The message for a file SQLite cannot read, with the way back."""
    copies = backups_of(path)
    if copies:
        listed = ", ".join(str(p) for p in copies[:3]) + (f" and {len(copies) - 3} more" if len(copies) > 3 else "")
        how = f"restore a backup: crm db restore {copies[0]} (backups: {listed})"
    else:
        how = "restore a backup: crm db restore BACKUP (no backups found beside it)"
    return StoreError(f"{path} is damaged or not a database ({detail}); {how}")


def read_only_error(path: Path) -> StoreError:
    """A write refused on a file the user made read-only."""
    return StoreError(f"{path} is read-only; nothing saved. Reading works; to change data: chmod u+w {path}")


def store_error(exc: BaseException, path: Path) -> StoreError | None:
    """A one-line error for SQLite failures about the file, else None."""
    orig = getattr(exc, "orig", None) or exc
    if not isinstance(orig, sqlite3.Error):
        return None
    text = str(orig)
    if "readonly" in text or "read-only" in text:
        if is_read_only(path):
            return read_only_error(path)
        return StoreError(
            f"cannot use {path}: its folder {path.parent} is read-only and SQLite keeps its -wal and -shm files there; "
            f"make the folder writable (chmod u+w {path.parent}); nothing saved"
        )
    if "disk is full" in text:
        return StoreError(f"the disk holding {path} is full (database or disk is full); nothing saved. Free some space and retry")
    if "disk I/O error" in text:
        return StoreError(f"disk I/O error on {path}; nothing saved. Check free space and the disk, then: crm db check")
    if "malformed" in text or "not a database" in text:
        return damaged(path, text)
    if "unable to open" in text:
        return StoreError(f"cannot open {path}: check that {path.parent} exists and is writable")
    if "locked" in text:
        return StoreError(f"{path} stayed busy (another process held the write lock for 30 s); nothing saved. Try again")
    return None


class StoreLock:
    """``flock`` on ``<db>.lock``: shared while a store is open, exclusive for a restore."""

    def __init__(self, db_path: Path) -> None:
        self.path = db_path.with_name(db_path.name + ".lock")
        self.fd: int | None = None

    def _open(self, create: bool = True) -> int | None:
        for flags in ((os.O_RDWR | os.O_CREAT) if create else os.O_RDWR, os.O_RDONLY):
            try:
                return os.open(self.path, flags, 0o600)
            except OSError:
                continue
        return None  # a read-only folder without a lock file: nobody can restore there either

    def exists(self) -> bool:
        return self.path.exists()

    def shared(self, wait_s: float = LOCK_WAIT_S) -> StoreLock:
        """Mark the store open; waits while a restore is replacing it."""
        try:
            import fcntl
        except ImportError:  # pragma: no cover - not POSIX
            return self
        self.fd = self._open()
        if self.fd is None:
            return self
        deadline = time.monotonic() + wait_s
        while True:
            try:
                fcntl.flock(self.fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
                return self
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    self.release()
                    raise StoreError(f"{self.path.with_suffix('')} is being restored by another process; try again") from None
                time.sleep(0.02)

    def exclusive(self) -> StoreLock:
        """Take the file for a restore, or refuse when any process has it open."""
        try:
            import fcntl
        except ImportError:  # pragma: no cover - not POSIX
            return self
        self.fd = self._open()
        if self.fd is None:
            return self
        try:
            fcntl.flock(self.fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            self.release()
            db = self.path.with_name(self.path.name.removesuffix(".lock"))
            raise StoreError(
                f"{db} is in use by another tui-crm process (the app, a sync or a command); close it, then restore again"
            ) from None
        return self

    def release(self) -> None:
        if self.fd is not None:
            os.close(self.fd)  # closing drops the flock
            self.fd = None


def require_store(path: Path) -> None:
    """For commands that only read: no file there means nothing to read."""
    try:
        present = path.stat().st_size > 0
    except OSError:
        present = False
    if not present:
        raise StoreMissing(
            f"No database at {path}; nothing to read. Check --db / CRM_DB, "
            "or create it with a writing command (crm add lead NAME)"
        )


@dataclass
class OpenStore:
    """An engine on a checked file, with the shared lock that marks it open."""

    engine: Engine
    lock: StoreLock
    created: bool  # this process made the schema in a new file
    read_only: bool


def open_store(path: Path, create: bool = True) -> OpenStore:
    """Open ``path`` after checking whose it is; create it only if ``create``.

    Refused before anything is written: another program's SQLite file, a
    schema newer than this version knows, a missing file when ``create`` is
    false. A file without write permission opens read-only.
    """
    from tui_crm.storage.engine import make_engine
    from tui_crm.storage.migrate import SCHEMA_HEAD, known_revisions, needs_work, upgrade_if_needed

    if not create:
        require_store(path)
    lock = StoreLock(path)
    engine = None
    try:
        if create:
            path.parent.mkdir(parents=True, exist_ok=True)
        # Lock before looking when the lock file is there (a restore may be
        # replacing the file); else look first, so that a foreign file is
        # refused without leaving a lock file beside it.
        locked_first = lock.exists()
        if locked_first:
            lock.shared()
        info = inspect(path)
        refuse_foreign(info)
        if not locked_first:
            lock.shared()
        if info.revision != SCHEMA_HEAD:
            refuse_newer(info, known_revisions())
        read_only = info.exists and is_read_only(path)
        engine = make_engine(path, read_only)
        created = False
        if needs_work(info):
            if not read_only:
                created = upgrade_if_needed(engine, path)[1]
            elif info.revision != SCHEMA_HEAD:
                raise StoreError(f"{path} is read-only and needs a schema upgrade; make it writable (chmod u+w {path})")
        return OpenStore(engine, lock, created, read_only)
    except Exception as exc:
        if engine is not None:
            engine.dispose()
        lock.release()
        error = None if isinstance(exc, StoreError) else store_error(exc, path)
        if isinstance(exc, OSError):
            error = StoreError(f"cannot use {path}: {exc.strerror or exc} ({exc.filename or path.parent}); nothing saved")
        if error is None:
            raise
        raise error from exc
