"""Exit codes a script can rely on (cli/exit_codes.py), from the real entry
point, with the message on stderr and nothing half-written."""

from __future__ import annotations

import json

import pytest


def _deal_count(crm_cli) -> int:
    return len(json.loads(crm_cli("deals", "list", "--json").stdout))


def test_not_found_is_3(crm_cli):
    result = crm_cli("deals", "show", "нет такой сделки")
    assert result.returncode == 3
    assert result.stderr.startswith("error: No deal") and "crm search" in result.stderr
    assert crm_cli("task", "done", "abcdef12").returncode == 3


def test_ambiguous_is_4_and_lists_the_candidates(crm_cli):
    first = json.loads(crm_cli("add", "lead", "Сайт", "--json").stdout)
    second = json.loads(crm_cli("add", "lead", "сайт", "--json").stdout)
    result = crm_cli("move", "Сайт", "Квалификация")
    assert result.returncode == 4
    assert first["id"][:8] in result.stderr and second["id"][:8] in result.stderr
    assert crm_cli("deals", "show", first["id"][:8]).returncode == 0


@pytest.mark.parametrize(
    "args",
    [
        ("add", "lead", "Лид", "--email", "olga@"),
        ("add", "lead", "Лид", "--phone", "12345"),
        ("add", "lead", "Лид", "--budget", "много денег"),
        ("add", "lead", "Лид", "--task", "Позвонить", "--due", "когда-нибудь"),
        ("add", "lead", "Лид", "--set", "segment=Z"),
        ("add", "lead", "Лид", "--set", "segment"),
        ("add", "company", "Ромашка", "--inn", "7707083890"),
    ],
)
def test_invalid_value_is_5_and_saves_nothing(crm_cli, args):
    result = crm_cli(*args)
    assert result.returncode == 5, result.stderr
    assert result.stderr.startswith("error: ")
    assert _deal_count(crm_cli) == 0
    assert json.loads(crm_cli("companies", "list", "--json").stdout) == []


def test_gate_is_6(crm_cli):
    crm_cli("add", "lead", "Тендер", "--pipeline", "Тендеры")
    result = crm_cli("move", "Тендер", "Подготовка заявки")
    assert result.returncode == 6
    assert "Бюджет (RUB)" in result.stderr and "Ссылка на папку проекта" in result.stderr


def test_duplicate_is_7_then_enrich_or_force(crm_cli):
    assert crm_cli("add", "contact", "Ольга", "--email", "olga@elka.ru").returncode == 0
    result = crm_cli("add", "contact", "Ольга Ёлкина", "--email", "olga@ELKA.ru", "--phone", "+7 916 555-12-34")
    assert result.returncode == 7
    assert "same email" in result.stderr and "--enrich" in result.stderr
    enriched = crm_cli("add", "contact", "Ольга Ёлкина", "--email", "olga@elka.ru", "--phone", "+7 916 555-12-34", "--enrich")
    assert enriched.returncode == 0
    [contact] = json.loads(crm_cli("contacts", "list", "--json").stdout)
    assert (contact["name"], contact["phone"]) == ("Ольга", "+79165551234")
    assert crm_cli("add", "contact", "Ольга", "--email", "olga@elka.ru", "--force").returncode == 0
    assert len(json.loads(crm_cli("contacts", "list", "--json").stdout)) == 2


def test_bad_usage_is_2(crm_cli):
    assert crm_cli("add", "lead").returncode == 2
    assert crm_cli("deals", "list", "--no-such-option").returncode == 2


def test_bad_config_is_8(crm_cli, cli_env):
    from pathlib import Path

    (Path(cli_env["CRM_CONFIG_DIR"]) / "config.toml").write_text("user = [unclosed", encoding="utf-8")
    result = crm_cli("deals", "list")
    assert result.returncode == 8
    assert "config.toml" in result.stderr


def test_unknown_user_is_3(crm_cli):
    result = crm_cli("--user", "Незнакомец", "deals", "list")
    assert result.returncode == 3
    assert "Анна" in result.stderr and "crm users add" in result.stderr
