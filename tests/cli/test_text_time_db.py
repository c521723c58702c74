"""Untrusted text printed harmlessly, ``--due`` in Russian and English, and
``crm db backup|check|restore`` round trip (real entry point, child processes,
where the exit code or the terminal is the point; set-up, read-back and the
``--due`` parsing in-process)."""

from __future__ import annotations

import json
import sqlite3
import stat
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

MSK = ZoneInfo("Europe/Moscow")
MARKUP = "[bold red]x[/]"
CLEAR_SCREEN = "\x1b[2J"


@pytest.fixture
def hostile(invoke) -> str:
    deal_id = invoke.json("add", "lead", MARKUP)["id"]
    invoke.ok("add", "note", f"до{CLEAR_SCREEN}после\x1b]0;title\x07!", "--deal", deal_id)
    return deal_id


def test_markup_and_escapes_print_literally_in_deals_show(crm_cli, hostile):
    shown = crm_cli("deals", "show", hostile)
    assert shown.returncode == 0, shown.stderr
    assert MARKUP in shown.stdout
    assert "допосле!" in shown.stdout
    assert "\x1b" not in shown.stdout and "\x07" not in shown.stdout


def test_escapes_stay_out_even_when_colour_is_forced(invoke, hostile, monkeypatch):
    monkeypatch.setenv("FORCE_COLOR", "1")
    monkeypatch.setenv("TERM", "xterm-256color")
    for args in (("deals", "show", hostile), ("deals", "list"), ("search", "x")):
        out = invoke.ok(*args)
        assert MARKUP in out, args
        assert CLEAR_SCREEN not in out and "\x1b]0;" not in out, args


def test_json_keeps_the_text_exactly(crm_cli, hostile):
    shown = json.loads(crm_cli("deals", "show", hostile, "--json").stdout)
    assert shown["deal"]["name"] == MARKUP
    assert any(CLEAR_SCREEN in item["text"] for item in shown["timeline"])


def test_record_names_with_escapes_print_harmlessly_in_show_titles(invoke):
    deal = invoke.json("add", "lead", f"Evil{CLEAR_SCREEN}deal", "--email", "e@example.com", "--contact",
                       "Evil\x1b]0;title\x07contact", "--company", "Evil\x1b[31mcompany")  # fmt: skip
    for args in (
        ("deals", "show", deal["id"]),
        ("contacts", "show", deal["contacts"][0]["id"]),
        ("companies", "show", deal["company"]["id"]),
        ("deals", "list"),
        ("contacts", "list"),
        ("agenda",),
    ):
        out = invoke.ok(*args)
        assert "\x1b" not in out and "\x07" not in out, args
        assert "Evil" in out, args


def test_error_messages_do_not_echo_escapes(crm_cli):
    result = crm_cli("deals", "show", f"{CLEAR_SCREEN}\x1b]0;pwned\x07")
    assert result.returncode == 3
    assert "\x1b" not in result.stderr and "\x07" not in result.stderr


# -- WHEN --------------------------------------------------------------------------


def _expect(invoke, when: str) -> tuple[datetime, bool, datetime, datetime]:
    before = datetime.now(MSK)
    task = invoke.json("add", "task", "Задача", "--due", when)
    after = datetime.now(MSK)
    return datetime.fromisoformat(task["due_at"]).astimezone(MSK), task["all_day"], before, after


@pytest.mark.parametrize("when", ["завтра в 11:00", "tomorrow 11:00", "Завтра 11:00"])
def test_due_tomorrow_at_eleven(invoke, when):
    due, all_day, before, after = _expect(invoke, when)
    assert not all_day and (due.hour, due.minute) == (11, 0)
    assert due.date() in {(before + timedelta(days=1)).date(), (after + timedelta(days=1)).date()}


@pytest.mark.parametrize("when", ["послезавтра", "day after tomorrow"])
def test_due_a_day_all_day(invoke, when):
    due, all_day, before, after = _expect(invoke, when)
    assert all_day and (due.hour, due.minute) == (0, 0)
    assert due.date() in {(before + timedelta(days=2)).date(), (after + timedelta(days=2)).date()}


@pytest.mark.parametrize("when", ["в пятницу 14:30", "friday 14:30", "пт 14:30"])
def test_due_next_friday(invoke, when):
    due, all_day, before, after = _expect(invoke, when)

    def next_friday(moment: datetime):  # never today
        return moment.date() + timedelta(days=(4 - moment.weekday()) % 7 or 7)

    assert not all_day and (due.hour, due.minute) == (14, 30)
    assert due.date() in {next_friday(before), next_friday(after)}


@pytest.mark.parametrize(("when", "delta"), [("+3d", timedelta(days=3)), ("через 3 дня", timedelta(days=3)),
                                             ("+2h", timedelta(hours=2)), ("in 2 hours", timedelta(hours=2))])  # fmt: skip
def test_due_relative(invoke, when, delta):
    due, all_day, before, after = _expect(invoke, when)
    assert not all_day
    assert before + delta - timedelta(seconds=1) <= due <= after + delta + timedelta(seconds=1)


def test_due_absolute_dates(invoke):
    due, all_day, *_ = _expect(invoke, "2027-03-01 15:00")
    assert (due, all_day) == (datetime(2027, 3, 1, 15, 0, tzinfo=MSK), False)
    due, all_day, *_ = _expect(invoke, "01.03.2027")
    assert (due, all_day) == (datetime(2027, 3, 1, tzinfo=MSK), True)


def test_bad_due_is_invalid_and_adds_nothing(crm_cli, invoke):
    result = crm_cli("add", "task", "Задача", "--due", "когда рак на горе свистнет")
    assert result.returncode == 5
    assert "завтра" in result.stderr  # the message lists accepted forms
    assert invoke.json("agenda")["totals"]["Later"] == 0


def test_reschedule_in_russian(crm_cli, invoke):
    task = invoke.json("add", "task", "Перенести", "--due", "+1d")
    moved = crm_cli("task", "reschedule", task["id"][:8], "послезавтра в 9:30")
    assert moved.returncode == 0, moved.stderr
    assert "09:30" in moved.stdout


# -- db backup / check / restore ---------------------------------------------------------


def _deal_names(invoke) -> list[str]:
    return sorted(d["name"] for d in invoke.json("deals", "list"))


def test_backup_check_restore_round_trip(crm_cli, invoke, cli_env, tmp_path):
    db = Path(cli_env["CRM_DB"])
    invoke.ok("add", "lead", "До бэкапа")
    target = tmp_path / "backups" / "crm-backup.db"
    backup = crm_cli("db", "backup", str(target))
    assert backup.returncode == 0, backup.stderr
    assert target.exists() and stat.S_IMODE(target.stat().st_mode) == 0o600

    invoke.ok("add", "lead", "После бэкапа")
    assert _deal_names(invoke) == ["До бэкапа", "После бэкапа"]

    check = crm_cli("db", "check", "--json")
    assert check.returncode == 0, check.stderr
    report = json.loads(check.stdout)
    assert (report["ok"], report["integrity"], report["schema_current"], report["journal_mode"]) == (True, "ok", True, "wal")

    restored = crm_cli("db", "restore", str(target), "--yes")
    assert restored.returncode == 0, restored.stderr
    assert _deal_names(invoke) == ["До бэкапа"]
    assert stat.S_IMODE(db.stat().st_mode) == 0o600
    [safety] = db.parent.glob("crm.db.before-restore-*.bak")
    conn = sqlite3.connect(safety)
    try:
        assert {r[0] for r in conn.execute("SELECT name FROM deal")} == {"До бэкапа", "После бэкапа"}
    finally:
        conn.close()
    assert crm_cli("db", "check").returncode == 0


def test_default_backup_goes_beside_the_database(crm_cli, cli_env):
    result = crm_cli("db", "backup")
    assert result.returncode == 0
    [copy] = Path(cli_env["CRM_DB"]).parent.glob("crm.db.backup-*.bak")
    assert str(copy) in result.stdout


@pytest.mark.parametrize("content", [b"this is not a database", b""])
def test_restore_refuses_a_file_that_is_not_a_crm_database(crm_cli, invoke, tmp_path, content):
    invoke.ok("add", "lead", "Живая сделка")
    junk = tmp_path / "junk.db"
    junk.write_bytes(content)
    result = crm_cli("db", "restore", str(junk), "--yes")
    assert result.returncode == 1
    assert result.stderr.startswith("error: ") and "Traceback" not in result.stderr
    assert _deal_names(invoke) == ["Живая сделка"]


def test_restore_asks_first(crm_cli, invoke, tmp_path):
    crm_cli("db", "backup", str(tmp_path / "b.db"))
    invoke.ok("add", "lead", "Остаётся")
    result = crm_cli("db", "restore", str(tmp_path / "b.db"), input="n\n")
    assert result.returncode == 1
    assert _deal_names(invoke) == ["Остаётся"]


def test_check_reports_an_unreadable_file(crm_cli, tmp_path):
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"garbage" * 100)
    result = crm_cli("--db", str(junk), "db", "check")
    assert result.returncode == 1
    assert "Traceback" not in result.stderr and "unreadable" in result.stdout
