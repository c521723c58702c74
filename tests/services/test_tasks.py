"""Automatic tasks on stage entry, the agenda as time passes, completing and
rescheduling tasks, notes and the timeline.

The clock starts on Thursday 2026-11-26 12:00 Moscow time (tests/conftest.py).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from tui_crm.domain.errors import ValidationError
from tui_crm.services.deals import LeadInput, capture_lead, edit_deal, move_deal
from tui_crm.services.notes import add_note, set_pinned, timeline
from tui_crm.services.tasks import (
    TaskInput,
    add_task,
    agenda,
    complete_task,
    reopen_task,
    reschedule_task,
    tasks_of,
)
from tui_crm.services.users import add_user

MSK = ZoneInfo("Europe/Moscow")  # the crm fixture's timezone


def at(day: int, hour: int = 0, minute: int = 0, month: int = 11) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=MSK)


def open_tasks(crm, deal_id: str) -> dict[str, datetime]:
    return {t.text: t.due_at for t in tasks_of(crm, deal_id, include_done=False)}


def groups_of(crm, **kwargs) -> dict[str, list[tuple[str, str | None]]]:
    return {name: [(t.text, t.overdue_by) for t in tasks] for name, tasks in agenda(crm, **kwargs).groups.items()}


# -- automatic tasks ---------------------------------------------------------------


def test_capture_creates_contact_the_lead_due_next_working_day(crm):
    deal = capture_lead(crm, LeadInput(name="Четверговый лид"))
    assert open_tasks(crm, deal.id) == {"Связаться с лидом": at(27, 10)}  # the working hour, not the capture's minute
    [task] = tasks_of(crm, deal.id)
    assert (task.task_type, task.responsible, task.all_day) == ("call", "Анна", False)


def test_capture_on_friday_is_due_on_monday(crm, clock):
    clock.set(at(27, 17, 30))
    deal = capture_lead(crm, LeadInput(name="Пятничный лид"))
    assert open_tasks(crm, deal.id) == {"Связаться с лидом": at(30, 10)}


def test_capture_on_saturday_is_due_on_monday(crm, clock):
    clock.set(at(28, 11))
    deal = capture_lead(crm, LeadInput(name="Субботний лид"))
    assert open_tasks(crm, deal.id) == {"Связаться с лидом": at(30, 10)}


def test_tender_lead_stage_has_the_same_rule(crm):
    deal = capture_lead(crm, LeadInput(name="Тендер", pipeline="Тендеры"))
    assert open_tasks(crm, deal.id) == {"Связаться с лидом": at(27, 10)}


def test_stage_rules_along_the_pipeline(crm, clock):
    deal = capture_lead(crm, LeadInput(name="Путь сделки", budget="1 млн"))
    clock.advance(hours=1)
    move_deal(crm, deal.id, "Квалификация", {"budget_usd": "20000", "segment": "B", "territory": "РФ", "city": "Казань"})
    assert open_tasks(crm, deal.id)["Подготовить оценку"] == at(30, 10)  # +3d is Sunday: Monday at 10:00
    clock.advance(days=1)
    move_deal(
        crm,
        deal.id,
        "Оценка",
        {"scope": "Приложение", "work_model": "Fixed price", "project_folder": "https://disk.example.com/a"},
    )
    assert len(open_tasks(crm, deal.id)) == 2  # Оценка has no rule
    move_deal(crm, deal.id, "КП отправлено", {"estimate_link": "https://disk.example.com/e"})
    assert open_tasks(crm, deal.id)["Follow-up по КП"] == at(30, 10)
    move_deal(crm, deal.id, "lost", {"loss_reason": "Проект заморожен"})
    # closing completed the stage tasks; +30d from Friday 27.11 is Sunday 27.12: Monday at 10:00
    assert open_tasks(crm, deal.id) == {"Фолоуап: как идёт проект?": at(28, 10, month=12)}


def test_auto_task_goes_to_the_deals_responsible(crm):
    add_user(crm, "Иван")
    deal = capture_lead(crm, LeadInput(name="Чужой лид", responsible="Иван"))
    [task] = tasks_of(crm, deal.id)
    assert task.responsible == "Иван"
    assert groups_of(crm)["Tomorrow"] == []  # not in Анна's agenda
    assert groups_of(crm, responsible="Иван")["Tomorrow"] == [("Связаться с лидом", None)]
    assert groups_of(crm, everyone=True)["Tomorrow"] == [("Связаться с лидом", None)]


def test_a_refused_move_creates_no_task(crm):
    deal = capture_lead(crm, LeadInput(name="Отказ"))
    with pytest.raises(Exception):  # noqa: B017 - GateRefused, checked in test_gates
        move_deal(crm, deal.id, "Квалификация")
    assert list(open_tasks(crm, deal.id)) == ["Связаться с лидом"]


# -- the agenda as the clock moves ---------------------------------------------------------


@pytest.fixture
def week(crm):
    for text, due in (
        ("Просрочена утром", "2026-11-26 10:00"),
        ("Сегодня вечером", "2026-11-26 18:00"),
        ("Весь день сегодня", "26.11.2026"),
        ("Завтра утром", "2026-11-27 10:00"),
        ("В воскресенье", "2026-11-29 15:00"),
        ("В понедельник", "2026-11-30 10:00"),
    ):
        add_task(crm, TaskInput(text=text, due=due))


def test_agenda_groups_on_thursday_noon(crm, week):
    assert groups_of(crm) == {
        "Overdue": [("Просрочена утром", "2h")],
        "Today": [("Весь день сегодня", None), ("Сегодня вечером", None)],
        "Tomorrow": [("Завтра утром", None)],
        "This week": [("В воскресенье", None)],
        "Later": [("В понедельник", None)],
    }


def test_agenda_groups_on_friday_noon(crm, week, clock):
    clock.set(at(27, 12))
    assert groups_of(crm) == {
        "Overdue": [("Весь день сегодня", "1d"), ("Просрочена утром", "1d"), ("Сегодня вечером", "18h"), ("Завтра утром", "2h")],
        "Today": [],
        "Tomorrow": [],
        "This week": [("В воскресенье", None)],
        "Later": [("В понедельник", None)],
    }


def test_agenda_on_saturday_and_next_monday(crm, week, clock):
    clock.set(at(28, 9))
    assert groups_of(crm)["Tomorrow"] == [("В воскресенье", None)]
    assert groups_of(crm)["This week"] == []
    clock.set(at(30, 9, 30))
    groups = groups_of(crm)
    assert groups["Today"] == [("В понедельник", None)]
    assert ("В воскресенье", "18h") in groups["Overdue"]


def test_overdue_by_minutes(crm, week, clock):
    clock.set(at(26, 18, 25))
    assert ("Сегодня вечером", "25m") in groups_of(crm)["Overdue"]


def test_all_day_task_is_overdue_only_after_its_day(crm, clock):
    task = add_task(crm, TaskInput(text="Отчёт", due="сегодня"))
    assert task.all_day and task.due_at == at(26)
    clock.set(at(26, 23, 59))
    assert groups_of(crm)["Today"] == [("Отчёт", None)]
    clock.set(at(27, 0, 1))
    assert groups_of(crm)["Overdue"] == [("Отчёт", "1d")]


def test_completed_tasks_leave_the_agenda(crm, week):
    [overdue] = agenda(crm).groups["Overdue"]
    complete_task(crm, overdue.id, "Созвонились")
    assert agenda(crm).groups["Overdue"] == []


def test_tasks_of_a_deleted_deal_leave_the_agenda_until_it_is_restored(crm, clock):
    from tui_crm.services.deals import delete_deal, restore_deal

    spam = capture_lead(crm, LeadInput(name="Спам"))
    keep = capture_lead(crm, LeadInput(name="Настоящий лид"))
    clock.advance(days=2)
    assert [t.entity_name for t in agenda(crm).groups["Overdue"]] == ["Спам", "Настоящий лид"]
    delete_deal(crm, spam.id)
    assert [t.entity_id for t in agenda(crm).groups["Overdue"]] == [keep.id]
    assert agenda(crm).totals["Overdue"] == 1
    restore_deal(crm, spam.id)
    assert len(agenda(crm).groups["Overdue"]) == 2


# -- complete, reschedule ---------------------------------------------------------------


def test_complete_with_result_then_twice_is_refused(crm, clock, count_rows):
    deal = capture_lead(crm, LeadInput(name="Звонок"))
    [task] = tasks_of(crm, deal.id)
    clock.advance(minutes=5)
    done = complete_task(crm, task.id[:8], "  Договорились о встрече ")
    assert done.result == "Договорились о встрече"
    assert done.completed_at == clock.now
    before = count_rows(crm, "change_log")
    with pytest.raises(ValidationError, match="already completed"):
        complete_task(crm, task.id, "ещё раз")
    assert count_rows(crm, "change_log") == before
    assert tasks_of(crm, deal.id)[0].result == "Договорились о встрече"
    assert reopen_task(crm, task.id).completed_at is None


@pytest.mark.parametrize(
    ("when", "due", "all_day"),
    [
        ("послезавтра в 15:00", at(28, 15), False),
        ("завтра", at(27), True),
        ("в пятницу", at(27), True),
        ("friday 14:30", at(27, 14, 30), False),
        ("через 3 дня", at(29, 10), False),  # keeps the task's 10:00, not now's 12:00
        ("+2h", at(26, 14), False),
        ("1 декабря", at(1, month=12), True),
        ("2026-12-01 09:15", at(1, 9, 15, month=12), False),
    ],
)
def test_reschedule_understands_when(crm, when, due, all_day):
    task = add_task(crm, TaskInput(text="Перенести", due="tomorrow 10:00"))
    moved = reschedule_task(crm, task.id, when)
    assert (moved.due_at, moved.all_day) == (due, all_day)


def test_reschedule_rejects_nonsense_and_keeps_the_due(crm):
    task = add_task(crm, TaskInput(text="Перенести", due="tomorrow 10:00"))
    with pytest.raises(ValidationError):
        reschedule_task(crm, task.id, "когда-нибудь")
    assert tasks_of_any(crm, task.id).due_at == at(27, 10)


def tasks_of_any(crm, task_id: str):
    from tui_crm.services.tasks import get_task

    return get_task(crm, task_id)


def test_task_type_in_russian_and_a_bad_type(crm):
    assert add_task(crm, TaskInput(text="Встреча", due="завтра 10:00", task_type="встреча")).task_type == "meeting"
    with pytest.raises(ValidationError):
        add_task(crm, TaskInput(text="x", due="завтра", task_type="party"))


# -- notes and the timeline ------------------------------------------------------------------


def test_pin_and_unpin_and_the_timeline_order(crm, clock):
    """Pinned notes first, then everything newest first, stage and field changes included."""
    deal = capture_lead(crm, LeadInput(name="Лента"))
    clock.advance(minutes=1)
    first = add_note(crm, "deal", deal.id, "Первая заметка")
    clock.advance(minutes=1)
    pinned = add_note(crm, "deal", deal.id, "Важное: бюджет согласован", pinned=True)
    clock.advance(minutes=1)
    edit_deal(crm, deal.id, {"budget": "2 000 000"})
    clock.advance(minutes=1)
    move_deal(crm, deal.id, "lost", {"loss_reason": "Выбрали конкурента"})
    clock.advance(minutes=1)
    add_note(crm, "deal", deal.id, "Последняя заметка")

    texts = [i.text for i in timeline(crm, "deal", deal.id)]
    assert texts[0] == "Важное: бюджет согласован"

    set_pinned(crm, first.id, True)
    set_pinned(crm, pinned.id, False)
    items = timeline(crm, "deal", deal.id)
    texts = [i.text for i in items]
    assert texts[0] == "Первая заметка" and items[0].pinned
    assert not any(i.pinned for i in items[1:])

    def index(prefix: str) -> int:
        return next(n for n, t in enumerate(texts) if t.startswith(prefix))

    stage = index("Этап: Лид → Закрыто и не реализовано")
    assert index("Последняя заметка") < stage < index("Бюджет (RUB)") < index("Важное") < index("Создано")
    assert index("Причина отказа: — → Выбрали конкурента") < index("Бюджет (RUB)")
    assert items[-1].text == "Создано"
    assert all(i.at.utcoffset() == timedelta(hours=3) for i in items)


def test_call_log_note(crm):
    deal = capture_lead(crm, LeadInput(name="Звонок клиенту"))
    note = add_note(crm, "deal", deal.id, "Перезвонить в пятницу", kind="call", call_outcome="no answer")
    assert note.kind == "call"
    assert any(i.text == "[no answer] Перезвонить в пятницу" for i in timeline(crm, "deal", deal.id))
    with pytest.raises(ValidationError):
        add_note(crm, "deal", deal.id, "x", kind="call", call_outcome="maybe")
    with pytest.raises(ValidationError):
        add_note(crm, "deal", deal.id, "   ")
