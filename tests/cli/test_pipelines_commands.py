"""``crm pipelines``: a broken file never stops the CLI (one warning line on
stderr, the last good configuration in effect), ``reload`` exits 8 naming
the file and line, and ``--move-to`` says where a dropped stage's deals go.
"""

from __future__ import annotations

import json
from pathlib import Path

from tui_crm.services.context import default_pipelines_text


def _file(cli_env: dict[str, str]) -> Path:
    return Path(cli_env["CRM_CONFIG_DIR"]) / "pipelines.toml"


def test_a_broken_file_warns_once_and_every_command_still_works(crm_cli, cli_env):
    text = default_pipelines_text()
    bad = text.replace('name = "Лид"', 'name = "Лид\xff"', 1).encode("utf-8").replace(b"\xc3\xbf", b"\xff")
    _file(cli_env).write_bytes(bad)
    line = next(i for i, row in enumerate(text.splitlines(), 1) if 'name = "Лид"' in row)
    added = crm_cli("add", "lead", "Несмотря ни на что", "--json")
    assert added.returncode == 0, added.stderr
    warnings = added.stderr.strip().splitlines()
    assert len(warnings) == 1 and f"line {line}" in warnings[0] and "last good" in warnings[0]
    listed = crm_cli("pipelines", "list")
    assert listed.returncode == 0 and "Квалификация" in listed.stdout
    reload = crm_cli("pipelines", "reload")
    assert reload.returncode == 8
    assert f"{_file(cli_env)} line {line}: not valid UTF-8" in reload.stderr
    assert "Traceback" not in reload.stderr + added.stderr


def test_huge_auto_task_offset_is_refused_at_reload_with_the_range(crm_cli, cli_env):
    _file(cli_env).write_text(default_pipelines_text().replace('due = "+3d"', 'due = "+99999999999d"', 1), encoding="utf-8")
    reload = crm_cli("pipelines", "reload")
    assert reload.returncode == 8 and "+0d … +3650d" in reload.stderr
    deal = json.loads(crm_cli("add", "lead", "Дальше", "--budget", "1 млн", "--budget-usd", "1000", "--json").stdout)["id"]
    moved = crm_cli("move", deal, "qualification", "--set", "segment=A", "--set", "territory=РФ", "--set", "city=Омск")
    assert moved.returncode == 0, moved.stderr  # the last good rule (+3d) is in effect


def test_reload_with_move_to_and_the_path_command(crm_cli, cli_env):
    deal = json.loads(crm_cli("add", "lead", "Тендер", "--pipeline", "tenders", "--json").stdout)["id"]
    assert crm_cli("pipelines", "path").stdout.strip() == str(_file(cli_env))
    assert crm_cli("pipelines", "edit").returncode == 0
    text = _file(cli_env).read_text(encoding="utf-8")
    start, end = text.index('[[pipelines]]\nkey = "tenders"'), text.index('[[pipelines]]\nkey = "sales_rus"')
    _file(cli_env).write_text(text[:start] + text[end:], encoding="utf-8")
    refused = crm_cli("pipelines", "reload")
    assert refused.returncode == 8 and "--move-to" in refused.stderr
    listed = crm_cli("pipelines", "list")
    assert "has edits not in effect yet" in listed.stdout and "Тендеры" in listed.stdout
    done = crm_cli("pipelines", "reload", "--move-to", "sales_rus/lead")
    assert done.returncode == 0, done.stderr
    assert "Moved 1 deal: tenders/new_tender → sales_rus/lead" in done.stdout
    shown = json.loads(crm_cli("deals", "show", deal, "--json").stdout)["deal"]
    assert (shown["pipeline_key"], shown["stage_key"]) == ("sales_rus", "lead")
