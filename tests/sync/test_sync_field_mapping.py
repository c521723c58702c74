"""Fields issue 12 listed as missing from the amoCRM mapping: the main contact of a
deal, the deal's marketing fields and tracking data, messengers, the remaining
company fields, all-day tasks and pinned notes.

Each is checked end to end against the fake: what this store sends lands in
amoCRM in the API's own form, and a second store connected to the same
account pulls it back equal; a change made in amoCRM comes in.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlmodel import select

from tests.fake_amocrm import FakeAmo
from tests.sync.conftest import cf_value
from tui_crm.services.contacts import ContactInput, add_contact
from tui_crm.services.deals import LeadInput, capture_lead, edit_deal, link_contact
from tui_crm.services.notes import add_note, set_pinned
from tui_crm.services.parties import OnDuplicate
from tui_crm.services.tasks import TaskInput, add_task
from tui_crm.storage.models import Company, Contact, Deal, EntityFile, Note, Task
from tui_crm.storage.sync_tables import SyncIdMap
from tui_crm.sync.local import LocalStore

MSK = ZoneInfo("Europe/Moscow")
IM_ENUMS = ["SKYPE", "ICQ", "JABBER", "GTALK", "MSN", "TELEGRAM", "WHATSAPP", "OTHER"]
TRACKING = ["UTM_SOURCE", "UTM_MEDIUM", "UTM_CAMPAIGN", "UTM_CONTENT", "UTM_TERM", "REFERRER", "_YM_UID"]


def _account_fields(fake: FakeAmo) -> None:
    """The fields a real account has for these (tracking data, IM) plus the name-matched ones."""
    for code in TRACKING:
        fake.state.add_custom_field("leads", code.lower(), "tracking_data", code=code)
    fake.state.add_custom_field("leads", "Канал привлечения", "text")
    fake.state.add_custom_field("leads", "Сайт", "select", enums=["RU", "COM"])
    fake.state.add_custom_field("leads", "Сообщение", "textarea")
    fake.state.add_custom_field("contacts", "Мгн. сообщения", "multitext", code="IM", enums=IM_ENUMS)
    fake.state.add_custom_field("companies", "Оборот", "text")
    fake.state.add_custom_field("companies", "Количество сотрудников", "numeric")
    fake.state.add_custom_field("companies", "Потребности", "textarea")


@pytest.fixture
def second(open_store: Any, tmp_path: Any, fake: FakeAmo, memory_keyring: Any) -> Any:
    """Another store (a teammate's) connected to the same account."""
    from tui_crm.services.sync import connect_amocrm

    other = open_store(db=tmp_path / "teammate.db")
    connect_amocrm(other, base_url=fake.base_url, long_lived_token=fake.token)
    return other


def _remote_id(crm: Any, entity: str, local_id: str) -> int:
    with crm.read() as session:
        row = session.exec(select(SyncIdMap).where(SyncIdMap.entity == entity, SyncIdMap.local_id == local_id)).one()
        return int(row.remote_id)


def _local_of(crm: Any, entity: str, remote_id: int) -> str:
    with crm.read() as session:
        row = session.exec(select(SyncIdMap).where(SyncIdMap.entity == entity, SyncIdMap.remote_id == str(remote_id))).one()
        return row.local_id


def _read(crm: Any, entity: str, local_id: str) -> dict[str, Any]:
    with crm.read() as session:
        return LocalStore().read(session, entity, local_id) or {}


def _main_of(fake: FakeAmo, lead_id: int) -> int | None:
    lead = fake.get_entity("leads", lead_id) or {}
    return next((c["id"] for c in lead["_embedded"]["contacts"] if c["is_main"]), None)


# ------------------------------------------------------------------ main contact


def test_the_main_contact_goes_out_comes_back_and_follows_changes_on_both_sides(
    store: Any, fake: FakeAmo, synced: Any, second: Any
) -> None:
    deal = capture_lead(store, LeadInput(name="Внедрение CRM", contact_name="Анна Первая"))
    other = add_contact(store, ContactInput(name="Борис Второй"), OnDuplicate.CREATE)
    link_contact(store, deal.id, other.id, main=True)  # the second contact becomes the main one
    synced()
    lead_id = _remote_id(store, "deal", deal.id)
    assert _main_of(fake, lead_id) == _remote_id(store, "contact", other.id)

    synced(crm=second)
    theirs = _local_of(second, "deal", lead_id)
    assert _read(second, "deal", theirs)["main_contact"] == _local_of(second, "contact", _remote_id(store, "contact", other.id))

    # here: the first contact is made main again -> amoCRM follows
    first_id = next(c.id for c in deal.contacts if c.name == "Анна Первая")
    with store.uow() as work:
        LocalStore().apply(work, "deal", deal.id, {"main_contact": first_id}, new=False)
    synced()
    assert _main_of(fake, lead_id) == _remote_id(store, "contact", first_id)
    assert len(fake.get_entity("leads", lead_id)["_embedded"]["contacts"]) == 2

    # in amoCRM: a teammate makes Борис main again -> it comes in here
    fake.clock.advance(10)
    with fake.state.lock:
        fake.state.link(
            "leads",
            lead_id,
            "contacts",
            _remote_id(store, "contact", other.id),
            {"main_contact": True},
            user_id=fake.state.admin_user_id,
        )
    report = synced()
    assert report.conflicts == 0
    assert _read(store, "deal", deal.id)["main_contact"] == other.id


# -------------------------------------------------------------------- marketing


def test_marketing_fields_and_tracking_data_round_trip(store: Any, fake: FakeAmo, synced: Any, second: Any) -> None:
    _account_fields(fake)
    deal = capture_lead(store, LeadInput(name="Заявка с сайта"))
    edit_deal(
        store,
        deal.id,
        {"source_channel": "form", "site": "COM", "url": "https://example.com/pricing", "message": "Нужна CRM на 20 мест"},
    )
    with store.uow() as work:
        LocalStore().apply(work, "deal", deal.id, {"mkt:utm_source": "yandex", "mkt:utm_campaign": "crm-2026"}, new=False)
    synced()
    lead = fake.state.entities["leads"][_remote_id(store, "deal", deal.id)]
    assert cf_value(fake, "leads", lead, "Канал привлечения") == "form"
    assert cf_value(fake, "leads", lead, "Сайт") == "COM"
    assert cf_value(fake, "leads", lead, "REFERRER") == "https://example.com/pricing"
    assert cf_value(fake, "leads", lead, "Сообщение") == "Нужна CRM на 20 мест"
    assert cf_value(fake, "leads", lead, "UTM_SOURCE") == "yandex"
    assert cf_value(fake, "leads", lead, "UTM_CAMPAIGN") == "crm-2026"

    synced(crm=second)
    mine = _read(store, "deal", deal.id)
    theirs = _read(second, "deal", _local_of(second, "deal", lead["id"]))
    keys = ("source_channel", "source_site", "source_url", "source_message", "mkt:utm_source", "mkt:utm_campaign")
    assert {k: theirs.get(k) for k in keys} == {k: mine.get(k) for k in keys}
    with second.read() as session:
        row = session.get(Deal, _local_of(second, "deal", lead["id"]))
        assert (row.source_site, row.source_url) == ("COM", "https://example.com/pricing")

    # a form integration fills more tracking data in amoCRM: it comes in as text, no conflict
    fake.clock.advance(10)
    uid = fake.state.field_by_name("leads", "_YM_UID")["id"]
    fake.update_entity("leads", lead["id"], {"custom_fields_values": [{"field_id": uid, "values": [{"value": "1712"}]}]})
    assert synced().conflicts == 0
    assert _read(store, "deal", deal.id)["mkt:_ym_uid"] == "1712"


# ------------------------------------------------------------------- messengers


def test_messengers_round_trip_with_their_kinds(store: Any, fake: FakeAmo, synced: Any, second: Any) -> None:
    _account_fields(fake)
    contact = add_contact(
        store,
        ContactInput(name="Ирина", messengers={"telegram": "@irina", "skype": "irina.s", "linkedin": "in/irina"}),
        OnDuplicate.CREATE,
    )
    synced()
    rid = _remote_id(store, "contact", contact.id)
    im = next(cf for cf in fake.state.entities["contacts"][rid]["custom_fields_values"] if cf["field_code"] == "IM")
    assert sorted((v["enum_code"], v["value"]) for v in im["values"]) == [
        ("OTHER", "linkedin:in/irina"),  # no LINKEDIN option in amoCRM: kept under OTHER with its kind
        ("SKYPE", "irina.s"),
        ("TELEGRAM", "@irina"),
    ]
    synced(crm=second)
    theirs = _read(second, "contact", _local_of(second, "contact", rid))
    assert theirs["messengers"] == ["linkedin:in/irina", "skype:irina.s", "telegram:@irina"]
    assert theirs["messengers"] == _read(store, "contact", contact.id)["messengers"]

    # WhatsApp added in amoCRM -> a whatsapp channel here
    fake.clock.advance(10)
    values = [{"value": v["value"], "enum_code": v["enum_code"]} for v in im["values"]]
    fake.update_entity(
        "contacts",
        rid,
        {"custom_fields_values": [{"field_code": "IM", "values": [*values, {"value": "+79001234567", "enum_code": "WHATSAPP"}]}]},
    )
    assert synced().conflicts == 0
    assert "whatsapp:+79001234567" in _read(store, "contact", contact.id)["messengers"]


# ---------------------------------------------------------------- company fields


def test_remaining_company_fields_round_trip(store: Any, fake: FakeAmo, synced: Any, second: Any) -> None:
    _account_fields(fake)
    with store.uow() as work:
        LocalStore().apply(
            work,
            "company",
            "c0ffee00c0ffee00c0ffee00c0ffee00",
            {"name": "Ромашка", "turnover": "1-5 млрд", "employees": 250, "needs": "CRM для отдела продаж"},
            new=True,
        )
    synced()
    rid = _remote_id(store, "company", "c0ffee00c0ffee00c0ffee00c0ffee00")
    company = fake.state.entities["companies"][rid]
    assert cf_value(fake, "companies", company, "Оборот") == "1-5 млрд"
    assert cf_value(fake, "companies", company, "Количество сотрудников") == "250"
    assert cf_value(fake, "companies", company, "Потребности") == "CRM для отдела продаж"
    synced(crm=second)
    with second.read() as session:
        row = session.get(Company, _local_of(second, "company", rid))
        assert (row.turnover, row.employees, row.needs) == ("1-5 млрд", 250, "CRM для отдела продаж")


# -------------------------------------------------------------------- all-day tasks


def test_all_day_tasks_go_out_at_23_59_and_come_back_all_day(store: Any, fake: FakeAmo, synced: Any, second: Any) -> None:
    deal = capture_lead(store, LeadInput(name="Поставка"))
    task = add_task(store, TaskInput(text="Подготовить КП", due="2026-11-30", entity_type="deal", entity_ref=deal.id))
    synced()
    remote = fake.state.tasks[_remote_id(store, "task", task.id)]
    due = datetime.fromtimestamp(remote["complete_till"], UTC).astimezone(MSK)
    assert (due.date().isoformat(), due.hour, due.minute) == ("2026-11-30", 23, 59)

    synced(crm=second)
    with second.read() as session:
        theirs = session.get(Task, _local_of(second, "task", remote["id"]))
    with store.read() as session:
        mine = session.get(Task, task.id)
    assert theirs.all_day and mine.all_day
    assert theirs.due_at == mine.due_at

    # a task set for «весь день» in amoCRM comes in as an all-day task
    end_of_day = int(datetime(2026, 12, 2, 23, 59, tzinfo=MSK).timestamp())
    fake.clock.advance(10)
    with fake.state.lock:
        [made] = fake.state.write_tasks(
            [{"text": "Позвонить", "complete_till": end_of_day, "entity_id": remote["entity_id"], "entity_type": "leads"}],
            creating=True,
            user_id=fake.state.admin_user_id,
        )
    synced()
    with store.read() as session:
        pulled = session.get(Task, _local_of(store, "task", made["id"]))
        assert pulled.all_day
        assert pulled.due_at.replace(tzinfo=UTC).astimezone(MSK) == datetime(2026, 12, 2, tzinfo=MSK)
    # and nothing goes back
    writes = [r for r in fake.requests if r.method in ("POST", "PATCH")]
    fake.clock.advance(10)
    synced()
    assert [r for r in fake.requests if r.method in ("POST", "PATCH")] == writes


# ----------------------------------------------------------------------- pinning


def test_pinned_notes_round_trip_and_pins_made_in_amocrm_come_in(store: Any, fake: FakeAmo, synced: Any, second: Any) -> None:
    deal = capture_lead(store, LeadInput(name="Тендер"))
    note = add_note(store, "deal", deal.id, "ЛПР — финансовый директор", pinned=True)
    plain = add_note(store, "deal", deal.id, "Перезвонить в пятницу")
    synced()
    lead_notes = fake.state.notes["leads"]
    assert lead_notes[_remote_id(store, "note", note.id)]["is_pinned"] is True
    assert lead_notes[_remote_id(store, "note", plain.id)]["is_pinned"] is False

    synced(crm=second)
    with second.read() as session:
        pinned = {n.text: n.pinned for n in session.exec(select(Note).where(Note.kind == "note"))}
    assert pinned == {"ЛПР — финансовый директор": True, "Перезвонить в пятницу": False}

    # unpinned here -> unpinned there
    set_pinned(store, note.id, False)
    synced()
    assert lead_notes[_remote_id(store, "note", note.id)]["is_pinned"] is False

    # pinned in amoCRM -> pinned here, with the next full pull (a pin logs no event, like a note edit)
    fake.clock.advance(16 * 60)
    with fake.state.lock:
        fake.state.pin_note("leads", _remote_id(store, "note", plain.id), True, user_id=fake.state.admin_user_id)
    assert synced().conflicts == 0
    with store.read() as session:
        assert session.get(Note, plain.id).pinned is True


def test_a_deal_without_contacts_has_no_main_contact(store: Any, fake: FakeAmo, synced: Any) -> None:
    deal = capture_lead(store, LeadInput(name="Пустая"))
    synced()
    assert _main_of(fake, _remote_id(store, "deal", deal.id)) is None
    assert _read(store, "deal", deal.id)["main_contact"] is None
    assert synced().conflicts == 0
    with store.read() as session:
        assert session.exec(select(Contact)).all() == []


# ------------------------------------------------------------------------- files


def _files(crm: Any, entity: str, local_id: str) -> list[tuple[str, bytes]]:
    from tui_crm.services.files import blob_path

    with crm.read() as session:
        rows = session.exec(select(EntityFile).where(EntityFile.entity_type == entity, EntityFile.entity_id == local_id))
        return sorted((row.name, blob_path(crm, row.sha256).read_bytes()) for row in rows)


def test_files_go_to_the_drive_and_come_back_with_sync_files(
    store: Any, fake: FakeAmo, synced: Any, second: Any, tmp_path: Any
) -> None:
    from tui_crm.services.files import attach_file

    deal = capture_lead(store, LeadInput(name="С договором"))
    contract = tmp_path / "Договор №7.pdf"
    contract.write_bytes(b"%PDF-1.4 " + bytes(range(256)) * 600)  # larger than one upload part
    attach_file(store, "deal", deal.id, contract)
    synced()
    lead_id = _remote_id(store, "deal", deal.id)
    assert fake.drive.files_of("leads", lead_id) == []  # a plain sync leaves files alone
    report = synced(files=True)
    assert (report.files_pushed, report.files_pulled) == (1, 0)
    [sent] = fake.drive.files_of("leads", lead_id)
    assert (sent["name"], sent["content"]) == ("Договор №7.pdf", contract.read_bytes())

    # a teammate attaches a file in amoCRM
    fake.drive.attach("leads", lead_id, fake.drive.add_file("Смета.xlsx", b"estimate"))
    report = synced(files=True)
    assert (report.files_pushed, report.files_pulled) == (0, 1)
    assert _files(store, "deal", deal.id) == [("Договор №7.pdf", contract.read_bytes()), ("Смета.xlsx", b"estimate")]
    again = synced(files=True)  # nothing twice
    assert (again.files_pushed, again.files_pulled) == (0, 0)
    assert len(fake.drive.files_of("leads", lead_id)) == 2

    synced(crm=second, files=True)
    theirs = _local_of(second, "deal", lead_id)
    assert _files(second, "deal", theirs) == _files(store, "deal", deal.id)


def test_the_token_goes_only_to_a_drive_host_of_the_same_service() -> None:
    from tui_crm.sync.amocrm import AmoClient, MemoryTokenStore, TokenPair

    with AmoClient("https://acme.amocrm.ru", MemoryTokenStore(TokenPair.long_lived_token("t"))) as client:
        assert client.allow_origin("https://drive-b.amocrm.ru")
        assert not client.allow_origin("https://drive.evil.example")
        assert not client.allow_origin("http://drive-b.amocrm.ru")  # never in the clear
        with pytest.raises(ValueError, match="another host"):
            client.request("GET", "https://drive.evil.example/v1.0/files/x")


def test_a_name_matched_field_of_another_type_stays_unmapped_and_the_record_still_goes_out(
    store: Any, fake: FakeAmo, synced: Any
) -> None:
    turnover = fake.state.add_custom_field("companies", "Оборот", "numeric")  # a number there, text here
    with store.uow() as work:
        LocalStore().apply(
            work, "company", "c0ffee00c0ffee00c0ffee00c0ffee01", {"name": "Лютик", "turnover": "1-5 млрд"}, new=True
        )
    synced()  # no "amoCRM refused it"
    company = fake.state.entities["companies"][_remote_id(store, "company", "c0ffee00c0ffee00c0ffee00c0ffee01")]
    assert company["name"] == "Лютик" and cf_value(fake, "companies", company, "Оборот") is None
    assert _read(store, "company", "c0ffee00c0ffee00c0ffee00c0ffee01")["turnover"] == "1-5 млрд"  # kept here
    assert turnover in fake.state.custom_fields["companies"]


def test_dry_run_shows_the_main_contact_by_name(store: Any) -> None:
    from tui_crm.services.sync import dry_run

    deal = capture_lead(store, LeadInput(name="Показать", contact_name="Вера Главная"))
    [planned] = [p for p in dry_run(store) if p.entity == "deal" and p.record_id == deal.id]
    assert planned.shown["main_contact"] == "Вера Главная"


def test_utm_tags_of_a_web_form_reach_amocrm_tracking_fields(store: Any, fake: FakeAmo, synced: Any) -> None:
    from tui_crm.services.intake import submission_from_dict, submit_form
    from tui_crm.services.unsorted import accept

    _account_fields(fake)
    form = {"name": "Олег", "email": "oleg@example.com", "message": "Нужна CRM", "utm": {"source": "google", "campaign": "crm"}}
    lead = submit_form(store, submission_from_dict(form), target="lead")
    waiting = submit_form(store, submission_from_dict({**form, "name": "Ольга", "email": "olga@example.com"}), target="unsorted")
    accepted = accept(store, waiting.id)
    synced()
    for deal_id in (lead.id, accepted.id):
        remote = fake.state.entities["leads"][_remote_id(store, "deal", deal_id)]
        assert (cf_value(fake, "leads", remote, "UTM_SOURCE"), cf_value(fake, "leads", remote, "UTM_CAMPAIGN")) == (
            "google",
            "crm",
        )


def test_an_all_day_task_whose_create_answer_was_lost_is_found_not_sent_twice(store: Any, fake: FakeAmo, synced: Any) -> None:
    deal = capture_lead(store, LeadInput(name="Потерянный ответ"))
    synced()
    add_task(store, TaskInput(text="Весь день", due="2026-12-03", entity_type="deal", entity_ref=deal.id))
    fake.faults.drop_next_write()  # the task is created, the answer never arrives
    synced(allow_errors=True)
    synced()
    assert [t["text"] for t in fake.state.tasks.values()].count("Весь день") == 1


def test_files_of_a_large_account_come_a_slice_a_run_and_resume_where_they_stopped(
    store: Any, fake: FakeAmo, synced: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    import tui_crm.sync.files as file_sync

    for n in range(3):
        lead = fake.create_entity("leads", {"name": f"Сделка {n}"})
        fake.drive.attach("leads", lead["id"], fake.drive.add_file(f"КП {n}.pdf", f"offer {n}".encode()))
    synced()
    monkeypatch.setattr(file_sync, "PER_RUN", 2)
    counts = [synced(files=True).files_pulled for _ in range(3)]
    assert counts == [2, 1, 0]
    with store.read() as session:
        names = sorted(f.name for f in session.exec(select(EntityFile)))
    assert names == ["КП 0.pdf", "КП 1.pdf", "КП 2.pdf"]


def test_without_a_drive_address_files_are_not_synced_and_the_run_says_so(
    store: Any, fake: FakeAmo, synced: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tui_crm.sync.amocrm.files import DriveFiles

    monkeypatch.setattr(DriveFiles, "use_drive", lambda self, url: None)
    report = synced(files=True)
    assert (report.files_pulled, report.files_pushed) == (0, 0)
    assert any("drive_url" in w for w in report.warnings)
