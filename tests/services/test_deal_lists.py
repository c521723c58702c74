"""Deal lists and the board's numbers: filters, task marks, sorting, totals."""

from __future__ import annotations

from decimal import Decimal

import pytest

from tui_crm.domain.errors import NotFoundError, ValidationError
from tui_crm.services.deal_queries import DealFilter, count_deals, list_deals, stage_totals
from tui_crm.services.deals import LeadInput, capture_lead, move_deal
from tui_crm.services.tasks import TaskInput, add_task, complete_task, tasks_of


@pytest.fixture
def board(crm, clock):
    """Four leads: one with an overdue task, one due today, one planned, one with none."""
    ids = {}
    for name, budget in (("Просрочка", "100 000"), ("Сегодня", "200 000"), ("Потом", "300 000"), ("Без задач", "1,5 млн")):
        ids[name] = capture_lead(crm, LeadInput(name=name, budget=budget)).id
        clock.advance(minutes=1)
    for task in tasks_of(crm, ids["Без задач"]):
        complete_task(crm, task.id, "Сделано")
    add_task(crm, TaskInput(text="Позвонить", due="2026-11-26 09:00", entity_type="deal", entity_ref=ids["Просрочка"]))
    add_task(crm, TaskInput(text="Написать", due="2026-11-26 18:00", entity_type="deal", entity_ref=ids["Сегодня"]))
    return ids


def test_task_marks_flag_overdue_today_and_no_task(crm, board):
    marks = {d.name: d.task_mark for d in list_deals(crm)}
    assert marks == {"Просрочка": "overdue", "Сегодня": "today", "Потом": "planned", "Без задач": "none"}


def test_overdue_and_no_open_task_filters(crm, board, clock):
    assert [d.name for d in list_deals(crm, DealFilter(overdue=True))] == ["Просрочка"]
    assert [d.name for d in list_deals(crm, DealFilter(no_open_task=True))] == ["Без задач"]
    clock.set(clock.now.replace(hour=19))
    assert {d.name for d in list_deals(crm, DealFilter(overdue=True))} == {"Просрочка", "Сегодня"}


def test_sorting(crm, board):
    assert [d.name for d in list_deals(crm, sort="name")] == ["Без задач", "Потом", "Просрочка", "Сегодня"]
    assert [d.name for d in list_deals(crm, sort="budget")][0] == "Без задач"
    assert [d.name for d in list_deals(crm, sort="created")][0] == "Без задач"
    with pytest.raises(ValidationError):
        list_deals(crm, sort="random")


def test_paging_and_count(crm, board):
    page = list_deals(crm, sort="name", limit=2, offset=2)
    assert [d.name for d in page] == ["Просрочка", "Сегодня"]
    assert count_deals(crm) == 4


def test_stage_and_pipeline_filters_and_totals(crm, board):
    qualified = {"budget_usd": "1000", "segment": "A", "territory": "РФ", "city": "Казань"}
    move_deal(crm, board["Без задач"], "Квалификация", qualified)
    assert [d.name for d in list_deals(crm, DealFilter(stage="Квалификация"))] == ["Без задач"]
    assert list_deals(crm, DealFilter(pipeline="Тендеры")) == []
    totals = {t.stage.key: (t.count, t.budget_rub, t.budget_usd) for t in stage_totals(crm, None)}
    assert totals["lead"] == (3, Decimal("600000.00"), Decimal(0))
    assert totals["qualification"] == (1, Decimal("1500000.00"), Decimal("1000.00"))
    assert totals["won"] == (0, Decimal(0), Decimal(0))
    with pytest.raises(NotFoundError):
        list_deals(crm, DealFilter(stage="Нет такого"))


def test_closed_deals_hidden_with_open_only(crm, board):
    move_deal(crm, board["Потом"], "lost", {"reason": "Дорого"})
    assert "Потом" in {d.name for d in list_deals(crm)}
    assert "Потом" not in {d.name for d in list_deals(crm, DealFilter(include_closed=False))}
