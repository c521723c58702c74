"""Taking records out: deals, contacts and companies as CSV in amoCRM's
export layout (what ``services.importing`` reads, so an export imported
into an empty store gives the same records), JSON lines, and vCard.

Records are streamed in pages of ``PAGE`` by id, with each page's links
(tags, contacts, channels, companies) read in one query per kind, so 100k
deals never sit in memory. A CSV cell that a spreadsheet would run
(starting with ``=``, ``+``, ``-``, ``@``, tab or CR) gets a leading
apostrophe, the way amoCRM itself writes phones; the importer takes it off.
"""

from __future__ import annotations

import csv
import json
from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, tzinfo
from typing import Any, NamedTuple, TextIO

from sqlalchemy import text
from sqlmodel import Session, select

from tui_crm.domain.errors import ValidationError
from tui_crm.domain.text import fold
from tui_crm.services.context import Crm
from tui_crm.services.deal_queries import DealFilter, _where
from tui_crm.services.importing.amocrm_layout import DEAL_EXPORT_COLUMNS, KIND_COMPANY, KIND_CONTACT, PARTY_EXPORT_COLUMNS
from tui_crm.services.parties import find_user
from tui_crm.storage import search_index
from tui_crm.storage.models import Deal

PAGE = 2000
FORMATS = {"deals": ("csv", "json"), "contacts": ("csv", "json", "vcard"), "companies": ("csv", "json")}
_RISKY_FIRST = frozenset("=+-@\t\r")
FILTER_KEYS = ("pipeline", "stage", "responsible", "tag", "query")


def escape_cell(value: str) -> str:
    """A cell a spreadsheet will show as text, not run as a formula."""
    return "'" + value if value[:1] in _RISKY_FIRST else value


def local_stamp(value: Any, tz: tzinfo) -> str:
    """amoCRM's ``DD.MM.YYYY HH:MM:SS`` in the account's zone."""
    if not value:
        return ""
    moment = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    iso = moment.astimezone(tz).isoformat(" ")  # sliced: strftime costs more than the rest of a row
    return f"{iso[8:10]}.{iso[5:7]}.{iso[:4]} {iso[11:19]}"


def money(minor: int | None) -> str:
    if minor is None:
        return ""
    whole, cents = divmod(int(minor), 100)
    return f"{whole}.{cents:02d}" if cents else str(whole)


def parse_filters(values: Sequence[str]) -> DealFilter:
    """``--filter pipeline=sales20 --filter tag=VIP``; a bare word is a search query."""
    flt = DealFilter()
    for raw in values:
        key, sep, value = raw.partition("=")
        if not sep:
            key, value = "query", raw
        key = key.strip()
        if key not in FILTER_KEYS:
            raise ValidationError("filter", f"{key!r} is not a filter; use {', '.join(FILTER_KEYS)} (KEY=VALUE)")
        setattr(flt, key, value.strip())
    return flt


@dataclass
class ExportResult:
    entity: str
    format: str
    count: int
    columns: list[str] = field(default_factory=list)


def _marks(prefix: str, ids: Sequence[str]) -> tuple[str, dict[str, str]]:
    return ",".join(f":{prefix}{n}" for n in range(len(ids))), {f"{prefix}{n}": v for n, v in enumerate(ids)}


def _in(raw: Any, sql: str, ids: Sequence[str], *before: Any) -> Any:
    """Run ``sql`` with ``{ids}`` replaced by one ``?`` per id (plain sqlite3: no
    statement compiling per page, which costs more than the query)."""
    return raw.execute(sql.replace("{ids}", ",".join("?" * len(ids))), (*before, *ids))


class _Links:
    """One page's linked data, a query per kind."""

    def __init__(self, raw: Any, entity: str, ids: list[str]) -> None:
        self.raw = raw
        self.tags: dict[str, list[str]] = defaultdict(list)
        sql = (
            "SELECT et.entity_id, t.name FROM entity_tag et JOIN tag t ON t.id = et.tag_id "
            "WHERE et.entity_type = ? AND et.entity_id IN ({ids}) ORDER BY t.name_fold"
        )
        for owner, name in _in(raw, sql, ids, entity):
            self.tags[owner].append(name)
        self.channels: dict[tuple[str, str], list[str]] = defaultdict(list)
        if entity != "deal":
            self.add_channels(entity, ids)

    def add_channels(self, entity: str, ids: list[str]) -> None:
        # by entity_id only: a condition on kind lets SQLite pick the (kind, normalized) index and scan
        sql = "SELECT entity_id, entity_type, kind, normalized FROM channel WHERE entity_id IN ({ids}) ORDER BY sort"
        for owner, owner_type, kind, value in _in(self.raw, sql, ids):
            if owner_type == entity and kind in ("phone", "email"):
                self.channels[(owner, kind)].append(value)


class _DealRow(NamedTuple):
    id: str
    name: str
    budget_rub: int | None
    budget_usd: int | None
    responsible_id: str | None
    created_at: datetime | None
    closed_at: datetime | None
    stage_id: str
    loss_reason: str | None
    company_id: str | None
    company: str | None
    company_inn: str | None
    contact_id: str | None  # the main contact (or, without a live main one, another live one)
    contact: str | None
    contact_position: str | None


# a page of deals with their company and main contact, after the filter's conditions ({where})
_DEAL_PAGE = """
SELECT deal.id, deal.name, deal.budget_rub, deal.budget_usd, deal.responsible_id, deal.created_at, deal.closed_at,
       deal.stage_id, deal.loss_reason, deal.company_id, co.name, co.inn, k.id, k.name, k.position
FROM deal
LEFT JOIN company co ON co.id = deal.company_id
LEFT JOIN contact k ON k.id = (
    SELECT dc.contact_id FROM deal_contact dc JOIN contact c ON c.id = dc.contact_id
    WHERE dc.deal_id = deal.id AND c.deleted_at IS NULL ORDER BY dc.is_main DESC LIMIT 1)
WHERE {where} AND deal.id > ? ORDER BY deal.id LIMIT ?
"""


def _stored_time(value: Any) -> datetime | None:
    """A time as SQLAlchemy stores it (naive UTC text), back as an aware datetime."""
    if value is None or isinstance(value, datetime):
        return value
    return datetime.fromisoformat(value).replace(tzinfo=UTC)


def _raw_page_query(session: Session, query: Any) -> tuple[str, tuple[Any, ...]]:
    """``_DEAL_PAGE`` with the filter's conditions, compiled once to run each
    page on plain sqlite3: compiling and the ORM's result rows cost more per
    page than the query, and one joined query costs less than one per link."""
    compiled = query.compile(dialect=session.get_bind().dialect, compile_kwargs={"render_postcompile": True})
    params = tuple(_bind(compiled.params[name]) for name in compiled.positiontup or ())
    where = compiled.string.split("\nWHERE ", 1)[1]  # ``SELECT deal.id FROM deal WHERE ...``
    return _DEAL_PAGE.format(where=where), params


def _bind(value: Any) -> Any:
    from tui_crm.services.importing.bulk import db_time

    return db_time(value) if isinstance(value, datetime) else value


def _deal_pages(crm: Crm, session: Session, flt: DealFilter) -> Iterator[list[dict[str, Any]]]:
    conds = _where(crm, session, flt)
    # ``deleted_at IS NULL`` (always first) as ``+deleted_at``: otherwise SQLite serves it from
    # ix_deal_name and sorts every live deal again for each page, instead of walking the id order
    conds[0] = text("+deal.deleted_at IS NULL")
    after = ""
    raw = session.connection().connection.driver_connection
    users = dict(raw.execute("SELECT id, name FROM user").fetchall())
    stage_sql = "SELECT s.id, p.name, s.name FROM stage s JOIN pipeline p ON p.id = s.pipeline_id"
    stages = {sid: (p, s) for sid, p, s in raw.execute(stage_sql)}
    page_sql, params = _raw_page_query(session, select(Deal.id).where(*conds))
    while True:
        rows = [
            _DealRow(*r[:5], _stored_time(r[5]), _stored_time(r[6]), *r[7:])  # times come as text from plain sqlite3
            for r in raw.execute(page_sql, (*params, after, PAGE))
        ]
        if not rows:
            return
        after = rows[-1].id
        links = _Links(raw, "deal", [r.id for r in rows])
        contact_ids = sorted({r.contact_id for r in rows if r.contact_id})
        if contact_ids:
            links.add_channels("contact", contact_ids)
        page = []
        for deal in rows:
            pipeline, stage = stages.get(deal.stage_id, ("", ""))
            contact_id, contact_name, position = deal.contact_id or "", deal.contact or "", deal.contact_position
            company_name, inn = deal.company or "", deal.company_inn
            page.append(
                {
                    "id": deal.id,
                    "name": deal.name,
                    "budget_rub": deal.budget_rub,
                    "budget_usd": deal.budget_usd,
                    "responsible": users.get(deal.responsible_id or "", ""),
                    "created_at": deal.created_at,
                    "closed_at": deal.closed_at,
                    "tags": links.tags.get(deal.id, []),
                    "pipeline": pipeline,
                    "stage": stage,
                    "loss_reason": deal.loss_reason,
                    "company": company_name,
                    "company_inn": inn,
                    "contact": contact_name,
                    "contact_phones": links.channels.get((contact_id, "phone"), []),
                    "contact_emails": links.channels.get((contact_id, "email"), []),
                    "contact_position": position,
                }
            )
        yield page


def _party_pages(crm: Crm, session: Session, entity: str, flt: DealFilter) -> Iterator[list[dict[str, Any]]]:
    conn = session.connection()
    users = {u: n for u, n in conn.execute(text("SELECT id, name FROM user"))}
    where = ["deleted_at IS NULL"]
    params: dict[str, Any] = {}
    if flt.responsible:
        where.append("responsible_id = :resp")
        params["resp"] = find_user(session, flt.responsible).id
    if flt.query:
        hits = search_index.search(conn, flt.query, (entity,), limit=5000)
        marks, qparams = _marks("q", [h.entity_id for h in hits] or [""])
        where.append(f"id IN ({marks})")
        params.update(qparams)
    if flt.tag:
        where.append(
            "id IN (SELECT et.entity_id FROM entity_tag et JOIN tag t ON t.id = et.tag_id"
            " WHERE et.entity_type = :ent AND t.name_fold = :tag)"
        )

        params.update(ent=entity, tag=fold(flt.tag))
    extra = "company_id, position, department, birthday" if entity == "contact" else "inn, web, address"
    after = ""
    companies: dict[str, str] = {}
    while True:
        rows = conn.execute(
            text(
                f"SELECT id, name, responsible_id, created_at, {extra} FROM {entity} "
                f"WHERE {' AND '.join(where)} AND id > :after ORDER BY id LIMIT {PAGE}"
            ),
            {**params, "after": after},
        ).all()
        if not rows:
            return
        after = rows[-1][0]
        ids = [r[0] for r in rows]
        links = _Links(conn.connection.driver_connection, entity, ids)
        if entity == "contact":
            wanted = sorted({r[4] for r in rows if r[4] and r[4] not in companies})
            if wanted:
                kmarks, kparams = _marks("k", wanted)
                companies.update(conn.execute(text(f"SELECT id, name FROM company WHERE id IN ({kmarks})"), kparams).all())
        page = []
        for r in rows:
            item: dict[str, Any] = {
                "id": r[0],
                "kind": KIND_CONTACT if entity == "contact" else KIND_COMPANY,
                "name": r[1],
                "responsible": users.get(r[2] or "", ""),
                "created_at": datetime.fromisoformat(str(r[3])).replace(tzinfo=UTC) if r[3] else None,
                "tags": links.tags.get(r[0], []),
                "phones": links.channels.get((r[0], "phone"), []),
                "emails": links.channels.get((r[0], "email"), []),
            }
            if entity == "contact":
                item.update(company=companies.get(r[4] or "", ""), position=r[5], department=r[6], birthday=r[7])
            else:
                item.update(inn=r[4], web=r[5], address=r[6])
            page.append(item)
        yield page


_LIST_TARGETS = {"tags": "tags", "phone": "phones", "email": "emails", "contact_phone": "contact_phones",
                 "contact_email": "contact_emails"}  # fmt: skip


def _row_maker(targets: Sequence[str], tz: tzinfo) -> Callable[[dict[str, Any]], list[str]]:
    """How a record becomes its CSV cells, every cell spreadsheet-safe (``escape_cell``).

    The columns are sorted by kind once per export, and one call per record
    fills them: a function call per cell cost more than the rest of the export.
    """
    plain: list[tuple[int, str]] = []
    stamps: list[tuple[int, str]] = []
    sums: list[tuple[int, str]] = []
    lists: list[tuple[int, str]] = []
    customs: list[tuple[int, str]] = []
    for index, target in enumerate(targets):
        if target in ("created_at", "closed_at"):
            stamps.append((index, target))
        elif target in ("budget_rub", "budget_usd"):
            sums.append((index, target))
        elif target.startswith("custom."):
            customs.append((index, target))
        elif target in _LIST_TARGETS:
            lists.append((index, _LIST_TARGETS[target]))
        else:
            plain.append((index, "id" if target == "external_id" else target))
    width = len(targets)

    def row(item: dict[str, Any]) -> list[str]:
        cells = [""] * width
        get = item.get
        for index, key in plain:
            value = get(key)
            if value:
                cells[index] = escape_cell(value if type(value) is str else str(value))
        for index, key in stamps:
            value = get(key)
            if value:
                cells[index] = local_stamp(value, tz)
        for index, key in sums:
            value = get(key)
            if value is not None:
                cells[index] = escape_cell(money(value))
        for index, key in lists:
            value = get(key)
            if value:
                cells[index] = escape_cell(", ".join(value))
        for index, key in customs:
            value = get(key)
            if value is not None:
                cells[index] = escape_cell(_custom_cell(value))
        return cells

    return row


def _custom_cell(value: Any) -> str:
    if isinstance(value, list):
        return ", ".join(map(str, value))
    return "" if value is None else str(value)


def _add_custom(session: Session, entity: str, page: list[dict[str, Any]]) -> None:
    """Each record's custom values as ``custom.KEY`` (one query per page)."""
    by_id = {item["id"]: item for item in page}
    raw = session.connection().connection.driver_connection
    sql = "SELECT entity_id, field_key, value_json FROM custom_value WHERE entity_type = ? AND entity_id IN ({ids})"
    names: dict[str, str] = {}
    for owner, key, value in _in(raw, sql, list(by_id), entity):
        name = names.get(key)
        if name is None:
            name = names[key] = f"custom.{key}"
        by_id[owner][name] = _json_value(value)


def _json_value(stored: str) -> Any:
    """``json.loads`` of a stored custom value; a plain string or integer without parsing."""
    if stored[:1] == '"' and "\\" not in stored:
        return stored[1:-1]
    if stored.isdigit():
        return int(stored)
    return json.loads(stored)


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat()
    return str(value)


def _vcard(item: dict[str, Any]) -> str:
    import vobject

    card = vobject.vCard()
    card.add("fn").value = item["name"]
    parts = item["name"].split(" ", 1)
    card.add("n").value = vobject.vcard.Name(family=parts[1] if len(parts) > 1 else "", given=parts[0])
    for phone in item.get("phones") or []:
        tel = card.add("tel")
        tel.value = phone
        tel.type_param = "WORK"
    for email in item.get("emails") or []:
        card.add("email").value = email
    if item.get("company"):
        card.add("org").value = [item["company"]]
    if item.get("position"):
        card.add("title").value = item["position"]
    card.add("uid").value = f"{item['id']}@tui-crm"
    return card.serialize()


def export_records(crm: Crm, entity: str, fmt: str, out: TextIO, filters: Sequence[str] = ()) -> ExportResult:
    """Write ``entity`` ("deals", "contacts", "companies") to ``out`` as ``fmt``."""
    if entity not in FORMATS:
        raise ValidationError("export", f"{entity!r}: export deals, contacts or companies")
    if fmt not in FORMATS[entity]:
        raise ValidationError("format", f"{entity} export as {', '.join(FORMATS[entity])}, not {fmt!r}")
    flt = parse_filters(filters)
    if entity != "deals" and (flt.pipeline or flt.stage):
        raise ValidationError("filter", "pipeline and stage filter deals only")
    tz = crm.tz
    columns = list(DEAL_EXPORT_COLUMNS if entity == "deals" else PARTY_EXPORT_COLUMNS)
    owner = {"deals": "deal", "contacts": "contact", "companies": "company"}[entity]
    columns += [(d.label, f"custom.{k}") for k, d in crm.pipelines.custom_fields_for(owner).items()]
    count = 0
    with crm.read() as session:
        if entity == "deals":
            pages = _deal_pages(crm, session, flt)
        else:
            pages = _party_pages(crm, session, "contact" if entity == "contacts" else "company", flt)
        writer = csv.writer(out, lineterminator="\r\n") if fmt == "csv" else None
        make_row = _row_maker([target for _, target in columns], tz)
        if writer is not None:
            writer.writerow([name for name, _ in columns])
        for page in pages:
            _add_custom(session, owner, page)
            for item in page:
                if writer is not None:
                    writer.writerow(make_row(item))
                elif fmt == "json":
                    out.write(json.dumps(item, ensure_ascii=False, default=_json_default) + "\n")
                else:
                    out.write(_vcard(item))
                count += 1
    return ExportResult(entity=entity, format=fmt, count=count, columns=[name for name, _ in columns] if fmt == "csv" else [])
