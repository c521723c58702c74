"""Issue 8, "the agenda only holds real next steps", on a real SQLite file:
closing a deal settles its tasks, automatic tasks never stack up, the
Неразобранное inbox is not a stage, automatic due dates follow the Russian
production calendar at the working hour, the agenda counts truly and pages,
and reschedules keep the time of day and refuse the past.

The clock starts on Thursday 2026-11-26 12:00 Moscow time (tests/conftest.py).
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from tui_crm.domain.errors import ValidationError
from tui_crm.services.bulk import change_stage
from tui_crm.services.deals import LeadInput, adjacent_stage, capture_lead, get_deal, move_deal
from tui_crm.services.notes import timeline
from tui_crm.services.tasks import TaskInput, add_task, agenda, get_task, new_task, reschedule_task, tasks_of

# Names this issue added are imported inside the tests that use them, so each
# test fails on its own (not the whole module) against the code before the fix.

MSK = ZoneInfo("Europe/Moscow")
QUALIFY = {"budget_usd": "20000", "segment": "B", "territory": "РФ", "city": "Казань"}
WON = "Успешно реализовано"
TO_WON = {"scope": "Сайт", "work_model": "Fixed price", "project_folder": "https://disk.example.com/p",
          "estimate_link": "https://disk.example.com/e", "closing_rub": "1000000"}  # fmt: skip
LOST = "Закрыто и не реализовано"


def at(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=MSK)


def open_texts(crm, deal_id: str) -> list[str]:
    return sorted(t.text for t in tasks_of(crm, deal_id, include_done=False))


def lead_with_budget(crm, name: str = "Сделка"):
    return capture_lead(crm, LeadInput(name=name, budget="1 млн"))


# -- closing a deal settles its tasks ---------------------------------------------------------


def test_won_completes_automatic_tasks_with_a_reason_and_keeps_the_manual_ones(crm, clock):
    deal = lead_with_budget(crm)
    move_deal(crm, deal.id, "Квалификация", QUALIFY)
    manual = add_task(crm, TaskInput(text="Отправить счёт", due="+2d", entity_type="deal", entity_ref=deal.id))
    clock.advance(hours=1)
    outcome = move_deal(crm, deal.id, WON, TO_WON)
    assert sorted(outcome.tasks_completed) == ["Подготовить оценку", "Связаться с лидом"]
    assert outcome.tasks_kept == ["Отправить счёт"]
    assert open_texts(crm, deal.id) == ["Отправить счёт"]
    done = {t.text: t for t in tasks_of(crm, deal.id) if t.completed_at}
    assert {t.result for t in done.values()} == {"Сделка закрыта: успешно реализовано"}
    assert all(t.completed_at == clock.now for t in done.values())
    assert get_task(crm, manual.id).completed_at is None
    # logged: the timeline shows each completion with its reason
    lines = [i.text for i in timeline(crm, "deal", deal.id) if i.kind == "task"]
    assert sum("✓ Сделка закрыта: успешно реализовано" in line for line in lines) == 2


def test_closing_can_complete_the_manual_tasks_too_all_or_chosen(crm):
    first = capture_lead(crm, LeadInput(name="Первая"))
    keep = add_task(crm, TaskInput(text="Оставить", due="+2d", entity_type="deal", entity_ref=first.id))
    close = add_task(crm, TaskInput(text="Закрыть", due="+2d", entity_type="deal", entity_ref=first.id))
    from tui_crm.services.tasks import manual_open_tasks

    assert [t.text for t in manual_open_tasks(crm, first.id)] == ["Оставить", "Закрыть"]
    outcome = move_deal(crm, first.id, LOST, {"loss_reason": "Дорого"}, close_tasks={close.id})
    assert sorted(outcome.tasks_completed) == ["Закрыть", "Связаться с лидом"]
    assert get_task(crm, close.id).result == "Сделка закрыта: закрыто и не реализовано"
    assert get_task(crm, keep.id).completed_at is None

    second = capture_lead(crm, LeadInput(name="Вторая"))
    add_task(crm, TaskInput(text="Тоже закрыть", due="+2d", entity_type="deal", entity_ref=second.id))
    outcome = move_deal(crm, second.id, LOST, {"loss_reason": "Дорого"}, close_tasks=True)
    assert outcome.tasks_kept == []
    assert open_texts(crm, second.id) == ["Фолоуап: как идёт проект?"]


def test_lost_keeps_only_the_follow_up(crm):
    deal = capture_lead(crm, LeadInput(name="Потерянная"))
    move_deal(crm, deal.id, LOST, {"loss_reason": "Выбрали конкурента"})
    assert open_texts(crm, deal.id) == ["Фолоуап: как идёт проект?"]


def test_bulk_close_settles_every_deal(crm):
    from tui_crm.services.deals import edit_deal

    deals = [capture_lead(crm, LeadInput(name=f"Пачка {n}")) for n in range(3)]
    add_task(crm, TaskInput(text="Ручная", due="+2d", entity_type="deal", entity_ref=deals[0].id))
    for deal in deals:
        edit_deal(crm, deal.id, {"loss_reason": "Нет бюджета"})
    report = change_stage(crm, "lost", ids=[d.id for d in deals])
    assert report.changed == 3
    assert [o.tasks_kept for o in report.outcomes] == [["Ручная"], [], []]
    assert [o.tasks_completed for o in report.outcomes] == [["Связаться с лидом"]] * 3
    for deal in deals[1:]:
        assert open_texts(crm, deal.id) == ["Фолоуап: как идёт проект?"]
    change_stage(crm, "Лид", ids=[deals[0].id])
    change_stage(crm, "lost", ids=[deals[0].id], close_tasks=True)
    assert open_texts(crm, deals[0].id) == ["Фолоуап: как идёт проект?"]


# -- automatic tasks never stack up ----------------------------------------------------


def test_back_and_forward_keeps_one_task_per_rule(crm, clock):
    deal = lead_with_budget(crm)
    move_deal(crm, deal.id, "Квалификация", QUALIFY)
    clock.advance(minutes=5)
    back = move_deal(crm, deal.id, "Лид")
    assert back.moved and back.auto_task is None
    forward = move_deal(crm, deal.id, "Квалификация")
    assert forward.moved and forward.auto_task is None
    assert open_texts(crm, deal.id) == ["Подготовить оценку", "Связаться с лидом"]


def test_a_completed_rule_task_comes_back_on_the_next_forward_entry_only(crm):
    from tui_crm.services.tasks import complete_task

    deal = lead_with_budget(crm)
    move_deal(crm, deal.id, "Квалификация", QUALIFY)
    [estimate] = [t for t in tasks_of(crm, deal.id) if t.text == "Подготовить оценку"]
    complete_task(crm, estimate.id, "Готово")
    move_deal(crm, deal.id, "Лид")
    assert open_texts(crm, deal.id) == ["Связаться с лидом"]  # moving back creates nothing
    move_deal(crm, deal.id, "Квалификация")
    assert open_texts(crm, deal.id) == ["Подготовить оценку", "Связаться с лидом"]


# -- Неразобранное is an inbox ------------------------------------------------------------


def test_no_move_puts_a_deal_into_the_inbox(crm, count_rows):
    deal = capture_lead(crm, LeadInput(name="Лид"))
    before = count_rows(crm, "change_log")
    with pytest.raises(ValidationError, match="inbox.*«Лид»"):
        move_deal(crm, deal.id, "Неразобранное")
    with pytest.raises(ValidationError, match="inbox"):
        change_stage(crm, "Неразобранное", ids=[deal.id])
    assert count_rows(crm, "change_log") == before
    assert get_deal(crm, deal.id).stage_key == "lead"
    assert adjacent_stage(crm, deal.id, -1) is None  # `[` on a Лид card has nowhere to go


# -- the production calendar and the working hour ------------------------------------------------


def test_lost_follow_up_skips_the_new_year_holidays(crm, clock):
    """The reported case: lost on 04.12.2026, +30 days is Sunday 03.01.2027."""
    clock.set(at(2026, 12, 4, 13, 37))
    deal = capture_lead(crm, LeadInput(name="Декабрь"))
    move_deal(crm, deal.id, LOST, {"loss_reason": "Дорого"})
    [follow_up] = tasks_of(crm, deal.id, include_done=False)
    assert follow_up.due_at == at(2027, 1, 11, 10)  # the first working day after 1-10 January


def test_lead_captured_on_30_december_is_due_after_the_holidays(crm, clock):
    clock.set(at(2026, 12, 30, 16, 45))  # 31.12.2026 is a day off (transferred from 04.01)
    deal = capture_lead(crm, LeadInput(name="Под Новый год"))
    [task] = tasks_of(crm, deal.id)
    assert task.due_at == at(2027, 1, 11, 10)


def test_a_transferred_working_saturday_counts(crm, clock):
    clock.set(at(2027, 2, 19, 15))  # Friday; Saturday 20.02.2027 is a working day, Monday 22.02 a day off
    deal = capture_lead(crm, LeadInput(name="Суббота рабочая"))
    assert tasks_of(crm, deal.id)[0].due_at == at(2027, 2, 20, 10)


def test_working_hour_and_calendar_come_from_the_pipelines_file(crm, clock):
    from tui_crm.services.context import default_pipelines_text
    from tui_crm.services.pipelines import reload_pipelines

    path = crm.settings.pipelines_file
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(default_pipelines_text().replace('working_hour = "10:00"', 'working_hour = "09:30"'), encoding="utf-8")
    reload_pipelines(crm)
    deal = capture_lead(crm, LeadInput(name="Рано"))
    assert tasks_of(crm, deal.id)[0].due_at == at(2026, 11, 27, 9, 30)


def test_a_bad_working_hour_is_a_config_error_naming_the_form():
    from tui_crm.domain.errors import ConfigError
    from tui_crm.domain.pipelines import parse_auto_task_timing

    with pytest.raises(ConfigError, match="HH:MM"):
        parse_auto_task_timing({"working_hour": "25:00"})


# -- the agenda counts truly and pages ----------------------------------------------------------


def test_agenda_counts_every_task_and_pages_each_group(crm, clock):
    from tui_crm.services.tasks import agenda_counts, agenda_page

    with crm.uow() as work:
        for n in range(620):
            new_task(crm, work, text=f"Старая {n}", due=at(2026, 11, 20, 9), all_day=False, responsible_id=None, entity=None)
        for n in range(30):
            new_task(crm, work, text=f"Сегодня {n}", due=at(2026, 11, 26, 18), all_day=False, responsible_id=None, entity=None)
    view = agenda(crm, limit=50)
    assert view.totals == {"Overdue": 620, "Today": 30, "Tomorrow": 0, "This week": 0, "Later": 0}
    assert len(view.groups["Overdue"]) == 50 and len(view.groups["Today"]) == 30
    assert agenda_counts(crm) == view.totals
    seen = [t.text for t in view.groups["Overdue"]]
    while len(seen) < 620:
        seen += [t.text for t in agenda_page(crm, "Overdue", offset=len(seen), limit=200)]
    assert seen == [f"Старая {n}" for n in range(620)]  # every task once, in the order made


# -- reschedule ---------------------------------------------------------------------------------


def test_relative_reschedule_keeps_the_time_of_day(crm, clock):
    task = add_task(crm, TaskInput(text="Созвон", due="tomorrow 15:00"))
    clock.set(at(2026, 11, 27, 13, 37))
    assert reschedule_task(crm, task.id, "+3d").due_at == at(2026, 11, 30, 15)
    day = add_task(crm, TaskInput(text="Весь день", due="завтра"))
    moved = reschedule_task(crm, day.id, "+3d")
    assert (moved.due_at, moved.all_day) == (at(2026, 11, 30), True)


def test_a_weekday_later_today_means_today(crm, clock):
    clock.set(at(2026, 11, 27, 13, 37))  # a Friday
    task = add_task(crm, TaskInput(text="Отчёт", due="+1d"))
    assert reschedule_task(crm, task.id, "пятница 15:00").due_at == at(2026, 11, 27, 15)
    assert reschedule_task(crm, task.id, "пятница 12:00").due_at == at(2026, 12, 4, 12)


def test_a_past_due_needs_to_be_asked_for(crm, count_rows):
    from tui_crm.domain.when import PastDue

    task = add_task(crm, TaskInput(text="Прошлое", due="завтра 10:00"))
    before = count_rows(crm, "change_log")
    with pytest.raises(PastDue, match="in the past.*--past"):
        reschedule_task(crm, task.id, "вчера")
    assert count_rows(crm, "change_log") == before
    moved = reschedule_task(crm, task.id, "вчера", allow_past=True)
    assert (moved.due_at, moved.all_day, moved.overdue_by) == (at(2026, 11, 25), True, "1d")
    assert reschedule_task(crm, task.id, "сегодня").due_at == at(2026, 11, 26)  # today is not the past
