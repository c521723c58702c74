"""The SQLite file itself: schema, migrations, pragmas, privacy, change log,
revisions and tombstones."""

from __future__ import annotations

import ast
import importlib
import json
import sqlite3
import stat
from pathlib import Path

import pytest
from sqlmodel import SQLModel, select

from tui_crm.domain.errors import GateRefused, NotFoundError
from tui_crm.services.deal_queries import DealFilter, list_deals
from tui_crm.services.deals import LeadInput, capture_lead, delete_deal, edit_deal, get_deal, move_deal, restore_deal
from tui_crm.services.search import search
from tui_crm.storage import migrate
from tui_crm.storage.models import ChangeLog, Contact, Deal

FTS_TABLES = {"search_doc", "search_fts"}


def _tables(path: Path) -> set[str]:
    conn = sqlite3.connect(path)
    try:
        return {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    finally:
        conn.close()


def _changes(crm, entity_id: str) -> list[ChangeLog]:
    with crm.read() as session:
        return list(session.exec(select(ChangeLog).where(ChangeLog.entity_id == entity_id).order_by(ChangeLog.seq)))


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


# -- schema and migrations ------------------------------------------------------


def test_schema_head_is_alembics_head():
    assert migrate.SCHEMA_HEAD == migrate.schema_head_from_scripts()


def test_first_open_creates_every_table_and_the_search_index(open_store, tmp_path):
    path = tmp_path / "new" / "crm.db"
    crm = open_store(db=path)
    assert crm.user_name == "Анна"
    tables = _tables(path)
    assert set(SQLModel.metadata.tables) <= tables
    assert FTS_TABLES <= tables
    assert migrate.current_revision(path) == migrate.SCHEMA_HEAD
    # nothing to back up on a brand-new file
    assert not list(path.parent.glob("*.bak"))


def _alembic_metadata_modules() -> list[str]:
    """The table modules the migrations' env.py registers (tui_crm.storage.*)."""
    tree = ast.parse((migrate.MIGRATIONS_DIR / "env.py").read_text(encoding="utf-8"))
    imports = [alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names]
    return [name for name in imports if name.startswith("tui_crm.")]


def test_migrated_schema_matches_the_models(crm):
    """A model change without its migration shows up here."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    modules = _alembic_metadata_modules()
    assert "tui_crm.storage.models" in modules
    for name in modules:
        importlib.import_module(name)
    with crm.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), SQLModel.metadata)
    drift = [d for d in diff if not (d[0] == "remove_table" and d[1].name.startswith("search_"))]
    assert drift == []


def test_fts_uses_unicode61_without_diacritics(crm):
    conn = sqlite3.connect(crm.settings.db_path)
    try:
        sql = conn.execute("SELECT sql FROM sqlite_master WHERE name='search_fts'").fetchone()[0]
    finally:
        conn.close()
    assert "fts5" in sql.lower() and "unicode61 remove_diacritics 2" in sql


def test_upgrade_of_an_existing_database_takes_a_backup_first(crm, open_store, monkeypatch):
    """A file whose revision is behind the code's head is copied before Alembic runs."""
    deal = capture_lead(crm, LeadInput(name="Сделка до миграции"))
    crm.close()
    path = crm.settings.db_path
    upgraded: list[bool] = []

    def fake_upgrade(config, revision):  # the backup must already exist when Alembic runs
        upgraded.append(bool(list(path.parent.glob("crm.db.before-*.bak"))))

    monkeypatch.setattr(migrate, "SCHEMA_HEAD", "0002_future")
    import alembic.command

    monkeypatch.setattr(alembic.command, "upgrade", fake_upgrade)
    open_store()
    assert upgraded == [True]
    [backup] = path.parent.glob("crm.db.before-0002_future-*.bak")
    assert _mode(backup) == 0o600
    copy = sqlite3.connect(backup)
    try:
        assert copy.execute("SELECT name FROM deal WHERE id = ?", (deal.id,)).fetchone() == ("Сделка до миграции",)
        assert copy.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    finally:
        copy.close()


def test_current_schema_opens_without_backup_or_alembic(crm, open_store, monkeypatch):
    crm.close()
    import alembic.command

    def boom(*_args, **_kwargs):
        raise AssertionError("Alembic ran on a current schema")

    monkeypatch.setattr(alembic.command, "upgrade", boom)
    open_store()
    assert not list(crm.settings.db_path.parent.glob("*.bak"))


# -- the file -------------------------------------------------------------------


def test_database_and_its_wal_are_private(open_store, tmp_path):
    path = tmp_path / "new.db"
    crm = open_store(db=path)
    capture_lead(crm, LeadInput(name="Приватно"))
    assert _mode(path) == 0o600
    with crm.engine.connect() as conn:  # keep a connection so the -wal file exists
        conn.exec_driver_sql("SELECT count(*) FROM deal").scalar()
        for suffix in ("-wal", "-shm"):
            side = Path(str(path) + suffix)
            assert side.exists() and _mode(side) == 0o600, suffix


def test_engine_connections_have_the_durability_pragmas(crm):
    with crm.engine.connect() as conn:
        pragma = {p: conn.exec_driver_sql(f"PRAGMA {p}").scalar() for p in ("journal_mode", "synchronous", "foreign_keys")}
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() > 0
    assert pragma == {"journal_mode": "wal", "synchronous": 2, "foreign_keys": 1}


def test_foreign_keys_are_enforced(crm):
    from sqlalchemy.exc import IntegrityError

    with pytest.raises(IntegrityError), crm.uow() as work:
        work.session.add(Deal(name="x", name_fold="x", pipeline_id="nope", stage_id="nope"))
        work.session.flush()


# -- change log, revisions, tombstones --------------------------------------------------


def test_every_mutation_is_logged_with_old_and_new_values_and_the_user(crm):
    deal = capture_lead(crm, LeadInput(name="Лог", budget="100 000"))
    edit_deal(crm, deal.id, {"budget": "250 000", "city": "Казань"})
    rows = _changes(crm, deal.id)
    assert {r.user_id for r in rows} == {crm.user_id}
    create = json.loads(rows[0].changes)
    assert rows[0].op == "create" and create["name"] == [None, "Лог"]
    updates = [json.loads(r.changes) for r in rows if r.op == "update"]
    assert any(u.get("budget_rub") == [None, 10_000_000] for u in updates)
    assert {"budget_rub": [10_000_000, 25_000_000]} in updates
    assert {"custom.city": [None, "Казань"]} in updates


def test_change_log_is_in_the_same_transaction_as_the_data(crm, count_rows):
    """A refused move had already written its --set values: both roll back together."""
    deal = capture_lead(crm, LeadInput(name="Атомарно"))
    before = count_rows(crm, "change_log", "custom_value")
    with pytest.raises(GateRefused):
        move_deal(crm, deal.id, "Квалификация", set_values={"budget_usd": "1000", "segment": "A"})
    assert count_rows(crm, "change_log", "custom_value") == before
    assert get_deal(crm, deal.id).budget_usd is None


def test_revision_increments_on_change_and_not_on_a_no_op(crm):
    deal = capture_lead(crm, LeadInput(name="Ревизия"))
    assert deal.revision == 1
    # a capture that also creates and links a contact with a phone and an e-mail is still revision 1 all over
    full = capture_lead(crm, LeadInput(name="Ревизия 2", phone="+7 916 100-20-30", email="rev@example.ru", company="Рев"))
    assert full.revision == 1
    with crm.read() as session:
        contact = session.get(Contact, full.contacts[0].id)
        assert contact is not None and contact.revision == 1
    assert edit_deal(crm, deal.id, {"budget": "1000"}).revision == 2
    assert edit_deal(crm, deal.id, {"budget": "1000"}).revision == 2
    assert edit_deal(crm, deal.id, {"segment": "A"}).revision == 3


def test_soft_delete_leaves_a_tombstone_and_hides_the_record(crm):
    deal = capture_lead(crm, LeadInput(name="Удаляемая сделка", email="del@example.com"))
    delete_deal(crm, deal.id)
    with crm.read() as session:
        row = session.get(Deal, deal.id)
    assert row is not None and row.deleted_at is not None
    assert [r.op for r in _changes(crm, deal.id)][-1] == "delete"
    assert deal.id not in {d.id for d in list_deals(crm)}
    assert deal.id not in {r.id for r in search(crm, "удаляемая")}
    with pytest.raises(NotFoundError):
        get_deal(crm, deal.id)
    assert [d.id for d in list_deals(crm, DealFilter(deleted=True))] == [deal.id]
    restore_deal(crm, deal.id)
    assert deal.id in {r.id for r in search(crm, "удаляемая")}
    assert [r.op for r in _changes(crm, deal.id)][-1] == "restore"


def test_created_at_follows_the_crm_clock(crm, clock):
    deal = capture_lead(crm, LeadInput(name="Часы"))
    assert deal.created_at == clock.now
