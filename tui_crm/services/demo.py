"""A realistic demo database, so a first start shows a working pipeline.

Everything goes through the same services a user's actions do (gates,
automatic tasks, change log), seeded from a fixed random seed.
"""

from __future__ import annotations

import random
from dataclasses import replace
from datetime import timedelta

from sqlmodel import func, select

from tui_crm.config import Settings
from tui_crm.domain.validation import inn_check_digits
from tui_crm.services.context import Crm, open_crm
from tui_crm.services.deals import LeadInput, capture_lead, move_deal
from tui_crm.services.notes import add_note
from tui_crm.services.records import resolve
from tui_crm.services.tasks import new_task
from tui_crm.services.unsorted import IncomingRequest, add_incoming
from tui_crm.services.users import add_user
from tui_crm.storage.models import Deal

TEAM = [("Иван Смирнов", "ivan@omega-r.example"), ("Kate Miller", "kate@omega-r.example")]
RU_PEOPLE = [
    "Алексей Иванов",
    "Мария Кузнецова",
    "Дмитрий Соколов",
    "Ольга Попова",
    "Сергей Лебедев",
    "Екатерина Новикова",
    "Андрей Морозов",
    "Наталья Волкова",
    "Павел Фёдоров",
    "Юлия Алексеева",
    "Михаил Яковлев",
    "Татьяна Ёлкина",
]
EN_PEOPLE = [
    "John Carter",
    "Emily Clark",
    "Michael Brown",
    "Sarah Johnson",
    "David Wilson",
    "Laura Martinez",
    "James Anderson",
    "Olivia Thompson",
]
RU_COMPANIES = ["Магнит", "Пятёрочка", "Сбер", "Ростелеком", "Яндекс Лавка", "Северсталь", "Аэрофлот", "Лента", "ВкусВилл"]
EN_COMPANIES = ["Acme Corp", "Globex", "Initech", "Umbrella Health", "Stark Logistics", "Wayne Retail", "Hooli"]
PROJECTS_RU = [
    "Мобильное приложение",
    "Интернет-магазин",
    "CRM-интеграция",
    "Личный кабинет",
    "Сайт",
    "Чат-бот",
    "Аналитика продаж",
]
PROJECTS_EN = ["Mobile app", "E-commerce platform", "Data platform", "Customer portal", "MVP", "Telemedicine app"]
SOURCES = ["Сайт RU", "Сайт COM", "Рекомендация", "Выставка", "LinkedIn", "Холодный звонок"]


_TRANSLIT = str.maketrans("абвгдеёжзийклмнопрстуфхцчшщъыьэюя", "abvgdeezziiklmnoprstufhccss_y_euy")


def _latin(text: str) -> str:
    """A rough ASCII form of a name for demo email addresses."""
    return "".join(ch for ch in text.lower().translate(_TRANSLIT) if ch.isascii() and ch.isalnum()) or "x"


def _gate_values(rng: random.Random, pipeline: str) -> dict[str, str]:
    values = {
        "budget_rub": str(rng.randrange(5, 300) * 100_000),
        "segment": rng.choice("ABCD"),
        "territory": "РФ" if pipeline == "sales_rus" else rng.choice(["РФ", "Запад"]),
        "city": rng.choice(["Москва", "Санкт-Петербург", "Казань", "London", "Berlin", "Dubai"]),
        "scope": rng.choice(["Дизайн + разработка", "iOS/Android", "Backend + web", "Discovery"]),
        "work_model": rng.choice(["Fixed price", "Time & Materials", "Dedicated team"]),
        "project_folder": f"https://drive.example.com/folders/{rng.randrange(10**8)}",
        "estimate_link": f"https://docs.example.com/estimate/{rng.randrange(10**6)}",
        "decision_makers": rng.choice(["CEO, CTO", "Директор по цифровизации", "ЛПР: коммерческий директор"]),
        "closing_rub": str(rng.randrange(5, 300) * 100_000),
    }
    if pipeline == "sales20":
        values["budget_usd"] = str(rng.randrange(10, 400) * 1000)
    return values


def seed_demo(crm: Crm, deals: int = 60, force: bool = False, seed: int = 7) -> dict[str, int]:
    """Seed users, companies, contacts, deals across stages, tasks, notes and unsorted."""
    with crm.read() as session:
        existing = session.exec(select(func.count()).select_from(Deal)).one()
    if existing and not force:
        return {"deals": 0}
    rng = random.Random(seed)
    for name, email in TEAM:
        try:
            add_user(crm, name, email)
        except Exception:  # already there on a forced re-seed
            pass
    team = [crm.user_name, *[n for n, _ in TEAM]]
    made = 0
    for i in range(deals):
        pipeline = rng.choice(["sales20", "sales20", "sales_rus", "tenders"])
        russian = pipeline != "sales20" or rng.random() < 0.4
        person = rng.choice(RU_PEOPLE if russian else EN_PEOPLE)
        company = rng.choice(RU_COMPANIES if russian else EN_COMPANIES)
        project = rng.choice(PROJECTS_RU if russian else PROJECTS_EN)
        login = _latin(person.split()[0])
        deal = capture_lead(
            crm,
            LeadInput(
                name=f"{project} — {company}",
                contact_name=person,
                email=f"{login}.{i}@{_latin(company)}.example",
                phone=f"+7 9{rng.randrange(10, 99)} {rng.randrange(100, 999)}-{rng.randrange(10, 99)}-{rng.randrange(10, 99)}",
                company=company,
                pipeline=pipeline,
                source=rng.choice(SOURCES),
                responsible=rng.choice(team),
            ),
        )
        made += 1
        stages = [s for s in crm.pipelines.pipeline(pipeline).stages if s.kind in ("normal", "won", "lost")]
        roll = rng.random()
        if roll > 0.25:
            target = rng.choice(stages)
            values = _gate_values(rng, pipeline)
            if target.kind == "lost":
                values = {"loss_reason": rng.choice(["Дорого", "Выбрали конкурента", "Проект заморожен"])}
            if pipeline == "sales_rus":
                values["company.inn"] = (lambda p: p + inn_check_digits(p))(f"77{rng.randrange(10**7):07d}")
            move_deal(crm, deal.id, target.key, values)
        if rng.random() < 0.3:
            add_note(
                crm,
                "deal",
                deal.id,
                rng.choice(
                    ["Просили КП до пятницы", "Client asked for a discovery call", "Бюджет согласован с финдиром", "Ждём ТЗ"]
                ),
                pinned=rng.random() < 0.3,
            )
        if rng.random() < 0.35:
            _add_dated_task(crm, deal.id, rng)
    for subject, name, email in [
        ("Заявка с сайта: нужен мобильный банк", "Пётр Сидоров", "petr@bank.example"),
        ("Website inquiry: MVP for a fintech startup", "Anna Lee", "anna@fintech.example"),
        ("Re: коммерческое предложение", "Ирина Белова", "irina@retail.example"),
    ]:
        add_incoming(
            crm,
            IncomingRequest(
                pipeline="sales20",
                source="mail",
                sender_name=name,
                sender_email=email,
                subject=subject,
                body="Здравствуйте! Хотим обсудить проект.\nHello, we'd like to talk.",
            ),
        )
    return {"deals": made, "unsorted": 3}


def _add_dated_task(crm: Crm, deal_id: str, rng: random.Random) -> None:
    """A task in the past or near future, so the agenda has every group."""
    offset = timedelta(hours=rng.choice([-72, -26, -3, 2, 30, 70, 200]))
    with crm.uow() as work:
        deal = resolve(work.session, Deal, deal_id)
        new_task(
            crm,
            work,
            text=rng.choice(["Позвонить клиенту", "Send the proposal", "Встреча в офисе", "Уточнить бюджет"]),
            due=crm.now() + offset,
            all_day=False,
            task_type=rng.choice(["call", "email", "meeting"]),
            responsible_id=deal.responsible_id,
            entity=deal,
        )


def has_deals(crm: Crm) -> bool:
    with crm.read() as session:
        return bool(session.exec(select(func.count()).select_from(Deal)).one())


def demo_settings(settings: Settings) -> Settings:
    """A demo store beside the user's own, never the same file."""
    db_path = settings.db_path.with_name("demo.sqlite3")
    return replace(settings, db_path=db_path, files_dir=db_path.with_name(db_path.name + ".files"))


def store_for_app(crm: Crm) -> tuple[Crm, str | None]:
    """The store the app opens, and a notice when it is the demo.

    While the user's own database has no deals the app shows a seeded demo
    database instead, kept in a separate file: demo deals must never mix with
    real ones (they would be pushed to the team's amoCRM by the next sync).
    """
    if has_deals(crm):
        return crm, None
    demo = open_crm(demo_settings(crm.settings))
    crm.close()
    if not has_deals(demo):
        seed_demo(demo)
    notice = (
        f"Demo data ({demo.settings.db_path}). Your own database is still empty: capture a lead with "
        "`crm add lead NAME` or run `crm --no-demo` to work in it; leads added here stay in the demo."
    )
    return demo, notice
