"""amoCRM's export files as they really are: every encoding, delimiter and
line ending; repeated columns; several phones in a cell; apostrophes and
extensions; local dates; quoted cells with commas and line breaks; a last
line cut off. Counts are checked exactly."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from tests.importing.amofiles import CONTACTS_HEADER, DELIMITERS, ENCODINGS, NEWLINES, contact, write_csv
from tests.importing.helpers import emails_of, live, notes_of, outcomes, phones_of, query, run
from tui_crm.services.importing.detect import detect

ROWS = [
    contact(
        "Иван Петров",
        company="ООО «Ромашка»",
        phone="'+7 916 123-45-67, 8 (495) 111-22-33 доб. 12",
        email="ivan@romashka.ru",
        created="05.03.2024 14:30:00",
        note="Звонить после 10, не раньше",
        note2="вторая\nстрока",
    ),  # fmt: skip
    contact("Ромашка", kind="компания", inn="7707083893", phone="+7 495 000-00-01", web="romashka.ru"),
    contact("Ольга Смирнова", mobile="+7 903 555-44-33", email="olga@elka.ru, o.smirnova@gmail.com", position="Директор"),
    contact("Cut row", phone="+7 903 111-11-11"),
]


@pytest.mark.parametrize("encoding", ENCODINGS)
@pytest.mark.parametrize("delimiter", DELIMITERS)
@pytest.mark.parametrize("newline", NEWLINES)
def test_amocrm_contacts_export_in_every_encoding_delimiter_and_line_ending(crm, files: Path, encoding, delimiter, newline):
    path = write_csv(files / "amo.csv", CONTACTS_HEADER, ROWS, encoding=encoding, delimiter=delimiter, newline=newline, cut=12)

    dialect = detect(path)
    report = run(crm, path)

    assert (dialect.encoding, dialect.delimiter, dialect.newline) == (encoding, delimiter, newline)
    c = report.counts
    # Иван's «ООО «Ромашка»» makes the company; the «компания» row Ромашка is the same one (name without legal form)
    assert (c["rows"], c["created"], c["merged"], c["rejected"]) == (4, 2, 1, 1)
    assert (c["contacts"], c["companies"]) == (2, 1)
    assert live(crm, "contact") == 2 and live(crm, "company") == 1
    line, (action, reason) = max(outcomes(report).items())
    assert action == "rejected" and "cut off" in reason
    assert phones_of(crm, "Иван Петров") == ["+79161234567", "+74951112233"]
    assert "Добавочный номер к +74951112233: 12" in notes_of(crm, "Иван Петров")
    assert "вторая\nстрока" in notes_of(crm, "Иван Петров")  # a quoted cell with a line break
    assert "Звонить после 10, не раньше" in notes_of(crm, "Иван Петров")  # ... and with a comma
    assert emails_of(crm, "Ольга Смирнова") == ["olga@elka.ru", "o.smirnova@gmail.com"]
    created = query(crm, "SELECT created_at FROM contact WHERE name = 'Иван Петров'")[0][0]
    assert datetime.fromisoformat(created).replace(tzinfo=UTC) == datetime(2024, 3, 5, 11, 30, tzinfo=UTC)  # Moscow is UTC+3
    company = query(crm, "SELECT c.name, c.inn FROM contact k JOIN company c ON c.id = k.company_id WHERE k.name = 'Иван Петров'")
    assert company == [("ООО «Ромашка»", "7707083893")]


def test_repeated_column_names_each_add_their_values(crm, files: Path):
    header = ["Тип", "Наименование", "Рабочий телефон", "Рабочий телефон", "Рабочий email", "Рабочий email"]
    path = write_csv(files / "rep.csv", header, [["контакт", "Анна", "+7 916 000-00-01", "+7 916 000-00-02", "a@x.ru", "b@x.ru"]])

    run(crm, path)

    assert phones_of(crm, "Анна") == ["+79160000001", "+79160000002"]
    assert emails_of(crm, "Анна") == ["a@x.ru", "b@x.ru"]


def test_a_vcard_3_and_4_file_brings_contacts(crm, files: Path):
    path = files / "people.vcf"
    path.write_text(
        "BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Пётр Иванов\r\nN:Иванов;Пётр;;;\r\nTEL;TYPE=WORK:+7 916 222-33-44\r\n"
        "TEL;TYPE=CELL:8 903 111 22 33\r\nEMAIL:petr@x.ru\r\nORG:Ёлка\r\nTITLE:CTO\r\nEND:VCARD\r\n"
        "BEGIN:VCARD\r\nVERSION:4.0\r\nFN:Jane Doe\r\nTEL;VALUE=uri:tel:+1-415-555-2671\r\nEMAIL:jane@doe.com\r\nEND:VCARD\r\n"
        "BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Broken\r\n",
        encoding="utf-8",
    )

    report = run(crm, path)

    assert (report.counts["created"], report.counts["rejected"]) == (2, 1)
    assert phones_of(crm, "Пётр Иванов") == ["+79162223344", "+79031112233"]
    assert phones_of(crm, "Jane Doe") == ["+14155552671"]
    assert query(crm, "SELECT position FROM contact WHERE name = 'Пётр Иванов'") == [("CTO",)]
    assert live(crm, "company") == 1


def test_a_file_that_is_not_an_amocrm_export_asks_for_a_mapping(crm, files: Path):
    from tui_crm.domain.errors import ValidationError

    path = write_csv(files / "plain.csv", ["Full name", "Phone"], [["Ann", "+7 916 000-00-01"]])

    with pytest.raises(ValidationError, match="--map PROFILE"):
        run(crm, path)
    assert live(crm, "contact") == 0


def test_plain_csv_with_a_saved_profile(crm, files: Path):
    from tui_crm.services.importing.profiles import Profile, load_profile, save_profile

    save_profile(
        crm.settings.config_dir, Profile(name="gsheet", kind="contacts", columns={"Full name": "name", "Phone": "phone"})
    )
    path = write_csv(files / "plain.csv", ["Full name", "Phone", "Other"], [["Ann", "+7 916 000-00-01", "x"]], delimiter=",")

    report = run(crm, path, profile="gsheet")

    assert load_profile(crm.settings.config_dir, "gsheet").columns == {"Full name": "name", "Phone": "phone"}
    assert report.counts["created"] == 1 and phones_of(crm, "Ann") == ["+79160000001"]


def test_russian_mobiles_read_fast_are_what_normalize_phone_gives():
    """The importer's per-prefix shortcut agrees with the validator, valid or not."""
    import random
    from datetime import datetime
    from zoneinfo import ZoneInfo

    from tui_crm.domain.errors import ValidationError
    from tui_crm.domain.validation import normalize_phone
    from tui_crm.services.importing.rows import RowContext, _Checker

    ctx = RowContext(policy="lenient", region="RU", tz=ZoneInfo("Europe/Moscow"), now=datetime.now(ZoneInfo("UTC")),
                     users={}, default_user="u", custom_defs={})  # fmt: skip
    rng = random.Random(3)
    shapes = ["+7 {a} {b}-{c}-{d}", "8 ({a}) {b}-{c}-{d}", "7{a}{b}{c}{d}", "{a}{b}{c}{d}", "+7({a}){b}{c}{d}"]
    for _ in range(3000):
        a = "9" + "".join(rng.choice("0123456789") for _ in range(2))
        if rng.random() < 0.2:
            a = "930"  # the one range with invalid numbers
        parts = {"a": a, "b": f"{rng.randrange(1000):03d}", "c": f"{rng.randrange(100):02d}", "d": f"{rng.randrange(100):02d}"}
        typed = rng.choice(shapes).format(**parts)
        try:
            expected: str | None = normalize_phone(typed, "RU")
        except ValidationError:
            expected = None
        assert _Checker(ctx).phones([typed], []) == ([(typed, expected)] if expected else []), typed
