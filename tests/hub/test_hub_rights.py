"""Rights on the hub are row-level security in PostgreSQL: proven by connecting as the members."""

from __future__ import annotations

import json
from typing import Any

import psycopg
import pytest
from sqlmodel import select

from tui_crm.domain.errors import CrmError
from tui_crm.services.deals import LeadInput, capture_lead, get_deal
from tui_crm.services.hub import deactivate_member, delete_member
from tui_crm.storage.models import Deal, Task


def _visible(conn: Any) -> set[str]:
    return {r[0] for r in conn.execute("SELECT fields->>'name' FROM hub_record WHERE entity = 'deal'")}


def test_a_manager_sees_own_and_team_records_an_admin_all_another_team_nothing(hub: Any, client: Any, sync: Any) -> None:
    alice = hub.member("alice", display="Анна", team="sales")
    bob = hub.member("bob", display="Борис", team="sales")
    carol = hub.member("carol", display="Вера", team="support")
    boss = hub.member("boss", display="Глеб", admin=True)
    sync_anna = client("Анна", alice)
    capture_lead(sync_anna, LeadInput(name="Сделка продаж", task="Позвонить", due="завтра 10:00"))
    sync(sync_anna)
    with hub.connect_as(bob) as b, hub.connect_as(carol) as c, hub.connect_as(boss) as g:
        assert _visible(b) == {"Сделка продаж"}
        assert _visible(g) == {"Сделка продаж"}
        assert _visible(c) == set()
        assert c.execute("SELECT count(*) FROM hub_record").fetchone()[0] == 0  # not the deal's task or contact either
        assert c.execute("UPDATE hub_record SET fields = '{}'::jsonb").rowcount == 0
        with pytest.raises(psycopg.errors.InsufficientPrivilege):  # a record handed to another team is refused
            c.execute(
                "INSERT INTO hub_record (entity, id, fields) VALUES ('deal', %s, %s::jsonb)",
                ("c" * 32, json.dumps({"name": "Чужая", "responsible_id": alice.login})),
            )
        with pytest.raises(psycopg.errors.InsufficientPrivilege):  # the owner is the server's to set
            c.execute("UPDATE hub_record SET owner = NULL")
    vera = client("Вера", carol)
    sync(vera)
    with vera.read() as session:
        assert session.exec(select(Deal)).all() == []
        assert session.exec(select(Task)).all() == []


def test_a_member_cannot_read_another_members_private_mail(hub: Any) -> None:
    alice = hub.member("alice", team="sales")
    bob = hub.member("bob", team="sales")
    boss = hub.member("boss", admin=True)
    with hub.connect_as(alice) as a:
        a.execute("INSERT INTO hub_mail (id, subject, body) VALUES ('m1', 'Личное', 'Только для Анны')")
        assert a.execute("SELECT subject FROM hub_mail").fetchall() == [("Личное",)]
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            a.execute("INSERT INTO hub_mail (id, owner, subject) VALUES ('m2', %s, 'подложное')", (bob.login,))
    for other in (bob, boss):
        with hub.connect_as(other) as conn:
            assert conn.execute("SELECT count(*) FROM hub_mail").fetchone()[0] == 0
            assert conn.execute("UPDATE hub_mail SET body = 'x'").rowcount == 0
            assert conn.execute("DELETE FROM hub_mail").rowcount == 0


def test_a_deactivated_member_can_no_longer_sync_and_an_open_session_sees_nothing(hub: Any, client: Any, sync: Any) -> None:
    alice = hub.member("alice", team="sales")
    anna = client("Анна", alice)
    capture_lead(anna, LeadInput(name="До увольнения"))
    sync(anna)
    with hub.connect_as(alice) as still_open:
        deactivate_member(hub.admin_url, alice.login)
        assert _visible(still_open) == set()
    with pytest.raises(CrmError) as refused:
        sync(anna)
    assert "deactivated" in str(refused.value) and "\n" not in str(refused.value)


@pytest.mark.slow
def test_deleting_a_member_hands_records_and_open_tasks_to_another(hub: Any, client: Any, sync: Any) -> None:
    alice = hub.member("alice", display="Анна", team="sales")
    bob = hub.member("bob", display="Борис", team="sales")
    anna, boris = client("Анна", alice), client("Борис", bob)
    deal = capture_lead(anna, LeadInput(name="Передать", task="Позвонить", due="завтра 10:00"))
    sync(anna)
    sync(boris)
    moved = delete_member(hub.admin_url, alice.login, bob.login)
    assert moved >= 2  # the deal and its open task (and the contact, if any)
    sync(boris)
    assert get_deal(boris, deal.id).responsible == "Борис"
    with boris.read() as session:
        tasks = session.exec(select(Task).where(Task.entity_id == deal.id)).all()
        assert tasks and all(t.responsible_id == boris.user_id for t in tasks)
    with hub.admin() as conn:
        assert conn.execute("SELECT count(*) FROM hub_user WHERE login = %s", (alice.login,)).fetchone()[0] == 0
        assert conn.execute("SELECT count(*) FROM pg_roles WHERE rolname = %s", (alice.login,)).fetchone()[0] == 0
        assert conn.execute("SELECT count(*) FROM hub_record WHERE owner = %s", (alice.login,)).fetchone()[0] == 0
