"""Writing: batches commit whole, imports resume or undo cleanly, records
get their change-log rows (so a sync sends them) and search entries."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.importing.amofiles import CONTACTS_HEADER, contact, write_csv
from tests.importing.helpers import live, query, run
from tui_crm.services.importing.history import list_imports, undo_import
from tui_crm.services.importing.service import ImportOptions, run_import

ROWS = [contact(f"Контакт {n}", phone=f"+7 916 000-00-{n:02d}", tags="импорт") for n in range(1, 8)]


class Killed(Exception):
    pass


def _kill_after_first_batch(done: int, total: int) -> None:
    raise Killed


def test_a_killed_import_resumes_after_its_last_committed_batch(crm, files: Path):
    path = write_csv(files / "c.csv", CONTACTS_HEADER, ROWS)

    with pytest.raises(Killed):
        run_import(crm, path, ImportOptions(batch_rows=3), progress=_kill_after_first_batch)
    assert live(crm, "contact") == 3
    assert list_imports(crm)[0].status == "running"

    resumed = run(crm, path, batch_rows=3)

    assert resumed.resumed_from == 3
    assert live(crm, "contact") == 7
    assert resumed.counts["created"] == 7 and resumed.counts["rows"] == 7
    assert [i.status for i in list_imports(crm)] == ["done"]


def test_a_killed_import_can_be_undone(crm, files: Path):
    path = write_csv(files / "c.csv", CONTACTS_HEADER, ROWS)
    with pytest.raises(Killed):
        run_import(crm, path, ImportOptions(batch_rows=3), progress=_kill_after_first_batch)

    undo_import(crm, list_imports(crm)[0].id)

    assert live(crm, "contact") == 0
    assert query(crm, "SELECT count(*) FROM search_doc") == [(0,)]


def test_undo_removes_what_it_created_and_restores_what_it_changed(crm, files: Path):
    from tui_crm.services.contacts import ContactInput, add_contact

    add_contact(crm, ContactInput(name="Олег", phones=["+7 916 000-00-01"], position="Менеджер"))
    header = ["Тип", "Наименование", "Рабочий телефон", "Рабочий email", "Должность", "Теги"]
    rows = [
        ["контакт", "Олег Петров", "+7 916 000-00-01", "oleg@x.ru", "Директор", "VIP"],
        ["контакт", "Новая", "+7 916 000-00-02", "", "", ""],
    ]
    path = write_csv(files / "u.csv", header, rows)
    report = run(crm, path, mode="upsert")
    assert (report.counts["created"], report.counts["updated"]) == (1, 1)

    result = undo_import(crm, report.import_id[:8])

    assert (result.removed, result.restored) == (1, 1)
    assert query(crm, "SELECT name, position FROM contact WHERE deleted_at IS NULL") == [("Олег", "Менеджер")]
    assert query(crm, "SELECT normalized FROM channel WHERE kind = 'email'") == []
    assert query(crm, "SELECT count(*) FROM entity_tag") == [(0,)]
    again = run(crm, path, mode="upsert")  # fingerprints are cleared: the file imports again
    assert (again.counts["created"], again.counts["updated"]) == (1, 1)


def test_imported_records_are_pending_for_sync_and_searchable(crm, files: Path):
    from tui_crm.services.search import search

    path = write_csv(files / "c.csv", CONTACTS_HEADER, ROWS[:2])

    report = run(crm, path)

    logs = query(crm, "SELECT entity, op, changes, batch_id, synced_at FROM change_log WHERE batch_id = ?", report.import_id)
    creates = [json.loads(c) for e, op, c, b, s in logs if e == "contact" and op == "create"]
    assert len(creates) == 2 and all(s is None for *_, s in logs)
    assert creates[0]["phones"] == [None, ["+79160000001"]] and creates[0]["tags"] == [None, ["импорт"]]
    assert [r.name for r in search(crm, "контакт 2")] == ["Контакт 2"]
    assert [r.name for r in search(crm, "9160000001")] == ["Контакт 1"]


def test_a_batch_that_fails_leaves_nothing_of_itself(crm, files: Path, monkeypatch):
    from tui_crm.services.importing import bulk

    path = write_csv(files / "c.csv", CONTACTS_HEADER, ROWS)
    original = bulk.BulkInsert._index

    def broken(self, raw):
        original(self, raw)
        raise RuntimeError("disk full")

    monkeypatch.setattr(bulk.BulkInsert, "_index", broken)
    with pytest.raises(RuntimeError):
        run(crm, path, batch_rows=3)

    assert live(crm, "contact") == 0 and query(crm, "SELECT count(*) FROM channel") == [(0,)]
    assert query(crm, "SELECT count(*) FROM change_log WHERE entity = 'contact'") == [(0,)]


def test_every_imported_deal_is_found_by_its_contacts_phone(crm, files: Path):
    """A batch that enriches an existing contact writes the deals before it early;
    they must still get their contacts' phones in the search index."""
    from tests.importing.amofiles import DEALS_HEADER, deal
    from tui_crm.services.contacts import ContactInput, add_contact
    from tui_crm.services.search import search

    add_contact(crm, ContactInput(name="Старый клиент", phones=["+7 916 000-00-02"]))
    rows = [
        deal("Первая", contact="Новый клиент", phone="+7 916 000-00-01"),
        deal("Вторая", contact="Старый клиент", phone="+7 916 000-00-02", email="old@x.ru"),
    ]
    run(crm, write_csv(files / "d.csv", DEALS_HEADER, rows))

    assert [r.name for r in search(crm, "8 916 000-00-01", types=("deal",))] == ["Первая"]
    assert [r.name for r in search(crm, "old@x.ru", types=("deal",))] == ["Вторая"]
