"""The team (users, admin actions, the current user) and Unsorted triage."""

from __future__ import annotations

import pytest

from tui_crm.domain.errors import NotFoundError, ValidationError
from tui_crm.services import bulk
from tui_crm.services.companies import CompanyInput, add_company, get_company
from tui_crm.services.contacts import ContactInput, add_contact, get_contact
from tui_crm.services.deals import LeadInput, capture_lead, edit_deal, get_deal
from tui_crm.services.tasks import TaskInput, add_task, get_task
from tui_crm.services.unsorted import IncomingRequest, accept, add_incoming, decline, list_unsorted
from tui_crm.services.users import add_user, delete_user, list_users, set_active

# -- users ---------------------------------------------------------------------------------


def test_first_user_is_the_admin_and_current(crm):
    [me] = list_users(crm)
    assert (me.name, me.is_admin, me.is_active, me.is_current) == ("Анна", True, True, True)


def test_add_users(crm):
    ivan = add_user(crm, "Иван Смирнов", "Ivan@Omega.example")
    assert (ivan.email, ivan.is_admin) == ("Ivan@omega.example", False)
    assert [u.name for u in list_users(crm)] == ["Анна", "Иван Смирнов"]
    with pytest.raises(ValidationError):
        add_user(crm, "иван смирнов")
    with pytest.raises(ValidationError):
        add_user(crm, "Пётр", "not-an-email")


def test_add_and_deactivate_are_admin_only(crm, open_store):
    add_user(crm, "Иван")
    add_user(crm, "Пётр")
    as_ivan = open_store(user="Иван")
    with pytest.raises(ValidationError, match="not an admin"):
        add_user(as_ivan, "Сообщник", admin=True)
    assert add_user(crm, "Админ", admin=True).is_admin
    assert add_user(open_store(user="Админ"), "Ещё один").is_admin is False
    with pytest.raises(ValidationError, match="not an admin"):
        set_active(as_ivan, "Пётр", False)
    assert set_active(crm, "Пётр", False).is_active is False
    assert {u.name: u.is_active for u in list_users(crm)} == {
        "Анна": True, "Админ": True, "Ещё один": True, "Иван": True, "Пётр": False,
    }  # fmt: skip
    with pytest.raises(ValidationError):
        set_active(crm, "Анна", False)  # not yourself
    assert set_active(crm, "Пётр", True).is_active is True


def test_a_deactivated_user_keeps_records_but_gets_no_new_ones(crm):
    add_user(crm, "Пётр")
    deal = capture_lead(crm, LeadInput(name="Сделка Петра", responsible="Пётр"))
    set_active(crm, "Пётр", False)
    assert get_deal(crm, deal.id).responsible == "Пётр"
    other = capture_lead(crm, LeadInput(name="Другая"))
    for attempt in (
        lambda: capture_lead(crm, LeadInput(name="Новая", responsible="Пётр")),
        lambda: edit_deal(crm, other.id, {"responsible": "Пётр"}),
        lambda: bulk.change_responsible(crm, "Пётр", ids=[other.id]),
        lambda: add_task(crm, TaskInput(text="x", due="завтра", responsible="Пётр")),
        lambda: add_contact(crm, ContactInput(name="Кто-то", responsible="Пётр")),
    ):
        with pytest.raises(ValidationError, match="deactivated"):
            attempt()
    assert get_deal(crm, other.id).responsible == "Анна"


def test_delete_with_transfer_moves_every_record(crm, open_store):
    add_user(crm, "Иван")
    add_user(crm, "Пётр")
    deal = capture_lead(crm, LeadInput(name="Сделка Ивана", responsible="Иван", email="c@example.com", company="Ромашка"))
    contact = add_contact(crm, ContactInput(name="Контакт Ивана", responsible="Иван"))
    company = add_company(crm, CompanyInput(name="Компания Ивана", responsible="Иван"))
    task = add_task(crm, TaskInput(text="Задача Ивана", due="завтра", responsible="Иван"))
    with pytest.raises(ValidationError, match="not an admin"):
        delete_user(open_store(user="Иван"), "Пётр", transfer_to="Анна")

    moved = delete_user(crm, "Иван", transfer_to="Пётр")
    # deal + auto task + own task; the capture's contact and company are Иван's too
    assert moved == {"deal": 1, "contact": 2, "company": 2, "task": 2}
    assert get_deal(crm, deal.id).responsible == "Пётр"
    assert get_contact(crm, contact.id).responsible == "Пётр"
    assert get_company(crm, company.id).responsible == "Пётр"
    assert get_task(crm, task.id).responsible == "Пётр"
    assert [u.name for u in list_users(crm)] == ["Анна", "Пётр"]
    with pytest.raises(NotFoundError):
        open_store(user="Иван")


def test_delete_refuses_self_and_same_heir(crm):
    add_user(crm, "Иван")
    with pytest.raises(ValidationError):
        delete_user(crm, "Анна", transfer_to="Иван")
    with pytest.raises(ValidationError):
        delete_user(crm, "Иван", transfer_to="Иван")


def test_current_user_from_argument_env_or_config(crm, open_store, crm_env, monkeypatch):
    add_user(crm, "Иван", "ivan@omega.example")
    add_user(crm, "Пётр")
    crm_env.mkdir(parents=True, exist_ok=True)
    (crm_env / "config.toml").write_text('user = "Пётр"\n', encoding="utf-8")
    assert open_store(user=None).user_name == "Пётр"
    monkeypatch.setenv("CRM_USER", "IVAN@omega.example")
    assert open_store(user=None).user_name == "Иван"
    assert open_store(user="анна").user_name == "Анна"
    with pytest.raises(NotFoundError, match="Users: .*Анна"):
        open_store(user="Незнакомец")


def test_actions_are_logged_as_the_current_user(crm, open_store, count_rows):
    add_user(crm, "Иван")
    as_ivan = open_store(user="Иван")
    deal = capture_lead(as_ivan, LeadInput(name="От Ивана"))
    assert deal.responsible == "Иван"
    from sqlmodel import select

    from tui_crm.storage.models import ChangeLog

    with crm.read() as session:
        users = {r.user_id for r in session.exec(select(ChangeLog).where(ChangeLog.entity_id == deal.id))}
    assert users == {as_ivan.user_id}


# -- unsorted ------------------------------------------------------------------------------


def _request(**kwargs) -> IncomingRequest:
    data = {"sender_name": "Ольга", "sender_email": "olga@elka.ru", "subject": "Нужно приложение", "body": "Здравствуйте! ..."}
    data.update(kwargs)
    return IncomingRequest(**data)


def test_add_incoming_and_list(crm, clock):
    entry = add_incoming(crm, _request())
    assert (entry.pipeline, entry.status, entry.received_at) == ("Продажи 2.0", "new", clock.now)
    assert [e.id for e in list_unsorted(crm)] == [entry.id]
    with pytest.raises(ValidationError):
        add_incoming(crm, _request(sender_email="olga@"))
    with pytest.raises(ValidationError):
        add_incoming(crm, IncomingRequest())


def test_accept_makes_a_deal_at_the_lead_stage_with_a_new_contact(crm):
    entry = add_incoming(crm, _request(pipeline="Продажи RUS", sender_phone="8 916 555 12 34"))
    deal = accept(crm, entry.id)
    assert (deal.name, deal.pipeline_key, deal.stage_key) == ("Нужно приложение", "sales_rus", "lead")
    assert (deal.source_channel, deal.source_message) == ("form", "Здравствуйте! ...")
    [contact] = deal.contacts
    detail = get_contact(crm, contact.id)
    assert (detail.name, detail.emails, detail.phones) == ("Ольга", ["olga@elka.ru"], ["+79165551234"])
    assert list_unsorted(crm) == []
    [done] = list_unsorted(crm, status="accepted")
    assert (done.status, done.deal_id) == ("accepted", deal.id)
    with pytest.raises(ValidationError, match="already accepted"):
        accept(crm, entry.id)


def test_accept_matches_an_existing_contact_by_email(crm, count_rows):
    olga = add_contact(crm, ContactInput(name="Ольга Ёлкина", emails=["olga@elka.ru"]))
    entry = add_incoming(crm, _request(sender_name="Ольга Е."))
    before = count_rows(crm, "contact")
    deal = accept(crm, entry.id, deal_name="Приложение для Ёлки")
    assert deal.name == "Приложение для Ёлки"
    assert [c.id for c in deal.contacts] == [olga.id]
    assert count_rows(crm, "contact") == before


def test_decline_with_a_reason(crm):
    entry = add_incoming(crm, _request(subject="Купите слона"))
    with pytest.raises(ValidationError):
        decline(crm, entry.id, "  ")
    declined = decline(crm, entry.id, "Спам")
    assert (declined.status, declined.decline_reason) == ("declined", "Спам")
    assert list_unsorted(crm) == []
    assert [e.decline_reason for e in list_unsorted(crm, status="declined")] == ["Спам"]
    with pytest.raises(ValidationError):
        accept(crm, entry.id)
    with pytest.raises(ValidationError):
        decline(crm, entry.id, "Ещё раз")


def test_decline_is_logged(crm, count_rows):
    entry = add_incoming(crm, _request())
    before = count_rows(crm, "change_log", "note")
    decline(crm, entry.id, "Не наш профиль")
    after = count_rows(crm, "change_log", "note")
    assert after["note"] == before["note"] + 1
    # the status change and the reason note are both in the change log
    assert after["change_log"] == before["change_log"] + 2


def test_the_inbox_count_is_every_new_request_not_a_page(crm):
    """The board's Неразобранное header shows this count: it must not stop at
    the 200 rows a list page holds, nor count what was already triaged."""
    from tui_crm.services.unsorted import count_unsorted

    for i in range(203):
        add_incoming(crm, _request(sender_email=f"lead{i}@example.ru", subject=f"Заявка {i}"))
    add_incoming(crm, _request(pipeline="Продажи RUS", sender_email="rus@example.ru"))
    decline(crm, list_unsorted(crm, "Продажи 2.0")[0].id, "Спам")
    assert len(list_unsorted(crm, "Продажи 2.0")) == 200  # one page
    assert count_unsorted(crm, "Продажи 2.0") == 202
    assert count_unsorted(crm, "Продажи RUS") == 1
    assert count_unsorted(crm) == 203
