"""Seed data written once per test process and copied into each test's store.

Seeding a board or the screens' records through services costs half a
second or more (dozens of units of work, each a synced commit); a hundred
tests start from the same records. ``seed_once(crm, build)`` runs
``build(crm)`` the first time and keeps a copy of the resulting database
file; later calls on a store in the same starting state copy that file into
the test's store with SQLite's backup API (the store stays open: its engine
sees the new pages) and return a copy of what ``build`` returned (the ids).

"The same starting state" is checked, not assumed: the key holds every row
of the store before seeding, the acting user, the time zone, the clock's
time and whether record stamps follow the CRM clock. A test that wrote
something first, or runs at another time, gets its own seed (made the slow
way once).
"""

from __future__ import annotations

import atexit
import copy
import hashlib
import shutil
import sqlite3
import tempfile
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")

_SEEDS: dict[tuple[object, ...], tuple[Path, Any]] = {}
_DIR: Path | None = None


def store_file_from(template: Path, db: Path) -> Path:
    """``db`` as a private copy of a migrated template (``_crm_template`` in tests/conftest.py)."""
    shutil.copyfile(template, db)
    db.chmod(0o600)
    return db


def seed_once(crm: Any, build: Callable[[Any], T]) -> T:
    """``build(crm)``, or the database it produced last time copied into ``crm``'s store."""
    key = _key(crm, build)
    found = _SEEDS.get(key)
    if found is not None:
        path, result = found
        _copy_database(path, crm.settings.db_path)
        return copy.deepcopy(result)
    result = build(crm)
    path = _seed_dir() / f"seed-{len(_SEEDS)}.db"
    _copy_database(crm.settings.db_path, path)
    _SEEDS[key] = (path, copy.deepcopy(result))
    return result


def _key(crm: Any, build: Callable[..., Any]) -> tuple[object, ...]:
    from tui_crm.domain import ids

    stamps_follow_clock = ids.datetime is not datetime  # screens_fixtures.freeze_record_stamps
    return (
        build.__module__,
        build.__qualname__,
        _content_digest(crm.settings.db_path),
        crm.user_id,
        crm.settings.timezone,
        crm.clock().isoformat(),
        stamps_follow_clock,
    )


def _content_digest(path: Path) -> str:
    """A digest of every row of every table: two stores with the same one seed alike."""
    digest = hashlib.sha256()
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")]
        for table in tables:
            digest.update(table.encode())
            try:
                rows = conn.execute(f'SELECT * FROM "{table}"').fetchall()
            except sqlite3.OperationalError:  # a virtual table's module the plain driver lacks
                continue
            for row in sorted(rows, key=repr):
                digest.update(repr(row).encode())
    finally:
        conn.close()
    return digest.hexdigest()


def _copy_database(source: Path, target: Path) -> None:
    """Replace ``target``'s content with ``source``'s, page by page (both may be open elsewhere)."""
    src = sqlite3.connect(source)
    dst = sqlite3.connect(target)
    try:
        src.backup(dst)
    finally:
        dst.close()
        src.close()


def _seed_dir() -> Path:
    global _DIR
    if _DIR is None:
        _DIR = Path(tempfile.mkdtemp(prefix="crm-seeds-"))
        atexit.register(shutil.rmtree, _DIR, True)
    return _DIR
