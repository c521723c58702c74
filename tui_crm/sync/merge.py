"""Field-level three-way merge (pure: no I/O).

``base`` is what both sides held after the last sync of the record (the
shadow), ``local`` and ``remote`` what each holds now. Per field:

* the same value on both sides: nothing to do;
* only one side changed: that side's value goes to the other;
* both changed to different values: for set-valued fields (tags, phones,
  emails, linked contacts) the changes are combined element by element
  (base + both additions - both removals); for any other field it is a
  :class:`FieldConflict`: the local value is kept, the remote one recorded,
  and the base stays as it was so the field keeps showing up as a conflict
  until a person resolves it.

Without a base (a record linked to an existing remote one, e.g. an accepted
incoming lead), or for a field the base does not hold (a value the remote
could not take when the record was created), nothing is a conflict: values
present on one side only fill the other, and where both have a value the
local one wins.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from tui_crm.sync.mapping import SET_FIELDS, sort_set


@dataclass
class FieldConflict:
    field: str
    base: Any
    local: Any
    remote: Any


@dataclass
class MergeResult:
    to_local: dict[str, Any] = field(default_factory=dict)
    to_remote: dict[str, Any] = field(default_factory=dict)
    base: dict[str, Any] = field(default_factory=dict)  # the shadow once both writes are done
    conflicts: list[FieldConflict] = field(default_factory=list)
    agreed: set[str] = field(default_factory=set)  # fields equal on both sides

    @property
    def changed(self) -> bool:
        return bool(self.to_local or self.to_remote or self.conflicts)


def _empty(value: Any) -> bool:
    return value is None or value == "" or value == []


def same(a: Any, b: Any) -> bool:
    """Equality where None, "" and [] are all "no value"."""
    if _empty(a) and _empty(b):
        return True
    return bool(a == b)


def merge_sets(base: list[Any] | None, local: list[Any] | None, remote: list[Any] | None, *, fold: bool = False) -> list[Any]:
    """base + additions on either side - removals on either side (order: local first)."""

    def key(v: Any) -> Any:
        return str(v).casefold() if fold else v

    b = {key(v) for v in base or []}
    lk = {key(v) for v in local or []}
    rk = {key(v) for v in remote or []}
    removed = (b - lk) | (b - rk)
    out: list[Any] = []
    seen: set[Any] = set()
    for value in [*(local or []), *(remote or [])]:
        k = key(value)
        if k in removed or k in seen:
            continue
        seen.add(k)
        out.append(value)
    return out


def merge(base: dict[str, Any] | None, local: dict[str, Any], remote: dict[str, Any]) -> MergeResult:
    """Merge one record; see the module docstring."""
    result = MergeResult()
    keys = list(dict.fromkeys([*local, *remote, *(base or {})]))
    for name in keys:
        lv, rv = local.get(name), remote.get(name)
        if same(lv, rv):
            result.base[name] = rv if rv is not None else lv
            result.agreed.add(name)
            continue
        if base is None or name not in base:
            if _empty(lv):
                result.to_local[name] = rv
                result.base[name] = rv
            else:
                result.to_remote[name] = lv
                result.base[name] = lv
            continue
        bv = base.get(name)
        if same(lv, bv):
            result.to_local[name] = rv
            result.base[name] = rv
        elif same(rv, bv):
            result.to_remote[name] = lv
            result.base[name] = lv
        elif name in SET_FIELDS:
            merged = sort_set(name, merge_sets(bv, lv, rv, fold=name == "tags"))
            if not same(merged, sort_set(name, lv)):
                result.to_local[name] = merged
            if not same(merged, sort_set(name, rv)):
                result.to_remote[name] = merged
            result.base[name] = merged
        else:
            result.conflicts.append(FieldConflict(name, bv, lv, rv))
            result.base[name] = bv  # even None: the field stays known, so it stays a conflict
    return result
