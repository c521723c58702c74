"""Three rules about who holds what:

- a deactivated user cannot act at all (the store refuses to open as them)
  and gets no new deals or tasks, not even implied ones;
- a deal that changes hands takes its open tasks of the previous
  responsible along (amoCRM's "по наследству"), logged for sync;
- a copy of a won or lost deal starts at the Lead stage unless a stage is
  chosen, and a chosen stage still goes through its gate.
"""

from __future__ import annotations

import json

import pytest
from sqlmodel import select

from tui_crm.domain.errors import GateRefused, NotFoundError, ValidationError
from tui_crm.services import bulk
from tui_crm.services.deal_copy import CopyOptions, copy_deal, default_copy_stage
from tui_crm.services.deals import LeadInput, capture_lead, edit_deal, get_deal, move_deal, update_deal
from tui_crm.services.tasks import TaskInput, add_task, complete_task, tasks_of
from tui_crm.services.users import add_user, delete_user, list_users, set_active
from tui_crm.storage.models import ChangeLog, Task

# -- a deactivated user cannot act -----------------------------------------------------------


def test_a_deactivated_user_cannot_open_the_store(crm, open_store, count_rows):
    add_user(crm, "Пётр")
    open_store(user="Пётр").close()  # active: fine
    set_active(crm, "Пётр", False)
    before = count_rows(crm, "change_log", "user")
    with pytest.raises(ValidationError, match="Пётр is deactivated") as refused:
        open_store(user="Пётр")
    # says who can undo it, with the command to run
    assert "Анна can reactivate them: crm --user Анна users activate Пётр" in str(refused.value)
    assert count_rows(crm, "change_log", "user") == before
    set_active(crm, "Пётр", True)
    assert open_store(user="пётр").user_name == "Пётр"


def test_a_deactivated_user_from_config_or_email_is_refused_too(crm, open_store, crm_env, monkeypatch):
    add_user(crm, "Иван Смирнов", "ivan@omega.example")
    set_active(crm, "Иван Смирнов", False)
    crm_env.mkdir(parents=True, exist_ok=True)
    (crm_env / "config.toml").write_text('user = "Иван Смирнов"\n', encoding="utf-8")
    with pytest.raises(ValidationError, match='users activate "Иван Смирнов"'):
        open_store(user=None)
    monkeypatch.setenv("CRM_USER", "IVAN@omega.example")
    with pytest.raises(ValidationError, match="deactivated"):
        open_store(user=None)


def test_without_a_chosen_user_the_store_opens_as_an_active_admin(crm, open_store):
    add_user(crm, "Админ", admin=True)
    set_active(crm, "Админ", False)
    assert open_store(user=None).user_name == "Анна"


def test_a_deleted_user_is_unknown_not_deactivated(crm, open_store):
    add_user(crm, "Иван")
    delete_user(crm, "Иван", transfer_to="Анна")
    with pytest.raises(NotFoundError):
        open_store(user="Иван")


def test_a_deactivated_user_is_given_no_tasks_even_implied_ones(crm):
    add_user(crm, "Пётр")
    deal = capture_lead(crm, LeadInput(name="Сделка Петра", responsible="Пётр"))
    assert {t.responsible for t in tasks_of(crm, deal.id)} == {"Пётр"}  # the Lead stage's auto task
    set_active(crm, "Пётр", False)
    with pytest.raises(ValidationError, match="deactivated"):
        add_task(crm, TaskInput(text="Позвонить", due="завтра", entity_ref=deal.id, responsible="Пётр"))
    # no responsible given: the deal's would be implied, but Пётр cannot do it
    task = add_task(crm, TaskInput(text="Позвонить", due="завтра", entity_ref=deal.id))
    assert task.responsible == "Анна"
    report = bulk.add_task_to_each(crm, "Проверить", "завтра", ids=[deal.id])
    assert report.changed == 1
    assert {t.text: t.responsible for t in tasks_of(crm, deal.id)}["Проверить"] == "Анна"
    assert get_deal(crm, deal.id).responsible == "Пётр"  # his records stay his


# -- a new responsible takes the deal's open tasks -------------------------------------------


@pytest.fixture
def handed(crm):
    """A deal of Анна with: her open auto task and call, her completed task,
    a deleted task of hers, and an open task of Пётр."""
    add_user(crm, "Иван")
    add_user(crm, "Пётр")
    deal = capture_lead(crm, LeadInput(name="Альфа", task="Позвонить"))
    done = add_task(crm, TaskInput(text="Отправить КП", due="завтра", entity_ref=deal.id))
    complete_task(crm, done.id, "отправлено")
    gone = add_task(crm, TaskInput(text="Удалённая", due="завтра", entity_ref=deal.id))
    with crm.uow() as work:
        row = work.session.get(Task, gone.id)
        assert row is not None
        work.soft_delete(row)
    add_task(crm, TaskInput(text="Задача Петра", due="завтра", entity_ref=deal.id, responsible="Пётр"))
    other = capture_lead(crm, LeadInput(name="Другая"))
    return deal.id, other.id


def _holders(crm, deal_id: str) -> dict[str, str | None]:
    with crm.read() as session:
        rows = session.exec(select(Task).where(Task.entity_id == deal_id)).all()
        names = {u.id: u.name for u in list_users(crm)}
        return {t.text: names.get(t.responsible_id or "") for t in rows}


AFTER_HANDOVER = {
    "Связаться с лидом": "Иван",  # open, Анна's: moves
    "Позвонить": "Иван",
    "Отправить КП": "Анна",  # completed: stays
    "Удалённая": "Анна",  # deleted: stays
    "Задача Петра": "Пётр",  # someone else's: stays
}


def test_edit_responsible_moves_the_deals_open_tasks(crm, handed):
    deal, other = handed
    edit = update_deal(crm, deal, {"responsible": "Иван"})
    assert (edit.deal.responsible, edit.tasks_moved) == ("Иван", 2)
    assert _holders(crm, deal) == AFTER_HANDOVER
    assert set(_holders(crm, other).values()) == {"Анна"}  # another deal's tasks are untouched


def test_the_handover_is_logged_for_the_timeline_and_the_sync_outbox(crm, handed):
    deal, _ = handed
    ivan = next(u.id for u in list_users(crm) if u.name == "Иван")
    edit_deal(crm, deal, {"responsible": "Иван"})
    with crm.read() as session:
        moved_ids = {t.id for t in session.exec(select(Task).where(Task.entity_id == deal, Task.responsible_id == ivan))}
        rows = session.exec(select(ChangeLog).where(ChangeLog.entity == "task", ChangeLog.op == "update")).all()
    handover = [r for r in rows if "responsible_id" in json.loads(r.changes)]
    assert len(moved_ids) == 2 and {r.entity_id for r in handover} == moved_ids
    assert all(json.loads(r.changes)["responsible_id"][1] == ivan for r in handover)
    assert all(r.synced_at is None and r.user_id == crm.user_id for r in handover)


def test_a_refused_edit_moves_no_task(crm, handed):
    deal, _ = handed
    with pytest.raises(ValidationError):
        edit_deal(crm, deal, {"responsible": "Иван", "budget": "много"})
    set_active(crm, "Пётр", False)
    with pytest.raises(ValidationError, match="deactivated"):
        edit_deal(crm, deal, {"responsible": "Пётр"})
    assert get_deal(crm, deal).responsible == "Анна"
    assert _holders(crm, deal)["Позвонить"] == "Анна"


def test_editing_other_fields_moves_no_task(crm, handed):
    deal, _ = handed
    edit = update_deal(crm, deal, {"budget": "1 млн", "responsible": "Анна"})
    assert edit.tasks_moved == 0
    assert _holders(crm, deal)["Позвонить"] == "Анна"


def test_bulk_responsible_moves_open_tasks_in_its_batch(crm, handed):
    deal, other = handed
    report = bulk.change_responsible(crm, "Иван", ids=[deal, other])
    # «Другая» has its own open auto task
    assert (report.changed, report.tasks_moved) == (2, 3)
    assert _holders(crm, deal) == AFTER_HANDOVER
    assert set(_holders(crm, other).values()) == {"Иван"}
    with crm.read() as session:
        batch = session.exec(select(ChangeLog).where(ChangeLog.batch_id == report.batch_id)).all()
    assert sorted(r.entity for r in batch) == ["deal", "deal", "task", "task", "task"]
    again = bulk.change_responsible(crm, "Иван", ids=[deal])
    assert (again.changed, again.tasks_moved) == (0, 0)


def test_a_move_that_sets_the_responsible_hands_over_too(crm, handed):
    deal, _ = handed
    move_deal(crm, deal, "lost", {"responsible": "Иван", "loss_reason": "Дорого"})
    # the lost stage's follow-up is created for the new responsible as well
    assert _holders(crm, deal) == {**AFTER_HANDOVER, "Фолоуап: как идёт проект?": "Иван"}


def test_a_refused_move_hands_nothing_over(crm, handed):
    deal, _ = handed
    with pytest.raises(GateRefused):
        move_deal(crm, deal, "Квалификация", {"responsible": "Иван"})
    assert get_deal(crm, deal).responsible == "Анна"
    assert _holders(crm, deal)["Позвонить"] == "Анна"


# -- copying a closed deal ---------------------------------------------------------------------


@pytest.fixture
def lost(crm):
    deal = capture_lead(crm, LeadInput(name="Счёт, октябрь", budget="100 000", tags=["ежемесячно"]))
    move_deal(crm, deal.id, "lost", {"loss_reason": "Дорого"})
    return get_deal(crm, deal.id)


def test_a_copy_of_a_lost_deal_starts_at_the_lead_stage(crm, lost):
    assert lost.stage_key == "lost"
    copied = copy_deal(crm, lost.id, CopyOptions(name="Счёт, ноябрь"))
    assert (copied.pipeline_key, copied.stage_key, copied.closed_at) == ("sales20", "lead", None)
    assert (copied.budget_rub, copied.tags) == (lost.budget_rub, ["ежемесячно"])
    assert [t.text for t in tasks_of(crm, copied.id)] == ["Связаться с лидом"]  # the Lead stage's auto task
    assert default_copy_stage(crm, lost).key == "lead"


def test_a_chosen_closing_stage_still_goes_through_its_gate(crm, lost, count_rows):
    before = count_rows(crm, "deal", "task", "change_log")
    with pytest.raises(GateRefused, match="Причина отказа"):
        copy_deal(crm, lost.id, CopyOptions(stage="lost"))
    assert count_rows(crm, "deal", "task", "change_log") == before


def test_a_copy_of_an_open_deal_keeps_its_stage(crm):
    deal = capture_lead(crm, LeadInput(name="Открытая", pipeline="Тендеры"))
    move_deal(crm, deal.id, "Анализ документации")
    detail = get_deal(crm, deal.id)
    assert copy_deal(crm, deal.id, CopyOptions()).stage_key == "analysis"
    assert default_copy_stage(crm, detail).key == "analysis"
    assert default_copy_stage(crm, detail, "Продажи RUS").key == "lead"


def test_a_copy_of_a_deactivated_users_deal_goes_to_whoever_copies_it(crm, lost):
    add_user(crm, "Пётр")
    edit_deal(crm, lost.id, {"responsible": "Пётр"})
    set_active(crm, "Пётр", False)
    copied = copy_deal(crm, lost.id, CopyOptions())
    assert copied.responsible == "Анна"
    assert {t.responsible for t in tasks_of(crm, copied.id)} == {"Анна"}
