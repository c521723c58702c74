"""What the cards can do, the CLI can do (refusals and their exit codes through
the real ``crm`` entry point in a child process; the rest in-process).

Tags on contacts and companies, removing a phone or an e-mail (typed in any
format, refused with exit 3 and nothing saved when the record lacks it) and
unlinking a contact from a deal (the next contact becomes main). Every
check reads the record back with ``show --json``, so printed and saved are
both proven.
"""

from __future__ import annotations

import json
from typing import Any


def _ok(invoke, *args: str) -> str:
    return invoke.ok(*args)


def _contact(invoke, ref: str) -> dict[str, Any]:
    return json.loads(_ok(invoke, "contacts", "show", ref, "--json"))["contact"]


def _company(invoke, ref: str) -> dict[str, Any]:
    return json.loads(_ok(invoke, "companies", "show", ref, "--json"))


def _deal(invoke, ref: str) -> dict[str, Any]:
    return json.loads(_ok(invoke, "deals", "show", ref, "--json"))["deal"]


def test_the_new_options_are_in_the_help(invoke):
    assert "unlink" in _ok(invoke, "deals", "--help")
    for kind in ("contacts", "companies"):
        assert "tag" in _ok(invoke, kind, "--help")
        tag_help = _ok(invoke, kind, "tag", "--help")
        assert "--add" in tag_help and "--remove" in tag_help
        assert "--remove KIND=VALUE" in _ok(invoke, kind, "edit", "--help")


def test_contact_and_company_tags_are_added_and_removed(crm_cli, invoke):
    contact = json.loads(_ok(invoke, "add", "contact", "Иван Петров", "--json"))["id"]
    assert _ok(invoke, "contacts", "tag", contact, "--add", "VIP", "--add", "ЛПР").strip() == "Tags: VIP, ЛПР"
    assert _contact(invoke, contact)["tags"] == ["VIP", "ЛПР"]
    # case-insensitive like a deal's tags: the first spelling stays
    assert _ok(invoke, "contacts", "tag", "Иван", "--add", "vip", "--remove", "лпр").strip() == "Tags: VIP"
    assert _contact(invoke, contact)["tags"] == ["VIP"]
    assert "VIP" in _ok(invoke, "contacts", "show", contact)  # the text view shows them too

    _ok(invoke, "add", "company", "Магнит")
    assert _ok(invoke, "companies", "tag", "Магнит", "--add", "партнёр", "--add", "Москва").strip() == "Tags: Москва, партнёр"
    _ok(invoke, "companies", "tag", "Магнит", "--remove", "москва")
    assert _company(invoke, "Магнит")["tags"] == ["партнёр"]
    assert crm_cli("companies", "tag", "Нет такой", "--add", "x").returncode == 3


def test_a_phone_and_an_email_are_removed_however_they_are_typed(invoke):
    _ok(invoke, "add", "contact", "Иван Петров", "--phone", "+7 916 123-45-67", "--phone", "+7 495 765-43-21",
        "--email", "Ivan@Magnit.RU")
    assert _contact(invoke, "Иван")["emails"] == ["ivan@magnit.ru"]  # folded: one address, whatever its case (issue 8)
    out = _ok(invoke, "contacts", "edit", "Иван", "--remove", "phone=8 (916) 123-45-67", "--remove", "email=ivan@MAGNIT.ru")
    assert out.startswith("Updated contact")
    shown = _contact(invoke, "Иван")
    assert (shown["phones"], shown["emails"]) == (["+74957654321"], [])
    # the search no longer finds the contact by the removed number
    assert "Иван" not in _ok(invoke, "search", "9161234567")
    # --json shows the record; a phone added and one removed in one edit
    after = json.loads(_ok(invoke, "contacts", "edit", "Иван", "phone=+7 916 000-00-00", "--remove", "phone=84957654321",
                           "--json"))
    assert after["phones"] == ["+79160000000"]

    _ok(invoke, "add", "company", "Магнит", "--phone", "+7 495 111-22-33", "--email", "info@magnit.ru")
    _ok(invoke, "companies", "edit", "Магнит", "--remove", "phone=8 495 111 22 33")
    shown = _company(invoke, "Магнит")
    assert (shown["phones"], shown["emails"]) == ([], ["info@magnit.ru"])


def test_removing_what_the_record_lacks_is_refused_and_saves_nothing(crm_cli, invoke):
    _ok(invoke, "add", "contact", "Иван Петров", "--phone", "+7 916 123-45-67")
    before = _contact(invoke, "Иван")
    missing = crm_cli("contacts", "edit", "Иван", "position=CTO", "--remove", "phone=+7 999 000-00-00")
    assert missing.returncode == 3, missing.stderr
    assert missing.stderr.startswith("error: Иван Петров has no phone +79990000000; phones: +79161234567")
    malformed = crm_cli("contacts", "edit", "Иван", "position=CTO", "--remove", "phone=12345")
    assert malformed.returncode == 5 and malformed.stderr.startswith("error: phone:")
    for args in (("--remove", "fax=1"), ("--remove", "phone")):
        assert crm_cli("contacts", "edit", "Иван", *args).returncode == 5, args
    assert crm_cli("contacts", "edit", "Иван").returncode == 2  # nothing to change is a usage error
    assert _contact(invoke, "Иван") == before  # position not set, phone kept, nothing touched

    _ok(invoke, "add", "company", "Магнит", "--email", "info@magnit.ru")
    result = crm_cli("companies", "edit", "Магнит", "--remove", "email=sales@magnit.ru")
    assert result.returncode == 3 and "Магнит has no email sales@magnit.ru; emails: info@magnit.ru" in result.stderr
    assert crm_cli("companies", "edit", "Магнит", "--remove", "telegram=@magnit").returncode == 5
    assert _company(invoke, "Магнит")["emails"] == ["info@magnit.ru"]


def test_unlinking_the_main_contact_makes_the_next_one_main(crm_cli, invoke):
    deal = json.loads(_ok(invoke, "add", "lead", "Сайт", "--contact", "Борис", "--phone", "+7 916 111-11-11", "--json"))["id"]
    for name, phone in (("Яна", "+7 916 222-22-22"), ("Анна Смирнова", "+7 916 333-33-33")):
        _ok(invoke, "add", "contact", name, "--phone", phone)
        _ok(invoke, "deals", "link", deal, name)
    assert [(c["name"], c["is_main"]) for c in _deal(invoke, deal)["contacts"]][0] == ("Борис", True)

    out = _ok(invoke, "deals", "unlink", deal, "Борис")
    assert out.strip() == f"Unlinked from deal {deal[:8]} «Сайт»; contacts: Анна Смирнова (main), Яна"
    assert [(c["name"], c["is_main"]) for c in _deal(invoke, deal)["contacts"]] == [("Анна Смирнова", True), ("Яна", False)]

    again = crm_cli("deals", "unlink", deal, "Борис")
    assert again.returncode == 3 and "Борис is not a contact of the deal Сайт" in again.stderr

    shown = json.loads(_ok(invoke, "deals", "unlink", deal, "Анна Смирнова", "--json"))
    assert [(c["name"], c["is_main"]) for c in shown["contacts"]] == [("Яна", True)]
    assert _ok(invoke, "deals", "unlink", deal, "Яна").strip().endswith("contacts: —")
    assert _deal(invoke, deal)["contacts"] == []
