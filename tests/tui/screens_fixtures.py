"""Fixtures for the list, card, agenda and unsorted screen tests.

``screens_crm`` opens a fresh store under ``tmp_path`` (own config dir,
user «Анна», Moscow time, clock frozen at Thursday 2026-11-26 12:00), so
what the screens show never depends on when or where the suite runs.
``seed_screens`` fills it through services only: a deal with its contact
and company, notes (one carrying terminal escape sequences), tasks in every
agenda group, a contact named like Rich markup, and Unsorted requests.

``ScreensApp`` is a minimal app honouring the ``CrmApp`` contract
(``.crm``, ``.pipeline_key``) that starts on the screen under test, so
these tests and snapshots do not change when the board evolves; one test
per screen also pushes it onto the real ``CrmApp``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime, timedelta, tzinfo
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from textual.app import App
from textual.screen import Screen

from tests.pilot_settle import settle as settle  # the one Pilot wait; importers of this module use it
from tests.seed_cache import seed_once, store_file_from
from tui_crm.config import load_settings
from tui_crm.services.companies import CompanyInput, add_company
from tui_crm.services.contacts import ContactInput, add_contact
from tui_crm.services.context import Crm, open_crm
from tui_crm.services.deals import LeadInput, capture_lead, link_contact
from tui_crm.services.notes import add_note
from tui_crm.services.tasks import TaskInput, add_task, tasks_of
from tui_crm.services.unsorted import IncomingRequest, add_incoming

MSK = ZoneInfo("Europe/Moscow")
NOW = datetime(2026, 11, 26, 12, 0, tzinfo=MSK)  # a Thursday
MARKUP_NAME = "[bold red]x[/]"
ESCAPE_NOTE = "Клиент просил \x1b[2J\x1b[31mперезвонить\x1b[0m после обеда"
SIZE = (100, 30)


@pytest.fixture
def screens_crm(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, _crm_template: Path) -> Iterator[Crm]:
    """An empty store with user «Анна», Moscow time and a frozen clock (a copy of the session's template)."""
    monkeypatch.setenv("TEXTUAL_ANIMATION", "none")
    monkeypatch.setenv("CRM_CONFIG_DIR", str(tmp_path / "cfg"))
    monkeypatch.setenv("CRM_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("CRM_DB", raising=False)
    monkeypatch.delenv("CRM_USER", raising=False)
    settings = load_settings(db=store_file_from(_crm_template, tmp_path / "crm.db"), user="Анна")
    settings.timezone = "Europe/Moscow"
    store = open_crm(settings, clock=lambda: NOW)
    freeze_record_stamps(monkeypatch, store)
    yield store
    store.close()


def freeze_record_stamps(monkeypatch: pytest.MonkeyPatch, crm: Crm) -> None:
    """Make new records' ``created_at`` follow the CRM clock.

    ``UnitOfWork.create`` keeps a ``created_at`` that is already set, and the
    model's ``default_factory`` always sets one from the real clock, so
    without this a note's or task's time on the timeline would be the
    wall-clock time of the test run and snapshots would never match.
    """

    class CrmClockDatetime(datetime):
        @classmethod
        def now(cls, tz: tzinfo | None = None) -> datetime:  # type: ignore[override]
            moment = crm.clock()
            return moment.astimezone(tz) if tz else moment.replace(tzinfo=None)

    monkeypatch.setattr("tui_crm.domain.ids.datetime", CrmClockDatetime)


def seed_screens(crm: Crm) -> dict[str, str]:
    """``_seed_screens`` once per test process; later stores get a copy of its database."""
    ids = seed_once(crm, _seed_screens)
    crm.clock = lambda: NOW
    return ids


def _seed_screens(crm: Crm) -> dict[str, str]:
    """Records every screen test needs; returns ids by a short name.

    Each write happens at its own minute before ``NOW`` so the "newest
    first" orders are stable; the clock is frozen at ``NOW`` afterwards.
    """
    ids: dict[str, str] = {}
    minute = [0]

    def step() -> None:
        minute[0] += 1
        crm.clock = lambda m=minute[0]: NOW - timedelta(hours=3) + timedelta(minutes=m)

    try:
        step()
        ids["company"] = add_company(crm, CompanyInput(name="Магнит", inn="7707083893", web="magnit.example.ru")).id
        step()
        ids["contact"] = add_contact(
            crm, ContactInput(name="Иван Петров", phones=["+7 916 123-45-67"], emails=["ivan@magnit.example.ru"],
                              position="CTO", company=ids["company"]),
        ).id
        step()
        ids["markup"] = add_contact(crm, ContactInput(name=MARKUP_NAME, emails=["x@example.com"])).id
        step()
        deal = capture_lead(crm, LeadInput(name="Сайт для Магнита", company=ids["company"], budget="1 500 000", source="Сайт RU"))
        ids["deal"] = deal.id
        step()
        link_contact(crm, ids["deal"], ids["contact"], main=True)
        step()
        ids["deal2"] = capture_lead(crm, LeadInput(name="Мобильное приложение", budget="800 000")).id
        step()
        ids["deal3"] = capture_lead(crm, LeadInput(name="Ёлка: CRM-интеграция", budget="2 400 000")).id
        step()
        ids["note_plain"] = add_note(crm, "deal", ids["deal"], "Обсудили бюджет, ждут КП").id
        step()
        ids["note_escape"] = add_note(crm, "deal", ids["deal"], ESCAPE_NOTE).id
        step()
        add_note(crm, "deal", ids["deal"], "Звонил, договорились о встрече", kind="call", call_outcome="reached")
        # the lead stage's automatic tasks are due tomorrow (working day); add one per agenda group
        for key, text, due in (
            ("overdue", "Перезвонить Ивану", "2026-11-24 10:00"),
            ("today", "Отправить КП", "today 18:00"),
            ("week", "Встреча в офисе", "2026-11-29 15:00"),
            ("later", "Продлить договор", "2026-12-15"),
        ):
            step()
            ids[f"task_{key}"] = add_task(crm, TaskInput(text=text, due=due, entity_type="deal", entity_ref=ids["deal"])).id
        ids["task_auto"] = tasks_of(crm, ids["deal2"], include_done=False)[0].id
        for key, request in (
            ("unsorted_form", IncomingRequest(
                source="form", sender_name="Ольга Смирнова", sender_email="olga@romashka.example.ru",
                subject="Нужен интернет-магазин", body="Здравствуйте!\nНужен магазин на 500 товаров.\nБюджет до 2 млн.",
            )),
            ("unsorted_mail", IncomingRequest(
                source="mail", sender_name=MARKUP_NAME, sender_email="spam@example.com",
                subject="[blink]WIN[/blink] \x1b[2J", body="\x1b]0;pwned\x07Click here",
            )),
        ):
            step()
            ids[key] = add_incoming(crm, request).id
    finally:
        crm.clock = lambda: NOW
    return ids


class ScreensApp(App[None]):
    """The ``CrmApp`` contract (``.crm``, ``.pipeline_key``) around one screen."""

    TITLE = "tui-crm"

    def __init__(self, crm: Crm, make_screen: Callable[[], Screen[None]], pipeline: str = "sales20") -> None:
        super().__init__()
        self.crm = crm
        self.pipeline_key = pipeline
        self.make_screen = make_screen

    def on_mount(self) -> None:
        self.push_screen(self.make_screen())


def screen_text(app: App[None]) -> str:
    """What the top screen shows, as plain text (modal backgrounds left out)."""
    return "\n".join(strip.text for strip in app.screen._compositor.render_strips())
