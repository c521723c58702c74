"""Export → import into an empty store gives the same records."""

from __future__ import annotations

import io
from pathlib import Path

from tests.importing.amofiles import CONTACTS_HEADER, DEALS_HEADER, contact, deal, write_csv
from tests.importing.helpers import run
from tui_crm.services.exporting import export_records


def _snapshot(crm) -> dict[str, list[str]]:
    """Every record as its exported lines, without the ids and the creation stamps of new records."""
    result = {}
    for entity in ("deals", "contacts", "companies"):
        out = io.StringIO()
        export_records(crm, entity, "json", out)
        import json

        rows = [json.loads(line) for line in out.getvalue().splitlines()]
        for row in rows:
            row.pop("id")
        result[entity] = sorted(json.dumps(r, ensure_ascii=False, sort_keys=True) for r in rows)
    return result


def test_export_then_import_into_an_empty_store_gives_the_same_records(crm, open_store, files: Path, tmp_path: Path):
    run(crm, write_csv(files / "c.csv", CONTACTS_HEADER, [
        contact("Ёлка", kind="компания", inn="7707083893", web="elka.ru", created="01.02.2023 09:00:00"),
        contact("Ольга", company="Ёлка", phone="+7 916 555-12-34, +7 495 123-45-67", email="olga@elka.ru",
                position="CEO", tags="VIP, Москва", created="02.02.2023 10:00:00"),
        contact('=SUM(1;2) [b]x[/b]', email="x@y.ru", created="03.02.2023 11:00:00"),
    ]))  # fmt: skip
    run(crm, write_csv(files / "d.csv", DEALS_HEADER, [
        deal("Ёлки на НГ", stage="Переговоры", budget="1 500 000,50", usd="20 000", company="Ёлка", contact="Ольга",
             phone="+7 916 555-12-34", tags="НГ", created="10.11.2023 12:00:00", segment="A"),
        deal("Проигран", stage="Закрыто и не реализовано", contact="=SUM(1;2) [b]x[/b]", email="x@y.ru",
             created="11.11.2023 12:00:00", closed="12.11.2023 18:30:00"),
    ]))  # fmt: skip
    before = _snapshot(crm)
    exported = {}
    for entity in ("companies", "contacts", "deals"):
        path = tmp_path / f"{entity}.csv"
        with path.open("w", encoding="utf-8-sig", newline="") as handle:
            export_records(crm, entity, "csv", handle)
        exported[entity] = path

    empty = open_store(db=tmp_path / "empty.db", user="Анна")
    for entity in ("companies", "contacts", "deals"):
        report = run(empty, exported[entity])
        assert report.counts["rejected"] == 0, report.rows

    assert _snapshot(empty) == before
