"""The floor for ``crm add lead``: a bare Python process that imports sqlmodel
and durably inserts one row.

    python bench/floor_insert.py PATH

It opens the SQLite file the way the store does (WAL, ``synchronous=FULL``,
foreign keys, busy timeout), starts the write with ``BEGIN IMMEDIATE``,
inserts one row and commits: the least any capture command can do. The
DESIGN target is ``crm add lead`` at most 1.25 x this process's wall time.
"""

from __future__ import annotations

import sys
import uuid
from datetime import UTC, datetime

from sqlalchemy import event
from sqlmodel import create_engine, text  # the import being paid for is sqlmodel's


def _on_connect(dbapi_connection: object, _record: object) -> None:
    dbapi_connection.isolation_level = None  # type: ignore[attr-defined]
    for pragma in ("busy_timeout = 30000", "journal_mode = WAL", "synchronous = FULL", "foreign_keys = ON"):
        dbapi_connection.execute(f"PRAGMA {pragma}")  # type: ignore[attr-defined]


def _on_begin(conn: object) -> None:
    conn.exec_driver_sql("BEGIN IMMEDIATE")  # type: ignore[attr-defined]


def main(path: str, name: str = "X") -> None:
    engine = create_engine(f"sqlite:///{path}", connect_args={"timeout": 30})
    event.listen(engine, "connect", _on_connect)
    event.listen(engine, "begin", _on_begin)
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE IF NOT EXISTS floor (id TEXT PRIMARY KEY, name TEXT, created_at TEXT)")
        conn.execute(
            text("INSERT INTO floor (id, name, created_at) VALUES (:id, :name, :at)"),
            {"id": uuid.uuid4().hex, "name": name, "at": datetime.now(UTC).isoformat()},
        )
    engine.dispose()


if __name__ == "__main__":
    main(sys.argv[1], *sys.argv[2:3])
