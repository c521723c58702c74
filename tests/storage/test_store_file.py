"""Whose file it is, what the mark and the schema say, and who may write it
(tui_crm/storage/store_file.py, on real SQLite files)."""

from __future__ import annotations

import sqlite3
import stat
from pathlib import Path

import pytest

from tui_crm.domain.errors import IncompatibleStore, StoreError, StoreMissing
from tui_crm.services.deals import LeadInput, capture_lead
from tui_crm.storage import migrate
from tui_crm.storage.store_file import APPLICATION_ID, StoreLock, inspect, open_store


def _pragma(path: Path, name: str) -> object:
    conn = sqlite3.connect(path)
    try:
        return conn.execute(f"PRAGMA {name}").fetchone()[0]
    finally:
        conn.close()


def _sql(path: Path, sql: str) -> None:
    conn = sqlite3.connect(path)
    try:
        conn.execute(sql)
        conn.commit()
    finally:
        conn.close()


def test_a_new_store_is_marked_and_says_it_was_created(tmp_path):
    path = tmp_path / "a" / "crm.db"
    store = open_store(path)
    try:
        assert store.created and not store.read_only
    finally:
        store.engine.dispose()
        store.lock.release()
    assert _pragma(path, "application_id") == APPLICATION_ID
    info = inspect(path)
    assert info.is_ours and info.marked and info.revision == migrate.SCHEMA_HEAD
    again = open_store(path)
    assert not again.created
    again.engine.dispose()
    again.lock.release()


def test_an_older_unmarked_store_is_upgraded_with_a_backup_and_marked(crm, open_store, monkeypatch):
    """A store of an older tui-crm: our tables, an older revision, no mark."""
    from alembic import command

    capture_lead(crm, LeadInput(name="Старая"))
    config = migrate.alembic_config(crm.engine)
    with crm.engine.begin() as conn:
        config.attributes["connection"] = conn
        command.downgrade(config, "-1")  # one step back: an older tui-crm's schema
    crm.close()
    path = crm.settings.db_path
    _sql(path, "PRAGMA application_id = 0")
    reopened = open_store()
    assert _pragma(path, "application_id") == APPLICATION_ID
    assert inspect(path).revision == migrate.SCHEMA_HEAD
    [backup] = path.parent.glob(f"crm.db.before-{migrate.SCHEMA_HEAD}-*.bak")
    assert stat.S_IMODE(backup.stat().st_mode) == 0o600
    assert _pragma(backup, "application_id") == 0  # the copy is the file as it was
    assert reopened.user_name == "Анна"


def test_an_unknown_revision_is_refused_before_any_copy_or_write(crm, open_store):
    crm.close()
    path = crm.settings.db_path
    _sql(path, "UPDATE alembic_version SET version_num = '0042_newer'")
    before = path.read_bytes()
    with pytest.raises(IncompatibleStore, match="made by a newer tui-crm; upgrade"):
        open_store()
    assert path.read_bytes() == before
    assert not list(path.parent.glob("*.bak"))


@pytest.mark.parametrize(
    "setup",
    [
        "CREATE TABLE notes (body TEXT)",
        "PRAGMA application_id = 1234",  # marked by another program, no tables
    ],
)
def test_another_programs_file_is_refused_and_left_alone(tmp_path, setup):
    path = tmp_path / "other.db"
    _sql(path, setup)
    before = path.read_bytes()
    with pytest.raises(IncompatibleStore, match="not a tui-crm database"):
        open_store(path)
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["other.db"]


def test_an_empty_sqlite_file_becomes_a_store(tmp_path):
    path = tmp_path / "empty.db"
    _sql(path, "PRAGMA user_version = 0")
    store = open_store(path)
    store.engine.dispose()
    store.lock.release()
    assert inspect(path).is_ours


def test_without_create_a_missing_store_is_not_made(tmp_path):
    path = tmp_path / "nowhere" / "crm.db"
    with pytest.raises(StoreMissing, match="No database at"):
        open_store(path, create=False)
    assert not (tmp_path / "nowhere").exists()


def test_a_read_only_store_reads_and_refuses_writes_without_chmod(crm, open_store, count_rows):
    capture_lead(crm, LeadInput(name="Видна"))
    crm.close()
    path = crm.settings.db_path
    path.chmod(0o400)
    store = open_store()
    assert store.read_only
    before = count_rows(path, "deal", "change_log")
    with pytest.raises(StoreError, match="read-only; nothing saved"):
        capture_lead(store, LeadInput(name="Нет"))
    assert count_rows(path, "deal", "change_log") == before
    assert stat.S_IMODE(path.stat().st_mode) == 0o400


def test_an_open_store_keeps_a_restore_out(crm):
    with pytest.raises(StoreError, match="in use by another tui-crm process"):
        StoreLock(crm.settings.db_path).exclusive()
    crm.close()
    lock = StoreLock(crm.settings.db_path).exclusive()
    lock.release()


def test_a_too_open_file_is_made_private_but_never_more_open(crm, open_store):
    crm.close()
    path = crm.settings.db_path
    path.chmod(0o644)
    open_store().close()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
