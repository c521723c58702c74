"""Bad arguments and a bad environment end in one line and an exit code from
the README's table, never in a Python traceback (issue 9, "Never a
traceback"). Run through the real entry point in a child process, with the
bytes a shell would pass."""

from __future__ import annotations

import json

import pytest

BAD = "a\udcff"  # os.fsencode gives the bytes b"a\xff", as "$(printf 'a\xff')" would


def _one_line_error(result, code: int) -> str:
    assert "Traceback" not in result.stderr + result.stdout, result.stderr
    assert result.returncode == code, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    return lines[0]


@pytest.mark.parametrize(
    ("args", "named"),
    [
        (("add", "lead", BAD), "NAME"),
        (("add", "lead", "Лид", "--note", BAD), "--note"),
        (("add", "lead", "Лид", f"--company={BAD}"), "--company"),
        (("add", "lead", "Лид", "--tag", "ok", "--tag", BAD), "--tag"),
        (("contacts", "edit", "Анна", f"position={BAD}"), "PAIRS"),
        (("search", BAD), "QUERY"),
    ],
)
def test_invalid_utf8_argument_is_refused_naming_it(crm_cli, args, named):
    line = _one_line_error(crm_cli(*args), 5)
    assert named in line and "UTF-8" in line
    assert json.loads(crm_cli("deals", "list", "--json").stdout) == []


def test_invalid_utf8_in_the_global_user_option(crm_cli):
    line = _one_line_error(crm_cli("--user", BAD, "deals", "list"), 5)
    assert "--user" in line


def test_a_huge_limit_is_refused_clearly(crm_cli):
    line = _one_line_error(crm_cli("search", "x", "--limit", "9223372036854775808"), 5)
    assert "--limit" in line


@pytest.mark.parametrize(
    ("args", "field"),
    [
        (("add", "task", "Позвонить", "--due", "0001-01-01"), "due"),
        (("add", "task", "Позвонить", "--due", "9999-12-31 10:00"), "due"),
        (("add", "task", "Позвонить", "--due", "+99999999999d"), "due"),
        (("add", "contact", "Борис", "--birthday", "9999-12-31"), "birthday"),
        (("add", "contact", "Борис", "--birthday", "0001-01-01"), "birthday"),
        (("add", "lead", "Лид", "--task", "Позвонить", "--due", "0001-01-01"), "due"),
    ],
)
def test_far_past_and_future_dates_are_refused_with_the_range(crm_cli, args, field):
    line = _one_line_error(crm_cli(*args), 5)
    assert field in line
    if "99999999999" not in args[-1]:
        assert "1900" in line, line


@pytest.mark.parametrize("raw", ["0001-01-01", "9999-12-31", "01.01.0001"])
def test_a_date_field_out_of_range_is_refused(raw):
    from datetime import UTC, datetime

    from tui_crm.domain.errors import ValidationError
    from tui_crm.domain.fields import FieldDef, validate_value

    defn = FieldDef("deadline", "Срок", "date")
    with pytest.raises(ValidationError, match="1900-01-01"):
        validate_value(defn, raw, now=datetime(2026, 12, 4, tzinfo=UTC))
    assert validate_value(defn, "2026-12-31") == "2026-12-31"


def test_an_unexpected_error_is_one_line_and_debug_shows_the_traceback(crm_cli, tmp_path):
    # A directory where the database file should be: sqlite cannot open it.
    target = tmp_path / "is-a-dir.sqlite3"
    target.mkdir()
    result = crm_cli("--db", str(target), "deals", "list")
    assert "Traceback" not in result.stderr + result.stdout
    assert result.returncode != 0
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr


def test_a_last_resort_error_says_to_report_it(monkeypatch, capsys):
    from tui_crm.cli import main

    def boom(*args, **kwargs):
        raise ZeroDivisionError("division by zero")

    monkeypatch.setattr(main, "app", boom)
    monkeypatch.delenv("CRM_DEBUG", raising=False)
    with pytest.raises(SystemExit) as exit_:
        main.run(["deals", "list"])
    err = capsys.readouterr().err
    assert exit_.value.code == 1
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert "ZeroDivisionError" in err and "CRM_DEBUG=1" in err

    monkeypatch.setenv("CRM_DEBUG", "1")
    with pytest.raises(SystemExit):
        main.run(["deals", "list"])
    assert "Traceback" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("message", "expected"),
    [("database is locked", "busy"), ("database or disk is full", "disk is full")],
)
def test_sqlite_operational_errors_are_one_line(monkeypatch, capsys, message, expected):
    import sqlite3

    from tui_crm.cli import main

    def fail(*args, **kwargs):
        raise sqlite3.OperationalError(message)

    monkeypatch.setattr(main, "app", fail)
    monkeypatch.delenv("CRM_DEBUG", raising=False)
    with pytest.raises(SystemExit) as exit_:
        main.run(["add", "lead", "x"])
    err = capsys.readouterr().err
    assert exit_.value.code == 1
    assert expected in err and "Traceback" not in err and len(err.strip().splitlines()) == 1


@pytest.mark.parametrize("due", ["+99999999999d", "+99999999999wd", "+²d"])
def test_an_auto_task_due_out_of_range_is_refused_when_the_pipelines_load(due):
    import tomllib

    from tui_crm.domain.errors import ConfigError
    from tui_crm.domain.pipelines import parse_pipeline_config
    from tui_crm.services.context import default_pipelines_text

    data = tomllib.loads(default_pipelines_text())
    stage = next(s for s in data["pipelines"][0]["stages"] if s.get("auto_task"))
    stage["auto_task"]["due"] = due
    with pytest.raises(ConfigError, match="auto_task due"):
        parse_pipeline_config(data)
