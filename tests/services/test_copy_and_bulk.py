"""Copying a deal (monthly invoices) and mass actions on a selection."""

from __future__ import annotations

import json

import pytest
from sqlmodel import select

from tui_crm.domain.errors import GateRefused, NotFoundError, ValidationError
from tui_crm.services import bulk
from tui_crm.services.deal_copy import CopyOptions, copy_deal
from tui_crm.services.deal_queries import DealFilter, list_deals
from tui_crm.services.deals import LeadInput, capture_lead, delete_deal, get_deal, move_deal
from tui_crm.services.search import search
from tui_crm.services.tasks import tasks_of
from tui_crm.services.users import add_user
from tui_crm.storage.models import ChangeLog

FULL = {"budget_usd": "20000", "segment": "A", "territory": "РФ", "city": "Казань"}


@pytest.fixture
def invoice(crm, clock):
    deal = capture_lead(
        crm,
        LeadInput(
            name="Поддержка, октябрь",
            email="buh@romashka.ru",
            company="Ромашка",
            budget="300 000",
            source="сайт",
            tags=["Поддержка", "ежемесячно"],
            values=dict(FULL),
        ),
    )
    move_deal(crm, deal.id, "Квалификация")
    clock.advance(days=30)
    return get_deal(crm, deal.id)


# -- copy ---------------------------------------------------------------------------------


def test_copy_everything_into_the_same_stage(crm, invoice):
    copied = copy_deal(crm, invoice.id, CopyOptions(name="Поддержка, ноябрь"))
    assert copied.id != invoice.id
    assert (copied.name, copied.pipeline_key, copied.stage_key) == ("Поддержка, ноябрь", "sales20", "qualification")
    assert (copied.budget_rub, copied.budget_usd, copied.company, copied.source_channel) == (
        invoice.budget_rub,
        invoice.budget_usd,
        invoice.company,
        invoice.source_channel,
    )
    assert copied.custom == invoice.custom
    assert copied.tags == invoice.tags == ["ежемесячно", "Поддержка"]
    assert [c.id for c in copied.contacts] == [c.id for c in invoice.contacts]
    assert [t.text for t in tasks_of(crm, copied.id)] == ["Подготовить оценку"]
    with crm.read() as session:
        logged = [json.loads(r.changes) for r in session.exec(select(ChangeLog).where(ChangeLog.entity_id == copied.id))]
    assert {"copied_from": [None, invoice.id]} in logged
    assert any("contacts" in change for change in logged), "the copy's contact links reach the change log"


def test_copy_to_another_pipeline_lands_on_its_lead_stage(crm, invoice):
    copied = copy_deal(crm, invoice.id, CopyOptions(pipeline="Тендеры"))
    assert (copied.pipeline_key, copied.stage_key) == ("tenders", "new_tender")
    assert [t.text for t in tasks_of(crm, copied.id)] == ["Связаться с лидом"]


def test_copy_to_a_chosen_pipeline_and_stage(crm, invoice):
    copied = copy_deal(crm, invoice.id, CopyOptions(pipeline="sales_rus", stage="Квалификация"))
    assert (copied.pipeline_key, copied.stage_key) == ("sales_rus", "qualification")


def test_copy_only_chosen_fields(crm, invoice):
    copied = copy_deal(crm, invoice.id, CopyOptions(stage="lead", fields=["budget", "Город"]))
    assert copied.budget_rub == invoice.budget_rub
    assert copied.custom == {"city": "Казань"}
    assert (copied.budget_usd, copied.company, copied.source_channel) == (None, None, None)
    bare = copy_deal(crm, invoice.id, CopyOptions(stage="lead", fields=[]))
    assert (bare.budget_rub, bare.custom, bare.company) == (None, {}, None)


def test_copy_refuses_an_unknown_field(crm, invoice, count_rows):
    before = count_rows(crm, "deal")
    with pytest.raises(ValidationError):
        copy_deal(crm, invoice.id, CopyOptions(fields=["budget", "loss_reason"]))
    assert count_rows(crm, "deal") == before


def test_copy_with_tags_off_and_without_contacts(crm, invoice):
    copied = copy_deal(crm, invoice.id, CopyOptions(tags=False, contacts=False))
    assert (copied.tags, copied.contacts) == ([], [])


def test_copy_keeps_the_creation_date_only_when_asked(crm, invoice):
    kept = copy_deal(crm, invoice.id, CopyOptions(keep_created_at=True))
    fresh = copy_deal(crm, invoice.id, CopyOptions())
    assert kept.created_at == invoice.created_at
    assert fresh.created_at > invoice.created_at


def test_copy_of_a_won_deal_starts_at_lead_unless_a_stage_is_chosen(crm, invoice):
    won = {"scope": "Поддержка", "work_model": "Outstaff", "project_folder": "https://disk.example.com/s",
           "estimate_link": "https://disk.example.com/e", "closing_rub": "300 000"}  # fmt: skip
    move_deal(crm, invoice.id, "won", won)
    copied = copy_deal(crm, invoice.id, CopyOptions(name="Поддержка, ноябрь"))
    assert (copied.stage_key, copied.closed_at) == ("lead", None)  # a copy is new work
    with pytest.raises(GateRefused):  # the closing sum is the source's outcome: not copied
        copy_deal(crm, invoice.id, CopyOptions(stage="won"))
    closed = copy_deal(crm, invoice.id, CopyOptions(stage="won", set_values={"closing_rub": "310 000"}))  # through the gate
    assert closed.stage_key == "won" and closed.custom["closing_rub"] == "310000.00"
    assert closed.closed_at is not None
    reopened = copy_deal(crm, invoice.id, CopyOptions(stage="Переговоры"))
    assert reopened.closed_at is None


# -- mass actions --------------------------------------------------------------------------


@pytest.fixture
def three(crm):
    add_user(crm, "Иван")
    a = capture_lead(crm, LeadInput(name="Альфа", tags=["весна"]))
    b = capture_lead(crm, LeadInput(name="Бета", tags=["весна"]))
    c = capture_lead(crm, LeadInput(name="Гамма", pipeline="Тендеры"))
    return a.id, b.id, c.id


def _batch_rows(crm, batch_id: str) -> list[ChangeLog]:
    with crm.read() as session:
        return list(session.exec(select(ChangeLog).where(ChangeLog.batch_id == batch_id)))


def test_change_responsible_on_a_filter(crm, three):
    a, b, c = three
    report = bulk.change_responsible(crm, "Иван", flt=DealFilter(tag="весна"))
    assert (report.selected, report.changed) == (2, 2)
    assert [get_deal(crm, x).responsible for x in (a, b, c)] == ["Иван", "Иван", "Анна"]
    rows = _batch_rows(crm, report.batch_id)
    assert sorted(r.entity_id for r in rows if r.entity == "deal") == sorted([a, b])
    # each deal's open auto task went along, in the same batch
    assert report.tasks_moved == 2 and sorted(r.entity for r in rows) == ["deal", "deal", "task", "task"]
    assert all(json.loads(r.changes)["responsible_id"][1] != crm.user_id for r in rows)


def test_change_responsible_on_explicit_ids(crm, three):
    a, b, c = three
    report = bulk.change_responsible(crm, "Иван", ids=[c])
    assert report.changed == 1
    assert [get_deal(crm, x).responsible for x in (a, b, c)] == ["Анна", "Анна", "Иван"]


def test_add_task_to_each(crm, three):
    a, b, c = three
    bulk.change_responsible(crm, "Иван", ids=[b])
    report = bulk.add_task_to_each(crm, "Поздравить с праздником", "1 декабря", ids=[a, b])
    assert report.changed == 2
    for deal_id, who in ((a, "Анна"), (b, "Иван")):
        task = next(t for t in tasks_of(crm, deal_id) if t.text == "Поздравить с праздником")
        assert (task.responsible, task.all_day, task.due_at.date().isoformat()) == (who, True, "2026-12-01")
    assert all(t.text != "Поздравить с праздником" for t in tasks_of(crm, c))


def test_add_task_on_a_filter(crm, three):
    a, b, c = three
    bulk.add_task_to_each(crm, "Тендерная задача", "завтра 10:00", flt=DealFilter(pipeline="Тендеры"))
    assert [bool([t for t in tasks_of(crm, x) if t.text == "Тендерная задача"]) for x in (a, b, c)] == [False, False, True]


def test_tags_add_and_remove(crm, three):
    a, b, c = three
    bulk.change_tags_of_each(crm, add=["VIP", "осень"], remove=["ВЕСНА"], flt=DealFilter(tag="весна"))
    assert get_deal(crm, a).tags == ["VIP", "осень"]
    assert get_deal(crm, b).tags == ["VIP", "осень"]
    assert get_deal(crm, c).tags == []
    bulk.change_tags_of_each(crm, add=[], remove=["vip"], ids=[a])
    assert get_deal(crm, a).tags == ["осень"]


def test_soft_delete_and_undo_restores_exactly_that_batch(crm, three):
    a, b, c = three
    loner = capture_lead(crm, LeadInput(name="Удалена раньше", tags=["весна"])).id
    delete_deal(crm, loner)
    first = bulk.delete(crm, flt=DealFilter(tag="весна"))
    assert first.selected == 2  # the already deleted deal is not selected again
    second = bulk.delete(crm, ids=[c])
    assert list_deals(crm) == []
    assert search(crm, "альфа") == []

    bulk.undo_delete(crm, first.batch_id[:8])
    assert sorted(d.id for d in list_deals(crm)) == sorted([a, b])
    assert [r.id for r in search(crm, "альфа")] == [a]
    assert {d.id for d in list_deals(crm, DealFilter(deleted=True))} == {loner, c}

    bulk.undo_delete(crm)  # the last mass delete by default
    assert sorted(d.id for d in list_deals(crm)) == sorted([a, b, c])
    with pytest.raises(NotFoundError):
        bulk.undo_delete(crm)
    assert {d.id for d in list_deals(crm, DealFilter(deleted=True))} == {loner}
    assert second.batch_id != first.batch_id


def test_undo_of_an_unknown_batch(crm, three):
    with pytest.raises(NotFoundError):
        bulk.undo_delete(crm, "deadbeef")


def test_copy_leaves_how_the_source_was_closed_behind(crm, invoice):
    won = {"scope": "Поддержка", "work_model": "Outstaff", "project_folder": "https://disk.example.com/s",
           "estimate_link": "https://disk.example.com/e", "closing_rub": "300 000"}  # fmt: skip
    move_deal(crm, invoice.id, "won", won)
    copied = copy_deal(crm, invoice.id, CopyOptions(stage="Переговоры"))
    assert "closing_rub" not in copied.custom
    assert (copied.closed_at, copied.loss_reason) == (None, None)
    assert copied.custom["scope"] == "Поддержка"  # the rest comes along
    with pytest.raises(ValidationError, match="not copied"):
        copy_deal(crm, invoice.id, CopyOptions(fields=["closing_rub"]))


def test_copy_of_a_lost_deal_into_lost_needs_its_own_reason(crm, invoice):
    move_deal(crm, invoice.id, "lost", {"loss_reason": "Дорого"})
    with pytest.raises(GateRefused) as refused:
        copy_deal(crm, invoice.id, CopyOptions(stage="lost"))
    assert [m.key for m in refused.value.missing] == ["loss_reason"]
    copied = copy_deal(crm, invoice.id, CopyOptions(stage="lost", set_values={"loss_reason": "Нет бюджета"}))
    assert (copied.stage_key, copied.loss_reason) == ("lost", "Нет бюджета")


def test_copy_with_a_bad_set_value_creates_nothing(crm, invoice, count_rows):
    before = count_rows(crm, "deal")
    with pytest.raises(ValidationError):
        copy_deal(crm, invoice.id, CopyOptions(set_values={"budget_usd": "много"}))
    assert count_rows(crm, "deal") == before
