"""Merging two contacts (or two companies) that are one person (one company).

The manual's rule is one person, one record; when two slipped in anyway,
``merge`` folds the second (the loser, ``b``) into the first (the winner,
``a``) without losing anything:

- each field keeps the value chosen for it (``keep={"position": "b"}``);
  by default the winner's value, or the loser's where the winner has none;
- every phone, e-mail, messenger, tag, note, task and file of the loser
  moves to the winner, and so do its deals (a contact's deal links, the
  main flag included; a company's contacts and deals);
- the loser is soft-deleted (a tombstone: sync deletes it remotely), the
  winner updated, all through ``UnitOfWork`` in one transaction with one
  ``batch_id``, so the change log carries the merge to the timeline and to
  sync like any edit; the winner's timeline says what was merged into it.

What the merge changed is kept (a ``setting`` row, local only) so that
``undo_merge`` splits the two again exactly: ``z`` on the list and
``crm bulk undo``. ``undo_latest`` picks whichever of a merge and a mass
delete of that list's kind happened last.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sqlalchemy import func
from sqlmodel import Session, col, select

from tui_crm.domain.errors import AmbiguousError, NotFoundError, ValidationError
from tui_crm.domain.ids import could_be_id, new_id, short_id
from tui_crm.domain.text import fold
from tui_crm.services import bulk, party_bulk
from tui_crm.services.bulk import BulkReport
from tui_crm.services.context import Crm
from tui_crm.services.records import (
    add_channel,
    change_tags,
    channels_of,
    custom_values,
    reindex,
    reindex_linked,
    remove_channel,
    resolve,
    set_custom_value,
    tags_of,
    user_names,
)
from tui_crm.services.views import LinkView
from tui_crm.storage.models import ChangeLog, Company, Contact, Deal, DealContact, EntityFile, Note, Record, Setting, Task
from tui_crm.storage.settings import put_setting
from tui_crm.storage.unit_of_work import UnitOfWork, to_jsonable

MODELS: dict[str, type[Contact] | type[Company]] = {"contact": Contact, "company": Company}
NOUNS = {"contact": "contacts", "company": "companies"}
MERGE_KEY = "merge.batch.{batch}"
LAST_MERGE_KEY = "merge.last.{entity_type}"

# field as --keep names it -> (column, label)
CONTACT_FIELDS: dict[str, tuple[str, str]] = {
    "name": ("name", "Name"),
    "responsible": ("responsible_id", "Responsible"),
    "company": ("company_id", "Company"),
    "position": ("position", "Position"),
    "department": ("department", "Department"),
    "gender": ("gender", "Gender"),
    "birthday": ("birthday", "Birthday"),
}
COMPANY_FIELDS: dict[str, tuple[str, str]] = {
    "name": ("name", "Name"),
    "responsible": ("responsible_id", "Responsible"),
    "inn": ("inn", "INN"),
    "web": ("web", "Web"),
    "address": ("address", "Address"),
    "type": ("company_type", "Type"),
    "turnover": ("turnover", "Turnover"),
    "industry": ("industry", "Industry"),
    "employees": ("employees", "Employees"),
    "needs": ("needs", "Needs"),
    "territory": ("territory", "Territory"),
}
FIELDS = {"contact": CONTACT_FIELDS, "company": COMPANY_FIELDS}


@dataclass
class MergeField:
    """One field of the two records and which value survives."""

    key: str  # as ``--keep KEY=a|b`` names it
    label: str
    a: str | None  # shown values
    b: str | None
    keep: str  # "a" | "b"

    @property
    def differs(self) -> bool:
        return (self.a or None) != (self.b or None)


@dataclass
class MergePlan:
    """What ``merge`` would do: the fields and what moves from ``b`` to ``a``."""

    entity_type: str
    a: LinkView
    b: LinkView
    fields: list[MergeField]
    moves: dict[str, int]  # phones, emails, ... -> how many move from b to a

    @property
    def keep(self) -> dict[str, str]:
        return {f.key: f.keep for f in self.fields}


@dataclass
class MergeReport:
    batch_id: str
    entity_type: str
    winner: LinkView
    loser: LinkView
    from_b: list[str] = field(default_factory=list)  # fields whose value came from the loser
    moved: dict[str, int] = field(default_factory=dict)


# -- planning -------------------------------------------------------------------------------


def _pair(session: Session, entity_type: str, a_ref: str, b_ref: str) -> tuple[Contact | Company, Contact | Company]:
    if entity_type not in MODELS:
        raise ValidationError("merge", f"merge takes contacts or companies, not {entity_type!r}")
    model = MODELS[entity_type]
    a, b = resolve(session, model, a_ref), resolve(session, model, b_ref)
    if a.id == b.id:
        raise ValidationError("merge", f"{a_ref!r} and {b_ref!r} are the same {entity_type}; give two different ones")
    return a, b


def _empty(value: Any) -> bool:
    return value is None or value == "" or value == []


def _shown(session: Session, column: str, value: Any, users: Mapping[str, str]) -> str | None:
    if _empty(value):
        return None
    if column == "responsible_id":
        return users.get(value, value)
    if column == "company_id":
        company = session.get(Company, value)
        return company.name if company else value
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, list | dict):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


def _check_keep(entity_type: str, keep: Mapping[str, str], custom_keys: set[str]) -> None:
    known = [*FIELDS[entity_type], *sorted(custom_keys)]
    for key, side in keep.items():
        if key not in known:
            raise ValidationError("--keep", f"{key!r} is not a field of a {entity_type}; fields: {', '.join(known)}")
        if side not in ("a", "b"):
            raise ValidationError("--keep", f"{key}={side!r}: write {key}=a (the first record's value) or {key}=b (the second's)")


def _plan(session: Session, entity_type: str, a: Contact | Company, b: Contact | Company, keep: Mapping[str, str]) -> MergePlan:
    users = user_names(session)
    custom_a = custom_values(session, entity_type, a.id)
    custom_b = custom_values(session, entity_type, b.id)
    _check_keep(entity_type, keep, set(custom_a) | set(custom_b))
    fields: list[MergeField] = []
    for key, (column, label) in FIELDS[entity_type].items():
        va, vb = getattr(a, column), getattr(b, column)
        side = keep.get(key) or ("b" if _empty(va) and not _empty(vb) else "a")
        fields.append(MergeField(key, label, _shown(session, column, va, users), _shown(session, column, vb, users), side))
    for key in sorted(set(custom_a) | set(custom_b)):
        va, vb = custom_a.get(key), custom_b.get(key)
        side = keep.get(key) or ("b" if _empty(va) and not _empty(vb) else "a")
        fields.append(MergeField(key, key, _shown(session, key, va, users), _shown(session, key, vb, users), side))
    return MergePlan(entity_type, _link(a, entity_type), _link(b, entity_type), fields, _moves(session, entity_type, a, b))


def _link(record: Contact | Company, entity_type: str) -> LinkView:
    return LinkView(record.id, record.name, entity_type)


def _moves(session: Session, entity_type: str, a: Contact | Company, b: Contact | Company) -> dict[str, int]:
    have = {(c.kind, c.normalized) for c in channels_of(session, entity_type, a.id)}
    moving = [c for c in channels_of(session, entity_type, b.id) if (c.kind, c.normalized) not in have]
    tags_a = {fold(t) for t in tags_of(session, entity_type, [a.id]).get(a.id, [])}
    moves = {
        "phones": sum(c.kind == "phone" for c in moving),
        "emails": sum(c.kind == "email" for c in moving),
        "messengers": sum(c.kind not in ("phone", "email") for c in moving),
        "tags": sum(fold(t) not in tags_a for t in tags_of(session, entity_type, [b.id]).get(b.id, [])),
        "notes": _count(session, Note, b.id),
        "tasks": _count(session, Task, b.id),
        "files": _count(session, EntityFile, b.id),
    }
    if entity_type == "contact":
        moves["deals"] = _count_where(session, DealContact, DealContact.contact_id == b.id)
    else:
        moves["contacts"] = _count_where(session, Contact, Contact.company_id == b.id, col(Contact.deleted_at).is_(None))
        moves["deals"] = _count_where(session, Deal, Deal.company_id == b.id, col(Deal.deleted_at).is_(None))
    return moves


def _count(session: Session, model: type[Record], entity_id: str) -> int:
    return _count_where(session, model, model.entity_id == entity_id)  # type: ignore[attr-defined]


def _count_where(session: Session, model: type[Any], *where: Any) -> int:
    return int(session.exec(select(func.count()).select_from(model).where(*where)).one())


def plan_merge(crm: Crm, entity_type: str, a_ref: str, b_ref: str, keep: Mapping[str, str] | None = None) -> MergePlan:
    """What merging ``b`` into ``a`` would keep and move; nothing is written."""
    with crm.read() as session:
        a, b = _pair(session, entity_type, a_ref, b_ref)
        return _plan(session, entity_type, a, b, keep or {})


# -- merging ---------------------------------------------------------------------------------


def merge(crm: Crm, entity_type: str, a_ref: str, b_ref: str, keep: Mapping[str, str] | None = None) -> MergeReport:
    """Fold ``b`` into ``a`` (see the module docstring); one transaction, one batch."""
    with crm.uow(batch_id=new_id()) as work:
        session = work.session
        a, b = _pair(session, entity_type, a_ref, b_ref)
        plan = _plan(session, entity_type, a, b, keep or {})
        undo: dict[str, Any] = {"entity_type": entity_type, "winner": a.id, "loser": b.id}
        undo["fields"] = _take_fields(work, entity_type, a, b, plan)
        undo["custom"] = _take_custom(work, entity_type, a, b, plan)
        undo["channels"] = [
            [c.kind, c.value, c.normalized]
            for c in channels_of(session, entity_type, b.id)
            if add_channel(work, a, c.kind, c.value, c.normalized)
        ]
        before = tags_of(session, entity_type, [a.id]).get(a.id, [])
        after = change_tags(work, a, add=tags_of(session, entity_type, [b.id]).get(b.id, []))
        undo["tags"] = [t for t in after if fold(t) not in {fold(x) for x in before}]
        for key, model in (("notes", Note), ("tasks", Task), ("files", EntityFile)):
            rows = list(session.exec(select(model).where(model.entity_id == b.id)))  # type: ignore[attr-defined]
            for row in rows:
                work.update(row, entity_id=a.id)
            undo[key] = [r.id for r in rows]
        if entity_type == "contact":
            undo["deal_links"] = _move_deal_links(work, a.id, b.id)
        else:
            undo["contacts"] = _move_company(work, Contact, a.id, b.id)
            undo["deals"] = _move_company(work, Deal, a.id, b.id)
        work.soft_delete(b)
        shown = f"{b.name} ({short_id(b.id)})"
        work.log(entity_type, a.id, "update", {"merged_from": [None, shown]})
        work.log(entity_type, b.id, "update", {"merged_into": [None, f"{a.name} ({short_id(a.id)})"]})
        for record_id in (a.id, b.id):
            reindex(session, entity_type, record_id)
            reindex_linked(session, entity_type, record_id)
        batch = work.batch_id or ""
        put_setting(session, MERGE_KEY.format(batch=batch), json.dumps(undo, ensure_ascii=False))
        put_setting(session, LAST_MERGE_KEY.format(entity_type=entity_type), batch)
        report = MergeReport(
            batch,
            entity_type,
            _link(a, entity_type),
            LinkView(b.id, b.name, entity_type),
            from_b=[f.key for f in plan.fields if f.keep == "b" and f.differs],
            moved={k: v for k, v in plan.moves.items() if v},
        )
    return report


def _take_fields(
    work: UnitOfWork, entity_type: str, a: Contact | Company, b: Contact | Company, plan: MergePlan
) -> dict[str, Any]:
    """Set the winner's columns the plan takes from the loser; returns their old values."""
    values: dict[str, Any] = {}
    for item in plan.fields:
        if item.key not in FIELDS[entity_type] or item.keep != "b":
            continue
        column = FIELDS[entity_type][item.key][0]
        values[column] = getattr(b, column)
    if "name" in values:
        values["name_fold"] = fold(values["name"])
    old = {column: to_jsonable(getattr(a, column)) for column in values}
    work.update(a, **values)
    return old


def _take_custom(
    work: UnitOfWork, entity_type: str, a: Contact | Company, b: Contact | Company, plan: MergePlan
) -> dict[str, Any]:
    custom_a = custom_values(work.session, entity_type, a.id)
    custom_b = custom_values(work.session, entity_type, b.id)
    old: dict[str, Any] = {}
    for item in plan.fields:
        if item.key in FIELDS[entity_type] or item.keep != "b":
            continue
        if set_custom_value(work, a, item.key, custom_b.get(item.key)):
            old[item.key] = custom_a.get(item.key)
    return old


def _move_deal_links(work: UnitOfWork, winner_id: str, loser_id: str) -> list[dict[str, Any]]:
    """Each deal of the loser becomes the winner's (main flag kept); returns what to undo."""
    session = work.session
    moved: list[dict[str, Any]] = []
    for link in list(session.exec(select(DealContact).where(DealContact.contact_id == loser_id))):
        deal = session.get(Deal, link.deal_id)
        mine = session.get(DealContact, (link.deal_id, winner_id))
        entry = {
            "deal": link.deal_id,
            "loser_main": link.is_main,
            "had": mine is not None,
            "winner_main": bool(mine and mine.is_main),
        }
        session.delete(link)
        session.flush()
        if mine is None:
            session.add(DealContact(deal_id=link.deal_id, contact_id=winner_id, is_main=link.is_main))
        elif link.is_main and not mine.is_main:
            mine.is_main = True
            session.add(mine)
        if deal is not None:
            work.touch(deal)
            work.log("deal", deal.id, "update", {"contacts": [loser_id, None]})
            if mine is None:
                work.log("deal", deal.id, "update", {"contacts": [None, winner_id]})
        moved.append(entry)
    return moved


def _move_company(work: UnitOfWork, model: type[Contact] | type[Deal], winner_id: str, loser_id: str) -> list[str]:
    rows = list(work.session.exec(select(model).where(model.company_id == loser_id)))
    for row in rows:
        work.update(row, company_id=winner_id)
    return [r.id for r in rows]


# -- undo ----------------------------------------------------------------------------------


def _merge_batch(session: Session, batch: str) -> str | None:
    """The full batch id of the merge ``batch`` starts, if it is one."""
    prefix = MERGE_KEY.format(batch=batch)
    keys = list(session.exec(select(Setting.key).where(col(Setting.key).startswith(prefix)).limit(3)))
    if len(keys) > 1:
        raise AmbiguousError(f"{len(keys)} merges start with {batch!r}; type more of the id", keys)
    return keys[0].removeprefix(MERGE_KEY.format(batch="")) if keys else None


def _last_seq(session: Session, batch: str | None) -> int:
    if not batch:
        return -1
    return int(session.exec(select(func.max(ChangeLog.seq)).where(ChangeLog.batch_id == batch)).one() or -1)


def merge_to_undo(crm: Crm, batch: str | None = None, *, entity_type: str | None = None) -> str | None:
    """The merge an undo means, if it means one.

    ``batch`` given: that merge's full id, or None when it is no merge.
    Without it: the last merge (of ``entity_type``, or of either kind),
    when it happened after the last mass delete of the same scope (deals
    for ``crm bulk undo``, the list's kind for ``z``); otherwise None.
    """
    with crm.read() as session:
        if batch:
            return _merge_batch(session, batch) if could_be_id(batch) else None  # not hex: bulk undo explains
        kinds = [entity_type] if entity_type else list(MODELS)
        merges = [row.value for k in kinds if (row := session.get(Setting, LAST_MERGE_KEY.format(entity_type=k)))]
        if not merges:
            return None
        latest = max(merges, key=lambda b: _last_seq(session, b))
        delete_key = party_bulk.LAST_DELETE_KEY.format(entity_type=entity_type) if entity_type else bulk.LAST_DELETE_KEY
        deleted = session.get(Setting, delete_key)
        return latest if _last_seq(session, latest) > _last_seq(session, deleted.value if deleted else None) else None


def undo_merge(crm: Crm, batch: str) -> MergeReport:
    """Split a merge again: the loser back with everything that came from it,
    the winner's fields as they were. Logged as a new batch (it syncs)."""
    with crm.uow(batch_id=new_id()) as work:
        session = work.session
        full = _merge_batch(session, batch)
        row = session.get(Setting, MERGE_KEY.format(batch=full)) if full else None
        if row is None:
            raise NotFoundError(f"No merge {batch!r} to undo.")
        undo = json.loads(row.value)
        entity_type = undo["entity_type"]
        model = MODELS[entity_type]
        winner, loser = session.get(model, undo["winner"]), session.get(model, undo["loser"])
        if winner is None or loser is None:
            raise NotFoundError(f"The records of merge {batch!r} are gone; nothing to undo.")
        work.restore(loser)
        _restore_fields(work, entity_type, winner, undo)
        for kind, _value, normalized in undo["channels"]:
            remove_channel(work, winner, kind, normalized)
        if undo["tags"]:
            change_tags(work, winner, remove=undo["tags"])
        for key, moved_model in (("notes", Note), ("tasks", Task), ("files", EntityFile)):
            for record_id in undo[key]:
                moved = session.get(moved_model, record_id)
                if moved is not None and moved.entity_id == winner.id:  # type: ignore[attr-defined]
                    work.update(moved, entity_id=loser.id)
        for entry in undo.get("deal_links", []):
            _restore_deal_link(work, entry, winner.id, loser.id)
        for key, moved_model in (("contacts", Contact), ("deals", Deal)):
            for record_id in undo.get(key, []):
                moved = session.get(moved_model, record_id)
                if moved is not None and moved.company_id == winner.id:  # type: ignore[union-attr]
                    work.update(moved, company_id=loser.id)
        work.log(entity_type, winner.id, "update", {"merged_from": [f"{loser.name} ({short_id(loser.id)})", None]})
        for record_id in (winner.id, loser.id):
            reindex(session, entity_type, record_id)
            reindex_linked(session, entity_type, record_id)
        session.delete(row)
        last = session.get(Setting, LAST_MERGE_KEY.format(entity_type=entity_type))
        if last is not None and last.value == full:
            session.delete(last)
        report = MergeReport(work.batch_id or "", entity_type, _link(winner, entity_type), _link(loser, entity_type))
    return report


def _restore_fields(work: UnitOfWork, entity_type: str, winner: Contact | Company, undo: dict[str, Any]) -> None:
    values: dict[str, Any] = {}
    for column, old in undo["fields"].items():
        if column == "birthday" and old:
            old = date.fromisoformat(old)
        values[column] = old
    if "name" in values:
        values["name_fold"] = fold(values["name"])
    work.update(winner, **values)
    for key, old in undo["custom"].items():
        set_custom_value(work, winner, key, old)


def _restore_deal_link(work: UnitOfWork, entry: dict[str, Any], winner_id: str, loser_id: str) -> None:
    session = work.session
    deal = session.get(Deal, entry["deal"])
    if deal is None:
        return
    mine = session.get(DealContact, (deal.id, winner_id))
    if not entry["had"] and mine is not None:
        session.delete(mine)
        session.flush()
        work.log("deal", deal.id, "update", {"contacts": [winner_id, None]})
    elif mine is not None and mine.is_main != entry["winner_main"]:
        mine.is_main = entry["winner_main"]
        session.add(mine)
    if session.get(DealContact, (deal.id, loser_id)) is None:
        session.add(DealContact(deal_id=deal.id, contact_id=loser_id, is_main=entry["loser_main"]))
        work.log("deal", deal.id, "update", {"contacts": [None, loser_id]})
    work.touch(deal)


def undo_latest(crm: Crm, entity_type: str) -> tuple[str, BulkReport | MergeReport]:
    """What ``z`` on a contact/company list does: undo the last merge or the
    last mass delete of that kind, whichever came last. Returns
    ("merge" | "delete", report)."""
    batch = merge_to_undo(crm, entity_type=entity_type)
    if batch is not None:
        return "merge", undo_merge(crm, batch)
    return "delete", party_bulk.undo_delete(crm, entity_type)
