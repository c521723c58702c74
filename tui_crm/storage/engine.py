"""Opening the SQLite file safely.

WAL so readers never wait for a writer, ``synchronous=FULL`` so a commit the
CLI reports is on disk, foreign keys on, and a busy timeout. Write
transactions start with ``BEGIN IMMEDIATE``: a deferred transaction that
upgrades from read to write can fail at once with "database is locked"
instead of waiting, which is exactly what two writers (the TUI and a CLI
capture) would hit.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event

BUSY_TIMEOUT_MS = 30_000
WRITE_OPTION = "crm_write"


def ensure_private_file(path: Path) -> None:
    """Create the database file with mode 0600 before SQLite does.

    SQLite gives its -wal and -shm files the database file's permissions, so
    creating the main file privately keeps all three private.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists():
        fd = os.open(path, os.O_CREAT | os.O_WRONLY, 0o600)
        os.close(fd)
    os.chmod(path, 0o600)


def _on_connect(dbapi_connection: Any, _record: Any) -> None:
    # Let SQLAlchemy's "begin" event decide how a transaction starts.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    cursor.execute("PRAGMA journal_mode = WAL")
    cursor.execute("PRAGMA synchronous = FULL")
    cursor.execute("PRAGMA foreign_keys = ON")
    cursor.close()


def _on_begin(conn: Any) -> None:
    if conn.get_execution_options().get(WRITE_OPTION):
        conn.exec_driver_sql("BEGIN IMMEDIATE")
    else:
        conn.exec_driver_sql("BEGIN")


def make_engine(path: Path) -> Engine:
    """An engine on ``path`` with the pragmas above; creates the file 0600."""
    ensure_private_file(path)
    engine = create_engine(
        f"sqlite:///{path}",
        connect_args={"timeout": BUSY_TIMEOUT_MS / 1000, "check_same_thread": False},
    )
    event.listen(engine, "connect", _on_connect)
    event.listen(engine, "begin", _on_begin)
    return engine
