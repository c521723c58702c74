"""Issue 8 from the CLI: one person, one record (exit codes through the real
``crm`` entry point in a child process; the rest in-process).

``crm add lead --contact`` links the existing contact and says when a phone
is someone else's; ``crm search`` finds a phone however it is typed; the
duplicate refusal names whose record it is (exit 7, nothing saved).
"""

from __future__ import annotations

import json
from typing import Any


def _ok(invoke, *args: str) -> str:
    return invoke.ok(*args)


def _json(invoke, *args: str) -> Any:
    return json.loads(_ok(invoke, *args, "--json"))


def test_add_lead_links_the_named_contact_and_takes_its_company(invoke):
    ivan = _json(invoke, "add", "contact", "Иван Петров", "--phone", "+7 916 111-22-33", "--company", "ООО «Магнит»")
    out = _ok(invoke, "add", "lead", "Сайт", "--contact", "иван петров")
    assert f"Contact {ivan['id'][:8]} «Иван Петров» at ООО «Магнит»" in out
    deal = _json(invoke, "add", "lead", "Сайт 2", "--contact", ivan["id"][:6])
    assert [c["id"] for c in deal["contacts"]] == [ivan["id"]] and deal["company"]["name"] == "ООО «Магнит»"
    assert len(_json(invoke, "contacts", "list")) == 1


def test_add_lead_says_when_the_phone_is_someone_elses(invoke):
    _ok(invoke, "add", "contact", "Иван Петров", "--phone", "+7 916 111-22-33")
    out = _ok(invoke, "add", "lead", "Сайт", "--contact", "Пётр Сидоров", "--phone", "89161112233")
    assert "Note: 89161112233 is already Иван Петров's" in out and "Пётр Сидоров" in out


def test_add_lead_with_an_ambiguous_name_exits_4_and_saves_nothing(crm_cli, invoke):
    _ok(invoke, "add", "contact", "Иван Петров")
    _ok(invoke, "add", "contact", "Иван Петров", "--force")
    result = crm_cli("add", "lead", "Сайт", "--contact", "Иван Петров")
    assert result.returncode == 4 and "--contact" in result.stderr
    assert _json(invoke, "deals", "list") == []


def test_search_finds_a_phone_however_it_is_typed(invoke):
    _ok(invoke, "add", "contact", "Ольга Ёлкина", "--phone", "+7 916 555-12-34")
    for typed in ("8 916 555-12-34", "+7 (916) 555-12-34", "916 555", "555-12-34"):
        assert "Ольга Ёлкина" in _ok(invoke, "search", typed), typed


def test_the_duplicate_refusal_names_the_responsible(crm_cli, invoke):
    _ok(invoke, "users", "add", "Иван Смирнов")
    _ok(invoke, "--user", "Иван Смирнов", "add", "company", "Ромашка", "--inn", "7707083893")
    result = crm_cli("add", "company", "Romashka LLC", "--inn", "7707083893")
    assert result.returncode == 7
    assert "same INN, responsible: Иван Смирнов" in result.stderr and "agree a transfer" in result.stderr
    assert len(_json(invoke, "companies", "list")) == 1


def test_contacts_merge_keeps_field_by_field_moves_and_undoes(invoke):
    a = _json(invoke, "add", "contact", "Ольга Ёлкина", "--phone", "+7 916 555-12-34", "--position", "CEO")
    b = _json(invoke, "add", "contact", "Ольга Е.", "--email", "Olga@Elka.ru", "--position", "Директор", "--force")
    _ok(invoke, "add", "lead", "Сайт", "--contact", b["id"][:8])
    preview = _ok(invoke, "contacts", "merge", a["id"][:8], b["id"][:8], "--keep", "position=b", "--dry-run")
    assert "Директор" in preview and "From b to a: 1 e-mail, 1 deal" in preview
    assert len(_json(invoke, "contacts", "list")) == 2  # a dry run changes nothing
    out = _ok(invoke, "contacts", "merge", a["id"][:8], b["id"][:8], "--keep", "position=b")
    batch = out.split("crm bulk undo ")[1].split()[0]
    merged = json.loads(_ok(invoke, "contacts", "show", a["id"][:8], "--json"))
    contact = merged["contact"]
    assert (contact["position"], contact["emails"]) == ("Директор", ["olga@elka.ru"])
    assert [d["name"] for d in contact["deals"]] == ["Сайт"]
    assert any("Объединён с" in item["text"] for item in merged["timeline"])
    assert [c["id"] for c in _json(invoke, "contacts", "list")] == [a["id"]]
    assert "Split «Ольга Е.»" in _ok(invoke, "bulk", "undo", batch)
    assert len(_json(invoke, "contacts", "list")) == 2
    assert _json(invoke, "contacts", "show", b["id"][:8])["contact"]["deals"][0]["name"] == "Сайт"


def test_a_bad_keep_exits_5_and_saves_nothing(crm_cli, invoke):
    a = _json(invoke, "add", "company", "Ромашка")
    b = _json(invoke, "add", "company", "Romashka", "--inn", "7707083893")
    result = crm_cli("companies", "merge", a["id"][:8], b["id"][:8], "--keep", "inn=c")
    assert result.returncode == 5 and "inn=a" in result.stderr and "Traceback" not in result.stderr
    assert len(_json(invoke, "companies", "list")) == 2
    _ok(invoke, "companies", "merge", a["id"][:8], b["id"][:8])
    assert _json(invoke, "companies", "show", a["id"][:8])["inn"] == "7707083893"
    assert crm_cli("companies", "merge", a["id"][:8], b["id"][:8]).returncode == 3  # the merged one is gone
    assert crm_cli("companies", "merge", a["id"][:8], a["id"][:8]).returncode == 5  # not with itself
