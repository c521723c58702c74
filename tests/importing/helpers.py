"""Small readers of the store for the import tests (live rows only)."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

from tui_crm.services.importing.service import ImportOptions, ImportReport, run_import


def run(crm: Any, path: Path, **options: Any) -> ImportReport:
    return run_import(crm, path, ImportOptions(**options))


def query(crm: Any, sql: str, *params: Any) -> list[tuple[Any, ...]]:
    conn = sqlite3.connect(crm.settings.db_path)
    try:
        return conn.execute(sql, params).fetchall()
    finally:
        conn.close()


def live(crm: Any, table: str) -> int:
    return query(crm, f"SELECT count(*) FROM {table} WHERE deleted_at IS NULL")[0][0]


def channels_of(crm: Any, name: str, kind: str) -> list[str]:
    rows = query(
        crm,
        "SELECT ch.normalized FROM channel ch JOIN contact c ON c.id = ch.entity_id "
        "WHERE c.name = ? AND c.deleted_at IS NULL AND ch.kind = ? ORDER BY ch.sort",
        name,
        kind,
    )
    return [r[0] for r in rows]


def phones_of(crm: Any, name: str) -> list[str]:
    return channels_of(crm, name, "phone")


def emails_of(crm: Any, name: str) -> list[str]:
    return channels_of(crm, name, "email")


def notes_of(crm: Any, name: str) -> list[str]:
    rows = query(
        crm,
        "SELECT n.text FROM note n JOIN contact c ON c.id = n.entity_id"
        " WHERE c.name = ? AND n.deleted_at IS NULL ORDER BY n.text",
        name,
    )
    return [r[0] for r in rows]


def outcomes(report: ImportReport) -> dict[int, tuple[str, str]]:
    return {r.line: (r.action, r.reason) for r in report.rows}
