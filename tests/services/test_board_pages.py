"""``board_pages``: the board's batched first pages equal one ``list_deals`` per stage.

The board loads every column's page in one session (an indexed query per
stage, one set of decorating queries); a column pages further through
``board_column``. Both must return exactly what the plain listing returns
for that pipeline and stage, whatever the filter, limit and offset.
"""

from __future__ import annotations

import pytest

from tui_crm.services.deal_queries import DealFilter, board_column, board_pages, list_deals
from tui_crm.services.deals import LeadInput, capture_lead, move_deal
from tui_crm.services.pipelines import find_pipeline
from tui_crm.services.tasks import TaskInput, add_task, complete_task, tasks_of

QUALIFIED = {"budget_usd": "1000", "segment": "A", "territory": "РФ", "city": "Казань"}


@pytest.fixture
def deals(crm, clock) -> dict[str, str]:
    """Twelve leads in two stages, some with same-minute updates (order ties), tasks of every kind."""
    ids: dict[str, str] = {}
    for number in range(12):
        name = f"Сделка {number:02d}"
        ids[name] = capture_lead(crm, LeadInput(name=name, budget=f"{(number + 1) * 100_000}", company=f"Фирма {number % 3}")).id
        if number % 4:
            clock.advance(minutes=1)  # every fourth lead shares its minute with the one before
    for name in ("Сделка 01", "Сделка 05", "Сделка 09"):
        move_deal(crm, ids[name], "qualification", set_values={**QUALIFIED, "budget_rub": "2 000 000"})
    for task in tasks_of(crm, ids["Сделка 02"]):
        complete_task(crm, task.id, "Готово")
    add_task(crm, TaskInput(text="Позвонить", due="2026-11-25 10:00", entity_type="deal", entity_ref=ids["Сделка 03"]))
    return ids


@pytest.mark.parametrize(
    "flt",
    [DealFilter(), DealFilter(overdue=True), DealFilter(no_open_task=True), DealFilter(query="Сделка"), DealFilter(tag="нет")],
    ids=["all", "overdue", "no-task", "search", "tag"],
)
@pytest.mark.parametrize(("limit", "offset"), [(50, 0), (3, 0), (3, 2), (5, 10)])
def test_pages_equal_one_listing_per_stage(crm, deals, flt, limit, offset) -> None:
    pipeline = find_pipeline(crm, None)
    keys = [stage.key for stage in pipeline.stages]
    pages = board_pages(crm, pipeline.key, keys, flt, limit=limit, offset=offset)
    assert list(pages) == keys
    for key in keys:
        expected = list_deals(
            crm, DealFilter(**{**flt.__dict__, "pipeline": pipeline.key, "stage": key}), limit=limit, offset=offset
        )
        assert pages[key] == expected
        assert board_column(crm, pipeline.key, key, flt, limit=limit, offset=offset) == expected


def test_pages_hold_the_summaries_a_card_shows(crm, deals) -> None:
    pages = board_pages(crm, None, ["lead", "qualification"], limit=3)
    assert [len(pages["lead"]), len(pages["qualification"])] == [3, 3]
    assert {d.name for d in pages["qualification"]} == {"Сделка 01", "Сделка 05", "Сделка 09"}
    marks = {d.name: (d.company, d.stage_key, d.task_mark) for d in board_pages(crm, None, ["lead"])["lead"]}
    assert marks["Сделка 02"] == ("Фирма 2", "lead", "none")
    assert marks["Сделка 03"] == ("Фирма 0", "lead", "overdue")


def test_no_stages_no_queries_needed(crm, deals) -> None:
    assert board_pages(crm, None, []) == {}
