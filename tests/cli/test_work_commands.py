"""Daily-work commands end to end in-process: edit, bulk with its report,
delete and undo, copy, unsorted triage, users."""

from __future__ import annotations


def _lead(invoke, name: str, *extra: str) -> str:
    return invoke.json("add", "lead", name, *extra)["id"]


def test_bulk_move_prints_a_per_deal_report(invoke):
    ready = _lead(invoke, "Готова", "--budget", "1 млн", "--budget-usd", "10000", "--set", "segment=A", "--set", "territory=РФ",
                  "--set", "city=Казань")  # fmt: skip
    bare = _lead(invoke, "Пустая")
    result = invoke("bulk", "move", "Квалификация", "--id", ready[:8], "--id", bare[:8])
    assert result.exit_code == 6  # one deal was refused: a script must notice
    out = result.stdout
    assert "stage: 1 of 2 deals changed" in out
    assert f"{ready[:8]}  Готова: moved" in out
    assert f"{bare[:8]}  Пустая: refused: missing Бюджет (RUB), Бюджет ($), Сегмент, Территория, Город" in out


def test_bulk_delete_and_undo(invoke):
    a = _lead(invoke, "Альфа", "--tag", "спам")
    b = _lead(invoke, "Бета", "--tag", "спам")
    keep = _lead(invoke, "Гамма")
    report = invoke.json("bulk", "delete", "--tag", "спам", "--yes")
    assert report["selected"] == 2
    assert [d["id"] for d in invoke.json("deals", "list")] == [keep]
    assert {d["id"] for d in invoke.json("deals", "list", "--deleted")} == {a, b}
    invoke.ok("bulk", "undo", report["batch_id"][:8])
    assert {d["id"] for d in invoke.json("deals", "list")} == {a, b, keep}
    refused = invoke("bulk", "delete", "--tag", "спам", input="n\n")
    assert refused.exit_code != 0
    assert len(invoke.json("deals", "list")) == 3


def test_bulk_responsible_task_and_tags(invoke):
    invoke.ok("users", "add", "Иван")
    a = _lead(invoke, "Альфа", "--pipeline", "Тендеры")
    _lead(invoke, "Бета")
    assert "1 open task went along" in invoke.ok("bulk", "responsible", "Иван", "--pipeline", "Тендеры")
    invoke.ok("bulk", "task", "Проверить документы", "--due", "в пятницу", "--pipeline", "Тендеры")
    invoke.ok("bulk", "tag", "--add", "тендер", "--pipeline", "Тендеры")
    rows = {d["name"]: d for d in invoke.json("deals", "list")}
    assert (rows["Альфа"]["responsible"], rows["Альфа"]["tags"]) == ("Иван", ["тендер"])
    assert (rows["Бета"]["responsible"], rows["Бета"]["tags"]) == ("Анна", [])
    tasks = invoke.json("task", "list", a)
    # the open auto task went along with the deal; the bulk task goes to its new responsible
    assert {t["text"]: t["responsible"] for t in tasks} == {"Связаться с лидом": "Иван", "Проверить документы": "Иван"}


def test_deals_edit_and_show(invoke):
    deal = _lead(invoke, "Правка")
    invoke.ok("deals", "edit", deal, "budget=2,5 млн", "Город=Казань", "site=com")
    shown = invoke.json("deals", "show", deal)["deal"]
    assert (shown["budget_rub"], shown["custom"], shown["source_site"]) == ("2500000.00", {"city": "Казань"}, "COM")
    assert invoke("deals", "edit", deal, "budget").exit_code != 0


def test_copy_command(invoke):
    deal = _lead(invoke, "Счёт, октябрь", "--budget", "100 000", "--tag", "ежемесячно")
    copied = invoke.json(
        "copy", deal, "--name", "Счёт, ноябрь", "--pipeline", "Продажи RUS", "--field", "budget", "--keep-created"
    )
    assert (copied["name"], copied["pipeline"], copied["stage"], copied["budget_rub"], copied["tags"]) == (
        "Счёт, ноябрь",
        "Продажи RUS",
        "Лид",
        "100000.00",
        ["ежемесячно"],
    )
    original = invoke.json("deals", "show", deal)["deal"]
    assert copied["created_at"] == original["created_at"]


def test_unsorted_triage(invoke):
    invoke.ok("add", "contact", "Ольга Ёлкина", "--email", "olga@elka.ru")
    invoke.ok("unsorted", "add", "Нужно приложение", "--email", "olga@elka.ru", "--name", "Ольга", "--body", "Текст заявки")
    invoke.ok("unsorted", "add", "Купите слона", "--email", "spam@example.com")
    entries = {e["subject"]: e["id"] for e in invoke.json("unsorted", "list")}
    deal = invoke.json("unsorted", "accept", entries["Нужно приложение"][:8])
    assert (deal["stage"], deal["source_message"], [c["name"] for c in deal["contacts"]]) == (
        "Лид",
        "Текст заявки",
        ["Ольга Ёлкина"],
    )
    assert "Спам" in invoke.ok("unsorted", "decline", entries["Купите слона"][:8], "--reason", "Спам")
    assert invoke.json("unsorted", "list") == []
    assert {e["status"] for e in invoke.json("unsorted", "list", "--status", "all")} == {"accepted", "declined"}
    assert len(invoke.json("contacts", "list")) == 1


def test_users_admin_commands(invoke):
    invoke.ok("users", "add", "Иван")
    invoke.ok("users", "add", "Пётр")
    deal = _lead(invoke, "Сделка Ивана", "--responsible", "Иван")
    assert invoke("--user", "Иван", "users", "deactivate", "Пётр").exit_code != 0
    invoke.ok("users", "deactivate", "Пётр")
    assert invoke("bulk", "responsible", "Пётр", "--id", deal).exit_code != 0
    out = invoke.ok("users", "delete", "Иван", "--transfer-to", "Анна")
    assert "1 deal" in out and "1 deals" not in out
    assert invoke.json("deals", "show", deal)["deal"]["responsible"] == "Анна"
    assert [(u["name"], u["is_active"]) for u in invoke.json("users", "list")] == [("Анна", True), ("Пётр", False)]
