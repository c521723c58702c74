"""Issue 8 from the command line: closing with --close-tasks/--keep-tasks,
the inbox refusal, the agenda's true counts (--limit, --json totals) and a
reschedule into the past that needs --past. The CLI runs on the real clock."""

from __future__ import annotations

import json


def _lead_with_manual_task(invoke, name: str) -> str:
    deal = invoke.json("add", "lead", name)
    invoke.ok("add", "task", "Отправить счёт", "--deal", deal["id"], "--due", "+2d")
    return deal["id"]


def test_closing_completes_automatic_tasks_and_keeps_manual_ones_by_default(invoke):
    deal = _lead_with_manual_task(invoke, "Закрытие")
    out = invoke.ok("move", deal, "lost", "--set", "loss_reason=Дорого")
    assert "completed: «Связаться с лидом»" in out
    assert "kept open: «Отправить счёт» (complete them too with --close-tasks)" in out
    tasks = {t["text"]: t for t in invoke.json("task", "list", deal)}
    assert tasks["Связаться с лидом"]["result"] == "Сделка закрыта: закрыто и не реализовано"
    assert tasks["Отправить счёт"]["completed_at"] is None


def test_close_tasks_completes_the_manual_ones_too(invoke):
    deal = _lead_with_manual_task(invoke, "Закрыть всё")
    out = invoke.ok("move", deal, "lost", "--set", "loss_reason=Дорого", "--close-tasks")
    assert "«Отправить счёт»" in out and "kept open" not in out
    assert [t["text"] for t in invoke.json("task", "list", deal) if not t["completed_at"]] == ["Фолоуап: как идёт проект?"]


def test_keep_tasks_and_close_tasks_together_are_refused(crm_cli, invoke):
    deal = invoke.json("add", "lead", "Оба флага")
    result = crm_cli("move", deal["id"], "lost", "--set", "loss_reason=Дорого", "--close-tasks", "--keep-tasks")
    assert result.returncode == 5
    assert "--close-tasks or --keep-tasks" in result.stderr and "Traceback" not in result.stderr


def test_bulk_move_reports_the_tasks_it_settled(invoke):
    first = _lead_with_manual_task(invoke, "Пачка 1")
    second = invoke.json("add", "lead", "Пачка 2")["id"]
    for deal in (first, second):
        invoke.ok("deals", "edit", deal, "loss_reason=Нет бюджета")
    out = invoke.ok("bulk", "move", "lost", "--id", first, "--id", second, "--close-tasks")
    assert out.count("completed: «") == 2
    open_tasks = [t["text"] for d in (first, second) for t in invoke.json("task", "list", d) if not t["completed_at"]]
    assert open_tasks == ["Фолоуап: как идёт проект?"] * 2


def test_moving_into_the_inbox_is_refused(crm_cli, invoke):
    deal = invoke.json("add", "lead", "Во входящие")
    result = crm_cli("move", deal["id"], "Неразобранное")
    assert result.returncode == 5
    assert "inbox" in result.stderr and "«Лид»" in result.stderr and "Traceback" not in result.stderr
    assert invoke.json("deals", "show", deal["id"])["deal"]["stage_key"] == "lead"


def test_agenda_shows_true_counts_and_pages(invoke):
    for n in range(3):
        invoke.ok("add", "task", f"Задача {n}", "--due", "+2h")
    out = invoke.ok("agenda", "--limit", "1")
    assert "Today (3)" in out or "Tomorrow (3)" in out
    assert "… 2 more (show them with --limit 3)" in out
    data = invoke.json("agenda", "--limit", "1")
    assert sum(data["totals"].values()) == 3 and sum(len(g) for g in data["groups"].values()) == 1


def test_reschedule_into_the_past_needs_past(crm_cli, invoke):
    task = invoke.json("add", "task", "Вчерашняя", "--due", "+1d")
    refused = crm_cli("task", "reschedule", task["id"][:8], "вчера")
    assert refused.returncode == 5
    assert "in the past" in refused.stderr and "--past" in refused.stderr
    moved = crm_cli("task", "reschedule", task["id"][:8], "вчера", "--past", "--json")
    assert moved.returncode == 0, moved.stderr
    assert json.loads(moved.stdout)["overdue_by"] == "1d"
