"""First connect of a store that already has people to an account that already has them (issue 12):
matched by e-mail, phone and INN, linked instead of created twice, shown in the dry run."""

from __future__ import annotations

from typing import Any

from sqlmodel import select

from tests.fake_amocrm import FakeAmo
from tests.sync.conftest import cf_value, remote_live, remote_tags
from tui_crm.services import sync as sync_service
from tui_crm.services.companies import CompanyInput, add_company
from tui_crm.services.contacts import ContactInput, add_contact, get_contact
from tui_crm.services.parties import OnDuplicate
from tui_crm.storage.models import Company, Contact


def _inn_field(fake: FakeAmo) -> int:
    return int(fake.state.field_by_name("companies", "ИНН")["id"])


def _remote_contact(fake: FakeAmo, name: str, phone: str | None = None, email: str | None = None, **cf: str) -> dict[str, Any]:
    values = []
    if phone:
        values.append({"field_code": "PHONE", "values": [{"value": phone, "enum_code": "WORK"}]})
    if email:
        values.append({"field_code": "EMAIL", "values": [{"value": email, "enum_code": "WORK"}]})
    for code, value in cf.items():
        values.append({"field_code": code, "values": [{"value": value}]})
    return fake.create_entity("contacts", {"name": name, "custom_fields_values": values})


def _live_contacts(crm: Any, name: str) -> list[Contact]:
    with crm.read() as session:
        return [c for c in session.exec(select(Contact).where(Contact.name == name)) if c.deleted_at is None]


def test_first_connect_links_the_same_person_and_company_instead_of_creating_both(store: Any, fake: FakeAmo, synced: Any) -> None:
    olga = add_contact(store, ContactInput(name="Ольга", phones=["8 916 555-12-34"], position="Директор", tags=["vip"]))
    romashka = add_company(store, CompanyInput(name="ООО «Ромашка»", inn="7707083893"))
    remote = _remote_contact(fake, "Ольга", phone="+7 916 555-12-34", email="Olga@Elka.ru", POSITION="Менеджер")
    remote_co = fake.create_entity(
        "companies",
        {"name": "Ромашка", "custom_fields_values": [{"field_id": _inn_field(fake), "values": [{"value": "7707083893"}]}]},
    )
    fake.clear_requests()

    plan = {(p.entity, p.record_id): p for p in sync_service.dry_run(store)}
    assert all(r.method == "GET" for r in fake.requests)  # a dry run reads, never writes
    link = plan[("contact", olga.id)]
    assert (link.action, link.remote_id, link.matched_by) == ("link", str(remote["id"]), "phone +79165551234")
    company = plan[("company", romashka.id)]
    assert (company.action, company.remote_id, company.matched_by) == ("link", str(remote_co["id"]), "INN 7707083893")
    assert len(_live_contacts(store, "Ольга")) == 1 and len(remote_live(fake, "contacts")) == 1  # nothing written

    report = synced()
    assert report.linked == 2
    assert [c["name"] for c in remote_live(fake, "contacts")] == ["Ольга"]
    assert len(remote_live(fake, "companies")) == 1
    [here] = _live_contacts(store, "Ольга")
    assert here.id == olga.id
    detail = get_contact(store, olga.id)
    assert detail.emails == ["olga@elka.ru"]  # what only amoCRM had came here
    [theirs] = remote_live(fake, "contacts")
    assert remote_tags(fake, "contacts", theirs) == ["vip"]  # what only this side had went there
    assert cf_value(fake, "contacts", theirs, "POSITION") == "Менеджер"  # both filled, differently: a conflict
    conflicts = sync_service.list_conflicts(store)
    assert {(c.entity, c.field) for c in conflicts} == {("contact", "position"), ("company", "name")}
    assert next(c for c in conflicts if c.field == "position").shown == {"base": "—", "local": "Директор", "remote": "Менеджер"}

    again = synced()  # converged: nothing new on either side
    assert again.conflicts == 0 and again.linked == 0
    assert len(remote_live(fake, "contacts")) == 1 and len(_live_contacts(store, "Ольга")) == 1
    with store.read() as session:
        assert len([c for c in session.exec(select(Company)) if c.deleted_at is None and c.inn == "7707083893"]) == 1


def test_an_ambiguous_match_is_held_not_created_until_resolved(store: Any, fake: FakeAmo, synced: Any) -> None:
    from tui_crm.services.merge import merge

    petr = add_contact(store, ContactInput(name="Пётр", emails=["petr@x.ru"]))
    anna = add_contact(store, ContactInput(name="Анна Б", phones=["+7 903 111-22-33"]))
    for name in ("Пётр Иванов", "П. Иванов"):
        _remote_contact(fake, name, email="petr@x.ru")
    _remote_contact(fake, "Анна Борисова", phone="+7 903 111-22-33")
    dup = ContactInput(name="Анна (дубль)", phones=["8 903 111 22 33"])
    add_contact(store, dup, OnDuplicate.CREATE)  # two here match one there

    plan = {(p.entity, p.record_id): p for p in sync_service.dry_run(store)}
    assert plan[("contact", petr.id)].action == "hold"
    assert "matches 2 amoCRM contacts by e-mail petr@x.ru" in (plan[("contact", petr.id)].matched_by or "")
    assert plan[("contact", anna.id)].action == "hold"

    report = synced()
    assert report.linked == 0 and report.notices == 3
    assert any("match several amoCRM records" in w for w in report.warnings)
    names = sorted(c["name"] for c in remote_live(fake, "contacts"))
    assert names == ["Анна Борисова", "П. Иванов", "Пётр Иванов"]  # nothing of ours created
    assert len(_live_contacts(store, "Пётр Иванов")) == 1  # theirs came in as they are
    held = {c.record_id: c for c in sync_service.list_conflicts(store) if c.kind == "match"}
    assert set(held) == {petr.id, anna.id} | {c.id for c in _live_contacts(store, "Анна (дубль)")}
    plan = {(p.entity, p.record_id): p.action for p in sync_service.dry_run(store)}
    assert plan[("contact", petr.id)] == "hold"  # offline too, once the notice exists

    synced()
    assert len(remote_live(fake, "contacts")) == 3  # still held at the next sync

    [theirs] = _live_contacts(store, "Пётр Иванов")
    merge(store, "contact", theirs.id, petr.id)  # Пётр is that one: merged into it
    sync_service.resolve_conflict(store, held[anna.id].id, "local")  # Анна Б is someone else: send her
    synced()
    names = sorted(c["name"] for c in remote_live(fake, "contacts"))
    assert names == ["Анна Б", "Анна Борисова", "П. Иванов", "Пётр Иванов"]
    left = {c.record_id for c in sync_service.list_conflicts(store) if c.kind == "match"}
    assert left == {c.id for c in _live_contacts(store, "Анна (дубль)")}


def test_cli_dry_run_names_the_remote_record_and_the_key(cli: Any, fake: FakeAmo) -> None:
    from tests.sync.conftest import open_db

    crm = open_db(cli.db)
    try:
        add_contact(crm, ContactInput(name="Ольга", phones=["8 916 555-12-34"]))
        add_contact(crm, ContactInput(name="Пётр", emails=["petr@x.ru"]))
    finally:
        crm.close()
    remote = _remote_contact(fake, "Ольга Смирнова", phone="+7 916 555-12-34")
    for name in ("Пётр Иванов", "П. Иванов"):
        _remote_contact(fake, name, email="PETR@x.ru")
    shown = cli("sync", "--dry-run")
    assert shown.returncode == 0, shown.stderr
    out = " ".join(shown.stdout.split())
    assert f"= amoCRM #{remote['id']} «Ольга Смирнова» by phone +79165551234" in out, shown.stdout
    assert "hold" in out and "matches 2 amoCRM contacts by e-mail petr@x.ru" in out, shown.stdout
    assert all(r.method == "GET" for r in fake.requests)
