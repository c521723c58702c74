"""From the CLI (refusals through the real ``crm`` entry point in a child
process, the rest in-process): a deactivated user is locked out with
exit 5 and the command that reactivates them; a new responsible takes the
deal's open tasks (and the output says how many); a lost deal is copied
into the Lead stage without --stage."""

from __future__ import annotations

import json


def _ok(invoke, *args: str) -> str:
    return invoke.ok(*args)


def _lead(invoke, name: str, *extra: str) -> str:
    return json.loads(_ok(invoke, "add", "lead", name, "--json", *extra))["id"]


def test_a_deactivated_user_is_refused_with_exit_5_and_writes_nothing(crm_cli, count_rows, cli_env, tmp_path, invoke):
    _ok(invoke, "users", "add", "Пётр")
    _ok(invoke, "--user", "Пётр", "deals", "list")
    _ok(invoke, "users", "deactivate", "Пётр")
    before = count_rows(tmp_path / "crm.db", "deal", "change_log")
    for args in (("add", "lead", "Тайком"), ("deals", "list"), ("users", "activate", "Пётр")):
        result = crm_cli("--user", "Пётр", *args)
        assert result.returncode == 5, (args, result.stderr)
        assert result.stderr.startswith("error: user: Пётр is deactivated")
        assert "crm --user Анна users activate Пётр" in result.stderr
    # the same person set as the current user in config.toml
    result = crm_cli("deals", "list", env={"CRM_USER": ""})
    assert result.returncode == 0
    (tmp_path / "cfg" / "config.toml").write_text('timezone = "Europe/Moscow"\nuser = "Пётр"\n', encoding="utf-8")
    result = crm_cli("deals", "list", env={"CRM_USER": ""})
    assert result.returncode == 5 and "Пётр is deactivated" in result.stderr
    assert count_rows(tmp_path / "crm.db", "deal", "change_log") == before
    _ok(invoke, "users", "activate", "Пётр")  # as Анна (CRM_USER)
    assert _ok(invoke, "--user", "Пётр", "add", "lead", "Теперь можно").startswith("Created deal")


def test_no_deal_or_task_is_given_to_a_deactivated_user(crm_cli, invoke):
    _ok(invoke, "users", "add", "Пётр")
    _ok(invoke, "users", "deactivate", "Пётр")
    deal = _lead(invoke, "Альфа")
    for args in (
        ("add", "lead", "Бета", "--responsible", "Пётр"),
        ("deals", "edit", deal, "responsible=Пётр"),
        ("move", deal, "lost", "--set", "responsible=Пётр", "--set", "loss_reason=Дорого"),
        ("bulk", "responsible", "Пётр", "--id", deal),
        ("add", "task", "Позвонить", "--deal", deal, "--responsible", "Пётр"),
    ):
        result = crm_cli(*args)
        assert result.returncode == 5, (args, result.stderr)
        assert "Пётр is deactivated" in result.stderr
    shown = json.loads(_ok(invoke, "deals", "show", deal, "--json"))["deal"]
    assert (shown["responsible"], shown["stage"]) == ("Анна", "Лид")


def _holders(invoke, deal: str) -> dict[str, str]:
    return {t["text"]: t["responsible"] for t in json.loads(_ok(invoke, "task", "list", deal, "--json"))}


def test_reassigning_a_deal_moves_its_open_tasks(invoke):
    _ok(invoke, "users", "add", "Иван")
    _ok(invoke, "users", "add", "Пётр")
    deal = _lead(invoke, "Альфа", "--task", "Позвонить")
    _ok(invoke, "add", "task", "Задача Петра", "--deal", deal, "--responsible", "Пётр")
    done = json.loads(_ok(invoke, "add", "task", "Отправить КП", "--deal", deal, "--json"))["id"]
    _ok(invoke, "task", "done", done[:8])

    out = _ok(invoke, "deals", "edit", deal[:8], "responsible=Иван")
    assert "2 open tasks moved to Иван" in out
    assert _holders(invoke, deal) == {
        "Связаться с лидом": "Иван",
        "Позвонить": "Иван",
        "Задача Петра": "Пётр",
        "Отправить КП": "Анна",
    }
    out = _ok(invoke, "bulk", "responsible", "Анна", "--id", deal[:8])
    assert "responsible: 1 of 1 deals changed; 2 open tasks went along" in out
    assert _holders(invoke, deal)["Позвонить"] == "Анна"
    report = json.loads(_ok(invoke, "bulk", "responsible", "Иван", "--id", deal[:8], "--json"))
    assert (report["changed"], report["tasks_moved"]) == (1, 2)
    # an edit that keeps the responsible says nothing about tasks
    assert "open task" not in _ok(invoke, "deals", "edit", deal[:8], "budget=1 млн", "responsible=Иван")


def test_copy_of_a_lost_deal_without_stage_lands_on_lead(crm_cli, invoke):
    deal = _lead(invoke, "Счёт, октябрь", "--budget", "100 000")
    _ok(invoke, "move", deal, "lost", "--set", "loss_reason=Дорого")
    out = _ok(invoke, "copy", deal[:8], "--name", "Счёт, ноябрь")
    assert out.startswith("Copied to ") and out.rstrip().endswith("«Счёт, ноябрь» in Продажи 2.0 / Лид")
    refused = crm_cli("copy", deal[:8], "--stage", "lost")
    assert refused.returncode == 6 and "Причина отказа" in refused.stderr
    names = [d["name"] for d in json.loads(_ok(invoke, "deals", "list", "--json"))]
    assert sorted(names) == ["Счёт, ноябрь", "Счёт, октябрь"]  # the refused copy left nothing behind
