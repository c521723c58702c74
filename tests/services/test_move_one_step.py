"""``move_deal(step=±1)``: one step through the gate in one transaction.

The board and the card used to find the next stage with one call and move
with another; the service now does both in the move's transaction. Its
refusals carry what a form needs: the refused stage's key, and for a bad
value the key of the field it is about (not only a label such as «ИНН
компании»). Asked to ask (``close_tasks=None``), a close with open tasks a
person set is refused with those tasks, nothing written.
"""

from __future__ import annotations

from typing import Any

import pytest

from tui_crm.domain.errors import ClosingChoiceNeeded, GateRefused, NoAdjacentStage, ValidationError
from tui_crm.services.deals import LeadInput, capture_lead, get_deal, move_deal
from tui_crm.services.tasks import TaskInput, add_task, tasks_of

NEGOTIATION = {  # what «Переговоры» and the stages before it ask for
    "budget_rub": "100000", "budget_usd": "1000", "segment": "A", "territory": "РФ", "city": "Тверь", "scope": "Сайт",
    "work_model": "Fixed price", "project_folder": "https://disk.example.com/x",
    "estimate_link": "https://disk.example.com/x/est", "decision_makers": "Иванов",
}  # fmt: skip
QUALIFIED = {"budget_rub": "1 000 000", "budget_usd": "12000", "segment": "B", "territory": "РФ", "city": "Казань"}



def test_a_step_forward_and_back(crm: Any) -> None:
    deal = capture_lead(crm, LeadInput(name="Шаг"))
    outcome = move_deal(crm, deal.id, step=1, set_values=QUALIFIED)
    assert (outcome.moved, outcome.to_stage_key) == (True, "qualification")
    assert get_deal(crm, deal.id).stage_key == "qualification"
    move_deal(crm, deal.id, step=-1)
    assert get_deal(crm, deal.id).stage_key == "lead"


def test_no_step_before_the_first_working_stage(crm: Any) -> None:
    deal = capture_lead(crm, LeadInput(name="Край"))
    with pytest.raises(NoAdjacentStage, match="already in the first working stage"):
        move_deal(crm, deal.id, step=-1)
    assert get_deal(crm, deal.id).stage_key == "lead"


def test_a_refused_step_names_the_stage_by_key(crm: Any) -> None:
    deal = capture_lead(crm, LeadInput(name="Без полей"))
    with pytest.raises(GateRefused) as refused:
        move_deal(crm, deal.id, step=1)
    assert refused.value.stage_key == "qualification"
    assert [m.key for m in refused.value.missing] == ["budget_rub", "budget_usd", "segment", "territory", "city"]
    assert get_deal(crm, deal.id).stage_key == "lead"


def test_a_bad_value_carries_its_field_key(crm: Any) -> None:
    deal = capture_lead(crm, LeadInput(name="Ключ"))
    with pytest.raises(ValidationError) as refused:
        move_deal(crm, deal.id, step=1, set_values={**QUALIFIED, "budget_usd": "много"})
    assert refused.value.key == "budget_usd"


def test_an_inn_without_a_company_is_refused_under_company_inn(crm: Any) -> None:
    """The message says «ИНН компании»; the key says which field to show it under."""
    deal = capture_lead(crm, LeadInput(name="Без компании", pipeline="sales_rus"))
    move_deal(crm, deal.id, "negotiation", set_values=NEGOTIATION)
    with pytest.raises(ValidationError) as refused:
        move_deal(crm, deal.id, step=1, set_values={"company.inn": "7707083893"})
    assert (refused.value.key, refused.value.field_name) == ("company.inn", "ИНН компании")
    assert get_deal(crm, deal.id).stage_key == "negotiation"


def test_asked_to_ask_a_close_names_the_tasks_people_set(crm: Any) -> None:
    deal = capture_lead(crm, LeadInput(name="Закрыть"))
    add_task(crm, TaskInput(text="Отправить акт", due="tomorrow 10:00", entity_type="deal", entity_ref=deal.id))
    with pytest.raises(ClosingChoiceNeeded) as asked:
        move_deal(crm, deal.id, "lost", set_values={"loss_reason": "Дорого"}, close_tasks=None)
    assert asked.value.stage_key == "lost"
    assert [t.text for t in asked.value.tasks] == ["Отправить акт"]
    assert get_deal(crm, deal.id).stage_key == "lead"
    move_deal(crm, deal.id, "lost", set_values={"loss_reason": "Дорого"}, close_tasks=frozenset())
    assert get_deal(crm, deal.id).stage_key == "lost"
    assert "Отправить акт" in [t.text for t in tasks_of(crm, deal.id, include_done=False)]  # kept open
