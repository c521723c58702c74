"""Sync engine + amoCRM adapter against the fake amoCRM over HTTP, real SQLite file."""

from __future__ import annotations

import json
from typing import Any

from sqlmodel import col, select

from tests.fake_amocrm import FakeAmo
from tests.sync.conftest import cf_value, remote_live, remote_tags
from tui_crm.services import sync as sync_service
from tui_crm.services.contacts import ContactInput, add_contact, edit_contact, get_contact
from tui_crm.services.deals import LeadInput, capture_lead, delete_deal, edit_deal, get_deal, move_deal, set_deal_tags
from tui_crm.storage.models import ChangeLog, Company, Contact, Deal, Note, Task, UnsortedEntry


def _field(fake: FakeAmo, etype: str, name: str) -> dict[str, Any]:
    return fake.state.field_by_name(etype, name)


def _enum(fake: FakeAmo, etype: str, name: str, value: str) -> int:
    return next(e["id"] for e in _field(fake, etype, name)["enums"] if e["value"] == value)


def _pipeline(fake: FakeAmo, name: str) -> dict[str, Any]:
    return next(p for p in fake.state.pipelines.values() if p["name"] == name)


def _status(fake: FakeAmo, pipeline: str, name: str) -> int:
    return next(s["id"] for s in _pipeline(fake, pipeline)["statuses"] if s["name"] == name)


def _seed_remote(fake: FakeAmo) -> dict[str, Any]:
    company = fake.create_entity(
        "companies",
        {
            "name": "Магнит",
            "custom_fields_values": [{"field_id": _field(fake, "companies", "ИНН")["id"], "values": [{"value": "7707083893"}]}],
        },
    )
    contact = fake.create_entity(
        "contacts",
        {
            "name": "Иван Петров",
            "custom_fields_values": [
                {"field_code": "PHONE", "values": [{"value": "+7 916 123-45-67", "enum_code": "MOB"}]},
                {"field_code": "EMAIL", "values": [{"value": "Ivan@Example.com"}]},
                {"field_code": "POSITION", "values": [{"value": "CTO"}]},
            ],
            "_embedded": {"companies": [{"id": company["id"]}]},
        },
    )
    lead = fake.create_entity(
        "leads",
        {
            "name": "Сайт для Магнита",
            "price": 150000,
            "pipeline_id": _pipeline(fake, "Продажи 2.0")["id"],
            "status_id": _status(fake, "Продажи 2.0", "Лид"),
            "custom_fields_values": [
                {
                    "field_id": _field(fake, "leads", "Сегмент")["id"],
                    "values": [{"enum_id": _enum(fake, "leads", "Сегмент", "A")}],
                },
                {"field_id": _field(fake, "leads", "Город")["id"], "values": [{"value": "Казань"}]},
                {"field_id": _field(fake, "leads", "Бюджет ($)")["id"], "values": [{"value": "1999.5"}]},
                {"field_id": _field(fake, "leads", "Тендер")["id"], "values": [{"value": True}]},
            ],
            "_embedded": {"contacts": [{"id": contact["id"]}], "companies": [{"id": company["id"]}], "tags": [{"name": "vip"}]},
        },
    )
    return {"company": company, "contact": contact, "lead": lead}


def _local(crm: Any, model: type, **where: Any) -> Any:
    with crm.read() as session:
        stmt = select(model)
        for key, value in where.items():
            stmt = stmt.where(getattr(model, key) == value)
        return session.exec(stmt).first()


def _live(crm: Any, model: type) -> list[Any]:
    with crm.read() as session:
        return list(session.exec(select(model).where(col(model.deleted_at).is_(None))))


def test_first_sync_pulls_the_account_and_pushes_local_records(store: Any, fake: FakeAmo, synced: Any) -> None:
    _seed_remote(fake)
    local = capture_lead(
        store,
        LeadInput(
            name="Локальная сделка",
            phone="+79990001122",
            email="olga@example.org",
            contact_name="Ольга",
            company="Ромашка",
            budget="2 000,50",
            tags=["offline"],
            values={"city": "Пермь", "segment": "B"},
        ),
    )
    report = synced()
    assert not report.errors
    # remote -> local
    deal = _local(store, Deal, name="Сайт для Магнита")
    detail = get_deal(store, deal.id)
    assert detail.pipeline_key == "sales20" and detail.stage_key == "lead"
    assert detail.budget_rub == 150000 and str(detail.budget_usd) == "1999.50"
    assert detail.tags == ["vip"]
    assert detail.company is not None and detail.company.name == "Магнит"
    assert [c.name for c in detail.contacts] == ["Иван Петров"]
    assert detail.custom["segment"] == "A" and detail.custom["city"] == "Казань"
    tender = _field(fake, "leads", "Тендер")["id"]
    assert detail.custom[f"amo:{tender}"] == [{"value": True}]  # an unmapped remote field is kept verbatim
    contact = get_contact(store, detail.contacts[0].id)
    assert contact.phones == ["+79161234567"] and contact.emails == ["ivan@example.com"] and contact.position == "CTO"
    company = _local(store, Company, name="Магнит")
    assert company.inn == "7707083893"
    # local -> remote
    leads = {r["name"]: r for r in remote_live(fake, "leads")}
    pushed = leads["Локальная сделка"]
    assert pushed["price"] == 2001  # kopecks rounded to whole roubles
    assert remote_tags(fake, "leads", pushed) == ["offline"]
    assert cf_value(fake, "leads", pushed, "Город") == "Пермь" and cf_value(fake, "leads", pushed, "Сегмент") == "B"
    assert cf_value(fake, "leads", pushed, "tui_crm_uuid") == local.id
    linked = fake.get_entity("leads", pushed["id"])
    contact_id = linked["_embedded"]["contacts"][0]["id"]
    remote_contact = fake.state.entities["contacts"][contact_id]
    assert remote_contact["name"] == "Ольга"
    assert cf_value(fake, "contacts", remote_contact, "PHONE") == "+79990001122"
    assert linked["_embedded"]["companies"][0]["id"] in {
        c["id"] for c in remote_live(fake, "companies") if c["name"] == "Ромашка"
    }
    # a second sync changes nothing and sends nothing
    before = len([r for r in fake.requests if r.method in ("POST", "PATCH")])
    again = synced()
    assert sum(s.total() for s in again.stats.values()) == 0
    assert len([r for r in fake.requests if r.method in ("POST", "PATCH")]) == before
    assert sync_service.sync_status(store).pending == 0


def test_offline_edits_on_both_sides_converge_and_same_field_edits_conflict(store: Any, fake: FakeAmo, synced: Any) -> None:
    seeded = _seed_remote(fake)
    synced()
    deal = _local(store, Deal, name="Сайт для Магнита")
    lead_id = seeded["lead"]["id"]
    # offline: both sides edit
    edit_deal(store, deal.id, {"name": "Сайт для Магнита v2", "budget": "200000"})
    set_deal_tags(store, deal.id, add=["local-tag"], remove=[])
    fake.clock.advance(10)
    fake.update_entity(
        "leads",
        lead_id,
        {
            "price": 175000,
            "tags_to_add": [{"name": "remote-tag"}],
            "custom_fields_values": [{"field_id": _field(fake, "leads", "Город")["id"], "values": [{"value": "Самара"}]}],
        },
    )
    report = synced()
    assert report.conflicts == 1
    detail = get_deal(store, deal.id)
    remote = fake.state.entities["leads"][lead_id]
    # different fields survive on both sides
    assert detail.name == remote["name"] == "Сайт для Магнита v2"
    assert detail.custom["city"] == cf_value(fake, "leads", remote, "Город") == "Самара"
    assert detail.tags == remote_tags(fake, "leads", remote) == ["local-tag", "remote-tag", "vip"]
    # the same field: one conflict, local value kept, remote not overwritten
    assert detail.budget_rub == 200000 and remote["price"] == 175000
    [conflict] = sync_service.list_conflicts(store)
    assert (conflict.entity, conflict.field, conflict.base, conflict.local, conflict.remote) == (
        "deal",
        "budget_rub",
        15000000,
        20000000,
        17500000,
    )
    # syncing again does not duplicate it
    assert synced().conflicts == 0 and len(sync_service.list_conflicts(store)) == 1
    sync_service.resolve_conflict(store, conflict.id[:6], "local")
    synced()
    assert fake.state.entities["leads"][lead_id]["price"] == 200000
    assert get_deal(store, deal.id).budget_rub == 200000
    assert sync_service.list_conflicts(store) == []


def test_conflict_kept_remote_and_a_typed_value(store: Any, fake: FakeAmo, synced: Any) -> None:
    seeded = _seed_remote(fake)
    synced()
    deal = _local(store, Deal, name="Сайт для Магнита")
    contact = _local(store, Contact, name="Иван Петров")
    edit_deal(store, deal.id, {"city": "Уфа"})
    edit_contact(store, contact.id, {"position": "CEO"})
    fake.clock.advance(5)
    city = _field(fake, "leads", "Город")["id"]
    fake.update_entity(
        "leads", seeded["lead"]["id"], {"custom_fields_values": [{"field_id": city, "values": [{"value": "Тверь"}]}]}
    )
    fake.update_entity(
        "contacts", seeded["contact"]["id"], {"custom_fields_values": [{"field_code": "POSITION", "values": [{"value": "CFO"}]}]}
    )
    assert synced().conflicts == 2
    by_field = {c.field: c for c in sync_service.list_conflicts(store)}
    sync_service.resolve_conflict(store, by_field["custom.city"].id, "remote")
    sync_service.resolve_conflict(store, by_field["position"].id, "COO")
    synced()
    assert get_deal(store, deal.id).custom["city"] == "Тверь"
    assert get_contact(store, contact.id).position == "COO"
    assert cf_value(fake, "contacts", fake.state.entities["contacts"][seeded["contact"]["id"]], "POSITION") == "COO"
    assert cf_value(fake, "leads", fake.state.entities["leads"][seeded["lead"]["id"]], "Город") == "Тверь"
    assert sync_service.list_conflicts(store) == []


def test_deletions_both_ways(store: Any, fake: FakeAmo, synced: Any) -> None:
    seeded = _seed_remote(fake)
    local = capture_lead(store, LeadInput(name="Удалю локально"))
    synced()
    remote_id = next(r["id"] for r in remote_live(fake, "leads") if r["name"] == "Удалю локально")
    # local delete -> the remote gets the tui-crm:deleted tag (the API cannot delete)
    delete_deal(store, local.id)
    # remote delete -> a local tombstone
    fake.clock.advance(5)
    fake.delete_entity("leads", seeded["lead"]["id"])
    report = synced()
    assert report.stats["deal"].deleted_local == 1
    assert "Удалю локально" not in {r["name"] for r in remote_live(fake, "leads")}
    assert "tui-crm:deleted" in {fake.state.tags["leads"][t]["name"] for t in fake.state.entities["leads"][remote_id]["tag_ids"]}
    gone = _local(store, Deal, name="Сайт для Магнита")
    assert gone.deleted_at is not None
    assert {d.name for d in _live(store, Deal)} == {r["name"] for r in remote_live(fake, "leads")}
    # a restore in amoCRM restores it here
    fake.clock.advance(5)
    fake.restore_entity("leads", seeded["lead"]["id"])
    synced()
    assert _local(store, Deal, name="Сайт для Магнита").deleted_at is None


def test_remote_delete_of_a_locally_edited_record_leaves_a_notice(store: Any, fake: FakeAmo, synced: Any) -> None:
    seeded = _seed_remote(fake)
    synced()
    deal = _local(store, Deal, name="Сайт для Магнита")
    edit_deal(store, deal.id, {"city": "Омск"})
    fake.clock.advance(5)
    fake.delete_entity("leads", seeded["lead"]["id"])
    synced()
    [notice] = sync_service.list_conflicts(store)
    assert notice.kind == "deleted" and "custom.city" in (notice.detail or "")
    assert _local(store, Deal, id=deal.id).deleted_at is not None
    # keep local: restored here and created again remotely
    sync_service.resolve_conflict(store, notice.id, "local")
    synced()
    names = [r["name"] for r in remote_live(fake, "leads")]
    assert names.count("Сайт для Магнита") == 1
    assert _local(store, Deal, id=deal.id).deleted_at is None


def test_pulled_stage_change_the_gate_would_refuse_is_applied_and_flagged(store: Any, fake: FakeAmo, synced: Any) -> None:
    seeded = _seed_remote(fake)
    synced()
    fake.clock.advance(5)
    fake.update_entity("leads", seeded["lead"]["id"], {"status_id": _status(fake, "Продажи 2.0", "Оценка")})
    report = synced()
    assert report.notices == 1
    deal = _local(store, Deal, name="Сайт для Магнита")
    assert get_deal(store, deal.id).stage_key == "estimate"  # the remote is the team's truth
    [notice] = sync_service.list_conflicts(store)
    assert notice.kind == "gate" and "Состав работ" in (notice.detail or "") and "Бюджет" not in (notice.detail or "")
    with store.read() as session:
        notes = session.exec(select(Note).where(Note.entity_id == deal.id, Note.kind == "system")).all()
    assert any("without" in n.text for n in notes)
    sync_service.resolve_conflict(store, notice.id, "remote")
    assert sync_service.list_conflicts(store) == []


def test_local_stage_moves_go_out_and_142_143_are_won_lost(store: Any, fake: FakeAmo, synced: Any) -> None:
    seeded = _seed_remote(fake)
    synced()
    deal = _local(store, Deal, name="Сайт для Магнита")
    move_deal(store, deal.id, "lost", {"reason": "Выбрали конкурента"})
    synced()
    lead = fake.state.entities["leads"][seeded["lead"]["id"]]
    assert lead["status_id"] == 143
    assert fake.state.loss_reasons[lead["loss_reason_id"]]["name"] == "Выбрали конкурента"
    fake.clock.advance(5)
    fake.update_entity("leads", seeded["lead"]["id"], {"status_id": 142, "loss_reason_id": None})
    synced()
    detail = get_deal(store, deal.id)
    assert detail.stage_key == "won" and detail.loss_reason is None and detail.closed_at is not None


def test_unsorted_pull_accept_and_decline_push_back(store: Any, fake: FakeAmo, synced: Any) -> None:
    from tui_crm.services import unsorted

    uid_accept = fake.add_unsorted("Заявка с сайта", contact_name="Пётр")
    uid_decline = fake.add_unsorted("Спам", contact_name="Бот")
    synced()
    entries = {e.subject: e for e in unsorted.list_unsorted(store, status="all")}
    assert set(entries) == {"Заявка с сайта", "Спам"} and entries["Спам"].sender_name == "Бот"
    assert "Заявка с сайта" not in {d.name for d in _live(store, Deal)}  # not a deal before triage
    deal = unsorted.accept(store, entries["Заявка с сайта"].id)
    unsorted.decline(store, entries["Спам"].id, "spam")
    synced()
    assert fake.state.unsorted == {}
    leads = [r for r in remote_live(fake, "leads") if r["name"] == "Заявка с сайта"]
    assert len(leads) == 1  # the accepted request became the local deal, not a second lead
    assert fake.state.entities["leads"][leads[0]["id"]]["status_id"] == _status(fake, "Продажи 2.0", "Лид")
    assert "Спам" not in {r["name"] for r in remote_live(fake, "leads")}
    assert [d.name for d in _live(store, Deal)].count("Заявка с сайта") == 1
    assert get_deal(store, deal.id).name == "Заявка с сайта"
    assert uid_accept and uid_decline


def test_tasks_and_notes_both_ways(store: Any, fake: FakeAmo, synced: Any) -> None:
    from tui_crm.services.notes import add_note
    from tui_crm.services.tasks import TaskInput, add_task, complete_task

    seeded = _seed_remote(fake)
    synced()
    deal = _local(store, Deal, name="Сайт для Магнита")
    task = add_task(
        store, TaskInput(text="Позвонить", due="tomorrow 10:00", task_type="call", entity_type="deal", entity_ref=deal.id)
    )
    add_note(store, "deal", deal.id, "Обсудили смету")
    fake.state.write_tasks(
        [
            {
                "text": "Встреча в офисе",
                "complete_till": fake.clock.now() + 3600,
                "task_type_id": 2,
                "entity_type": "leads",
                "entity_id": seeded["lead"]["id"],
            }
        ],
        creating=True,
        user_id=fake.state.admin_user_id,
    )
    fake.state.write_notes(
        "leads",
        [{"entity_id": seeded["lead"]["id"], "note_type": "common", "params": {"text": "Из amoCRM"}}],
        creating=True,
        user_id=fake.state.admin_user_id,
    )
    synced()
    remote_tasks = {t["text"]: t for t in fake.state.tasks.values()}
    assert remote_tasks["Позвонить"]["entity_id"] == seeded["lead"]["id"]
    assert {n["params"]["text"] for n in fake.state.notes["leads"].values()} == {"Обсудили смету", "Из amoCRM"}
    with store.read() as session:
        meeting = session.exec(select(Task).where(Task.text == "Встреча в офисе")).one()
        assert (meeting.entity_id, meeting.task_type) == (deal.id, "meeting")
        assert session.exec(select(Note).where(Note.text == "Из amoCRM", Note.entity_id == deal.id)).one()
    complete_task(store, task.id, "дозвонились")
    synced()
    done = next(t for t in fake.state.tasks.values() if t["text"] == "Позвонить")
    assert done["is_completed"] and done["result"] == {"text": "дозвонились"}


def test_pulled_changes_are_logged_but_not_pending(store: Any, fake: FakeAmo, synced: Any) -> None:
    _seed_remote(fake)
    synced()
    deal = _local(store, Deal, name="Сайт для Магнита")
    with store.read() as session:
        rows = session.exec(select(ChangeLog).where(ChangeLog.entity_id == deal.id)).all()
    assert rows and all(r.synced_at is not None for r in rows)  # the timeline has them; the outbox does not
    assert sync_service.sync_status(store).pending == 0


def test_dry_run_and_status(store: Any, fake: FakeAmo, synced: Any) -> None:
    _seed_remote(fake)
    synced()
    deal = _local(store, Deal, name="Сайт для Магнита")
    edit_deal(store, deal.id, {"name": "Переименована"})
    add_contact(store, ContactInput(name="Новый контакт", emails=["new@example.com"]))
    requests = len(fake.requests)
    plan = sync_service.dry_run(store)
    assert len(fake.requests) == requests  # offline
    assert {(p.entity, p.action) for p in plan} == {("deal", "update"), ("contact", "create")}
    update = next(p for p in plan if p.action == "update")
    assert update.fields == {"name": "Переименована"}
    status = sync_service.sync_status(store)
    assert status.pending >= 2 and status.last_sync is not None and status.open_conflicts == 0
    with store.read() as session:
        from tui_crm.storage.models import Setting

        assert session.get(Setting, "sync.last_at") is not None
    assert json.dumps(status.pending_by_entity)
    assert _local(store, UnsortedEntry) is None


def test_task_deletes_both_ways_and_a_local_restore_untags_the_remote(store: Any, fake: FakeAmo, synced: Any) -> None:
    from tui_crm.services.deals import restore_deal
    from tui_crm.services.tasks import TaskInput, add_task

    seeded = _seed_remote(fake)
    synced()
    deal = _local(store, Deal, name="Сайт для Магнита")
    mine = add_task(store, TaskInput(text="Удалю", due="tomorrow 10:00", entity_type="deal", entity_ref=deal.id))
    [theirs] = fake.state.write_tasks(
        [
            {
                "text": "Удалят там",
                "complete_till": fake.clock.now() + 60,
                "entity_type": "leads",
                "entity_id": seeded["lead"]["id"],
            }
        ],
        creating=True,
        user_id=fake.state.admin_user_id,
    )
    synced()
    with store.uow() as work:
        work.soft_delete(work.session.get(Task, mine.id))
    fake.clock.advance(5)
    fake.state.delete_task(theirs["id"])
    synced()
    remote_mine = next(t for t in fake.state.tasks.values() if t["text"] == "Удалю")
    assert remote_mine["is_completed"] and remote_mine["result"] == {"text": "[tui-crm: deleted]"}
    assert _local(store, Task, text="Удалят там").deleted_at is not None
    # a deal deleted here and restored: the remote loses the tui-crm:deleted tag again
    delete_deal(store, deal.id)
    synced()
    assert "tui-crm:deleted" in {
        fake.state.tags["leads"][t]["name"] for t in fake.state.entities["leads"][seeded["lead"]["id"]]["tag_ids"]
    }
    restore_deal(store, deal.id)
    synced()
    assert remote_tags(fake, "leads", fake.state.entities["leads"][seeded["lead"]["id"]]) == ["vip"]
    assert "tui-crm:deleted" not in {
        fake.state.tags["leads"][t]["name"] for t in fake.state.entities["leads"][seeded["lead"]["id"]]["tag_ids"]
    }
    assert _local(store, Deal, id=deal.id).deleted_at is None


def test_builtin_fields_map_to_amocrm_custom_fields_both_ways(store: Any, fake: FakeAmo, synced: Any) -> None:
    from tui_crm.services.companies import CompanyInput, add_company, get_company

    fake.create_entity(
        "contacts",
        {
            "name": "Анна Смирнова",
            "custom_fields_values": [
                {
                    "field_id": _field(fake, "contacts", "Пол")["id"],
                    "values": [{"enum_id": _enum(fake, "contacts", "Пол", "Женский")}],
                },
                {"field_id": _field(fake, "contacts", "День рождения")["id"], "values": [{"value": "1990-05-17T00:00:00+00:00"}]},
                {"field_id": _field(fake, "contacts", "Отдел")["id"], "values": [{"value": "Продажи"}]},
            ],
        },
    )
    add_company(
        store,
        CompanyInput(name="Партнёр ООО", company_type="partner", territory="Запад", web="example.org", inn="7707083893"),
    )
    synced()
    contact = get_contact(store, _local(store, Contact, name="Анна Смирнова").id)
    assert (contact.gender, contact.birthday, contact.department) == ("female", "1990-05-17", "Продажи")
    [company] = [c for c in remote_live(fake, "companies") if c["name"] == "Партнёр ООО"]
    assert cf_value(fake, "companies", company, "Тип") == "Партнёр"
    assert cf_value(fake, "companies", company, "Территория") == "Запад"
    assert cf_value(fake, "companies", company, "ИНН") == "7707083893"
    assert cf_value(fake, "companies", company, "WEB") == "https://example.org"
    fake.clock.advance(5)
    web = _field(fake, "companies", "Web")["id"]
    fake.update_entity(
        "companies",
        company["id"],
        {"custom_fields_values": [{"field_id": web, "values": [{"value": "https://new.example.org"}]}]},
    )
    synced()
    assert get_company(store, _local(store, Company, name="Партнёр ООО").id).web == "https://new.example.org"


def test_a_remote_pipeline_with_no_local_counterpart_keeps_its_leads(store: Any, fake: FakeAmo, synced: Any) -> None:
    pipeline_id = fake.state.add_pipeline("Партнёрка", ["Новый", "В работе"])
    status = next(s["id"] for s in fake.state.pipelines[pipeline_id]["statuses"] if s["name"] == "В работе")
    fake.create_entity("leads", {"name": "Через партнёра", "pipeline_id": pipeline_id, "status_id": status})
    report = synced()
    assert any("Партнёрка" in w for w in report.warnings)
    detail = get_deal(store, _local(store, Deal, name="Через партнёра").id)
    assert (detail.pipeline, detail.stage) == ("Партнёрка", "В работе")
    again = synced()
    assert not any("Партнёрка" in w for w in again.warnings)  # mapped once, not again


def test_links_between_records_follow_both_ways(store: Any, fake: FakeAmo, synced: Any) -> None:
    from tui_crm.services.deals import link_contact

    seeded = _seed_remote(fake)
    synced()
    deal = _local(store, Deal, name="Сайт для Магнита")
    ivan = _local(store, Contact, name="Иван Петров")
    olga = add_contact(store, ContactInput(name="Ольга", company="Ромашка"))
    link_contact(store, deal.id, olga.id)
    edit_deal(store, deal.id, {"company": "Ромашка"})
    edit_contact(store, ivan.id, {"company": "Ромашка"})
    synced()
    lead = fake.get_entity("leads", seeded["lead"]["id"])
    contact_names = {fake.state.entities["contacts"][c["id"]]["name"] for c in lead["_embedded"]["contacts"]}
    assert contact_names == {"Иван Петров", "Ольга"}
    assert [fake.state.entities["companies"][c["id"]]["name"] for c in lead["_embedded"]["companies"]] == ["Ромашка"]
    remote_ivan = fake.get_entity("contacts", seeded["contact"]["id"])
    assert [fake.state.entities["companies"][c["id"]]["name"] for c in remote_ivan["_embedded"]["companies"]] == ["Ромашка"]
    # the remote unlinks Иван from the deal: gone here too
    fake.clock.advance(5)
    fake.state.unlink("leads", seeded["lead"]["id"], "contacts", seeded["contact"]["id"], user_id=fake.state.admin_user_id)
    synced()
    assert [c.name for c in get_deal(store, deal.id).contacts] == ["Ольга"]
