"""``--json`` on every listing and show command parses and carries the
records a script needs; run in-process through Typer's CliRunner."""

from __future__ import annotations

import json

import pytest


@pytest.fixture
def filled(invoke):
    deal = invoke.json("add", "lead", "Сайт для Магнита", "--email", "ivan@magnit.ru", "--contact", "Иван Петров",
                       "--company", "Магнит", "--budget", "2 млн", "--tag", "VIP")  # fmt: skip
    invoke.ok("add", "note", "Первый звонок", "--deal", deal["id"], "--pin")
    invoke.ok("add", "company", "Ромашка", "--inn", "7707083893")
    invoke.ok("users", "add", "Иван Смирнов", "--email", "ivan@omega.example")
    invoke.ok("unsorted", "add", "Заявка с сайта", "--email", "client@example.com", "--body", "Нужен сайт")
    return deal


def test_deals_list_and_show(invoke, filled):
    [row] = invoke.json("deals", "list")
    assert (row["id"], row["name"], row["stage"], row["company"], row["budget_rub"], row["tags"]) == (
        filled["id"],
        "Сайт для Магнита",
        "Лид",
        "Магнит",
        "2000000.00",
        ["VIP"],
    )
    assert row["task_mark"] in ("planned", "today")
    shown = invoke.json("deals", "show", filled["id"][:6])
    assert shown["deal"]["contacts"][0]["name"] == "Иван Петров"
    assert shown["timeline"][0] == {**shown["timeline"][0], "text": "Первый звонок", "pinned": True}


def test_contacts_and_companies_list_and_show(invoke, filled):
    [contact] = invoke.json("contacts", "list")
    assert (contact["name"], contact["email"], contact["company"]) == ("Иван Петров", "ivan@magnit.ru", "Магнит")
    shown = invoke.json("contacts", "show", "иван петров")
    assert shown["contact"]["deals"][0]["name"] == "Сайт для Магнита"
    assert "phone" in shown["contact"]["missing_required"]
    assert isinstance(shown["timeline"], list)
    assert [c["name"] for c in invoke.json("companies", "list")] == ["Магнит", "Ромашка"]
    company = invoke.json("companies", "show", "ромашка")
    assert company["inn"] == "7707083893"


def test_search_agenda_users_unsorted_pipelines(invoke, filled):
    assert {h["entity_type"] for h in invoke.json("search", "магнит")} == {"deal", "contact", "company"}
    assert invoke.json("search", "магнит", "--type", "company")[0]["name"] == "Магнит"
    agenda = invoke.json("agenda")
    assert [t["text"] for group in agenda["groups"].values() for t in group] == ["Связаться с лидом"]
    assert sum(agenda["totals"].values()) == 1
    users = invoke.json("users", "list")
    assert [(u["name"], u["is_current"]) for u in users] == [("Анна", True), ("Иван Смирнов", False)]
    [entry] = invoke.json("unsorted", "list")
    assert (entry["subject"], entry["sender_email"], entry["status"]) == ("Заявка с сайта", "client@example.com", "new")
    pipelines = invoke.json("pipelines", "list")
    assert [p["name"] for p in pipelines] == ["Продажи 2.0", "Тендеры", "Продажи RUS"]
    assert [s["name"] for s in pipelines[0]["stages"]][:3] == ["Неразобранное", "Лид", "Квалификация"]


def test_empty_listings_are_empty_json(invoke):
    for args in (("deals", "list"), ("contacts", "list"), ("companies", "list"), ("search", "ничего"), ("unsorted", "list")):
        assert invoke.json(*args) == [], args
    groups = {"Overdue": [], "Today": [], "Tomorrow": [], "This week": [], "Later": []}
    assert invoke.json("agenda") == {"totals": dict.fromkeys(groups, 0), "groups": groups, "limit": 50}


def test_json_of_actions(invoke, filled):
    outcome = invoke.json("move", filled["id"], "lost", "--set", "reason=Дорого")
    assert (outcome["moved"], outcome["to_stage"]) == (True, "Закрыто и не реализовано")
    assert outcome["auto_task"] == "Фолоуап: как идёт проект?"
    task = invoke.json("add", "task", "Позвонить", "--deal", filled["id"], "--due", "+1d")
    done = invoke.json("task", "done", task["id"][:8], "--result", "Ок")
    assert done["result"] == "Ок" and done["completed_at"]
    copied = invoke.json("copy", filled["id"], "--stage", "Лид", "--no-tags")
    assert (copied["stage"], copied["tags"]) == ("Лид", [])
    report = invoke.json("bulk", "tag", "--add", "осень", "--id", filled["id"], "--id", copied["id"])
    assert (report["selected"], report["changed"]) == (2, 2)
    json.dumps(report)


def test_current_user_from_option_env_and_config(invoke, cli_env, monkeypatch):
    from pathlib import Path

    invoke.ok("users", "add", "Иван")
    invoke.ok("users", "add", "Пётр")

    def current() -> str:
        return next(u["name"] for u in invoke.json("users", "list") if u["is_current"])

    monkeypatch.delenv("CRM_USER")
    (Path(cli_env["CRM_CONFIG_DIR"]) / "config.toml").write_text('timezone = "Europe/Moscow"\nuser = "Пётр"\n', encoding="utf-8")
    assert current() == "Пётр"
    monkeypatch.setenv("CRM_USER", "иван")
    assert current() == "Иван"
    assert next(u["name"] for u in invoke.json("--user", "Анна", "users", "list") if u["is_current"]) == "Анна"
