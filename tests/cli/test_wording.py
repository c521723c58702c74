"""Messages read like English (issue 9, "Plurals and wording"): plurals,
the true count of an ambiguous name, money errors that fit the field, and
history that names the deal a copy came from."""

from __future__ import annotations


def test_ambiguous_companies_are_counted_and_pluralised(crm_cli, invoke):
    for _ in range(2):
        invoke.ok("add", "company", "Ромашка", "--force")
    result = crm_cli("companies", "show", "Ромашка")
    assert result.returncode == 4
    assert "2 companies match" in result.stderr and "companys" not in result.stderr


def test_not_found_points_at_the_right_list_command(crm_cli):
    result = crm_cli("companies", "show", "Нет такой")
    assert result.returncode == 3
    assert "`crm companies list`" in result.stderr


def test_the_ambiguity_count_is_the_true_count(invoke):
    for _ in range(9):
        invoke.ok("add", "lead", "Сайт")
    result = invoke("deals", "show", "Сайт")  # in-process: the service's error itself
    from tui_crm.domain.errors import AmbiguousError

    assert isinstance(result.exception, AmbiguousError)
    assert str(result.exception).startswith("9 deals match"), result.exception
    assert len(result.exception.candidates) == 7 and result.exception.candidates[-1] == "… and 3 more"


def test_a_dollar_budget_for_the_rouble_option_points_at_budget_usd(crm_cli, invoke):
    result = crm_cli("add", "lead", "Лид", "--budget", "$12,500")
    assert result.returncode == 5
    assert "--budget-usd" in result.stderr
    bad = crm_cli("add", "lead", "Лид", "--budget", "много")
    assert bad.returncode == 5 and "$12,500" not in bad.stderr and "1,5 млн" in bad.stderr
    assert invoke.json("deals", "list") == []


def test_history_names_the_deal_a_copy_came_from(invoke):
    source = invoke.json("add", "lead", "Исходная сделка")
    copy = invoke.json("copy", source["id"][:8], "--name", "Копия")
    shown = invoke.ok("deals", "show", copy["id"][:8])
    assert "«Исходная сделка»" in shown and "copied_from" not in shown and source["id"][:12] not in shown


def test_users_delete_pluralises_what_moved(crm_cli, invoke):
    invoke.ok("users", "add", "Борис")
    invoke.ok("--user", "Борис", "add", "company", "Ромашка")
    result = crm_cli("users", "delete", "Борис", "--transfer-to", "Анна")
    assert result.returncode == 0, result.stderr
    assert "1 company" in result.stdout and "companys" not in result.stdout
