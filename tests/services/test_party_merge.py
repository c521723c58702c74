"""Merging duplicates (issue 8): the surviving value field by field, every
phone, e-mail, note, task, file, tag and link moved, logged, undone exactly,
and carried by the change log (the loser deleted, the winner updated)."""

from __future__ import annotations

import json

import pytest
from sqlmodel import select

from tui_crm.domain.errors import NotFoundError, ValidationError
from tui_crm.services.companies import CompanyInput, add_company, get_company
from tui_crm.services.contacts import ContactInput, add_contact, edit_contact, get_contact, list_contacts
from tui_crm.services.deals import LeadInput, capture_lead, get_deal, link_contact
from tui_crm.services.files import attach_file
from tui_crm.services.merge import merge, merge_to_undo, plan_merge, undo_latest, undo_merge
from tui_crm.services.notes import add_note, timeline
from tui_crm.services.party_bulk import delete as party_delete
from tui_crm.services.search import search
from tui_crm.services.tasks import TaskInput, add_task, tasks_of
from tui_crm.storage.models import ChangeLog


@pytest.fixture
def pair(crm, tmp_path):
    """Two records of one Ольга: a full one, and one with what the first lacks."""
    a = add_contact(
        crm,
        ContactInput(name="Ольга Ёлкина", phones=["+7 916 555-12-34"], emails=["olga@elka.ru"], position="CEO", tags=["VIP"]),
    )
    b = add_contact(
        crm,
        ContactInput(
            name="Ольга Е.",
            phones=["+7 495 123-45-67"],
            emails=["o.elkina@gmail.com"],
            position="Директор",
            department="Продажи",
            company="Ёлка",
            tags=["холодный"],
        ),
    )
    deal_a = capture_lead(crm, LeadInput(name="Сайт", contact_name=a.id[:8]))
    deal_b = capture_lead(crm, LeadInput(name="Приложение", contact_name=b.id[:8]))
    both = capture_lead(crm, LeadInput(name="Общая", contact_name=b.id[:8]))
    link_contact(crm, both.id, a.id)
    note = add_note(crm, "contact", b.id, "Любит звонки утром")
    task = add_task(crm, TaskInput(text="Позвонить Ольге", due="tomorrow 10:00", entity_type="contact", entity_ref=b.id))
    brief = tmp_path / "бриф.txt"
    brief.write_text("бриф", encoding="utf-8")
    attach_file(crm, "contact", b.id, brief)
    return {"a": a.id, "b": b.id, "deal_a": deal_a.id, "deal_b": deal_b.id, "both": both.id, "note": note.id, "task": task.id}


def test_merge_keeps_the_winners_values_fills_gaps_and_moves_everything(crm, pair):
    report = merge(crm, "contact", pair["a"], pair["b"])
    olga = get_contact(crm, pair["a"])
    assert (olga.name, olga.position, olga.department) == ("Ольга Ёлкина", "CEO", "Продажи")
    assert olga.company is not None and olga.company.name == "Ёлка"
    assert olga.phones == ["+79165551234", "+74951234567"]
    assert olga.emails == ["olga@elka.ru", "o.elkina@gmail.com"]
    assert sorted(olga.tags) == ["VIP", "холодный"]
    assert {d.id for d in olga.deals} == {pair["deal_a"], pair["deal_b"], pair["both"]}
    assert [t.id for t in tasks_of(crm, pair["a"])] == [pair["task"]]
    items = timeline(crm, "contact", pair["a"])
    assert any(i.text == "Любит звонки утром" for i in items)
    assert any("Объединён с" in i.text and "Ольга Е." in i.text for i in items)
    assert [c.id for c in list_contacts(crm)] == [pair["a"]]
    with pytest.raises(NotFoundError):
        get_contact(crm, pair["b"])
    assert report.moved["phones"] == 1 and report.moved["deals"] == 2 and report.moved["files"] == 1


def test_the_main_contact_of_a_deal_stays_main(crm, pair):
    merge(crm, "contact", pair["a"], pair["b"])
    deal = get_deal(crm, pair["deal_b"])
    assert [(c.id, c.is_main) for c in deal.contacts] == [(pair["a"], True)]
    shared = get_deal(crm, pair["both"])
    assert [(c.id, c.is_main) for c in shared.contacts] == [(pair["a"], True)]  # linked once, main as b was


def test_keep_picks_the_losers_value_field_by_field(crm, pair):
    plan = plan_merge(crm, "contact", pair["a"], pair["b"], {"position": "b", "name": "b"})
    assert {f.key: f.keep for f in plan.fields}["position"] == "b"
    merge(crm, "contact", pair["a"], pair["b"], {"position": "b", "name": "b"})
    olga = get_contact(crm, pair["a"])
    assert (olga.name, olga.position) == ("Ольга Е.", "Директор")


@pytest.mark.parametrize(("keep", "message"), [({"colour": "a"}, "not a field"), ({"position": "c"}, "position=a")])
def test_a_bad_keep_is_refused_and_nothing_is_saved(crm, pair, count_rows, keep, message):
    before = count_rows(crm, "contact", "channel", "change_log", "note")
    with pytest.raises(ValidationError) as refused:
        merge(crm, "contact", pair["a"], pair["b"], keep)
    assert message in str(refused.value)
    assert count_rows(crm, "contact", "channel", "change_log", "note") == before


def test_a_record_is_not_merged_with_itself(crm, pair):
    with pytest.raises(ValidationError):
        merge(crm, "contact", pair["a"], pair["a"][:8])


def test_search_finds_the_winner_by_the_losers_phone_and_not_the_loser(crm, pair):
    merge(crm, "contact", pair["a"], pair["b"])
    assert [r.id for r in search(crm, "8 495 123-45-67", types=("contact",))] == [pair["a"]]


def test_the_change_log_carries_the_merge_to_sync(crm, pair):
    report = merge(crm, "contact", pair["a"], pair["b"])
    with crm.read() as session:
        rows = list(session.exec(select(ChangeLog).where(ChangeLog.batch_id == report.batch_id)))
    ops = {(r.entity, r.entity_id, r.op) for r in rows}
    assert ("contact", pair["b"], "delete") in ops  # the loser: a tombstone sync deletes remotely
    assert ("contact", pair["a"], "update") in ops
    assert ("deal", pair["deal_b"], "update") in ops and ("task", pair["task"], "update") in ops
    assert all(r.synced_at is None for r in rows)  # pending: the next sync pushes them
    changes = [json.loads(r.changes) for r in rows if r.entity_id == pair["a"]]
    assert any("phones" in c for c in changes) and any("merged_from" in c for c in changes)


def test_undo_splits_them_exactly_again(crm, pair):
    before_a, before_b = get_contact(crm, pair["a"]), get_contact(crm, pair["b"])
    deals_before = {d: [(c.id, c.is_main) for c in get_deal(crm, pair[d]).contacts] for d in ("deal_a", "deal_b", "both")}
    report = merge(crm, "contact", pair["a"], pair["b"], {"position": "b"})
    undo_merge(crm, report.batch_id[:8])
    after_a, after_b = get_contact(crm, pair["a"]), get_contact(crm, pair["b"])
    for before, after in ((before_a, after_a), (before_b, after_b)):
        assert (after.name, after.position, after.department, after.phones, after.emails, sorted(after.tags)) == (
            before.name, before.position, before.department, before.phones, before.emails, sorted(before.tags)
        )
        assert (after.company.id if after.company else None) == (before.company.id if before.company else None)
    assert {d: [(c.id, c.is_main) for c in get_deal(crm, pair[d]).contacts] for d in deals_before} == deals_before
    assert [t.id for t in tasks_of(crm, pair["b"])] == [pair["task"]]
    assert any(i.text == "Любит звонки утром" for i in timeline(crm, "contact", pair["b"]))
    assert [r.id for r in search(crm, "495 123", types=("contact",))] == [pair["b"]]
    with pytest.raises(NotFoundError):
        undo_merge(crm, report.batch_id)  # once


def test_z_undoes_whichever_came_last_merge_or_mass_delete(crm, pair):
    extra = add_contact(crm, ContactInput(name="Лишний"))
    party_delete(crm, "contact", ids=[extra.id])
    merge(crm, "contact", pair["a"], pair["b"])
    kind, _ = undo_latest(crm, "contact")
    assert kind == "merge" and get_contact(crm, pair["b"]).name == "Ольга Е."
    kind, _ = undo_latest(crm, "contact")
    assert kind == "delete" and get_contact(crm, extra.id).name == "Лишний"
    assert merge_to_undo(crm, entity_type="contact") is None


def test_companies_merge_their_contacts_deals_and_inn(crm):
    a = add_company(crm, CompanyInput(name="Ромашка", phones=["+7 495 777-88-99"]))
    b = add_company(crm, CompanyInput(name="ООО «Ромашка-Юг»", inn="7707083893", web="romashka.ru"))
    worker = add_contact(crm, ContactInput(name="Пётр", company=b.id))
    deal = capture_lead(crm, LeadInput(name="Поставка", company=b.id))
    report = merge(crm, "company", a.id, b.id)
    merged = get_company(crm, a.id)
    assert (merged.name, merged.inn, merged.web) == ("Ромашка", "7707083893", "https://romashka.ru")
    assert [c.id for c in merged.contacts] == [worker.id] and [d.id for d in merged.deals] == [deal.id]
    assert get_contact(crm, worker.id).company.id == a.id  # type: ignore[union-attr]
    undo_merge(crm, report.batch_id)
    assert get_contact(crm, worker.id).company.id == b.id  # type: ignore[union-attr]
    assert get_deal(crm, deal.id).company.id == b.id  # type: ignore[union-attr]
    assert get_company(crm, a.id).inn is None


def test_an_edit_after_the_merge_is_not_lost_by_other_fields_undo(crm, pair):
    report = merge(crm, "contact", pair["a"], pair["b"])
    edit_contact(crm, pair["a"], {"position": "COO"})
    undo_merge(crm, report.batch_id)
    assert get_contact(crm, pair["a"]).position == "COO"  # the merge took nothing there: nothing to put back
