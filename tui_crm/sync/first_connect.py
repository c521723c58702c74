"""First connect: link the people and companies both sides already hold instead of creating both.

A store that already has contacts and companies, connected to an amoCRM
account that already has some, would otherwise send every local record as
new and pull every remote one as new: two Ольгаs on each side. So before
the first push, the remote contacts and companies are read in full and
matched with the local records that would be created, by the keys the
duplicate check uses (:mod:`tui_crm.domain.matching`): an e-mail (folded),
a phone (its E.164 digits: ``8 916…`` here and ``+7 916…`` there are one
number) and, for a company, its INN. Names alone never match.

* **One local ↔ one remote** (each the other's only candidate): linked in
  the id map; the pulled record is merged into the local one without a base
  (:func:`first_base`): a field only one side has fills the other, phones,
  e-mails and tags are joined, and a field both sides fill differently is a
  conflict (``crm sync conflicts``), not a silent choice.
* **Ambiguous** (a local record with several remote candidates, or a remote
  record that several local records match): nothing is linked. The remote
  records come in as they are (a pull never leaves a remote record out); the
  local record is **held**: not sent, with a ``match`` notice naming the
  candidates. Merge it into the right one here (``crm contacts merge KEEP
  HELD``; the notice then closes itself) or ``crm sync conflicts --resolve
  ID --keep local`` to send it as a record of its own.

"First connect" is per entity: until a complete pull of that entity's
stream has finished once. Later syncs push first (local records are
created there before the pull could match them), so this runs only then.
``crm sync --dry-run`` shows the same matches (:func:`preview`).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sqlmodel import Session, col, select

from tui_crm.domain.matching import email_key, phone_key
from tui_crm.storage.sync_tables import SyncConflict, SyncCursor
from tui_crm.sync.adapter import Adapter, Cursor, MetaChanged, Page, RemoteRecord
from tui_crm.sync.mapping import SET_FIELDS, TABLES
from tui_crm.sync.merge import same

if TYPE_CHECKING:
    from tui_crm.sync.engine import SyncEngine

__all__ = [
    "MATCH_ENTITIES",
    "Held",
    "Match",
    "MatchPlan",
    "first_base",
    "held_ids",
    "match_records",
    "preview",
    "pull_first",
    "record_keys",
]

MATCH_ENTITIES: tuple[str, ...] = ("company", "contact")  # companies first: contacts refer to them
MATCH_KIND = "match"  # sync_conflict.kind of a held record's notice
_KEY_ORDER = {"inn": 0, "email": 1, "phone": 2}
_KEY_WORDS = {"inn": "INN", "email": "e-mail", "phone": "phone"}


@dataclass(frozen=True)
class Match:
    """A local record linked to the remote record that is the same person or company."""

    entity: str
    local_id: str
    remote_id: str
    key: str  # how it matched, as a person reads it: "phone +79161234567"
    remote_name: str = ""


@dataclass
class Held:
    """A local record not sent: it matches several remote records, or shares its remote match with others."""

    entity: str
    local_id: str
    remote_ids: list[str]
    key: str
    remote_names: list[str] = field(default_factory=list)

    def detail(self) -> str:
        """The notice's text: the candidates, and what to do."""
        names = ", ".join(
            f"#{rid} «{name}»" if name else f"#{rid}" for rid, name in zip(self.remote_ids, self.remote_names, strict=True)
        )
        word = {"company": "companies", "contact": "contacts"}.get(self.entity, self.entity)
        if len(self.remote_ids) > 1:
            found = f"matches {len(self.remote_ids)} amoCRM {word} by {self.key} ({names})"
        else:
            found = f"matches amoCRM {self.entity} {names} by {self.key}, and so do other {word} here"
        return (
            f"{found}; not sent until resolved: merge it into the right one "
            f"(crm {word} merge KEEP THIS), or --keep local to send it as a new one"
        )


@dataclass
class MatchPlan:
    links: list[Match] = field(default_factory=list)
    held: list[Held] = field(default_factory=list)


def record_keys(entity: str, fields: dict[str, Any]) -> list[tuple[str, str]]:
    """The matching keys of a canonical record: ``("email", "olga@elka.ru")``, ``("phone", "79161234567")``, ``("inn", …)``."""
    keys: list[tuple[str, str]] = []
    for value in fields.get("emails") or []:
        if isinstance(value, str) and value.strip():
            keys.append(("email", email_key(value)))
    for value in fields.get("phones") or []:
        digits = phone_key(value) if isinstance(value, str) else ""
        if len(digits) >= 7:  # a short extension is no identity
            keys.append(("phone", digits))
    if entity == "company":
        inn = "".join(ch for ch in str(fields.get("inn") or "") if ch.isdigit())
        if len(inn) in (10, 12):
            keys.append(("inn", inn))
    return list(dict.fromkeys(keys))


def _shown_key(key: tuple[str, str]) -> str:
    kind, value = key
    return f"{_KEY_WORDS[kind]} {'+' + value if kind == 'phone' else value}"


def match_records(entity: str, local: dict[str, dict[str, Any]], remote: Iterable[RemoteRecord]) -> MatchPlan:
    """Pair local records (id -> canonical fields) with remote ones; see the module docstring. Pure."""
    remotes = {r.remote_id: r for r in remote}
    by_key: dict[tuple[str, str], list[str]] = defaultdict(list)
    for rid, record in remotes.items():
        for key in record_keys(entity, record.fields):
            by_key[key].append(rid)
    local_edges: dict[str, dict[str, list[tuple[str, str]]]] = {}
    remote_edges: dict[str, set[str]] = defaultdict(set)
    for lid, fields in local.items():
        edges: dict[str, list[tuple[str, str]]] = defaultdict(list)
        for key in record_keys(entity, fields):
            for rid in by_key.get(key, ()):
                edges[rid].append(key)
        if edges:
            local_edges[lid] = edges
            for rid in edges:
                remote_edges[rid].add(lid)
    plan = MatchPlan()
    for lid, edges in local_edges.items():
        keys = sorted({k for ks in edges.values() for k in ks}, key=lambda k: (_KEY_ORDER[k[0]], k[1]))
        rids = sorted(edges, key=lambda r: (len(r), r))
        names = [str(remotes[r].fields.get("name") or "") for r in rids]
        if len(rids) == 1 and remote_edges[rids[0]] == {lid}:
            best = sorted(edges[rids[0]], key=lambda k: _KEY_ORDER[k[0]])[0]
            plan.links.append(Match(entity, lid, rids[0], _shown_key(best), names[0]))
        else:
            plan.held.append(Held(entity, lid, rids, _shown_key(keys[0]), names))
    return plan


def first_base(local: dict[str, Any], remote: dict[str, Any]) -> dict[str, Any]:
    """A base for merging two records that never agreed on anything (a first-connect link).

    With it the ordinary three-way merge does what a person would: phones, e-mails and tags
    are joined (base empty: both sides' values are additions); a field only one side fills
    goes to the other (not in the base); a field both fill with different values is a
    conflict (base ``None``: both sides "changed" it)."""
    base: dict[str, Any] = {name: [] for name in SET_FIELDS if name in local or name in remote}
    for name in dict.fromkeys([*local, *remote]):
        if name in SET_FIELDS or name == "deleted":
            continue
        lv, rv = local.get(name), remote.get(name)
        if not same(lv, None) and not same(rv, None) and not same(lv, rv):
            base[name] = None
    return base


# ------------------------------------------------------------------ engine side


def _first_pass_done(session: Session, adapter: str, entity: str) -> bool:
    row = session.get(SyncCursor, (adapter, entity))
    return row is not None and row.done_at is not None


def _open_notices(session: Session, adapter: str, entity: str) -> dict[str, SyncConflict]:
    rows = session.exec(
        select(SyncConflict).where(
            SyncConflict.adapter == adapter,
            SyncConflict.entity == entity,
            SyncConflict.kind == MATCH_KIND,
            col(SyncConflict.resolved_at).is_(None),
        )
    )
    return {row.local_id: row for row in rows}


def _candidates(engine: SyncEngine, session: Session, entity: str, pending: dict[str, list[str]]) -> dict[str, dict[str, Any]]:
    """Local records of ``entity`` the push would create (pending, never sent, alive, not held already)."""
    held = _open_notices(session, engine.name, entity)
    ids = [lid for lid in pending.get(TABLES[entity], []) if engine.maps.state.get((entity, lid)) is None and lid not in held]
    records = engine.local.read_many(session, entity, ids)
    return {lid: fields for lid, fields in records.items() if not fields.get("deleted") and record_keys(entity, fields)}


def _read_all(engine: SyncEngine, entity: str) -> list[Page]:
    """Every page of the entity's pull from its cursor (a first pass: the whole list)."""
    refreshed = False
    while True:
        cursor = engine._cursor(entity)
        try:
            return list(engine.adapter.pull(entity, cursor))
        except MetaChanged:
            if refreshed:
                raise
            refreshed = True
            engine._refresh_meta()


def _unmapped(engine: SyncEngine, entity: str, records: Iterable[RemoteRecord], local_ids: set[str]) -> list[RemoteRecord]:
    """Remote records nothing here is linked to yet (nor made by an earlier run: those carry our uuid)."""
    return [
        r
        for r in records
        if not r.skip
        and not r.gone
        and not r.fields.get("deleted")
        and engine.maps.local(entity, r.remote_id) is None
        and not (r.uuid and (r.uuid in local_ids or engine.maps.state.get((entity, r.uuid)) is not None))
    ]


def pull_first(engine: SyncEngine) -> None:
    """Before the first push: pull companies and contacts in full, linking the local records they match.

    Runs only while an entity's first complete pull has not finished and the push would create
    records of it; otherwise the ordinary pull (after the push) does everything."""
    engine._take_snapshot()
    for entity in MATCH_ENTITIES:
        if entity not in engine.adapter.entities:
            continue
        with engine.crm.read() as session:
            if _first_pass_done(session, engine.name, entity):
                continue
            candidates = _candidates(engine, session, entity, engine.pending(session))
        if not candidates:
            continue
        engine.progress("match", entity, 0, None)
        pages = _read_all(engine, entity)
        remote = _unmapped(engine, entity, (r for p in pages for r in p.records), set(candidates))
        plan = match_records(entity, candidates, remote)
        _hold(engine, plan.held)
        engine.first_links.update({(m.entity, m.remote_id): m for m in plan.links})
        engine.report.linked += len(plan.links)
        seen = 0
        for page in pages:
            engine.apply_page(entity, page.records, cursor_key=entity, cursor=page.cursor, done=page.done)
            seen += len(page.records)
            engine.report.pages += 1
            engine.progress("pull", entity, seen, None)
        engine.progress("match", entity, len(plan.links), len(plan.links))


def _hold(engine: SyncEngine, held: list[Held]) -> None:
    if not held:
        return
    from tui_crm.sync.merge import FieldConflict

    with engine.uow() as work:
        for item in held:
            engine._record_conflict(
                work.session,
                item.entity,
                item.local_id,
                FieldConflict(MATCH_KIND, None, None, item.remote_ids),
                kind=MATCH_KIND,
                detail=item.detail(),
            )
    by_entity: dict[str, int] = defaultdict(int)
    for item in held:
        by_entity[item.entity] += 1
    for entity, count in by_entity.items():
        engine.report.warnings.append(
            f"{count} {entity} record(s) here match several amoCRM records (or share one with another record here): "
            "not sent, nothing linked; see crm sync conflicts."
        )


def held_ids(engine: SyncEngine, entity: str) -> set[str]:
    """Local records the push must not create: an open ``match`` notice. A notice whose record was
    merged away (deleted here) or got linked meanwhile closes itself."""
    if entity not in MATCH_ENTITIES:
        return set()
    with engine.crm.read() as session:
        notices = _open_notices(session, engine.name, entity)
        if not notices:
            return set()
        records = engine.local.read_many(session, entity, list(notices))
    settled = [
        lid
        for lid in notices
        if records.get(lid) is None or records[lid].get("deleted") or engine.maps.state.get((entity, lid)) is not None
    ]
    if settled:
        with engine.uow() as work:
            for row in _open_notices(work.session, engine.name, entity).values():
                if row.local_id in settled:
                    row.resolved_at, row.resolution = work.now, "merged"
                    work.session.add(row)
                    engine._open_conflicts.discard((entity, row.local_id, row.field, MATCH_KIND))
    return set(notices) - set(settled)


# ------------------------------------------------------------------ dry run


@dataclass
class Preview:
    """What the first sync would do with the local records it would otherwise create."""

    links: dict[tuple[str, str], Match] = field(default_factory=dict)  # (entity, local id) -> match
    held: dict[tuple[str, str], str] = field(default_factory=dict)  # (entity, local id) -> why it is held


def preview(engine: SyncEngine, adapter: Adapter | None, stored: dict[str, Any]) -> Preview:
    """The matches of a first connect, read from the remote without writing anything on either side.

    ``engine`` is the dry run's offline engine (its id map loaded by ``plan()``); ``adapter``
    a live one, opened here with the stored metadata (``stored``), or None: only the records
    held by an earlier sync (offline)."""
    out = Preview()
    with engine.crm.read() as session:
        pending = engine.pending(session)
        wanted = {}
        for entity in MATCH_ENTITIES:
            for lid, row in _open_notices(session, engine.name, entity).items():
                out.held[(entity, lid)] = row.detail or "held back: matches several amoCRM records"
            if adapter is not None and entity in adapter.entities and not _first_pass_done(session, engine.name, entity):
                wanted[entity] = _candidates(engine, session, entity, pending)
    wanted = {e: c for e, c in wanted.items() if c}
    if not wanted or adapter is None:
        return out
    adapter.open(engine._schema(), stored)
    for entity, candidates in wanted.items():
        records: list[RemoteRecord] = []
        for attempt in range(2):
            try:
                records = [r for page in adapter.pull(entity, Cursor()) for r in page.records]
                break
            except MetaChanged:
                if attempt:
                    raise
                adapter.refresh_meta()  # type: ignore[attr-defined]
        plan = match_records(entity, candidates, _unmapped(engine, entity, records, set(candidates)))
        out.links.update({(m.entity, m.local_id): m for m in plan.links})
        out.held.update({(h.entity, h.local_id): h.detail() for h in plan.held})
    return out
