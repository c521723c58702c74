"""Every figure of ``crm report`` agrees with the lists: recomputed here from
``crm deals list --json --history`` and ``crm unsorted list --json`` (and, for
calls and tasks, from what the generator did) on a generated history."""

from __future__ import annotations

import statistics
from collections import Counter, defaultdict
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from tests.report_data import USERS, make_history

MSK = ZoneInfo("Europe/Moscow")
NONE = "—"


@pytest.fixture
def history(cli_env, open_store, clock, monkeypatch) -> Any:
    """The generated store; its history starts 100 days before today (the CLI's clock is the real one)."""
    today = datetime.now(MSK).date()
    start = datetime.combine(today - timedelta(days=100), datetime.min.time(), tzinfo=MSK).replace(hour=10)
    truth = make_history(open_store, clock, start)
    for key in ("CRM_DB", "CRM_USER"):  # open_store's environment hides the CLI's store
        monkeypatch.setenv(key, cli_env[key])
    first, last = today - timedelta(days=85), today - timedelta(days=30)
    return truth, first, last


def moment(text: str) -> datetime:
    return datetime.fromisoformat(text)


def within(text: str | None, first: date, last: date) -> bool:
    if not text:
        return False
    day = moment(text).astimezone(MSK).date()
    return first <= day <= last


def money(text: str | None) -> Decimal:
    return Decimal(text) if text else Decimal(0)


def pct(part: int, whole: int) -> float | None:
    return round(100 * part / whole, 1) if whole else None


def expected_funnel(deals: list[dict], pipelines: dict, key: str, first: date, last: date) -> dict[str, Any]:
    stages = pipelines[key]["stages"]
    working = [s for s in stages if s["kind"] not in ("unsorted", "lost")]
    order = {s["key"]: n for n, s in enumerate(working)}
    won_n = next(n for n, s in enumerate(working) if s["kind"] == "won")
    lost_key = next(s["key"] for s in stages if s["kind"] == "lost")
    probability = {s["key"]: p for s, p in zip(stages, PROBABILITY[key], strict=True)}
    rows = {s["key"]: {"entered": 0, "went_on": 0, "won": 0, "stays": [], "open": 0, "value": Decimal(0)} for s in working}
    lost = 0
    for deal in deals:
        path = [(step["pipeline_key"], step["stage_key"], moment(step["at"])) for step in deal["stage_path"]]
        mine = [(s, at) for p, s, at in path if p == key]
        reached = [order[s] for s, _ in mine if s in order]
        top = max(reached) if reached else -1
        for stage in {s for s, at in mine if s in order and within(at.isoformat(), first, last)}:
            rows[stage]["entered"] += 1
            rows[stage]["went_on"] += top > order[stage]
            rows[stage]["won"] += top == won_n
        if any(s == lost_key and within(at.isoformat(), first, last) for s, at in mine):
            lost += 1
        for (p, s, at), (_p2, _s2, next_at) in zip(path, path[1:], strict=False):
            if p == key and s in order and order[s] != won_n and within(at.isoformat(), first, last):
                rows[s]["stays"].append(max(0.0, (next_at - at).total_seconds() / 86400))
        if pipelines_by_name[deal["pipeline"]] == key and deal["stage_key"] in order:
            rows[deal["stage_key"]]["open"] += 1
            rows[deal["stage_key"]]["value"] += money(deal["budget_rub"])
    out = []
    for s in working:
        row = rows[s["key"]]
        is_won = s["kind"] == "won"
        value = Decimal(0) if is_won else row["value"]
        out.append(
            {
                "key": s["key"],
                "entered": row["entered"],
                "went_on": 0 if is_won else row["went_on"],
                "conversion": None if is_won else pct(row["went_on"], row["entered"]),
                "won": row["won"],
                "to_won": pct(row["won"], row["entered"]),
                "median_days": round(statistics.median(row["stays"]), 2) if row["stays"] and not is_won else None,
                "open_deals": 0 if is_won else row["open"],
                "open_value": value,
                "weighted": Decimal(0) if is_won else (value * probability[s["key"]] / 100).quantize(Decimal("0.01")),
            }
        )
    return {"stages": out, "lost_entered": lost}


# The defaults file's probabilities, stage by stage (unsorted … lost).
PROBABILITY = {
    "sales20": [None, 10, 20, 30, 50, 70, 90, 100, 0],
    "tenders": [None, 10, 20, 30, 50, 60, 100, 0],
}
pipelines_by_name: dict[str, str] = {}


def funnel_of(report: dict) -> dict[str, Any]:
    stages = [
        {
            **{k: s[k] for k in ("key", "entered", "went_on", "conversion", "won", "to_won", "median_days", "open_deals")},
            "open_value": Decimal(s["open_value"]),
            "weighted": Decimal(s["weighted"]),
        }
        for s in report["stages"]
    ]
    return {"stages": stages, "lost_entered": report["lost_entered"]}


def stage_kind(pipelines: dict, deal: dict) -> str:
    key = pipelines_by_name[deal["pipeline"]]
    return next(s["kind"] for s in pipelines[key]["stages"] if s["key"] == deal["stage_key"])


def expected_sources(deals: list[dict], pipelines: dict, unsorted: list[dict], first: date, last: date) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for dim, field in (("channel", "source_channel"), ("site", "source_site"), ("territory", "territory")):
        rows: dict[str, list] = defaultdict(lambda: [0, 0, Decimal(0)])
        for deal in deals:
            label = deal[field] or NONE
            lead = within(deal["created_at"], first, last)
            won = stage_kind(pipelines, deal) == "won" and within(deal["closed_at"], first, last)
            if lead or won:
                rows[label][0] += lead
                rows[label][1] += won
                rows[label][2] += money(deal["budget_rub"]) if won else 0
        out[dim] = {k: tuple(v) for k, v in rows.items()}
    received = [u for u in unsorted if within(u["received_at"], first, last)]
    status = Counter(u["status"] for u in received)
    reasons = Counter(u["decline_reason"] for u in received if u["status"] == "declined")
    out["unsorted"] = {
        "accepted": status["accepted"],
        "declined": status["declined"],
        "new": status["new"],
        "decline_reasons": dict(reasons),
    }
    return out


def sources_of(report: dict) -> dict[str, Any]:
    out: dict[str, Any] = {
        dim: {r["value"]: (r["leads"], r["won"], Decimal(r["won_value"])) for r in report[dim]}
        for dim in ("channel", "site", "territory")
    }
    out["unsorted"] = report["unsorted"]
    return out


def expected_losses(deals: list[dict], pipelines: dict, first: date, last: date) -> dict[str, Any]:
    reasons: dict[str, list] = defaultdict(lambda: [0, Decimal(0)])
    stages: dict[str, list] = defaultdict(lambda: [0, Decimal(0)])
    names = {(k, s["key"]): s["name"] for k, p in pipelines.items() for s in p["stages"]}
    for deal in deals:
        if stage_kind(pipelines, deal) != "lost" or not within(deal["closed_at"], first, last):
            continue
        reason = deal["loss_reason"] or NONE
        reason = "Другое" if reason.startswith("Другое:") else reason
        path = deal["stage_path"]
        into = max(i for i, step in enumerate(path) if step["stage_key"] == deal["stage_key"])
        before = names[(path[into - 1]["pipeline_key"], path[into - 1]["stage_key"])] if into else NONE
        for table, key in ((reasons, reason), (stages, before)):
            table[key][0] += 1
            table[key][1] += money(deal["budget_rub"])
    return {"reason": {k: tuple(v) for k, v in reasons.items()}, "stage": {k: tuple(v) for k, v in stages.items()}}


def losses_of(report: dict) -> dict[str, Any]:
    return {
        "reason": {r["label"]: (r["deals"], Decimal(r["value"])) for r in report["by_reason"]},
        "stage": {r["label"]: (r["deals"], Decimal(r["value"])) for r in report["by_stage"]},
    }


def deal_tasks(invoke: Any, deals: list[dict]) -> list[dict]:
    """Every task of every deal (done ones too), from ``crm task list DEAL --json``."""
    return [
        {
            "responsible": t["responsible"],
            "due": moment(t["due_at"]),
            "all_day": t["all_day"],
            "completed_at": moment(t["completed_at"]) if t["completed_at"] else None,
        }
        for d in deals
        for t in invoke.json("task", "list", d["id"])
    ]


def expected_activity(
    truth: Any, tasks: list[dict], deals: list[dict], pipelines: dict, first: date, last: date, now: datetime
) -> dict[str, Any]:
    """Calls and deals touched from what the generator did; tasks from the task lists."""
    assert len(tasks) > len(truth.tasks)  # the stages' automatic tasks count too
    out = {}
    open_deals = [d for d in deals if stage_kind(pipelines, d) not in ("won", "lost")]
    for user in USERS:
        def overdue(task: dict, at: datetime) -> bool:
            start = (
                datetime.combine(task["due"].astimezone(MSK).date() + timedelta(days=1), datetime.min.time(), tzinfo=MSK)
                if task["all_day"]
                else task["due"]
            )
            return start < at and (task["completed_at"] is None or task["completed_at"] > at)

        mine = [t for t in tasks if t["responsible"] == user]
        out[user] = {
            "calls": sum(1 for u, at in truth.calls if u == user and first <= at.astimezone(MSK).date() <= last),
            "tasks_done": sum(1 for t in mine if t["completed_at"] and first <= t["completed_at"].astimezone(MSK).date() <= last),
            "overdue_now": sum(1 for t in mine if overdue(t, now)),
            "touched": len({d for u, d, at in truth.touched if u == user and first <= at.astimezone(MSK).date() <= last}),
            "without_task": sum(1 for d in open_deals if d["responsible"] == user and d["task_mark"] == "none"),
        }
    return out


def test_every_report_figure_agrees_with_the_lists(history, invoke):
    truth, first, last = history
    period = ["--from", first.isoformat(), "--to", last.isoformat()]
    pipelines = {p["key"]: p for p in invoke.json("pipelines", "list")}
    pipelines_by_name.update({p["name"]: p["key"] for p in pipelines.values()})
    deals = invoke.json("deals", "list", "--history", "--limit", "1000")
    assert len(deals) > 30 and any(len(d["stage_path"]) > 3 for d in deals)
    unsorted = invoke.json("unsorted", "list", "--status", "all")
    for key in ("sales20", "tenders"):
        report = invoke.json("report", "funnel", "--pipeline", key, *period)
        assert funnel_of(report) == expected_funnel(deals, pipelines, key, first, last)
        expected = expected_funnel(deals, pipelines, key, first, last)
        assert Decimal(report["weighted_forecast"]) == sum(s["weighted"] for s in expected["stages"])
    funnel = invoke.json("report", "funnel", "--pipeline", "sales20", *period)
    assert sum(s["entered"] for s in funnel["stages"]) > 5  # the period holds real traffic
    assert expected_sources(deals, pipelines, unsorted, first, last) == sources_of(invoke.json("report", "sources", *period))
    assert expected_losses(deals, pipelines, first, last) == losses_of(invoke.json("report", "losses", *period))
    activity = invoke.json("report", "activity", *period)
    keys = ("calls", "tasks_done", "overdue_now", "touched", "without_task")
    got = {u["user"]: {k: u[k] for k in keys} for u in activity["users"]}
    tasks = deal_tasks(invoke, deals)
    assert got == expected_activity(truth, tasks, deals, pipelines, first, last, datetime.now(MSK))
    assert any(v["calls"] for v in got.values()) and any(v["tasks_done"] for v in got.values())


def test_filters_narrow_every_figure_the_same_way(history, invoke):
    """--responsible and --tag: the figures are those of the deals the list shows with the same filter."""
    truth, first, last = history
    period = ["--from", first.isoformat(), "--to", last.isoformat()]
    pipelines = {p["key"]: p for p in invoke.json("pipelines", "list")}
    pipelines_by_name.update({p["name"]: p["key"] for p in pipelines.values()})
    boris = invoke.json("deals", "list", "--history", "--limit", "1000", "--responsible", "Борис")
    report = invoke.json("report", "funnel", "--pipeline", "sales20", "--responsible", "Борис", *period)
    assert funnel_of(report) == expected_funnel(boris, pipelines, "sales20", first, last)
    vip = invoke.json("deals", "list", "--history", "--limit", "1000", "--tag", "vip")
    assert vip
    assert expected_losses(vip, pipelines, first, last) == losses_of(invoke.json("report", "losses", "--tag", "vip", *period))
    assert expected_sources(vip, pipelines, [], first, last)["channel"] == sources_of(
        invoke.json("report", "sources", "--tag", "vip", *period)
    )["channel"]
