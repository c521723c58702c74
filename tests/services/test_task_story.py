"""Issue 8's story, end to end on a real SQLite file: the agenda holds
exactly the real next steps while a deal goes forward, back, forward and is
won; a deal lost around the New Year gets its follow-up on the first
working day after the holidays, at 10:00.

The clock starts on Thursday 2026-11-26 12:00 Moscow time (tests/conftest.py).
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from tui_crm.services.deals import LeadInput, capture_lead, move_deal
from tui_crm.services.tasks import agenda, tasks_of

MSK = ZoneInfo("Europe/Moscow")
QUALIFY = {"budget_usd": "20000", "segment": "B", "territory": "РФ", "city": "Казань"}
TO_WON = {
    "scope": "Сайт",
    "work_model": "Fixed price",
    "project_folder": "https://disk.example.com/p",
    "estimate_link": "https://disk.example.com/e",
    "closing_rub": "1500000",
}


def at(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=MSK)


def next_steps(crm) -> list[tuple[str, str | None, datetime]]:
    """Everything the agenda holds, as (task, deal, due)."""
    view = agenda(crm, limit=1000)
    assert sum(view.totals.values()) == sum(len(tasks) for tasks in view.groups.values())
    return sorted((t.text, t.entity_name, t.due_at) for tasks in view.groups.values() for t in tasks)


def test_the_agenda_holds_exactly_the_next_steps(crm, clock):
    other = capture_lead(crm, LeadInput(name="Другой лид"))
    deal = capture_lead(crm, LeadInput(name="Сайт для Ёлки", budget="1,5 млн"))
    contact = ("Связаться с лидом", "Сайт для Ёлки", at(2026, 11, 27, 10))
    waiting = ("Связаться с лидом", "Другой лид", at(2026, 11, 27, 10))
    assert next_steps(crm) == sorted([waiting, contact])

    clock.advance(minutes=20)
    move_deal(crm, deal.id, "Квалификация", QUALIFY)
    estimate = ("Подготовить оценку", "Сайт для Ёлки", at(2026, 11, 30, 10))  # +3d is Sunday
    assert next_steps(crm) == sorted([waiting, contact, estimate])

    clock.advance(minutes=5)
    move_deal(crm, deal.id, "Лид")  # `[`: back
    assert next_steps(crm) == sorted([waiting, contact, estimate])
    clock.advance(minutes=5)
    move_deal(crm, deal.id, "Квалификация")  # `]`: forward again
    assert next_steps(crm) == sorted([waiting, contact, estimate])  # no second «Подготовить оценку»

    clock.advance(hours=2)
    outcome = move_deal(crm, deal.id, "Успешно реализовано", TO_WON)
    assert sorted(outcome.tasks_completed) == ["Подготовить оценку", "Связаться с лидом"]
    assert next_steps(crm) == [waiting]  # nothing open on the Won deal
    assert {t.result for t in tasks_of(crm, deal.id)} == {"Сделка закрыта: успешно реализовано"}
    assert other.id != deal.id


def test_lost_around_the_new_year(crm, clock):
    # Captured on 30.12 (31.12.2026 is a day off): call the lead on the first working day, 11.01.2027.
    clock.set(at(2026, 12, 30, 16, 45))
    late = capture_lead(crm, LeadInput(name="Под Новый год"))
    assert next_steps(crm) == [("Связаться с лидом", "Под Новый год", at(2027, 1, 11, 10))]

    # Lost on 30.12: «Связаться с лидом» is settled, the follow-up is +30 days,
    # 29.01.2027 (a working Friday), at the working hour.
    move_deal(crm, late.id, "Закрыто и не реализовано", {"loss_reason": "Дорого"})
    assert next_steps(crm) == [("Фолоуап: как идёт проект?", "Под Новый год", at(2027, 1, 29, 10))]

    # The reported case: lost on 04.12, +30 days is Sunday 03.01.2027, inside the
    # holidays: the follow-up waits for the first working day after them, at 10:00.
    clock.set(at(2026, 12, 4, 13, 37))
    december = capture_lead(crm, LeadInput(name="Декабрь"))
    move_deal(crm, december.id, "Закрыто и не реализовано", {"loss_reason": "Проект заморожен"})
    [follow_up] = tasks_of(crm, december.id, include_done=False)
    assert (follow_up.text, follow_up.due_at) == ("Фолоуап: как идёт проект?", at(2027, 1, 11, 10))
