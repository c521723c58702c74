"""Defects found after the first import/export session, each as a user meets it:
an import with rejected rows says so in its exit code; the subscribed
calendar feed follows tasks made automatically or in mass; undo takes away
the stages ``--create-stages`` made; deals are matched by their ID first."""

from __future__ import annotations

import json
from pathlib import Path

from tests.importing.amofiles import CONTACTS_HEADER, DEALS_HEADER, contact, deal, write_csv
from tests.importing.helpers import outcomes, query, run


def test_an_import_with_rejected_rows_exits_5_and_still_saves_the_good_rows(crm_cli, invoke, tmp_path: Path):
    path = write_csv(tmp_path / "c.csv", CONTACTS_HEADER, [contact("Анна Б", phone="+7 916 000-00-01"), contact("", email="")])
    again = write_csv(tmp_path / "j.csv", CONTACTS_HEADER, [contact("Борис", phone="+7 916 000-00-02"), contact("")])

    text_run = crm_cli("import", str(path))
    json_run = crm_cli("import", str(again), "--json")
    clean = crm_cli("import", str(write_csv(tmp_path / "ok.csv", CONTACTS_HEADER, [contact("Вера", email="v@x.ru")])))

    assert text_run.returncode == 5, text_run.stderr
    assert "line 3" in text_run.stdout and "rejected: missing name" in text_run.stdout
    assert "1 of 2 rows rejected" in text_run.stderr and len(text_run.stderr.strip().splitlines()) == 1
    assert json_run.returncode == 5
    report = json.loads(json_run.stdout)
    assert report["counts"]["rejected"] == 1 and report["counts"]["created"] == 1
    assert sorted(c["name"] for c in invoke.json("contacts", "list")) == ["Анна Б", "Борис", "Вера"]
    assert clean.returncode == 0, clean.stderr


def test_a_dry_run_with_rejected_rows_exits_5_too(crm_cli, tmp_path: Path):
    path = write_csv(tmp_path / "c.csv", CONTACTS_HEADER, [contact("Анна", phone="+7 916 000-00-01"), contact("")])

    result = crm_cli("import", str(path), "--dry-run")

    assert result.returncode == 5 and "Dry run" in result.stdout and "line 3" in result.stdout


def _feed_summaries(feed: Path) -> list[str]:
    from icalendar import Calendar

    return sorted(str(t["summary"]) for t in Calendar.from_ical(feed.read_bytes()).walk("VTODO"))


def test_the_subscribed_feed_follows_automatic_and_mass_tasks(crm_cli, tmp_path: Path):
    feed = tmp_path / "feed.ics"
    assert crm_cli("export", "tasks", "--ical", "-o", str(feed), "--subscribe").returncode == 0

    crm_cli("add", "lead", "Ёлки")  # the stage «Лид» makes «Связаться с лидом»
    after_lead = _feed_summaries(feed)
    gate = ("budget_rub=1000", "budget_usd=10", "segment=A", "territory=РФ", "city=Москва")
    crm_cli("move", "Ёлки", "Квалификация", *(a for v in gate for a in ("--set", v)))  # «Подготовить оценку»
    after_move = _feed_summaries(feed)
    bulk = crm_cli("bulk", "task", "Позвонить всем", "--pipeline", "Продажи 2.0")

    assert after_lead == ["Связаться с лидом — Ёлки"]
    assert "Подготовить оценку — Ёлки" in after_move
    assert bulk.returncode == 0, bulk.stderr
    assert "Позвонить всем — Ёлки" in _feed_summaries(feed)


def test_undo_removes_the_stages_the_import_created_when_no_other_deal_uses_them(crm, files: Path):
    from tui_crm.services.deals import LeadInput, capture_lead
    from tui_crm.services.importing.history import undo_import
    from tui_crm.services.pipelines import list_pipelines

    rows = [
        deal("A", pipeline="Старая воронка", stage="Первичный контакт"),
        deal("B", stage="Думают"),
        deal("C", pipeline="Старая воронка", stage="Ждут бюджет"),
    ]
    report = run(crm, write_csv(files / "old.csv", DEALS_HEADER, rows), create_stages=True)
    capture_lead(crm, LeadInput(name="Своя", pipeline="Старая воронка", stage="Ждут бюджет"))  # by hand: keeps its stage

    undone = undo_import(crm, report.import_id)

    names = {p.name: [s.name for s in p.stages] for p in list_pipelines(crm)}
    assert "Думают" not in names["Продажи 2.0"]
    assert names["Старая воронка"] == ["Ждут бюджет", "Успешно реализовано", "Закрыто и не реализовано"]
    assert sorted(undone.removed_stages) == ["Продажи 2.0 / Думают", "Старая воронка / Первичный контакт"]
    assert undone.kept_stages == ["Старая воронка / Ждут бюджет"]
    assert query(crm, "SELECT name FROM deal WHERE deleted_at IS NULL") == [("Своя",)]


def test_undo_says_which_stages_it_removed_and_drops_a_pipeline_it_made(crm_cli, tmp_path: Path):
    rows = [deal("A", stage="Думают"), deal("B", pipeline="Старая воронка", stage="Первичный контакт")]
    crm_cli("import", str(write_csv(tmp_path / "d.csv", DEALS_HEADER, rows)), "--create-stages")
    listing = json.loads(crm_cli("import", "list", "--json").stdout)

    undone = crm_cli("import", "undo", listing[0]["id"][:8])
    pipelines = crm_cli("pipelines", "list", "--json")

    assert undone.returncode == 0, undone.stderr
    assert "Pipelines/stages removed: Продажи 2.0 / Думают; Старая воронка / Первичный контакт" in undone.stdout
    assert "Старая воронка" not in pipelines.stdout and "Думают" not in pipelines.stdout


def _exported_deals(crm, tmp_path: Path) -> Path:
    from tui_crm.services.exporting import export_records

    out = tmp_path / "deals-export.csv"
    with out.open("w", encoding="utf-8-sig", newline="") as handle:
        export_records(crm, "deals", "csv", handle)
    return out


def test_deal_upsert_matches_by_our_id_column_before_the_name(crm, files: Path, tmp_path: Path):
    from tui_crm.services.deals import LeadInput, capture_lead

    capture_lead(crm, LeadInput(name="Ёлки", pipeline="Продажи 2.0", stage="Лид"))
    path = _exported_deals(crm, tmp_path)
    text = path.read_text(encoding="utf-8-sig").replace(",Ёлки,", ",Ёлки на Новый год,").replace(",Лид,", ",Квалификация,")
    path.write_text(text, encoding="utf-8-sig")  # renamed and moved in a spreadsheet: only the ID still matches

    report = run(crm, path, mode="upsert")

    assert (report.counts["updated"], report.counts["created"]) == (1, 0), report.rows
    assert query(crm, "SELECT d.name, s.name FROM deal d JOIN stage s ON s.id = d.stage_id") == [
        ("Ёлки на Новый год", "Квалификация")
    ]


def test_deal_upsert_matches_an_amocrm_id_through_the_sync_map(crm, files: Path):
    from tui_crm.services.deals import LeadInput, capture_lead

    ours = capture_lead(crm, LeadInput(name="Сделка в amoCRM", pipeline="Продажи 2.0", stage="Лид"))
    capture_lead(crm, LeadInput(name="Другая", pipeline="Продажи 2.0", stage="Лид"))
    import sqlite3

    conn = sqlite3.connect(crm.settings.db_path)
    conn.execute(
        "INSERT INTO sync_id_map (adapter, entity, local_id, remote_id, state, updated_at)"
        " VALUES ('amocrm', 'deal', ?, '31415926', 'linked', '2026-01-01 00:00:00')",
        (ours.id,),
    )
    conn.commit()
    conn.close()
    path = write_csv(files / "amo.csv", DEALS_HEADER, [deal("Переименована в amoCRM", stage="Квалификация", id_="31415926")])

    report = run(crm, path, mode="upsert")

    assert report.counts["updated"] == 1 and report.counts["created"] == 0
    assert query(crm, "SELECT name FROM deal WHERE id = ?", ours.id) == [("Переименована в amoCRM",)]


def test_deal_upsert_by_name_only_when_one_deal_has_it_else_the_row_is_reported(crm, files: Path):
    from tui_crm.services.deals import LeadInput, capture_lead

    capture_lead(crm, LeadInput(name="Одна", pipeline="Продажи 2.0", stage="Лид"))
    capture_lead(crm, LeadInput(name="Двойная", pipeline="Продажи 2.0", stage="Лид"))
    capture_lead(crm, LeadInput(name="двойная", pipeline="Продажи 2.0", stage="Лид"))
    rows = [deal("Одна", stage="Квалификация"), deal("Двойная", stage="Квалификация")]

    report = run(crm, write_csv(files / "names.csv", DEALS_HEADER, rows), mode="upsert")

    assert (report.counts["updated"], report.counts["rejected"], report.counts["created"]) == (1, 1, 0)
    action, reason = outcomes(report)[3]
    assert action == "rejected" and "2 deals" in reason and "ID" in reason


def test_export_filters_by_a_search_query_and_a_tag(crm_cli, invoke, tmp_path: Path):
    rows = [deal("Ёлки для офиса", tags="VIP"), deal("Ёлки для дома"), deal("Гирлянды")]
    crm_cli("import", str(write_csv(tmp_path / "d.csv", DEALS_HEADER, rows)))

    found = invoke.ok("export", "deals", "--format", "csv", "--filter", "ёлки", "--filter", "tag=vip")
    searched = invoke.ok("export", "deals", "--format", "json", "--filter", "query=ёлки").splitlines()

    assert "Ёлки для офиса" in found and "Ёлки для дома" not in found
    assert sorted(json.loads(x)["name"] for x in searched) == ["Ёлки для дома", "Ёлки для офиса"]
