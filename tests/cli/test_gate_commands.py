"""Gates that hold, from the shell: ``deals edit`` cannot empty a field the
deal's stage requires (exit 6), ``bulk move`` takes ``--set`` and exits 6
when any deal was refused, with its per-deal report (``--json`` too).

Exit codes are the ones a script sees: the command under test runs through
the real entry point in a child process (``crm_cli``); set-up and read-back
run in-process (``invoke``).
"""

from __future__ import annotations

import json

WON = [
    "--budget", "1 500 000", "--budget-usd", "20000",
    "--set", "segment=B", "--set", "territory=РФ", "--set", "city=Казань",
    "--set", "scope=Приложение", "--set", "work_model=Fixed price",
    "--set", "project_folder=https://disk.example.com/a", "--set", "estimate_link=https://disk.example.com/a/e",
]  # fmt: skip


def _lead(invoke, name: str, *extra: str) -> str:
    return invoke.json("add", "lead", name, *extra)["id"]


def _deal(invoke, ref: str) -> dict:
    return invoke.json("deals", "show", ref)["deal"]


def test_emptying_a_gate_field_of_a_won_deal_exits_6_naming_it(crm_cli, invoke):
    deal = _lead(invoke, "Выигранная", *WON)
    invoke.ok("move", deal, "won", "--set", "closing_rub=1 480 000")
    refused = crm_cli("deals", "edit", deal, "budget_usd=")
    assert refused.returncode == 6
    assert "Бюджет ($)" in refused.stderr and "budget_usd" in refused.stderr
    assert "Traceback" not in refused.stderr
    shown = _deal(invoke, deal)
    assert shown["budget_usd"] == "20000.00"


def test_bulk_move_to_lost_with_one_reason_for_all(crm_cli, invoke):
    ids = [_lead(invoke, f"Закрыть {i}") for i in range(3)]
    done = crm_cli("bulk", "move", "Закрыто и не реализовано", *[a for i in ids for a in ("--id", i[:8])],
                   "--set", "loss_reason=Нет бюджета", "--json")  # fmt: skip
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["changed"] == 3
    for deal in ids:
        assert _deal(invoke, deal)["loss_reason"] == "Нет бюджета"


def test_bulk_move_exits_6_with_the_per_deal_report_when_any_deal_is_refused(crm_cli, invoke):
    ready = _lead(invoke, "Готова", "--budget", "1 млн", "--budget-usd", "10000")
    bare = _lead(invoke, "Пустая")
    args = ("bulk", "move", "Квалификация", "--id", ready[:8], "--id", bare[:8],
            "--set", "segment=A", "--set", "territory=РФ", "--set", "city=Казань")  # fmt: skip
    done = crm_cli(*args, "--json")
    assert done.returncode == 6
    report = json.loads(done.stdout)
    outcomes = {o["deal_name"]: o for o in report["outcomes"]}
    assert outcomes["Готова"]["moved"] is True
    assert outcomes["Пустая"]["moved"] is False and "Бюджет (RUB)" in outcomes["Пустая"]["missing"]
    shown = _deal(invoke, bare)
    assert shown["stage_key"] == "lead" and shown["custom"] == {}


def test_bulk_move_with_a_reason_not_in_the_list_exits_5_and_moves_nothing(crm_cli, invoke):
    deal = _lead(invoke, "Причина")
    done = crm_cli("bulk", "move", "lost", "--id", deal[:8], "--set", "loss_reason=просто так")
    assert done.returncode == 5
    assert "Дорого" in done.stderr and "Другое" in done.stderr
    assert _deal(invoke, deal)["stage_key"] == "lead"


def test_copy_takes_set_like_move_and_never_the_closing_sum(crm_cli, invoke):
    deal = _lead(invoke, "Счёт, ноябрь", *WON)
    invoke.ok("move", deal, "won", "--set", "closing_rub=1 480 000")
    refused = crm_cli("copy", deal, "--stage", "won")
    assert refused.returncode == 6 and "Сумма в рублях по курсу закрытия" in refused.stderr
    done = crm_cli("copy", deal, "--stage", "won", "--name", "Счёт, декабрь", "--set", "closing_rub=1 500 000", "--json")
    assert done.returncode == 0, done.stderr
    copied = json.loads(done.stdout)
    assert (copied["stage_key"], copied["custom"]["closing_rub"]) == ("won", "1500000.00")


def test_move_to_won_computes_the_closing_sum_at_the_days_rate(cbr, crm_cli, invoke):
    from datetime import date
    from decimal import Decimal

    cbr.rates[date(2020, 1, 1)] = Decimal("92.5058")  # the latest rate for any day since
    deal = _lead(invoke, "По курсу", *WON)
    done = crm_cli("move", deal, "won", env={"CRM_RATES_URL": cbr.url})
    assert done.returncode == 0, done.stderr
    assert "$20,000.00 × 92.5058 ₽" in done.stdout or "92.5058" in done.stdout
    shown = _deal(invoke, deal)
    assert shown["custom"]["closing_rub"] == "1850116.00"
    assert (shown["closing_rate"], shown["closing_rate_date"]) == ("92.5058", "2020-01-01")


def test_move_to_won_offline_exits_6_asking_for_the_amount(crm_cli, invoke):
    deal = _lead(invoke, "Без связи", *WON)
    refused = crm_cli("move", deal, "won")  # the rate service: a closed loopback port
    assert refused.returncode == 6
    assert "No rate: enter the amount" in refused.stderr and "--set closing_rub=" in refused.stderr
    done = crm_cli("move", deal, "won", "--set", "closing_rub=1 800 000")
    assert done.returncode == 0, done.stderr


def test_loss_reasons_are_counted(invoke):
    ids = [invoke.json("add", "lead", f"Потеря {i}")["id"] for i in range(4)]
    for deal, reason in zip(ids, ["Дорого", "дорого", "Другое: уехали", "Нет бюджета"], strict=True):
        invoke.ok("move", deal, "lost", "--set", f"loss_reason={reason}")
    counts = {r["reason"]: r["deals"] for r in invoke.json("pipelines", "reasons")}
    assert (counts["Дорого"], counts["Нет бюджета"], counts["Другое"], counts["Не отвечает"]) == (2, 1, 1, 0)
    assert "Дорого" in invoke.ok("pipelines", "reasons")
