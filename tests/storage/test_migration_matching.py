"""Migration 0007: e-mails already in a store are folded, and phones already
indexed become searchable by their last seven digits (issue 8)."""

from __future__ import annotations

import importlib
import sqlite3

from tui_crm.services.contacts import get_contact
from tui_crm.services.deals import LeadInput, capture_lead
from tui_crm.services.duplicates import find_duplicates
from tui_crm.services.search import search

MIGRATION = importlib.import_module("tui_crm.storage.migrations.versions.0007_matching")


def _downgrade_to(path, revision: str) -> None:
    """Run the migrations after ``revision`` backwards (their tables go)."""
    from alembic import command

    from tui_crm.storage.engine import make_engine
    from tui_crm.storage.migrate import alembic_config

    engine = make_engine(path)
    config = alembic_config(engine)
    try:
        with engine.begin() as connection:
            config.attributes["connection"] = connection  # type: ignore[attr-defined]
            command.downgrade(config, revision)  # type: ignore[arg-type]
    finally:
        engine.dispose()


def _as_before_the_migration(path, contact_id: str) -> None:
    """Put the file back where an older version left it: an e-mail kept with
    its case (twice, differently), phones indexed without their tails."""
    _downgrade_to(path, MIGRATION.down_revision)
    conn = sqlite3.connect(path)
    try:
        conn.execute("UPDATE channel SET normalized = 'Olga.Elkina@elka.ru' WHERE kind = 'email'")
        conn.execute(
            "INSERT INTO channel (id, entity_type, entity_id, kind, value, normalized, sort)"
            " VALUES ('dupe', 'contact', ?, 'email', 'OLGA.ELKINA@ELKA.RU', 'OLGA.ELKINA@elka.ru', 5)",
            (contact_id,),
        )
        for rowid, body in conn.execute("SELECT rowid, body FROM search_fts").fetchall():
            conn.execute("UPDATE search_fts SET body = ? WHERE rowid = ?", (body.replace("5551234", ""), rowid))
        conn.commit()
    finally:
        conn.close()


def test_upgrade_folds_emails_and_indexes_phone_tails(crm, open_store):
    deal = capture_lead(crm, LeadInput(name="Сайт", contact_name="Ольга", phone="+7 916 555-12-34", email="olga.elkina@elka.ru"))
    contact_id = deal.contacts[0].id
    crm.close()
    _as_before_the_migration(crm.settings.db_path, contact_id)
    store = open_store()  # reopening migrates (after a backup copy)
    assert get_contact(store, contact_id).emails == ["olga.elkina@elka.ru"]
    with store.read() as session:
        found = find_duplicates(session, "contact", emails=["OLGA.elkina@elka.ru"])
    assert [c.id for c in found] == [contact_id]
    assert {(r.entity_type, r.id) for r in search(store, "555-12-34")} == {("contact", contact_id), ("deal", deal.id)}
