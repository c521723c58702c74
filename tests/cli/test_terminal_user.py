"""What a terminal user expects of ``crm`` (issue 9): --version, shell
completion, output that survives a pipe, machine-readable errors and JSON
that carries no raw control characters."""

from __future__ import annotations

import csv
import io
import json

EMAIL = "very.long.email.address.for.testing@some-long-domain-name.example.com"


def test_version(crm_cli):
    result = crm_cli("--version")
    assert result.returncode == 0
    assert result.stdout.startswith("crm (tui-crm) ") and result.stdout.strip()[-1].isdigit()


def _complete(crm_cli, line: str) -> list[str]:
    words = line.split(" ")
    env = {"_CRM_COMPLETE": "complete_bash", "COMP_WORDS": line, "COMP_CWORD": str(len(words) - 1)}
    result = crm_cli(env=env)
    assert result.returncode == 0, result.stderr
    return result.stdout.split()


def test_shell_completion_of_commands_options_pipelines_and_stages(crm_cli):
    script = crm_cli("--show-completion", "bash")
    assert script.returncode == 0 and "_CRM_COMPLETE" in script.stdout
    assert _complete(crm_cli, "crm de") == ["deals", "demo"]
    assert "--pipeline" in _complete(crm_cli, "crm deals list --pi")
    assert _complete(crm_cli, "crm deals list --pipeline ") == ["sales20", "tenders", "sales_rus"]
    assert _complete(crm_cli, "crm move Сайт Ква") == ["Квалификация"]
    tender_stages = _complete(crm_cli, "crm deals list --pipeline tenders --stage ")
    assert "new_tender" in tender_stages and "qualification" not in tender_stages


def test_a_piped_table_is_not_wrapped_at_80_columns(crm_cli):
    crm_cli("add", "contact", "Очень Длинное Имя Контакта", "--email", EMAIL)
    result = crm_cli("contacts", "list", env={"COLUMNS": "80"})
    assert result.returncode == 0
    line = next(line for line in result.stdout.splitlines() if "Очень" in line)
    assert EMAIL in line and "Очень Длинное Имя Контакта" in line


def test_listings_print_tsv_csv_and_json(crm_cli):
    crm_cli("add", "contact", "Ольга, «Ёлка»", "--email", EMAIL)
    tsv = crm_cli("contacts", "list", "--format", "tsv").stdout.splitlines()
    assert tsv[0].split("\t")[:2] == ["id", "name"] and tsv[1].split("\t")[1] == "Ольга, «Ёлка»"
    rows = list(csv.reader(io.StringIO(crm_cli("contacts", "list", "--format", "csv").stdout)))
    assert rows[1][1] == "Ольга, «Ёлка»" and rows[1][4] == EMAIL
    assert json.loads(crm_cli("contacts", "list", "--format", "json").stdout)[0]["name"] == "Ольга, «Ёлка»"
    wrong = crm_cli("contacts", "list", "--format", "xml")
    assert wrong.returncode == 5 and "--format" in wrong.stderr


def test_with_json_errors_are_json_on_stderr(crm_cli):
    crm_cli("add", "lead", "Тендер", "--pipeline", "Тендеры")
    result = crm_cli("move", "Тендер", "Подготовка заявки", "--json")
    assert result.returncode == 6
    error = json.loads(result.stderr)
    assert error["code"] == 6 and "Подготовка заявки" in error["error"]
    assert {"budget_rub", "project_folder"} <= {m["key"] for m in error["missing"]}
    missing = json.loads(crm_cli("deals", "show", "нет такой", "--json").stderr)
    assert missing["code"] == 3


def test_json_output_escapes_c1_controls(crm_cli):
    crm_cli("add", "lead", "Evil\x9b2J\x9d0;title\x9c deal\u202e")
    result = crm_cli("deals", "list", "--json")
    assert result.returncode == 0
    for raw in ("\x9b", "\x9d", "\x9c", "\u202e", "\x1b"):
        assert raw not in result.stdout
    assert "\\u009b" in result.stdout
    assert json.loads(result.stdout)[0]["name"].startswith("Evil\x9b2J")  # the data itself is intact
