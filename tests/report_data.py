"""A small seeded history for the report tests, made through the real services.

Deals are captured, moved stage by stage (some skip a stage, some go back,
some end won or lost), get tasks (done on time, late, or still open) and
call notes, by three users on one clock that moves forward; Unsorted
requests are accepted or declined. ``Truth`` records what was done, so a
test can recompute the activity figures the deal list cannot show.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

USERS = ("Анна", "Борис Орлов", "Kate Miller")
CHANNELS = ("Сайт RU", "LinkedIn", "Холодный звонок", "Рекомендация", None)
TAGS = ("vip", "партнёр")
REASONS = ("Дорого", "Выбрали конкурента", "Нет бюджета", "Другое: клиент закрылся")
VALUES = {
    "budget_usd": "20000",
    "segment": "A",
    "city": "Москва",
    "scope": "Мобильное приложение",
    "work_model": "Fixed price",
    "project_folder": "https://drive.example.ru/f",
    "estimate_link": "https://drive.example.ru/e",
    "closing_rub": "1 800 000",
    "decision_makers": "Иванов",
}


@dataclass
class Truth:
    calls: list[tuple[str, datetime]] = field(default_factory=list)  # (user, when)
    tasks: list[dict[str, Any]] = field(default_factory=list)  # responsible, due, all_day, completed_at, deal
    touched: list[tuple[str, str, datetime]] = field(default_factory=list)  # (user, deal id, when)


def make_history(open_store: Any, clock: Any, start: datetime, deals: int = 36, seed: int = 14) -> Truth:
    """Fill the test's store; ``start`` is when the first deal comes in (nothing happens 90 days later or after)."""
    from tui_crm.services.deals import LeadInput, capture_lead
    from tui_crm.services.notes import add_note
    from tui_crm.services.tasks import TaskInput, add_task, complete_task
    from tui_crm.services.unsorted import IncomingRequest, accept, add_incoming, decline
    from tui_crm.services.users import add_user

    rng = random.Random(seed)
    truth = Truth()
    clock.set(start)
    admin = open_store()
    for name in USERS[1:]:
        add_user(admin, name)
    crms = {USERS[0]: admin, **{name: open_store(user=name) for name in USERS[1:]}}
    span = timedelta(days=60)  # moves add at most ~27 days: everything stays before start + 90 days
    for n in range(deals):
        clock.set(start + span * n / deals)
        actor = rng.choice(USERS)
        crm = crms[actor]
        pipeline = rng.choice(("sales20", "sales20", "tenders"))
        values = {"territory": rng.choice(("РФ", "Запад"))} if rng.random() < 0.7 else {}
        if rng.random() < 0.5:
            values["site"] = rng.choice(("RU", "COM"))
        deal = capture_lead(
            crm,
            LeadInput(
                name=f"Сделка {n:02d}",
                pipeline=pipeline,
                budget=str(rng.randrange(1, 40) * 100_000),
                source=rng.choice(CHANNELS),
                responsible=rng.choice(USERS),
                tags=[t for t in TAGS if rng.random() < 0.3],
                values=values,
            ),
        )
        truth.touched.append((actor, deal.id, clock.now))
        pdef = crm.pipelines.pipeline(pipeline)
        working = [s for s in pdef.stages if s.kind not in ("unsorted", "lost", "won")]
        at = 0
        for _step in range(rng.randrange(0, len(working) + 1)):
            at = min(len(working) - 1, at + rng.choice((1, 1, 1, 2, -1)))
            at = max(at, 0)
            clock.advance(hours=rng.uniform(2, 80))
            _move(crm, truth, actor, deal.id, pipeline, working[at].key, rng)
        ending = rng.random()
        if ending < 0.3:
            clock.advance(hours=rng.uniform(2, 100))
            _move(crm, truth, actor, deal.id, pipeline, pdef.stage_by_kind("won").key, rng)
        elif ending < 0.55:
            clock.advance(hours=rng.uniform(2, 100))
            _move(crm, truth, actor, deal.id, pipeline, pdef.stage_by_kind("lost").key, rng)
        for _task in range(rng.randrange(0, 3)):
            clock.set(start + span * n / deals + timedelta(hours=rng.uniform(0, 48)))
            who = rng.choice(USERS)
            all_day = rng.random() < 0.3
            due = clock.now + timedelta(days=rng.randrange(1, 20))
            task = add_task(
                crm,
                TaskInput(
                    "Позвонить", f"{due:%d.%m.%Y}" if all_day else f"{due:%d.%m.%Y %H:%M}", "call", "deal", deal.id, who
                ),
            )
            record = {"responsible": who, "due": task.due_at, "all_day": task.all_day, "completed_at": None, "deal": deal.id}
            if rng.random() < 0.6:
                done_at = clock.now + timedelta(days=rng.uniform(0.5, 30))
                clock.set(min(done_at, start + span + timedelta(days=30)))  # never past the history
                complete_task(crm, task.id, "Готово")
                record["completed_at"] = clock.now
            truth.tasks.append(record)
        if rng.random() < 0.6:
            caller = rng.choice(USERS)
            clock.set(start + span * n / deals + timedelta(hours=rng.uniform(0, 300)))
            add_note(crms[caller], "deal", deal.id, "Обсудили сроки", kind="call", call_outcome="reached")
            truth.calls.append((caller, clock.now))
    for n in range(8):
        clock.set(start + span * n / 8)
        request = IncomingRequest(pipeline="sales20", sender_name=f"Заявка {n}", subject="Нужен сайт", site="RU")
        entry = add_incoming(admin, request)
        clock.advance(hours=3)
        if n % 3 == 0:
            deal = accept(admin, entry.id)
            truth.touched.append((USERS[0], deal.id, clock.now))
        elif n % 3 == 1:
            decline(admin, entry.id, rng.choice(("Спам", "Дубль")))
    return truth


def _move(crm: Any, truth: Truth, actor: str, deal_id: str, pipeline: str, stage: str, rng: random.Random) -> None:
    from tui_crm.services.deals import move_deal

    needed = crm.pipelines.pipeline(pipeline).required_fields(stage)
    values = {k: VALUES[k] for k in needed if k in VALUES}
    if "territory" in needed:
        values["territory"] = "РФ"  # set when the gate asks, if the lead came without one
    if "loss_reason" in needed:
        values["loss_reason"] = rng.choice(REASONS)
    move_deal(crm, deal_id, stage, set_values=values)
    truth.touched.append((actor, deal_id, crm.now()))
