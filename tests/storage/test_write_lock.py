"""Taking the write lock: waits while another writer holds it, fails clearly
only when the wait is over, and never leaves the connection without its busy
timeout."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import pytest

from tui_crm.storage.engine import BUSY_TIMEOUT_MS, begin_immediate


def connect(path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    return conn


@pytest.fixture
def db(tmp_path: Path) -> Path:
    path = tmp_path / "lock.db"
    conn = connect(path)
    conn.execute("CREATE TABLE t (n INTEGER)")
    conn.close()
    return path


def test_a_second_writer_gets_the_lock_once_the_first_commits(db: Path) -> None:
    first, second = connect(db), connect(db)
    first.execute("BEGIN IMMEDIATE")
    first.execute("INSERT INTO t VALUES (1)")
    released = threading.Timer(0.3, first.execute, args=("COMMIT",))
    released.start()
    begin_immediate(second)  # waits for the commit instead of failing
    second.execute("INSERT INTO t VALUES (2)")
    second.execute("COMMIT")
    released.join()
    assert [r[0] for r in second.execute("SELECT n FROM t ORDER BY n")] == [1, 2]


def test_a_lock_held_past_the_timeout_fails_with_database_is_locked(db: Path) -> None:
    first, second = connect(db), connect(db)
    first.execute("BEGIN IMMEDIATE")
    with pytest.raises(sqlite3.OperationalError, match="locked"):
        begin_immediate(second, timeout_ms=200)
    first.execute("ROLLBACK")
    assert second.execute("PRAGMA busy_timeout").fetchone()[0] == BUSY_TIMEOUT_MS
    assert not second.in_transaction
