"""Opening the SQLite file safely.

WAL so readers never wait for a writer, ``synchronous=FULL`` so a commit the
CLI reports is on disk, foreign keys on, and a busy timeout. Write
transactions start with ``BEGIN IMMEDIATE``: a deferred transaction that
upgrades from read to write can fail at once with "database is locked"
instead of waiting, which is exactly what two writers (the TUI and a CLI
capture) would hit.

Waiting for the write lock is done here, not by SQLite's busy handler: that
handler backs off to 100 ms naps, so beside a writer that re-takes the lock
within a millisecond of committing (a sync pulling page after page, a bulk
loop) a CLI capture could nap for seconds while the lock changed hands many
times. :func:`begin_immediate` retries every few milliseconds instead, and
gives up with SQLite's own "database is locked" only after the same 30 s.
"""

from __future__ import annotations

import os
import random
import sqlite3
import stat
import time
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event

BUSY_TIMEOUT_MS = 30_000
WRITE_OPTION = "crm_write"


def ensure_private_file(path: Path) -> None:
    """Create the database file with mode 0600 before SQLite does.

    SQLite gives its -wal and -shm files the database file's permissions, so
    creating the main file privately keeps all three private. An existing
    file only loses group and other bits: a file the user made read-only
    stays read-only.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists():
        fd = os.open(path, os.O_CREAT | os.O_WRONLY, 0o600)
        os.close(fd)
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        os.chmod(path, mode & 0o700)


def _on_connect(dbapi_connection: Any, _record: Any) -> None:
    # Let SQLAlchemy's "begin" event decide how a transaction starts.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    cursor.execute("PRAGMA journal_mode = WAL")
    cursor.execute("PRAGMA synchronous = FULL")
    cursor.execute("PRAGMA foreign_keys = ON")
    cursor.close()


def begin_immediate(dbapi_connection: sqlite3.Connection, timeout_ms: int = BUSY_TIMEOUT_MS) -> None:
    """Take the write lock, polling every 1-4 ms until ``timeout_ms`` passes."""
    deadline = time.monotonic() + timeout_ms / 1000
    dbapi_connection.execute("PRAGMA busy_timeout = 0")
    try:
        while True:
            try:
                dbapi_connection.execute("BEGIN IMMEDIATE")
                return
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) and "busy" not in str(exc) or time.monotonic() >= deadline:
                    raise
            time.sleep(random.uniform(0.001, 0.004))
    finally:
        dbapi_connection.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")  # for the statements that follow


def _on_begin(conn: Any) -> None:
    if conn.get_execution_options().get(WRITE_OPTION):
        begin_immediate(conn.connection.driver_connection)
    else:
        conn.exec_driver_sql("BEGIN")


def make_engine(path: Path, read_only: bool = False) -> Engine:
    """An engine on ``path`` with the pragmas above; creates the file 0600.

    ``read_only`` opens it with SQLite's ``mode=ro``: a file the user made
    read-only is never written, not even by a checkpoint, whoever runs us.
    """
    if read_only:
        url = f"sqlite:///{path.resolve().as_uri()}?mode=ro&uri=true"
    else:
        ensure_private_file(path)
        url = f"sqlite:///{path}"
    engine = create_engine(url, connect_args={"timeout": BUSY_TIMEOUT_MS / 1000, "check_same_thread": False})
    event.listen(engine, "connect", _on_connect)
    event.listen(engine, "begin", _on_begin)
    return engine
