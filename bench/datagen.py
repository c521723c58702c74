#!/usr/bin/env python
"""Make a large, realistic tui-crm database fast, for the benchmarks.

    python bench/datagen.py --db /tmp/bench-100k.db --deals 100000 --contacts 100000 --companies 20000

The store is created by ``open_crm`` first (migrations, the three default
pipelines, the admin user), then filled with bulk inserts through SQLAlchemy
Core (executemany, one transaction per chunk) instead of the per-record
services. The rows are the ones the services would write:

* ``company``, ``contact``, ``deal`` with ``name_fold`` = ``fold(name)``;
* ``channel``: phones in E.164 (typed in the usual Russian/English ways),
  e-mails as ``email_channel`` stores them (validated, case folded), phones
  first then e-mails, ``sort`` in that order, as ``attach_channels`` does;
* ``deal_contact`` (one main contact), ``custom_value`` JSON for every field
  the deal's stage gate requires (values passed through ``validate_value``),
  budgets in minor units, ``loss_reason``/``closed_at`` on closed deals,
  companies with a valid INN where a gate needs ``company.inn``;
* ``task``: open tasks overdue / today / later (some all-day, stored at local
  midnight in UTC), auto tasks of the stage rules, completed history;
* ``note``, ``tag`` + ``entity_tag``, one ``change_log`` "create" row per
  record (marked synced, except the newest ``--pending``);
* the search index: ``search_doc`` + ``search_fts`` with title/body built as
  ``services.records.reindex`` builds them and folded with ``domain.text.fold``.

``--verify N`` (default 200) then checks samples against the real code:
``reindex`` rebuilds identical search rows, no gate is missing a field,
phones/e-mails/INNs re-normalise to what is stored.

Deterministic: the same ``--seed`` gives the same records; timestamps are
offsets from ``--now`` (default: the current time), so overdue/today tasks
stay overdue/today whenever the file is made. Ids of the rows ``open_crm``
makes (pipelines, stages, admin user) are random.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sqlite3
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from names import (
    DECISION_MAKERS,
    EN_ADJ,
    EN_CITIES,
    EN_DEAL_TEMPLATES,
    EN_DEPARTMENTS,
    EN_FEMALE_FIRST,
    EN_LEGAL,
    EN_MALE_FIRST,
    EN_NOTES,
    EN_NOUN,
    EN_POSITIONS,
    EN_SURNAMES,
    INDUSTRIES,
    LOSS_REASONS,
    RU_BRANDS,
    RU_CITIES,
    RU_DEAL_TEMPLATES,
    RU_DEPARTMENTS,
    RU_FEMALE_FIRST,
    RU_LEGAL,
    RU_MALE_FIRST,
    RU_NOTES,
    RU_PATRONYMIC_ROOTS,
    RU_POSITIONS,
    RU_ROOTS,
    RU_SURNAMES,
    RU_TAILS,
    SCOPES,
    SOURCES,
    TAGS,
    TASK_RESULTS,
    TASK_TEXTS_EN,
    TASK_TEXTS_RU,
    TENDER_SUBJECTS,
    USERS,
    feminine_surname,
    patronymic,
    translit,
)

RU_MOBILE_CODES = [901, 903, 905, 906, 909, 910, 912, 913, 915, 916, 917, 919, 921, 925, 926, 927, 929, 950, 952,
                   960, 961, 963, 964, 965, 968, 977, 978, 980, 981, 985, 987, 991, 995, 996, 999]
RU_CITY_CODES = [495, 499, 812, 343, 383, 843, 863, 846]
US_AREA_CODES = [212, 415, 646, 312, 617, 512, 206, 305, 202]
UK_PREFIXES = ["20 7", "20 3", "161 4", "121 4", "7957 ", "7400 ", "7500 ", "7812 "]
PERSONAL_DOMAINS_RU = ["yandex.ru", "mail.ru", "gmail.com", "bk.ru", "inbox.ru", "ya.ru", "rambler.ru"]
PERSONAL_DOMAINS_EN = ["gmail.com", "outlook.com", "icloud.com", "yahoo.com", "proton.me", "hotmail.co.uk"]

# Share of deals per stage key (falls back to 5 for unknown keys).
STAGE_WEIGHTS = {
    "unsorted": 2, "lead": 22, "new_tender": 20, "qualification": 14, "analysis": 14, "estimate": 9,
    "application": 10, "proposal": 8, "submitted": 10, "negotiation": 6, "bidding": 6, "contract": 4,
    "won": 13, "lost": 22,
}
PIPELINE_WEIGHTS = {"sales20": 40, "sales_rus": 45, "tenders": 15}


def log(message: str) -> None:
    print(message, flush=True)


@dataclass
class CompanyInfo:
    id: str
    name: str
    brand: str
    ru: bool
    domain: str
    inn: str | None
    contacts: list[int] = field(default_factory=list)


@dataclass
class ContactInfo:
    id: str
    name: str
    company: int | None
    terms: list[str]  # channel search terms, in channel order (for deal bodies)


class Generator:
    """Seeded record factory; every draw goes through ``self.rng``."""

    def __init__(self, seed: int, now: datetime, tz: Any) -> None:
        self.rng = random.Random(seed)
        self.now = now
        self.tz = tz
        self.phones: set[str] = set()
        self.emails: set[str] = set()
        self.inns: set[str] = set()
        self.domains: set[str] = set()
        self.company_names: set[str] = set()
        self.checked_phones = 0

    # -- primitives -------------------------------------------------------------------

    def uid(self) -> str:
        return uuid.UUID(int=self.rng.getrandbits(128), version=4).hex

    def chance(self, p: float) -> bool:
        return self.rng.random() < p

    def pick(self, items: list[Any]) -> Any:
        return items[self.rng.randrange(len(items))]

    def ago(self, max_days: float, min_days: float = 0.0) -> datetime:
        """A moment in the past, skewed towards recent (most CRM data is)."""
        span = max_days - min_days
        days = min_days + span * (self.rng.random() ** 1.6)
        return self.now - timedelta(days=days)

    def between(self, start: datetime, end: datetime) -> datetime:
        if end <= start:
            return start
        return start + (end - start) * self.rng.random()

    # -- phones and e-mails -----------------------------------------------------------------

    def phone(self, kind: str) -> tuple[str, str]:
        """(as typed, E.164); kind: ru_mobile | ru_office | us | uk."""
        r = self.rng
        while True:
            if kind == "ru_mobile" or kind == "ru_office":
                code = self.pick(RU_MOBILE_CODES if kind == "ru_mobile" else RU_CITY_CODES)
                sub = f"{r.randrange(10_000_000):07d}"
                if sub[0] == "0" and kind == "ru_office":
                    continue
                e164 = f"+7{code}{sub}"
                a, b, c = sub[:3], sub[3:5], sub[5:]
                typed = self.pick(
                    [
                        f"+7 {code} {a}-{b}-{c}",
                        f"8 ({code}) {a}-{b}-{c}",
                        f"8{code}{sub}",
                        f"+7{code}{sub}",
                        f"8-{code}-{a}-{b}-{c}",
                        f"+7 ({code}) {a} {b} {c}",
                    ]
                )
            elif kind == "us":
                area = self.pick(US_AREA_CODES)
                exchange = r.randrange(200, 1000)
                if exchange == 555:
                    continue
                line = f"{r.randrange(10_000):04d}"
                e164 = f"+1{area}{exchange}{line}"
                typed = self.pick(
                    [f"+1 ({area}) {exchange}-{line}", f"+1 {area} {exchange} {line}", f"+1-{area}-{exchange}-{line}"]
                )
            else:
                prefix = self.pick(UK_PREFIXES)
                digits = prefix.replace(" ", "")
                rest = f"{r.randrange(10 ** (10 - len(digits))):0{10 - len(digits)}d}"
                e164 = f"+44{digits}{rest}"
                typed = f"+44 {prefix}{rest[:3]} {rest[3:]}".replace("  ", " ")
            if e164 in self.phones:
                continue
            self.phones.add(e164)
            if self.checked_phones % 25 == 0:  # the typed forms are few: a sample proves them
                from tui_crm.domain.validation import normalize_phone

                normalized = normalize_phone(typed, "RU")
                if normalized != e164:
                    raise SystemExit(f"datagen bug: {typed!r} normalises to {normalized}, not {e164}")
            self.checked_phones += 1
            return typed, e164

    def email(self, local: str, domain: str) -> tuple[str, str]:
        """(as typed, stored): stored as ``services.parties.email_channel`` makes it (case folded)."""
        from tui_crm.domain.matching import email_key

        base = local
        n = 1
        while (local + "@" + domain).lower() in self.emails:
            n += 1
            local = f"{base}{n}"
        self.emails.add((local + "@" + domain).lower())
        typed_domain = domain.upper() if self.chance(0.03) else (domain.title() if self.chance(0.07) else domain)
        return f"{local}@{typed_domain}", email_key(f"{local}@{domain}")  # stored folded, as services store it

    def inn(self) -> str:
        from tui_crm.domain.validation import inn_check_digits

        while True:
            prefix = f"{self.rng.randrange(1, 100):02d}{self.rng.randrange(10_000_000):07d}"
            value = prefix + inn_check_digits(prefix)
            if value not in self.inns:
                self.inns.add(value)
                return value

    # -- people and companies ---------------------------------------------------------------------

    def person(self, ru: bool) -> tuple[str, str, str, str]:
        """(display name, first, last, gender)."""
        female = self.chance(0.5)
        if ru:
            first = self.pick(RU_FEMALE_FIRST if female else RU_MALE_FIRST)
            last = self.pick(RU_SURNAMES)
            last = feminine_surname(last) if female else last
            style = self.rng.random()
            if style < 0.6:
                name = f"{first} {last}"
            elif style < 0.85:
                name = f"{last} {first} {patronymic(self.pick(RU_PATRONYMIC_ROOTS), female)}"
            else:
                name = f"{last} {first}"
        else:
            first = self.pick(EN_FEMALE_FIRST if female else EN_MALE_FIRST)
            last = self.pick(EN_SURNAMES)
            name = f"{first} {last}"
        return name, first, last, "female" if female else "male"

    def company_name(self, ru: bool) -> tuple[str, str, str]:
        """(full name, brand, web domain)."""
        for attempt in range(1000):
            if ru:
                if self.chance(0.08):
                    brand = self.pick(RU_BRANDS)
                else:
                    root, tail = self.pick(RU_ROOTS), self.pick(RU_TAILS)
                    brand = root + tail.lower() if self.chance(0.5) else f"{root}{tail}"
                    if self.chance(0.35):
                        other = self.pick(RU_ROOTS)
                        brand = f"{brand}-{other}" if other != root else f"{brand}-{self.pick(RU_CITIES)}"
                legal = self.pick(RU_LEGAL)
                if legal == "ИП":
                    person, _, last, _ = self.person(True)
                    first = person.split()[0]
                    name, brand = f"ИП {last} {first[0]}.", last
                else:
                    name = f"{legal} «{brand}»"
                domain = translit(brand) + self.pick([".ru", ".ru", ".рф", ".com"])
                if domain.endswith(".рф"):
                    domain = domain[:-3] + ".ru"
            else:
                brand = f"{self.pick(EN_ADJ)} {self.pick(EN_NOUN)}"
                if self.chance(0.3):
                    brand = f"{brand} {self.pick(['International', 'Europe', 'US', 'Worldwide', 'Partners'])}"
                name = f"{brand} {self.pick(EN_LEGAL)}"
                domain = translit(brand.replace(" ", "")) + self.pick([".com", ".com", ".io", ".co.uk", ".de"])
            if attempt > 50:
                name = f"{name} ({self.pick(RU_CITIES if ru else EN_CITIES)})"
            if name not in self.company_names:
                self.company_names.add(name)
                n = 1
                base = domain
                while domain in self.domains:
                    n += 1
                    stem, _, tld = base.partition(".")
                    domain = f"{stem}{n}.{tld}"
                self.domains.add(domain)
                return name, brand, domain
        raise SystemExit("could not make a unique company name")


class Writer:
    """Bulk inserts through SQLAlchemy Core, one write transaction per chunk."""

    def __init__(self, engine: Any) -> None:
        from tui_crm.storage import models

        self.engine = engine
        self.tables = {
            name: getattr(models, cls).__table__
            for name, cls in [
                ("user", "User"), ("company", "Company"), ("contact", "Contact"), ("channel", "Channel"),
                ("deal", "Deal"), ("deal_contact", "DealContact"), ("custom_value", "CustomValue"), ("tag", "Tag"),
                ("entity_tag", "EntityTag"), ("task", "Task"), ("note", "Note"), ("change_log", "ChangeLog"),
            ]
        }
        self.rows: dict[str, list[dict[str, Any]]] = {name: [] for name in self.tables}
        self.search_doc: list[tuple[int, str, str]] = []
        self.search_fts: list[tuple[int, str, str]] = []
        self.counts: dict[str, int] = {}
        with engine.connect() as conn:
            self.next_rowid = int(conn.exec_driver_sql("SELECT coalesce(max(rowid), 0) FROM search_doc").scalar_one()) + 1

    def add(self, table: str, row: dict[str, Any]) -> None:
        self.rows[table].append(row)

    def index(self, entity_type: str, entity_id: str, title: str, body: Iterable[str]) -> None:
        """What ``search_index.index_record`` stores, for a new record."""
        from tui_crm.domain.text import fold

        rowid = self.next_rowid
        self.next_rowid += 1
        self.search_doc.append((rowid, entity_type, entity_id))
        self.search_fts.append((rowid, fold(title), fold(" ".join(b for b in body if b))))

    def flush(self) -> None:
        from tui_crm.storage.engine import WRITE_OPTION

        with self.engine.connect() as conn:
            conn.execution_options(**{WRITE_OPTION: True})
            with conn.begin():
                conn.exec_driver_sql("PRAGMA cache_size = -262144")
                for name, table in self.tables.items():
                    rows = self.rows[name]
                    if rows:
                        conn.execute(table.insert(), rows)
                        self.counts[name] = self.counts.get(name, 0) + len(rows)
                        rows.clear()
                if self.search_doc:
                    conn.exec_driver_sql(
                        "INSERT INTO search_doc(rowid, entity_type, entity_id) VALUES (?, ?, ?)", self.search_doc
                    )
                    conn.exec_driver_sql("INSERT INTO search_fts(rowid, title, body) VALUES (?, ?, ?)", self.search_fts)
                    self.counts["search_doc"] = self.counts.get("search_doc", 0) + len(self.search_doc)
                    self.search_doc.clear()
                    self.search_fts.clear()


def phone_terms(e164: str) -> list[str]:
    from tui_crm.storage.search_index import phone_search_forms

    return phone_search_forms(e164)


class Build:
    """The whole data set: users, companies, contacts, deals and their satellites."""

    def __init__(self, crm: Any, gen: Generator, writer: Writer, pending: int) -> None:
        self.crm = crm
        self.gen = gen
        self.w = writer
        self.pending = pending
        self.companies: list[CompanyInfo] = []
        self.contacts: list[ContactInfo] = []
        self.with_inn: list[int] = []
        self.tag_ids: list[str] = []
        self.value_cache: dict[tuple[str, str], Any] = {}
        self.logs: list[dict[str, Any]] = []
        with crm.read() as session:
            from sqlmodel import select

            from tui_crm.storage.models import Pipeline, Stage, User

            self.admin_id = crm.user_id
            self.pipelines = {p.key: p for p in session.exec(select(Pipeline))}
            self.stages = {(s.pipeline_id, s.key): s for s in session.exec(select(Stage))}
            self.existing_users = [u.id for u in session.exec(select(User))]
        self.user_ids: list[str] = list(self.existing_users)

    # -- change log ---------------------------------------------------------------------------------

    def logged(self, entity: str, row: dict[str, Any], user_id: str | None) -> None:
        """The "create" change-log row a UnitOfWork writes for ``row``."""
        from tui_crm.storage.unit_of_work import to_jsonable

        skip = {"id", "created_at", "updated_at", "revision", "name_fold"}
        changes = {k: [None, to_jsonable(v)] for k, v in row.items() if k not in skip and v is not None}
        self.w.add(
            "change_log",
            {
                "entity": entity,
                "entity_id": row["id"],
                "op": "create",
                "changes": json.dumps(changes, ensure_ascii=False),
                "user_id": user_id,
                "at": row["created_at"],
                "batch_id": None,
                "synced_at": row["created_at"] + timedelta(minutes=5),
            },
        )

    def record(self, created: datetime, updated: datetime | None = None) -> dict[str, Any]:
        return {
            "id": self.gen.uid(),
            "created_at": created,
            "updated_at": updated or created,
            "revision": 1 if updated is None else self.gen.rng.randint(2, 9),
            "deleted_at": None,
        }

    # -- users and tags -----------------------------------------------------------------------------------

    def users_and_tags(self) -> None:
        from tui_crm.domain.text import fold

        g = self.gen
        for name, email in USERS:
            row = {**self.record(g.ago(900, 700)), "name": name, "email": email, "is_active": True, "is_admin": False,
                   "signature": f"С уважением,\n{name}"}
            self.w.add("user", row)
            self.logged("user", row, self.admin_id)
            self.user_ids.append(row["id"])
        for name in TAGS:
            tag_id = g.uid()
            self.w.add("tag", {"id": tag_id, "name": name, "name_fold": fold(name)})
            self.tag_ids.append(tag_id)
        self.w.flush()

    def tag(self, entity_type: str, entity_id: str, p: float) -> list[str]:
        if not self.gen.chance(p):
            return []
        chosen = self.gen.rng.sample(self.tag_ids, self.gen.rng.choice([1, 1, 2, 3]))
        for tag_id in chosen:
            self.w.add("entity_tag", {"entity_type": entity_type, "entity_id": entity_id, "tag_id": tag_id})
        return chosen

    def notes(self, entity_type: str, entity_id: str, ru: bool, created: datetime, p: float) -> list[str]:
        texts: list[str] = []
        if not self.gen.chance(p):
            return texts
        for _ in range(self.gen.rng.choice([1, 1, 2])):
            text = self.gen.pick(RU_NOTES if ru else EN_NOTES)
            at = self.gen.between(created, self.gen.now)
            row = {**self.record(at), "entity_type": entity_type, "entity_id": entity_id,
                   "kind": self.gen.pick(["note", "note", "call"]), "text": text, "pinned": self.gen.chance(0.05),
                   "author_id": self.gen.pick(self.user_ids), "call_outcome": None}
            self.w.add("note", row)
            self.logged("note", row, row["author_id"])
            texts.append(text)
        return texts

    # -- companies ----------------------------------------------------------------------------------------

    def companies_(self, count: int, chunk: int) -> None:
        from tui_crm.domain.text import fold

        g = self.gen
        for i in range(count):
            ru = g.chance(0.7)
            name, brand, domain = g.company_name(ru)
            inn = g.inn() if ru and not name.startswith("ИП") and g.chance(0.75) else None
            created = g.ago(730, 30)
            updated = g.between(created, g.now) if g.chance(0.6) else None
            industry = g.pick(INDUSTRIES) if g.chance(0.5) else None
            row = {
                **self.record(created, updated),
                "name": name,
                "name_fold": fold(name),
                "responsible_id": g.pick(self.user_ids),
                "web": f"https://{domain}" if g.chance(0.7) else None,
                "address": f"{g.pick(RU_CITIES if ru else EN_CITIES)}" if g.chance(0.3) else None,
                "inn": inn,
                "company_type": g.pick(["new client", "existing client", "partner"]) if g.chance(0.6) else None,
                "turnover": None,
                "industry": industry,
                "employees": g.rng.choice([5, 12, 40, 120, 350, 1200, 5000]) if g.chance(0.4) else None,
                "needs": None,
                "territory": ("РФ" if ru else "Запад") if g.chance(0.5) else None,
            }
            self.w.add("company", row)
            self.logged("company", row, row["responsible_id"])
            terms: list[str] = []
            sort = 0
            if g.chance(0.7):
                typed, e164 = g.phone("ru_office" if ru else g.pick(["us", "uk"]))
                self.w.add("channel", self._channel("company", row["id"], "phone", typed, e164, sort))
                terms += phone_terms(e164)
                sort += 1
            if g.chance(0.4):
                typed, normalized = g.email(g.pick(["info", "sales", "office", "hello"]), domain)
                self.w.add("channel", self._channel("company", row["id"], "email", typed, normalized, sort))
                terms.append(normalized)
            if g.chance(0.3):
                value = g.pick(INDUSTRIES)
                self.w.add("custom_value", {"entity_type": "company", "entity_id": row["id"], "field_key": "industry_list",
                                            "value_json": json.dumps(value, ensure_ascii=False)})
            self.tag("company", row["id"], 0.15)
            notes = self.notes("company", row["id"], ru, created, 0.05)
            self.w.index("company", row["id"], name, [*terms, inn or "", row["web"] or "", industry or "", *notes])
            if inn:
                self.with_inn.append(len(self.companies))
            self.companies.append(CompanyInfo(row["id"], name, brand, ru, domain, inn))
            if (i + 1) % chunk == 0:
                self.w.flush()
        self.w.flush()

    def _channel(self, entity_type: str, entity_id: str, kind: str, typed: str, normalized: str, sort: int) -> dict[str, Any]:
        return {"id": self.gen.uid(), "entity_type": entity_type, "entity_id": entity_id, "kind": kind, "value": typed,
                "normalized": normalized, "label": None, "sort": sort}

    # -- contacts ------------------------------------------------------------------------------------------

    def contacts_(self, count: int, chunk: int) -> None:
        from tui_crm.domain.text import fold

        g = self.gen
        # Company sizes follow a long tail: a few companies have many contacts.
        weights = [1.0 / (1 + (i % 500)) ** 0.7 for i in range(len(self.companies))]
        company_picks = g.rng.choices(range(len(self.companies)), weights=weights, k=count) if self.companies else []
        for i in range(count):
            company_idx = company_picks[i] if self.companies and g.chance(0.7) else None
            company = self.companies[company_idx] if company_idx is not None else None
            ru = company.ru if company else g.chance(0.65)
            name, first, last, gender = g.person(ru if not g.chance(0.05) else not ru)
            created = g.ago(730, 1)
            updated = g.between(created, g.now) if g.chance(0.5) else None
            position = g.pick(RU_POSITIONS if ru else EN_POSITIONS) if g.chance(0.6) else None
            department = g.pick(RU_DEPARTMENTS if ru else EN_DEPARTMENTS) if g.chance(0.2) else None
            row = {
                **self.record(created, updated),
                "name": name,
                "name_fold": fold(name),
                "responsible_id": g.pick(self.user_ids),
                "company_id": company.id if company else None,
                "position": position,
                "department": department,
                "gender": gender if g.chance(0.7) else None,
                "birthday": (g.now - timedelta(days=g.rng.randrange(22 * 365, 62 * 365))).date() if g.chance(0.15) else None,
            }
            self.w.add("contact", row)
            self.logged("contact", row, row["responsible_id"])
            terms: list[str] = []
            sort = 0
            phone_kinds = ["ru_mobile"] if ru else ["us", "uk", "us"]
            n_phones = 0 if g.chance(0.1) else (2 if g.chance(0.15) else 1)
            for k in range(n_phones):
                kind = g.pick(phone_kinds) if k == 0 else ("ru_office" if ru else g.pick(phone_kinds))
                typed, e164 = g.phone(kind)
                self.w.add("channel", self._channel("contact", row["id"], "phone", typed, e164, sort))
                terms += phone_terms(e164)
                sort += 1
            n_emails = 0 if g.chance(0.25) else (2 if g.chance(0.1) else 1)
            for k in range(n_emails):
                f, la = translit(first), translit(last)
                if company and k == 0 and g.chance(0.7):
                    local = g.pick([f"{f}.{la}", f"{f[:1]}.{la}", f"{la}", f"{f}{la[:1]}"])
                    domain = company.domain
                else:
                    local = g.pick([f"{f}.{la}", f"{la}.{f}", f"{f}{la}{g.rng.randrange(70, 100)}", f"{f[:1]}{la}"])
                    domain = g.pick(PERSONAL_DOMAINS_RU if ru else PERSONAL_DOMAINS_EN)
                if g.chance(0.12):
                    local = local.title()
                typed, normalized = g.email(local.replace("'", ""), domain)
                self.w.add("channel", self._channel("contact", row["id"], "email", typed, normalized, sort))
                terms.append(normalized)
                sort += 1
            self.tag("contact", row["id"], 0.08)
            notes = self.notes("contact", row["id"], ru, created, 0.04)
            self.w.index("contact", row["id"], name,
                         [*terms, position or "", department or "", company.name if company else "", *notes])
            if company_idx is not None:
                company.contacts.append(len(self.contacts))  # type: ignore[union-attr]
            self.contacts.append(ContactInfo(row["id"], name, company_idx, terms))
            if g.chance(0.03):
                self.task("contact", row["id"], row["responsible_id"], created, ru, open_task=True)
            if (i + 1) % chunk == 0:
                self.w.flush()
                log(f"  contacts {i + 1:>8,}")
        self.w.flush()

    # -- tasks -----------------------------------------------------------------------------------------------

    def task(
        self,
        entity_type: str,
        entity_id: str,
        responsible_id: str | None,
        created: datetime,
        ru: bool,
        *,
        open_task: bool,
        text: str | None = None,
        task_type: str | None = None,
        auto_rule: str | None = None,
    ) -> None:
        g = self.gen
        all_day = g.chance(0.2)
        if open_task:
            roll = g.rng.random()
            if roll < 0.15:
                due = g.now - timedelta(days=g.rng.uniform(0.05, 30))  # overdue
            elif roll < 0.27:
                local_now = g.now.astimezone(self.gen.tz)
                end_of_day = local_now.replace(hour=23, minute=59, second=0, microsecond=0)
                due = g.between(local_now + timedelta(minutes=5), end_of_day) if end_of_day > local_now else local_now
                if all_day:
                    due = local_now
            elif roll < 0.40:
                due = g.now + timedelta(days=1, hours=g.rng.uniform(-3, 3))
            else:
                due = g.now + timedelta(days=g.rng.uniform(2, 45))
            completed_at, result = None, None
        else:
            due = g.between(created, g.now)
            completed_at = min(g.now, due + timedelta(hours=g.rng.uniform(-24, 48)))
            result = g.pick(TASK_RESULTS)
        if all_day:
            local = due.astimezone(self.gen.tz)
            due = local.replace(hour=0, minute=0, second=0, microsecond=0).astimezone(UTC)
        else:
            due = due.astimezone(UTC).replace(second=0, microsecond=0)
            due = due.replace(minute=(due.minute // 15) * 15)
        if text is None:
            text = g.pick(TASK_TEXTS_RU if ru else TASK_TEXTS_EN)
        row = {
            **self.record(min(created, due)),
            "task_type": task_type or g.pick(["call", "call", "meeting", "email", "follow-up"]),
            "text": text,
            "due_at": due,
            "all_day": all_day,
            "responsible_id": responsible_id,
            "entity_type": entity_type,
            "entity_id": entity_id,
            "completed_at": completed_at,
            "result": result,
            "auto_rule": auto_rule,
        }
        self.w.add("task", row)
        self.logged("task", row, responsible_id)

    # -- deals ---------------------------------------------------------------------------------------------

    def value(self, key: str, raw: str) -> Any:
        """A custom value as ``validate_value`` stores it (cached per input)."""
        from tui_crm.domain.fields import validate_value

        cached = self.value_cache.get((key, raw))
        if cached is None:
            defn = self.crm.pipelines.fields[key]
            cached = validate_value(defn, raw, phone_region="RU", now=self.gen.now)
            self.value_cache[(key, raw)] = cached
        return cached

    def raw_value(self, key: str, ru: bool, budget_rub: int | None = None) -> str:
        g = self.gen
        defn = self.crm.pipelines.fields[key]
        if defn.type.value == "money":  # the closing sum: the budget at the closing rate
            rub = (budget_rub or 10**8) / 100 * g.rng.uniform(0.9, 1.1)
            return f"{rub:.2f}"
        if defn.options:
            if key == "territory":
                return "РФ" if ru else "Запад"
            return g.pick(list(defn.options))
        token = f"{g.rng.getrandbits(40):010x}"
        return {
            "city": g.pick(RU_CITIES if ru else EN_CITIES),
            "scope": g.pick(SCOPES),
            "project_folder": f"https://disk.yandex.ru/d/{token}" if ru else f"https://drive.google.com/drive/folders/{token}",
            "estimate_link": f"https://docs.google.com/spreadsheets/d/{token}",
            "decision_makers": g.pick(DECISION_MAKERS),
            "tender_url": f"https://zakupki.gov.ru/epz/order/notice/ea44/view/common-info.html?regNumber={token}",
        }.get(key, g.pick(SCOPES))

    def deals_(self, count: int, chunk: int) -> None:
        from tui_crm.domain.text import fold

        g = self.gen
        config = self.crm.pipelines
        plan: list[tuple[Any, Any, Any, list[str]]] = []  # (pipeline row, stage row, stage def, required keys)
        weights: list[float] = []
        for pdef in config.pipelines:
            prow = self.pipelines[pdef.key]
            for sdef in pdef.stages:
                srow = self.stages[(prow.id, sdef.key)]
                plan.append((prow, srow, sdef, pdef.required_fields(sdef.key)))
                weights.append(PIPELINE_WEIGHTS.get(pdef.key, 10) * STAGE_WEIGHTS.get(sdef.key, 5))
        picks = g.rng.choices(range(len(plan)), weights=weights, k=count)
        for i in range(count):
            prow, srow, sdef, required = plan[picks[i]]
            needs_inn = "company.inn" in required
            contact_idxs: list[int] = []
            company_idx: int | None = None
            if needs_inn and self.with_inn:
                company_idx = g.pick(self.with_inn)
                staff = self.companies[company_idx].contacts
                if staff:
                    contact_idxs.append(g.pick(staff))
            elif self.contacts and g.chance(0.95):
                contact_idxs.append(g.rng.randrange(len(self.contacts)))
                company_idx = self.contacts[contact_idxs[0]].company
                if company_idx is None and self.companies and g.chance(0.3):
                    company_idx = g.rng.randrange(len(self.companies))
            if contact_idxs and g.chance(0.12):
                base = self.contacts[contact_idxs[0]]
                staff = self.companies[base.company].contacts if base.company is not None else []
                extra = g.pick(staff) if staff else g.rng.randrange(len(self.contacts))
                if extra not in contact_idxs:
                    contact_idxs.append(extra)
            company = self.companies[company_idx] if company_idx is not None else None
            ru = company.ru if company else prow.key != "sales20" or g.chance(0.3)
            brand = company.brand if company else g.pick(RU_BRANDS if ru else [f"{g.pick(EN_ADJ)} {g.pick(EN_NOUN)}"])
            if prow.key == "tenders":
                name = f"Тендер № 0{g.rng.randrange(10**17, 10**18)}: {g.pick(TENDER_SUBJECTS)}"  # EIS-style number
            else:
                name = g.pick(RU_DEAL_TEMPLATES if ru else EN_DEAL_TEMPLATES).format(b=brand)
            created = g.ago(730, 0.01)
            stage_entered = g.between(created, g.now) if sdef.kind != "lead" else created
            updated = g.between(stage_entered, g.now)
            responsible = g.pick(self.user_ids)
            budget_rub = None
            if "budget_rub" in required or g.chance(0.5):
                budget_rub = int(round(10 ** g.rng.uniform(5, 7.7), -3)) * 100  # kopecks
            budget_usd = None
            if "budget_usd" in required or (not ru and budget_rub and g.chance(0.5)):
                budget_usd = int(round((budget_rub or 10**8) / 100 / 92, -1)) * 100  # cents
            closing = sdef.kind in ("won", "lost")
            row = {
                **self.record(created, updated),
                "name": name,
                "name_fold": fold(name),
                "pipeline_id": prow.id,
                "stage_id": srow.id,
                "responsible_id": responsible,
                "company_id": company.id if company else None,
                "budget_rub": budget_rub,
                "budget_usd": budget_usd,
                "source_channel": g.pick(SOURCES) if g.chance(0.6) else None,
                "source_site": ("RU" if ru else "COM") if g.chance(0.4) else None,
                "source_message": None,
                "source_url": None,
                "loss_reason": g.pick(LOSS_REASONS) if "loss_reason" in required else None,
                "closed_at": stage_entered if closing else None,
                "stage_entered_at": stage_entered,
            }
            self.w.add("deal", row)
            self.logged("deal", row, responsible)
            self.stage_history(prow, sdef, row, responsible)
            for key in required:
                if key in config.fields:
                    value = self.value(key, self.raw_value(key, ru, budget_rub))
                    self.w.add("custom_value", {"entity_type": "deal", "entity_id": row["id"], "field_key": key,
                                                "value_json": json.dumps(value, ensure_ascii=False)})
            if prow.key == "tenders" and "tender_url" not in required and g.chance(0.7):
                value = self.value("tender_url", self.raw_value("tender_url", True))
                self.w.add("custom_value", {"entity_type": "deal", "entity_id": row["id"], "field_key": "tender_url",
                                            "value_json": json.dumps(value, ensure_ascii=False)})
            body: list[str] = [company.name] if company else []
            for n, idx in enumerate(contact_idxs):
                self.w.add("deal_contact", {"deal_id": row["id"], "contact_id": self.contacts[idx].id, "is_main": n == 0})
            for idx in sorted(contact_idxs, key=lambda k: self.contacts[k].id):
                body += [self.contacts[idx].name, *self.contacts[idx].terms]
            self.tag("deal", row["id"], 0.3)
            # Tasks: an open one on most working deals, history on many.
            rule = sdef.auto_task
            if not closing and g.chance(0.85):
                if rule and g.chance(0.6):
                    self.task("deal", row["id"], responsible, stage_entered, ru, open_task=True, text=rule.text,
                              task_type=rule.task_type, auto_rule=sdef.key)
                else:
                    self.task("deal", row["id"], responsible, created, ru, open_task=True)
            elif sdef.kind == "lost" and rule and g.chance(0.5):
                self.task("deal", row["id"], responsible, stage_entered, ru, open_task=True, text=rule.text,
                          task_type=rule.task_type, auto_rule=sdef.key)
            for _ in range(g.rng.choice([0, 0, 1, 1, 2, 3])):
                self.task("deal", row["id"], responsible, created, ru, open_task=False)
            body += self.notes("deal", row["id"], ru, created, 0.25)
            self.w.index("deal", row["id"], name, body)
            if (i + 1) % chunk == 0:
                self.w.flush()
                log(f"  deals    {i + 1:>8,}")
        self.w.flush()

    def stage_history(self, prow: Any, sdef: Any, row: dict[str, Any], user_id: str) -> None:
        """The deal's way to its stage, as moves log it: created at the lead stage, then one
        "update" row per stage entered (a lost deal leaves from a random working stage), the
        last at ``stage_entered_at``. The change-log trigger of migration 0016 copies them to
        ``stage_event``, where the funnel reads them."""
        g = self.gen
        pdef = self.crm.pipelines.pipeline(prow.key)
        working = [s for s in pdef.stages if s.kind not in ("unsorted", "lost")]
        if sdef.kind == "unsorted":
            return
        if sdef.kind == "lost":
            path = working[: g.rng.randrange(1, len(working))] + [sdef]
        else:
            path = working[: [s.key for s in working].index(sdef.key) + 1]
        if len(path) < 2:
            return
        ids = [self.stages[(prow.id, s.key)].id for s in path]
        create = self.w.rows["change_log"][-1]
        changes = json.loads(create["changes"])
        changes["stage_id"] = [None, ids[0]]
        create["changes"] = json.dumps(changes, ensure_ascii=False)
        start, end = row["created_at"], row["stage_entered_at"]
        moments = sorted(g.between(start, end) for _ in range(len(ids) - 2)) + [end]
        for before, after, at in zip(ids[:-1], ids[1:], moments, strict=True):
            self.w.add(
                "change_log",
                {
                    "entity": "deal",
                    "entity_id": row["id"],
                    "op": "update",
                    "changes": json.dumps({"stage_id": [before, after], "stage_entered_at": [None, at.isoformat()]}),
                    "user_id": user_id,
                    "at": at,
                    "batch_id": None,
                    "synced_at": at + timedelta(minutes=5),
                },
            )

    def mark_pending(self) -> None:
        """Leave the newest change-log rows unsynced, as after offline work."""
        with self.w.engine.begin() as conn:
            conn.exec_driver_sql(
                "UPDATE change_log SET synced_at = NULL WHERE seq IN"
                " (SELECT seq FROM change_log ORDER BY at DESC LIMIT ?)",
                (self.pending,),
            )


# -- verification against the real code ----------------------------------------------------------------


def verify(crm: Any, samples: int, seed: int) -> list[str]:
    """Problems found in samples (empty list: the data is what services make)."""
    from sqlmodel import Session, select

    from tui_crm.domain.gates import missing_fields
    from tui_crm.domain.matching import email_key
    from tui_crm.domain.validation import normalize_email, normalize_phone, validate_inn
    from tui_crm.services.deal_values import gate_values
    from tui_crm.services.records import reindex
    from tui_crm.storage.engine import WRITE_OPTION
    from tui_crm.storage.models import Deal, Pipeline, Stage

    rng = random.Random(seed + 1)
    problems: list[str] = []
    with crm.engine.connect() as conn:
        ids: dict[str, list[str]] = {}
        for entity in ("deal", "contact", "company"):
            rows = conn.exec_driver_sql("SELECT entity_id FROM search_doc WHERE entity_type = ?", (entity,)).all()
            ids[entity] = [r[0] for r in rng.sample(rows, min(samples, len(rows)))]
        for value, normalized, kind in conn.exec_driver_sql(
            "SELECT value, normalized, kind FROM channel ORDER BY random() LIMIT ?", (samples * 5,)
        ):
            again = normalize_phone(value, "RU") if kind == "phone" else email_key(normalize_email(value))
            if again != normalized:
                problems.append(f"channel {value!r}: stored {normalized!r}, services make {again!r}")
        for (inn,) in conn.exec_driver_sql("SELECT inn FROM company WHERE inn IS NOT NULL"):
            if validate_inn(inn) != inn:
                problems.append(f"INN {inn} does not validate")

    def fts_row(conn: Any, entity_id: str) -> tuple[str, list[str]]:
        title, body = conn.exec_driver_sql(
            "SELECT f.title, f.body FROM search_fts f JOIN search_doc d ON d.rowid = f.rowid WHERE d.entity_id = ?",
            (entity_id,),
        ).one()
        return title, sorted(body.split())

    with Session(crm.engine) as session:
        session.connection(execution_options={WRITE_OPTION: True})
        conn = session.connection()
        for entity, entity_ids in ids.items():
            for entity_id in entity_ids:
                before = fts_row(conn, entity_id)
                reindex(session, entity, entity_id)
                after = fts_row(conn, entity_id)
                if before != after:
                    problems.append(f"search row of {entity} {entity_id} differs from reindex: {before} vs {after}")
        pipelines = {p.id: p.key for p in session.exec(select(Pipeline))}
        stages = {s.id: s for s in session.exec(select(Stage))}
        for deal_id in ids["deal"]:
            deal = session.get(Deal, deal_id)
            assert deal is not None
            stage = stages[deal.stage_id]
            missing = missing_fields(crm.pipelines, pipelines[deal.pipeline_id], stage.key, gate_values(session, deal))
            if missing:
                problems.append(f"deal {deal_id} in {stage.key} misses {[m.key for m in missing]}")
        session.rollback()
    return problems


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--db", required=True, type=Path, help="database file to create")
    parser.add_argument("--deals", type=int, default=100_000)
    parser.add_argument("--contacts", type=int, default=100_000)
    parser.add_argument("--companies", type=int, default=20_000)
    parser.add_argument("--seed", type=int, default=20261126)
    parser.add_argument("--now", help="ISO time the data is relative to (default: now)")
    parser.add_argument("--chunk", type=int, default=10_000, help="records per transaction")
    parser.add_argument("--pending", type=int, default=200, help="change-log rows left unsynced")
    parser.add_argument("--verify", type=int, default=200, metavar="N", help="check N samples of each kind (0: skip)")
    parser.add_argument("--force", action="store_true", help="replace an existing file")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if "CRM_CONFIG_DIR" not in os.environ:  # the shipped pipelines, not the user's
        os.environ["CRM_CONFIG_DIR"] = tempfile.mkdtemp(prefix="crm-datagen-cfg-")
    path: Path = args.db
    if path.exists():
        if not args.force:
            print(f"{path} exists; pass --force to replace it", file=sys.stderr)
            return 2
        for suffix in ("", "-wal", "-shm"):
            Path(str(path) + suffix).unlink(missing_ok=True)
    from tui_crm.config import load_settings
    from tui_crm.services.context import open_crm

    started = time.perf_counter()
    crm = open_crm(load_settings(db=path, user="Анна Петрова"))
    now = datetime.fromisoformat(args.now).astimezone(UTC) if args.now else datetime.now(UTC)
    gen = Generator(args.seed, now, crm.tz)
    writer = Writer(crm.engine)
    build = Build(crm, gen, writer, args.pending)
    phases: list[tuple[str, float]] = []

    def phase(label: str, fn: Callable[[], None]) -> None:
        t0 = time.perf_counter()
        fn()
        phases.append((label, time.perf_counter() - t0))
        log(f"{label:<10} {phases[-1][1]:7.2f} s")

    log(f"{'open_crm':<10} {time.perf_counter() - started:7.2f} s")
    phase("users/tags", build.users_and_tags)
    phase("companies", lambda: build.companies_(args.companies, args.chunk))
    phase("contacts", lambda: build.contacts_(args.contacts, args.chunk))
    phase("deals", lambda: build.deals_(args.deals, args.chunk))
    phase("pending", build.mark_pending)

    def checkpoint() -> None:
        crm.engine.dispose()
        conn = sqlite3.connect(path)
        try:
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        finally:
            conn.close()

    phase("checkpoint", checkpoint)
    total = time.perf_counter() - started
    counts = ", ".join(f"{k} {v:,}" for k, v in writer.counts.items())
    log(f"rows: {counts}")
    log(f"made {path} ({path.stat().st_size / 1e6:.0f} MB) in {total:.1f} s")
    if args.verify:
        t0 = time.perf_counter()
        problems = verify(crm, args.verify, args.seed)
        if problems:
            for problem in problems[:20]:
                print("verify:", problem, file=sys.stderr)
            print(f"verify: {len(problems)} problem(s)", file=sys.stderr)
            crm.close()
            return 1
        log(f"verify: {args.verify} samples each of deals/contacts/companies match services ({time.perf_counter() - t0:.1f} s)")
    crm.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
