"""From the real ``crm`` entry point: what the cards can do, the CLI can do.

Tags on contacts and companies, removing a phone or an e-mail (typed in any
format, refused with exit 3 and nothing saved when the record lacks it) and
unlinking a contact from a deal (the next contact becomes main). Every
check reads the record back with ``show --json``, so printed and saved are
both proven.
"""

from __future__ import annotations

import json
from typing import Any


def _ok(crm_cli, *args: str) -> str:
    result = crm_cli(*args)
    assert result.returncode == 0, (args, result.stderr)
    return result.stdout


def _contact(crm_cli, ref: str) -> dict[str, Any]:
    return json.loads(_ok(crm_cli, "contacts", "show", ref, "--json"))["contact"]


def _company(crm_cli, ref: str) -> dict[str, Any]:
    return json.loads(_ok(crm_cli, "companies", "show", ref, "--json"))


def _deal(crm_cli, ref: str) -> dict[str, Any]:
    return json.loads(_ok(crm_cli, "deals", "show", ref, "--json"))["deal"]


def test_the_new_options_are_in_the_help(crm_cli):
    assert "unlink" in _ok(crm_cli, "deals", "--help")
    for kind in ("contacts", "companies"):
        assert "tag" in _ok(crm_cli, kind, "--help")
        tag_help = _ok(crm_cli, kind, "tag", "--help")
        assert "--add" in tag_help and "--remove" in tag_help
        assert "--remove KIND=VALUE" in _ok(crm_cli, kind, "edit", "--help")


def test_contact_and_company_tags_are_added_and_removed(crm_cli):
    contact = json.loads(_ok(crm_cli, "add", "contact", "Иван Петров", "--json"))["id"]
    assert _ok(crm_cli, "contacts", "tag", contact, "--add", "VIP", "--add", "ЛПР").strip() == "Tags: VIP, ЛПР"
    assert _contact(crm_cli, contact)["tags"] == ["VIP", "ЛПР"]
    # case-insensitive like a deal's tags: the first spelling stays
    assert _ok(crm_cli, "contacts", "tag", "Иван", "--add", "vip", "--remove", "лпр").strip() == "Tags: VIP"
    assert _contact(crm_cli, contact)["tags"] == ["VIP"]
    assert "VIP" in _ok(crm_cli, "contacts", "show", contact)  # the text view shows them too

    _ok(crm_cli, "add", "company", "Магнит")
    assert _ok(crm_cli, "companies", "tag", "Магнит", "--add", "партнёр", "--add", "Москва").strip() == "Tags: Москва, партнёр"
    _ok(crm_cli, "companies", "tag", "Магнит", "--remove", "москва")
    assert _company(crm_cli, "Магнит")["tags"] == ["партнёр"]
    assert crm_cli("companies", "tag", "Нет такой", "--add", "x").returncode == 3


def test_a_phone_and_an_email_are_removed_however_they_are_typed(crm_cli):
    _ok(crm_cli, "add", "contact", "Иван Петров", "--phone", "+7 916 123-45-67", "--phone", "+7 495 765-43-21",
        "--email", "Ivan@Magnit.RU")
    assert _contact(crm_cli, "Иван")["emails"] == ["ivan@magnit.ru"]  # folded: one address, whatever its case (issue 8)
    out = _ok(crm_cli, "contacts", "edit", "Иван", "--remove", "phone=8 (916) 123-45-67", "--remove", "email=ivan@MAGNIT.ru")
    assert out.startswith("Updated contact")
    shown = _contact(crm_cli, "Иван")
    assert (shown["phones"], shown["emails"]) == (["+74957654321"], [])
    # the search no longer finds the contact by the removed number
    assert "Иван" not in _ok(crm_cli, "search", "9161234567")
    # --json shows the record; a phone added and one removed in one edit
    after = json.loads(_ok(crm_cli, "contacts", "edit", "Иван", "phone=+7 916 000-00-00", "--remove", "phone=84957654321",
                           "--json"))
    assert after["phones"] == ["+79160000000"]

    _ok(crm_cli, "add", "company", "Магнит", "--phone", "+7 495 111-22-33", "--email", "info@magnit.ru")
    _ok(crm_cli, "companies", "edit", "Магнит", "--remove", "phone=8 495 111 22 33")
    shown = _company(crm_cli, "Магнит")
    assert (shown["phones"], shown["emails"]) == ([], ["info@magnit.ru"])


def test_removing_what_the_record_lacks_is_refused_and_saves_nothing(crm_cli):
    _ok(crm_cli, "add", "contact", "Иван Петров", "--phone", "+7 916 123-45-67")
    before = _contact(crm_cli, "Иван")
    missing = crm_cli("contacts", "edit", "Иван", "position=CTO", "--remove", "phone=+7 999 000-00-00")
    assert missing.returncode == 3, missing.stderr
    assert missing.stderr.startswith("error: Иван Петров has no phone +79990000000; phones: +79161234567")
    malformed = crm_cli("contacts", "edit", "Иван", "position=CTO", "--remove", "phone=12345")
    assert malformed.returncode == 5 and malformed.stderr.startswith("error: phone:")
    for args in (("--remove", "fax=1"), ("--remove", "phone")):
        assert crm_cli("contacts", "edit", "Иван", *args).returncode == 5, args
    assert crm_cli("contacts", "edit", "Иван").returncode == 2  # nothing to change is a usage error
    assert _contact(crm_cli, "Иван") == before  # position not set, phone kept, nothing touched

    _ok(crm_cli, "add", "company", "Магнит", "--email", "info@magnit.ru")
    result = crm_cli("companies", "edit", "Магнит", "--remove", "email=sales@magnit.ru")
    assert result.returncode == 3 and "Магнит has no email sales@magnit.ru; emails: info@magnit.ru" in result.stderr
    assert crm_cli("companies", "edit", "Магнит", "--remove", "telegram=@magnit").returncode == 5
    assert _company(crm_cli, "Магнит")["emails"] == ["info@magnit.ru"]


def test_unlinking_the_main_contact_makes_the_next_one_main(crm_cli):
    deal = json.loads(_ok(crm_cli, "add", "lead", "Сайт", "--contact", "Борис", "--phone", "+7 916 111-11-11", "--json"))["id"]
    for name, phone in (("Яна", "+7 916 222-22-22"), ("Анна Смирнова", "+7 916 333-33-33")):
        _ok(crm_cli, "add", "contact", name, "--phone", phone)
        _ok(crm_cli, "deals", "link", deal, name)
    assert [(c["name"], c["is_main"]) for c in _deal(crm_cli, deal)["contacts"]][0] == ("Борис", True)

    out = _ok(crm_cli, "deals", "unlink", deal, "Борис")
    assert out.strip() == f"Unlinked from deal {deal[:8]} «Сайт»; contacts: Анна Смирнова (main), Яна"
    assert [(c["name"], c["is_main"]) for c in _deal(crm_cli, deal)["contacts"]] == [("Анна Смирнова", True), ("Яна", False)]

    again = crm_cli("deals", "unlink", deal, "Борис")
    assert again.returncode == 3 and "Борис is not a contact of the deal Сайт" in again.stderr

    shown = json.loads(_ok(crm_cli, "deals", "unlink", deal, "Анна Смирнова", "--json"))
    assert [(c["name"], c["is_main"]) for c in shown["contacts"]] == [("Яна", True)]
    assert _ok(crm_cli, "deals", "unlink", deal, "Яна").strip().endswith("contacts: —")
    assert _deal(crm_cli, deal)["contacts"] == []
