"""The rules, each reported per row (line, record, reason)."""

from __future__ import annotations

from pathlib import Path

from tests.importing.amofiles import CONTACTS_HEADER, DEALS_HEADER, contact, deal, write_csv
from tests.importing.helpers import emails_of, live, outcomes, phones_of, query, run


def test_strict_rejects_a_row_with_a_bad_phone_email_or_inn_lenient_drops_the_value(crm, open_store, files: Path, tmp_path):
    rows = [
        contact("Good", phone="+7 916 000-00-01"),
        contact("Bad phone", phone="12345", email="ok@x.ru"),
        contact("Bad email", email="not-an-email", phone="+7 916 000-00-02"),
        contact("Bad INN", kind="компания", inn="7707083890"),
    ]
    path = write_csv(files / "bad.csv", CONTACTS_HEADER, rows)

    strict = run(crm, path, policy="strict")

    assert (strict.counts["created"], strict.counts["rejected"]) == (1, 3)
    assert {line: action for line, (action, _) in outcomes(strict).items()} == {3: "rejected", 4: "rejected", 5: "rejected"}
    assert "invalid phone" in outcomes(strict)[3][1] and "invalid INN" in outcomes(strict)[5][1]

    other = open_store(db=tmp_path / "lenient.db")
    lenient = run(other, path, policy="lenient")

    assert (lenient.counts["created"], lenient.counts["rejected"], lenient.counts["warnings"]) == (4, 0, 3)
    assert phones_of(other, "Bad phone") == [] and emails_of(other, "Bad phone") == ["ok@x.ru"]
    assert "dropped invalid e-mail" in outcomes(lenient)[4][1]
    assert query(other, "SELECT inn FROM company WHERE name = 'Bad INN'") == [(None,)]


def test_an_exact_repeat_is_skipped_in_the_same_file_and_in_a_later_import(crm, files: Path):
    rows = [contact("Anna", phone="+7 916 000-00-01"), contact("Anna", phone="+7 916 000-00-01")]
    path = write_csv(files / "twice.csv", CONTACTS_HEADER, rows)

    first = run(crm, path)
    again = run(crm, path)

    assert (first.counts["created"], first.counts["skipped"]) == (1, 1)
    assert outcomes(first)[3] == ("skipped", "exact repeat of line 2")
    assert (again.counts["created"], again.counts["skipped"], again.counts["rejected"]) == (0, 2, 0)
    assert live(crm, "contact") == 1


def test_people_sharing_a_phone_or_email_are_one_transitively_and_namesakes_stay_apart(crm, files: Path):
    rows = [
        contact("Иван Иванов", phone="+7 916 000-00-01"),
        contact("И. Иванов", email="ivan@x.ru"),
        contact("Ваня", phone="8 916 000 00 01", email="IVAN@x.ru"),  # joins the two rows above
        contact("Иван Иванов", phone="+7 916 999-99-99"),  # a namesake: another person
        contact("Иван Иванов"),  # and another, with nothing to match on
    ]
    path = write_csv(files / "people.csv", CONTACTS_HEADER, rows)

    report = run(crm, path)

    assert (report.counts["created"], report.counts["merged"]) == (3, 2)
    assert live(crm, "contact") == 3
    assert sorted(phones_of(crm, "Иван Иванов")) == ["+79160000001", "+79169999999"]
    merged = query(
        crm, "SELECT count(*) FROM channel WHERE entity_id = (SELECT entity_id FROM channel WHERE normalized = 'ivan@x.ru')"
    )
    assert merged == [(2,)]  # the phone and the e-mail on one person


def test_companies_are_the_same_by_inn_else_by_name_without_legal_form(crm, files: Path):
    rows = [
        contact("ООО «Ромашка»", kind="компания"),
        contact("Ромашка", kind="компания"),  # same name without legal form
        contact("Альфа", kind="компания", inn="7707083893"),
        contact("АО Альфа-Групп", kind="компания", inn="7707083893"),  # same INN, other name
        contact("Бета", kind="компания", inn="500100732259"),
        contact("Бета", kind="компания", inn="7736207543"),  # same name, other valid INN: another company
    ]
    path = write_csv(files / "companies.csv", CONTACTS_HEADER, rows)

    report = run(crm, path)

    assert (report.counts["created"], report.counts["merged"]) == (4, 2)
    assert live(crm, "company") == 4


def test_text_is_stored_literally(crm, files: Path):
    names = ["[bold red]Boss[/]", '=HYPERLINK("http://evil")', "Esc\x1b[31mape"]
    path = write_csv(files / "text.csv", CONTACTS_HEADER, [contact(n) for n in names])

    run(crm, path)

    assert sorted(r[0] for r in query(crm, "SELECT name FROM contact")) == sorted(names)


def test_dry_run_counts_what_a_run_does_and_saves_nothing(crm, files: Path, count_rows):
    rows = [contact("A", phone="+7 916 000-00-01"), contact("B", phone="8 916 000-00-01"), contact("C", phone="bad")]
    path = write_csv(files / "dry.csv", CONTACTS_HEADER, rows)
    before = count_rows(crm, "contact", "channel", "change_log", "import_batch", "search_doc")

    dry = run(crm, path, dry_run=True)

    assert count_rows(crm, "contact", "channel", "change_log", "import_batch", "search_doc") == before
    real = run(crm, path)
    assert dry.counts == real.counts
    assert (real.counts["created"], real.counts["merged"], real.counts["warnings"]) == (2, 1, 1)


def test_update_and_upsert_match_existing_records_and_change_only_the_mapped_columns(crm, files: Path):
    from tui_crm.services.contacts import ContactInput, add_contact

    add_contact(crm, ContactInput(name="Олег", phones=["+7 916 000-00-01"], position="Менеджер", department="Продажи"))
    header = ["Тип", "Наименование", "Рабочий телефон", "Должность"]
    rows = [["контакт", "Олег", "+7 916 000-00-01", "Директор"], ["контакт", "Новый", "+7 916 000-00-02", ""]]
    path = write_csv(files / "upd.csv", header, rows)

    create = run(crm, path, mode="create", dry_run=True)
    update = run(crm, path, mode="update")

    assert outcomes(create)[2][0] == "skipped" and "--mode upsert" in outcomes(create)[2][1]
    assert (update.counts["updated"], update.counts["skipped"]) == (1, 1)
    assert query(crm, "SELECT position, department FROM contact WHERE name = 'Олег'") == [("Директор", "Продажи")]
    assert live(crm, "contact") == 1
    path2 = write_csv(files / "ups.csv", header, [*rows, ["контакт", "Олег", "+7 916 000-00-01", "CEO"]])
    upsert = run(crm, path2, mode="upsert")
    # line 2 repeats a row the update imported: skipped; «Новый» was skipped by the update, so it is new now
    assert (upsert.counts["created"], upsert.counts["updated"], upsert.counts["skipped"]) == (1, 1, 1)
    assert query(crm, "SELECT position FROM contact WHERE name = 'Олег'") == [("CEO",)]


def test_deal_rows_missing_name_pipeline_or_stage_are_rejected_and_gates_do_not_block(crm, files: Path):
    rows = [
        deal("", stage="Лид"),
        deal("Без воронки", pipeline=""),
        deal("Без этапа", stage=""),
        deal("В КП", stage="КП отправлено", budget="1 500 000", contact="Анна", phone="+7 916 000-00-01"),
    ]
    path = write_csv(files / "deals.csv", DEALS_HEADER, rows)

    report = run(crm, path)

    assert {line: action for line, (action, _) in outcomes(report).items()} == {
        2: "rejected", 3: "rejected", 4: "rejected", 5: "created",
    }  # fmt: skip
    assert outcomes(report)[2][1] == "missing name" and outcomes(report)[3][1] == "missing pipeline"
    assert "Ссылка на оценку" in outcomes(report)[5][1]  # the gate's fields are reported, not invented
    stage = query(crm, "SELECT s.name, d.budget_rub FROM deal d JOIN stage s ON s.id = d.stage_id WHERE d.name = 'В КП'")
    assert stage == [("КП отправлено", 150_000_000)]


def test_budget_headers_carry_the_currency(crm, files: Path):
    header = ["Название сделки", "Бюджет $", "Бюджет, руб.", "Воронка", "Этап сделки"]
    path = write_csv(files / "money.csv", header, [["USD deal", "12 500", "1 000 000,50", "Продажи 2.0", "Лид"]])

    run(crm, path)

    assert query(crm, "SELECT budget_usd, budget_rub FROM deal") == [(1_250_000, 100_000_050)]


def test_unknown_stages_are_listed_then_mapped_or_created(crm, files: Path):
    from tui_crm.services.importing.profiles import Profile, save_profile

    rows = [deal("A", pipeline="Старая воронка", stage="Первичный контакт"), deal("B", stage="Думают")]
    path = write_csv(files / "old.csv", DEALS_HEADER, rows)

    dry = run(crm, path, dry_run=True)
    assert dry.unknown_stages == ["Старая воронка / Первичный контакт", "Продажи 2.0 / Думают"]
    assert dry.counts["rejected"] == 2 and "--create-stages" in outcomes(dry)[2][1]

    stages = {"Старая воронка/Первичный контакт": "lead", "Думают": "negotiation"}
    profile = Profile(name="old", kind="deals", pipelines={"Старая воронка": "sales20"}, stages=stages)
    save_profile(crm.settings.config_dir, profile)
    mapped = run(crm, path, profile="old")
    assert (mapped.counts["created"], mapped.unknown_stages) == (2, [])
    assert sorted(query(crm, "SELECT d.name, s.key FROM deal d JOIN stage s ON s.id = d.stage_id")) == [
        ("A", "lead"), ("B", "negotiation"),
    ]  # fmt: skip


def test_create_stages_adds_them_to_the_pipelines(crm, files: Path):
    from tui_crm.services.pipelines import list_pipelines

    rows = [deal("A", pipeline="Старая воронка", stage="Первичный контакт"), deal("B", stage="Думают")]
    path = write_csv(files / "old.csv", DEALS_HEADER, rows)

    report = run(crm, path, create_stages=True)

    assert report.counts["created"] == 2 and report.created_stages == report.unknown_stages
    names = {p.name: [s.name for s in p.stages] for p in list_pipelines(crm)}
    assert names["Старая воронка"] == ["Первичный контакт", "Успешно реализовано", "Закрыто и не реализовано"]
    assert names["Продажи 2.0"].index("Думают") < names["Продажи 2.0"].index("Успешно реализовано")
