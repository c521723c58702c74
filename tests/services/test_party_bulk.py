"""Mass actions on contacts and companies (``services.party_bulk``), on a real
SQLite store: each action, the change log and its batch ids, search, undo."""

from __future__ import annotations

import json

import pytest
from sqlmodel import select

from tui_crm.domain.errors import NotFoundError, ValidationError
from tui_crm.services import party_bulk
from tui_crm.services.companies import CompanyInput, add_company, get_company
from tui_crm.services.contacts import ContactInput, add_contact, get_contact, list_contacts
from tui_crm.services.parties import OnDuplicate
from tui_crm.services.party_pages import party_ids
from tui_crm.services.search import search
from tui_crm.services.tasks import tasks_of
from tui_crm.services.users import add_user, set_active
from tui_crm.storage.models import ChangeLog, Contact


@pytest.fixture
def people(crm):
    """Four contacts (two tagged «весна», one held by Иван) and two companies."""
    add_user(crm, "Иван")
    made = {}
    for key, name, tags, who in (
        ("a", "Алла Смирнова", ["весна"], None),
        ("b", "Борис Ёлкин", ["весна"], None),
        ("c", "Вера Кузнецова", [], "Иван"),
        ("d", "Глеб Орлов", [], None),
    ):
        made[key] = add_contact(crm, ContactInput(name=name, tags=tags, responsible=who), OnDuplicate.CREATE).id
    made["co1"] = add_company(crm, CompanyInput(name="Ромашка")).id
    made["co2"] = add_company(crm, CompanyInput(name="Лютик")).id
    return made


def _batch_rows(crm, batch_id: str) -> list[ChangeLog]:
    with crm.read() as session:
        return list(session.exec(select(ChangeLog).where(ChangeLog.batch_id == batch_id)))


def _live_contacts(crm) -> set[str]:
    return {c.id for c in list_contacts(crm, limit=1000)}


def test_party_ids_follow_the_list_state(crm, people):
    assert set(party_ids(crm, "contact")) == {people[k] for k in "abcd"}
    assert party_ids(crm, "contact", responsible="Иван") == [people["c"]]
    assert party_ids(crm, "contact", query="ёлкин") == [people["b"]]
    assert party_ids(crm, "contact", query="вера", responsible="Анна") == []
    assert party_ids(crm, "company") == [people["co2"], people["co1"]]  # name order: Лютик, Ромашка
    with pytest.raises(ValueError):
        party_ids(crm, "deal")


def test_change_responsible_logs_one_batch(crm, people):
    report = party_bulk.change_responsible(crm, "contact", "Иван", ids=[people["a"], people["b"], people["c"]])
    assert (report.action, report.selected, report.changed) == ("responsible", 3, 2)  # Вера was Иван's already
    assert [get_contact(crm, people[k]).responsible for k in "abcd"] == ["Иван", "Иван", "Иван", "Анна"]
    rows = _batch_rows(crm, report.batch_id)
    assert sorted(r.entity_id for r in rows) == sorted([people["a"], people["b"]])
    assert all(r.entity == "contact" and r.op == "update" and "responsible_id" in json.loads(r.changes) for r in rows)


def test_change_responsible_of_what_the_list_shows(crm, people):
    report = party_bulk.change_responsible(crm, "company", "Иван", query="ромашка")
    assert report.selected == 1
    assert get_company(crm, people["co1"]).responsible == "Иван"
    assert get_company(crm, people["co2"]).responsible == "Анна"


def test_a_deactivated_user_is_refused_and_nothing_changes(crm, people):
    set_active(crm, "Иван", False)
    with crm.read() as session:
        before = len(session.exec(select(ChangeLog)).all())
    with pytest.raises(ValidationError, match="deactivated"):
        party_bulk.change_responsible(crm, "contact", "Иван", ids=[people["a"]])
    assert get_contact(crm, people["a"]).responsible == "Анна"
    with crm.read() as session:
        assert len(session.exec(select(ChangeLog)).all()) == before


def test_add_task_to_each(crm, people):
    report = party_bulk.add_task_to_each(crm, "contact", "Поздравить с праздником", "1 декабря", ids=[people["a"], people["c"]])
    assert (report.action, report.changed) == ("task", 2)
    for key, who in (("a", "Анна"), ("c", "Иван")):
        task = next(t for t in tasks_of(crm, people[key]) if t.text == "Поздравить с праздником")
        assert (task.responsible, task.entity_type, task.all_day, task.due_at.date().isoformat()) == (
            who, "contact", True, "2026-12-01"
        )
    assert tasks_of(crm, people["b"]) == []
    rows = _batch_rows(crm, report.batch_id)
    assert [(r.entity, r.op) for r in rows] == [("task", "create"), ("task", "create")]


def test_a_bad_due_writes_nothing(crm, people):
    with pytest.raises(ValidationError):
        party_bulk.add_task_to_each(crm, "company", "Позвонить", "когда-нибудь", ids=[people["co1"]])
    assert tasks_of(crm, people["co1"]) == []


def test_tags_add_and_remove(crm, people):
    report = party_bulk.change_tags_of_each(crm, "contact", ["VIP", "осень"], ["ВЕСНА"], ids=[people["a"], people["b"]])
    assert report.changed == 2
    assert get_contact(crm, people["a"]).tags == ["VIP", "осень"]
    assert get_contact(crm, people["b"]).tags == ["VIP", "осень"]
    assert get_contact(crm, people["c"]).tags == []
    rows = _batch_rows(crm, report.batch_id)
    assert sorted(r.entity_id for r in rows) == sorted([people["a"], people["b"]])
    assert all(set(json.loads(r.changes)) == {"tags"} for r in rows)
    again = party_bulk.change_tags_of_each(crm, "contact", [], ["vip"], ids=[people["a"], people["d"]])
    assert (again.selected, again.changed) == (2, 1)  # Глеб had no such tag: nothing logged for him
    assert get_contact(crm, people["a"]).tags == ["осень"]
    company = party_bulk.change_tags_of_each(crm, "company", ["партнёр"], [], ids=[people["co1"]])
    assert company.changed == 1 and get_company(crm, people["co1"]).tags == ["партнёр"]


def test_delete_hides_from_lists_and_search_and_undo_brings_back(crm, people):
    assert [r.id for r in search(crm, "ёлкин")] == [people["b"]]
    report = party_bulk.delete(crm, "contact", ids=[people["a"], people["b"]])
    assert (report.action, report.changed) == ("delete", 2)
    assert _live_contacts(crm) == {people["c"], people["d"]}
    assert search(crm, "ёлкин") == []
    rows = _batch_rows(crm, report.batch_id)
    assert sorted((r.entity_id, r.op) for r in rows) == sorted([(people["a"], "delete"), (people["b"], "delete")])
    with crm.read() as session:
        assert session.get(Contact, people["a"]).deleted_at is not None  # a tombstone, not a hard delete

    undo = party_bulk.undo_delete(crm, "contact")
    assert (undo.action, undo.changed) == ("undo", 2)
    assert _live_contacts(crm) == {people[k] for k in "abcd"}
    assert [r.id for r in search(crm, "ёлкин")] == [people["b"]]
    assert sorted((r.entity_id, r.op) for r in _batch_rows(crm, undo.batch_id)) == sorted(
        [(people["a"], "restore"), (people["b"], "restore")]
    )
    with pytest.raises(NotFoundError):
        party_bulk.undo_delete(crm, "contact")  # nothing left to undo


def test_undo_restores_only_that_batch(crm, people):
    first = party_bulk.delete(crm, "contact", ids=[people["a"]])
    second = party_bulk.delete(crm, "contact", ids=[people["b"], people["a"]])  # Алла is gone already
    assert (second.selected, second.changed) == (2, 1)
    companies = party_bulk.delete(crm, "company", ids=[people["co1"]])
    assert _live_contacts(crm) == {people["c"], people["d"]}

    party_bulk.undo_delete(crm, "contact")  # the last contact delete: Борис only
    assert _live_contacts(crm) == {people["b"], people["c"], people["d"]}
    assert party_ids(crm, "company") == [people["co2"]]  # `z` on contacts leaves companies deleted

    party_bulk.undo_delete(crm, "contact", first.batch_id[:8])
    assert _live_contacts(crm) == {people[k] for k in "abcd"}
    party_bulk.undo_delete(crm, "company")
    assert set(party_ids(crm, "company")) == {people["co1"], people["co2"]}
    assert len({first.batch_id, second.batch_id, companies.batch_id}) == 3


def test_select_all_delete_takes_the_filtered_rows(crm, people):
    report = party_bulk.delete(crm, "contact", responsible="Иван")
    assert report.changed == 1
    assert _live_contacts(crm) == {people["a"], people["b"], people["d"]}


def test_undo_of_an_unknown_batch_and_a_wrong_kind(crm, people):
    with pytest.raises(NotFoundError):
        party_bulk.undo_delete(crm, "company", "deadbeef")
    with pytest.raises(ValueError):
        party_bulk.delete(crm, "deal", ids=[people["a"]])


def test_a_new_responsible_takes_the_open_tasks_of_the_old_one(crm, people):
    """Contacts and companies hand their open tasks over like deals do: by a
    mass action and by a single edit; done tasks and other people's stay."""
    from tui_crm.services.companies import edit_company
    from tui_crm.services.contacts import edit_contact
    from tui_crm.services.tasks import TaskInput, add_task, complete_task

    add_user(crm, "Пётр")

    def task(ref: str, kind: str, text: str, who: str | None = None) -> str:
        return add_task(crm, TaskInput(text=text, due="1 декабря", entity_type=kind, entity_ref=ref, responsible=who)).id

    task(people["a"], "contact", "Позвонить Алле")
    done = task(people["a"], "contact", "Отправить каталог")
    complete_task(crm, done, "отправлен")
    task(people["a"], "contact", "Встреча с Петром", who="Пётр")
    report = party_bulk.change_responsible(crm, "contact", "Иван", ids=[people["a"]])
    assert report.tasks_moved == 1
    held = {t.text: t.responsible for t in tasks_of(crm, people["a"])}
    assert held == {"Позвонить Алле": "Иван", "Отправить каталог": "Анна", "Встреча с Петром": "Пётр"}
    moved = [r for r in _batch_rows(crm, report.batch_id) if r.entity == "task"]
    assert len(moved) == 1 and json.loads(moved[0].changes)["responsible_id"][1] is not None

    edit_contact(crm, people["a"], {"responsible": "Пётр"})
    assert {t.text: t.responsible for t in tasks_of(crm, people["a"], include_done=False)} == {
        "Позвонить Алле": "Пётр", "Встреча с Петром": "Пётр"
    }
    task(people["co1"], "company", "Выставить счёт")
    edit_company(crm, people["co1"], {"responsible": "Иван"})
    assert [t.responsible for t in tasks_of(crm, people["co1"])] == ["Иван"]
