"""The issue's "done means" story, run as a user runs it: the ``crm`` entry
point in a child process, checking exit codes, stdout and stderr."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

MSK = ZoneInfo("Europe/Moscow")


def test_capture_search_gate_fill_agenda(crm_cli):
    tomorrow_before = (datetime.now(MSK) + timedelta(days=1)).date()
    added = crm_cli(
        "add", "lead", "Приложение для Ёлки",
        "--phone", "8 (916) 555-12-34", "--email", "olga@elka.ru", "--company", "Ёлка",
        "--budget", "1,5 млн", "--task", "Позвонить", "--due", "завтра в 11:00",
    )  # fmt: skip
    tomorrow_after = (datetime.now(MSK) + timedelta(days=1)).date()
    assert added.returncode == 0, added.stderr
    assert "Приложение для Ёлки" in added.stdout

    found = crm_cli("search", "ёлк", "--json")
    assert found.returncode == 0, found.stderr
    hits = json.loads(found.stdout)
    [deal_hit] = [h for h in hits if h["entity_type"] == "deal"]
    assert deal_hit["name"] == "Приложение для Ёлки"
    assert {h["entity_type"]: h["name"] for h in hits if h["entity_type"] != "deal"} == {
        "company": "Ёлка",
        "contact": "olga@elka.ru",
    }
    deal_id = deal_hit["id"]

    shown = json.loads(crm_cli("deals", "show", deal_id[:8], "--json").stdout)["deal"]
    assert (shown["budget_rub"], shown["company"]["name"], shown["stage"]) == ("1500000.00", "Ёлка", "Лид")
    contact = json.loads(crm_cli("contacts", "show", shown["contacts"][0]["id"], "--json").stdout)["contact"]
    assert (contact["phones"], contact["emails"]) == (["+79165551234"], ["olga@elka.ru"])

    refused = crm_cli("move", deal_id, "Квалификация")
    assert refused.returncode == 6
    for label in ("Бюджет ($)", "Сегмент", "Территория", "Город"):
        assert label in refused.stderr
    assert "Бюджет (RUB)" not in refused.stderr  # given at capture
    assert "--set segment=" in refused.stderr and "A, B, C, D" in refused.stderr
    assert refused.stdout == ""

    moved = crm_cli(
        "move", deal_id, "Квалификация",
        "--set", "budget_usd=20000", "--set", "segment=B", "--set", "territory=РФ", "--set", "city=Казань",
    )  # fmt: skip
    assert moved.returncode == 0, moved.stderr
    assert "Лид → Квалификация" in moved.stdout and "Подготовить оценку" in moved.stdout

    agenda = crm_cli("agenda", "--json")
    assert agenda.returncode == 0, agenda.stderr
    groups = json.loads(agenda.stdout)["groups"]
    assert list(groups) == ["Overdue", "Today", "Tomorrow", "This week", "Later"]
    texts = {t["text"]: t for tasks in groups.values() for t in tasks}
    assert {"Подготовить оценку", "Позвонить", "Связаться с лидом"} <= set(texts)
    call = datetime.fromisoformat(texts["Позвонить"]["due_at"]).astimezone(MSK)
    assert call.date() in {tomorrow_before, tomorrow_after} and (call.hour, call.minute) == (11, 0)
    assert texts["Позвонить"]["entity_name"] == "Приложение для Ёлки"

    plain = crm_cli("agenda")
    assert "Подготовить оценку" in plain.stdout and "Tomorrow" in plain.stdout


def test_move_by_name_and_a_refused_move_saves_nothing(crm_cli):
    assert crm_cli("add", "lead", "Сайт для Магнита").returncode == 0
    refused = crm_cli("move", "магнит", "Квалификация", "--set", "budget=1m", "--set", "segment=A")
    assert refused.returncode == 6
    shown = json.loads(crm_cli("deals", "show", "сайт для магнита", "--json").stdout)["deal"]
    assert (shown["stage_key"], shown["budget_rub"], shown["custom"]) == ("lead", None, {})
