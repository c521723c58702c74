"""``crm import`` / ``crm export`` as a user runs them, and the story:
import contacts, then deals, then find a deal by its contact's phone typed
as ``8 916 …``."""

from __future__ import annotations

import json
from pathlib import Path

from tests.importing.amofiles import CONTACTS_HEADER, DEALS_HEADER, contact, deal, write_csv


def test_story_import_contacts_then_deals_then_search_by_phone(crm_cli, tmp_path: Path):
    contacts = write_csv(
        tmp_path / "contacts.csv",
        CONTACTS_HEADER,
        [
            contact("Ольга Ёлкина", company="ООО «Ёлка»", phone="'+7 (916) 555-12-34", email="olga@elka.ru"),
            contact("Ёлка", kind="компания", inn="7707083893"),
        ],
        encoding="cp1251",
    )
    deals = write_csv(
        tmp_path / "deals.csv",
        DEALS_HEADER,
        [
            deal(
                "Новогодняя ёлка",
                stage="Переговоры",
                budget="2 000 000",
                company="Ёлка",
                contact="Ольга Ёлкина",
                phone="+79165551234",
            )
        ],
        delimiter=",",
        newline="\n",
    )

    first = crm_cli("import", str(contacts))
    second = crm_cli("import", str(deals), "--json")
    found = crm_cli("search", "8 916 555-12-34", "--json")

    assert first.returncode == 0, first.stderr
    assert "2 rows: 1 created, 0 updated, 1 merged" in first.stdout
    report = json.loads(second.stdout)
    assert report["counts"]["created"] == 1 and report["counts"]["contacts"] == 0  # Ольга is found by her phone
    hits = [(h["entity_type"], h["name"]) for h in json.loads(found.stdout)]
    assert ("deal", "Новогодняя ёлка") in hits and ("contact", "Ольга Ёлкина") in hits


def test_import_undo_and_list(crm_cli, invoke, tmp_path: Path):
    path = write_csv(tmp_path / "c.csv", CONTACTS_HEADER, [contact("Анна Б", phone="+7 916 000-00-01"), contact("", email="")])

    result = crm_cli("import", str(path))
    listing = invoke.json("import", "list")
    undone = crm_cli("import", "undo", listing[0]["id"][:8])
    again = crm_cli("import", "undo", listing[0]["id"][:8])

    assert result.returncode == 5 and "line 3" in result.stdout and "rejected: missing name" in result.stdout
    assert listing[0]["status"] == "done" and listing[0]["counts"]["created"] == 1
    assert undone.returncode == 0 and "1 records removed" in undone.stdout
    assert invoke.json("contacts", "list") == []
    assert again.returncode == 5 and "already undone" in again.stderr and "Traceback" not in again.stderr


def test_bad_input_is_one_line_with_an_exit_code_and_saves_nothing(crm_cli, tmp_path: Path):
    missing = crm_cli("import", str(tmp_path / "nope.csv"))
    plain = write_csv(tmp_path / "plain.csv", ["a", "b"], [["1", "2"]])
    not_amo = crm_cli("import", str(plain))
    bad_mode = crm_cli("import", str(plain), "--mode", "merge")
    no_profile = crm_cli("import", str(plain), "--map", "nope")

    for result, code in ((missing, 5), (not_amo, 5), (bad_mode, 5), (no_profile, 3)):
        assert result.returncode == code, result.stderr
        assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.stderr
    assert "--map PROFILE" in not_amo.stderr


def test_map_saves_a_profile_the_import_uses(crm_cli, tmp_path: Path):
    path = write_csv(tmp_path / "g.csv", ["Full name", "Mobile"], [["Ann", "+7 916 000-00-01"]], delimiter=",")

    saved = crm_cli("import", "map", "gsheet", "--column", "Full name=name", "--column", "Mobile=phone")
    result = crm_cli("import", str(path), "--map", "gsheet", "--json")

    assert saved.returncode == 0, saved.stderr
    assert json.loads(result.stdout)["counts"]["created"] == 1


def test_export_escapes_formulas_and_writes_vcard_and_json(crm_cli, invoke, tmp_path: Path):
    path = write_csv(
        tmp_path / "c.csv", CONTACTS_HEADER, [contact('=HYPERLINK("http://x")', phone="+7 916 000-00-01", email="a@b.ru")]
    )
    invoke.ok("import", str(path))
    out = tmp_path / "out.csv"

    csv_run = crm_cli("export", "contacts", "--format", "csv", "-o", str(out))
    vcard = invoke.ok("export", "contacts", "--format", "vcard")
    lines = invoke.ok("export", "contacts", "--format", "json").splitlines()

    assert csv_run.returncode == 0, csv_run.stderr
    text = out.read_text(encoding="utf-8-sig")
    assert '"\'=HYPERLINK(""http://x"")"' in text and "'+79160000001" in text
    assert "BEGIN:VCARD" in vcard and "TEL;TYPE=WORK:+79160000001" in vcard
    assert json.loads(lines[0])["phones"] == ["+79160000001"]


def test_agenda_ical_and_a_subscribed_feed(crm_cli, invoke, tmp_path: Path):
    invoke.ok("add", "task", "Позвонить Ольге", "--due", "tomorrow 10:00")
    ics = tmp_path / "tasks.ics"
    feed = tmp_path / "feed.ics"

    agenda = crm_cli("agenda", "--ical", "-o", str(ics))
    subscribed = crm_cli("export", "tasks", "--ical", "-o", str(feed), "--subscribe")
    invoke.ok("add", "task", "Отправить КП", "--due", "tomorrow 12:00")

    assert agenda.returncode == 0 and subscribed.returncode == 0, subscribed.stderr
    from icalendar import Calendar

    todos = [c for c in Calendar.from_ical(ics.read_bytes()).walk("VTODO")]
    assert [str(t["summary"]) for t in todos] == ["Позвонить Ольге"]
    uid = str(todos[0]["uid"])
    again = crm_cli("agenda", "--ical")
    assert uid in again.stdout  # stable UID across exports
    feed_todos = sorted(str(t["summary"]) for t in Calendar.from_ical(feed.read_bytes()).walk("VTODO"))
    assert feed_todos == ["Отправить КП", "Позвонить Ольге"]  # rewritten when the second task was added


def test_export_filters_and_refuses_a_bad_filter(crm_cli, invoke, tmp_path: Path):
    rows = [deal("В продажах", tags="VIP"), deal("В тендерах", pipeline="Тендеры", stage="Новый тендер")]
    invoke.ok("import", str(write_csv(tmp_path / "d.csv", DEALS_HEADER, rows)))

    sales = invoke.ok("export", "deals", "--format", "json", "--filter", "pipeline=sales20").splitlines()
    vip = invoke.ok("export", "deals", "--format", "json", "--filter", "tag=vip").splitlines()
    bad = crm_cli("export", "deals", "--filter", "colour=red")
    vcard_deals = crm_cli("export", "deals", "--format", "vcard")

    assert [json.loads(x)["name"] for x in sales] == ["В продажах"]
    assert [json.loads(x)["name"] for x in vip] == ["В продажах"]
    assert bad.returncode == 5 and "not a filter" in bad.stderr
    assert vcard_deals.returncode == 5 and "csv, json" in vcard_deals.stderr
