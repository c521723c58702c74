"""Fixtures for the TUI tests: a fresh store per test, frozen time, seed data.

The ``crm`` fixture opens a store under ``tmp_path`` with its own config dir
(``CRM_CONFIG_DIR``), user «Анна», Moscow time and a clock frozen at
2026-11-26 12:00 (a Thursday), so snapshots and task marks never depend on
when or where the suite runs. ``seed_board`` fills the default pipeline
through services only, giving each deal its own creation time so the
board's "most recently touched first" order is stable.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from tests.pilot_settle import settle as settle_pilot
from tests.seed_cache import seed_once, store_file_from
from tui_crm.config import load_settings
from tui_crm.services.context import Crm, open_crm
from tui_crm.services.deals import LeadInput, capture_lead, move_deal
from tui_crm.services.tasks import TaskInput, add_task, complete_task, tasks_of

MSK = ZoneInfo("Europe/Moscow")
NOW = datetime(2026, 11, 26, 12, 0, tzinfo=MSK)
MARKUP_NAME = "[bold red]x[/] ООО «Ёлка»"


@pytest.fixture(autouse=True)
def _quiet_textual(monkeypatch: pytest.MonkeyPatch) -> None:
    """No animations, no cursor blink: frames are reproducible."""
    monkeypatch.setenv("TEXTUAL_ANIMATION", "none")
    monkeypatch.delenv("CRM_DB", raising=False)
    monkeypatch.delenv("CRM_USER", raising=False)


@pytest.fixture
def crm(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, _crm_template: Path) -> Iterator[Crm]:
    """An empty store with user «Анна», Moscow time and a frozen clock (a copy of the session's template)."""
    monkeypatch.setenv("CRM_CONFIG_DIR", str(tmp_path / "cfg"))
    monkeypatch.setenv("CRM_DATA_DIR", str(tmp_path / "data"))
    settings = load_settings(db=store_file_from(_crm_template, tmp_path / "crm.db"), user="Анна")
    settings.timezone = "Europe/Moscow"
    store = open_crm(settings, clock=lambda: NOW)
    yield store
    store.close()


def seed_board(crm: Crm) -> dict[str, str]:
    """``_seed_board`` once per test process; later stores get a copy of its database."""
    return seed_once(crm, _seed_board)


def _seed_board(crm: Crm) -> dict[str, str]:
    """A small «Продажи 2.0» board; returns deal ids by name.

    Лид holds four deals (one with an overdue task, one due today, one with
    no open task, one named like Rich markup); Квалификация and Оценка one
    each with their gate fields filled; Успешно one. Every deal is written
    at its own minute before ``NOW`` so ordering is deterministic, and the
    clock is frozen at ``NOW`` again afterwards.
    """
    ids: dict[str, str] = {}
    minute = [0]

    def step() -> None:
        minute[0] += 1
        crm.clock = lambda m=minute[0]: NOW - timedelta(hours=2) + timedelta(minutes=m)

    leads = [
        LeadInput(name="Сайт для Магнита", company="Магнит", budget="1 500 000", phone="+7 916 123-45-67"),
        LeadInput(name="Мобильное приложение", contact_name="Иван Петров", email="ivan@example.com", budget="800000"),
        LeadInput(name=MARKUP_NAME, budget="120000"),
        LeadInput(name="CRM для сети клиник «Здоровье»", company="Здоровье+", budget="2 400 000"),
        LeadInput(name="Портал Газпром", company="Газпром", budget="9 000 000"),
        LeadInput(name="Интеграция 1С", company="Ромашка", budget="350 000"),
        LeadInput(name="Редизайн Wildberries", company="Wildberries", budget="5 000 000"),
    ]
    previous = crm.clock
    try:
        for lead in leads:
            step()
            ids[lead.name] = capture_lead(crm, lead).id
        step()
        overdue = TaskInput(text="Перезвонить", due="2026-11-25 10:00", entity_type="deal", entity_ref=ids["Сайт для Магнита"])
        add_task(crm, overdue)
        step()
        today = TaskInput(text="Отправить бриф", due="today 18:00", entity_type="deal", entity_ref=ids[leads[3].name])
        add_task(crm, today)
        step()
        for task in tasks_of(crm, ids["Мобильное приложение"], include_done=False):
            complete_task(crm, task.id, "Связались")
        qualified = {
            "budget_rub": "9 000 000", "budget_usd": "100000", "segment": "A", "territory": "РФ", "city": "Москва",
        }
        step()
        move_deal(crm, ids["Портал Газпром"], "qualification", set_values=qualified)
        step()
        move_deal(crm, ids["Интеграция 1С"], "qualification", set_values={**qualified, "budget_rub": "350 000", "segment": "C"})
        step()
        move_deal(
            crm, ids["Интеграция 1С"], "estimate",
            set_values={"scope": "Обмен с 1С", "work_model": "Fixed price", "project_folder": "https://disk.example.com/1c"},
        )
        step()
        for stage, values in (
            ("qualification", {**qualified, "budget_rub": "5 000 000", "segment": "B"}),
            ("estimate", {"scope": "Редизайн", "work_model": "Dedicated team", "project_folder": "https://disk.example.com/wb"}),
            ("proposal", {"estimate_link": "https://disk.example.com/wb/estimate"}),
            ("won", {"closing_rub": "5 000 000"}),
        ):
            step()
            move_deal(crm, ids["Редизайн Wildberries"], stage, set_values=values)
    finally:
        crm.clock = previous
    return ids


@pytest.fixture
def seeded(crm: Crm) -> dict[str, str]:
    """``seed_board(crm)``: deal ids by name."""
    return seed_board(crm)


@pytest.fixture
def anyio_backend() -> str:
    """Pilot tests run on asyncio (``pytest.mark.anyio``; anyio ships with httpx)."""
    return "asyncio"


@pytest.fixture
def settle() -> Callable[..., Awaitable[None]]:
    """``await settle(pilot)``: wait until workers are done and the screen is painted (tests/pilot_settle.py)."""
    return settle_pilot
