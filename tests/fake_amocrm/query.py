"""Query-string handling of the fake amoCRM: PHP-style nested keys, filters, order.

amoCRM parses query strings the PHP way, so ``filter[updated_at][from]=1``
is a nested key and a list may be sent as ``filter[id]=1``,
``filter[id][]=1&filter[id][]=2`` or ``filter[id][0]=1&filter[id][1]=2``.
:func:`parse_query` turns the pairs into nested dicts whose leaves are lists
of strings; the helpers below read them.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from .problems import ApiError

Query = dict[str, Any]

_KEY_RE = re.compile(r"^([^\[\]]+)((?:\[[^\[\]]*\])*)$")
_PART_RE = re.compile(r"\[([^\[\]]*)\]")


def _split_key(key: str) -> list[str]:
    match = _KEY_RE.match(key)
    if not match:
        return [key]
    return [match.group(1), *_PART_RE.findall(match.group(2))]


def parse_query(pairs: Iterable[tuple[str, str]]) -> Query:
    """Nest ``a[b][c]=v`` pairs into ``{"a": {"b": {"c": ["v"]}}}``."""
    root: Query = {}
    for key, value in pairs:
        parts = _split_key(key)
        node = root
        for part in parts[:-1]:
            child = node.get(part)
            if not isinstance(child, dict):
                child = {} if child is None else {"": list(child)}
                node[part] = child
            node = child
        leaf = parts[-1]
        existing = node.get(leaf)
        if isinstance(existing, list):
            existing.append(value)
        elif isinstance(existing, dict):
            existing.setdefault("", []).append(value)
        else:
            node[leaf] = [value]
    return root


def _sort_key(key: str) -> tuple[int, int | str]:
    return (0, int(key)) if key.isdigit() else (1, key)


def flat(node: Any) -> list[str]:
    """All leaf strings under ``node`` (a list, or a dict of ``[]``/``[N]`` keys)."""
    if node is None:
        return []
    if isinstance(node, list):
        return [str(v) for v in node]
    if isinstance(node, dict):
        out: list[str] = []
        for key in sorted(node, key=_sort_key):
            out.extend(flat(node[key]))
        return out
    return [str(node)]


def split_commas(values: Iterable[str]) -> list[str]:
    """Split every value on commas (``with=a,b`` and ``filter[type]=a,b``)."""
    return [part.strip() for value in values for part in value.split(",") if part.strip()]


def scalar(q: Query, name: str) -> str | None:
    """The last value of a top-level parameter, or None."""
    values = flat(q.get(name))
    return values[-1] if values else None


def int_param(q: Query, name: str, default: int) -> int:
    """An integer parameter; a non-integer value is a 400."""
    raw = scalar(q, name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError as exc:
        raise ApiError(400, f"Parameter {name} must be an integer") from exc


def with_set(q: Query) -> set[str]:
    """The ``with=`` extras as a set."""
    return set(split_commas(flat(q.get("with"))))


def ints(values: Iterable[str], name: str) -> list[int]:
    """Parse filter values as ints; a bad one is a 400."""
    out: list[int] = []
    for value in split_commas(values):
        try:
            out.append(int(value))
        except ValueError as exc:
            raise ApiError(400, f"filter[{name}] must contain integers") from exc
    return out


def range_bounds(node: Any, name: str) -> tuple[int | None, int | None]:
    """``[from]``/``[to]`` of a range filter; a bare value means "from"."""
    if node is None:
        return None, None
    if isinstance(node, dict) and ({"from", "to"} & set(node)):
        lo = ints(flat(node.get("from")), name) if "from" in node else []
        hi = ints(flat(node.get("to")), name) if "to" in node else []
        return (lo[-1] if lo else None), (hi[-1] if hi else None)
    values = ints(flat(node), name)
    return (values[-1] if values else None), None


def in_range(value: int | None, lo: int | None, hi: int | None) -> bool:
    """Inclusive range test; a None value never matches a bounded range."""
    if lo is None and hi is None:
        return True
    if value is None:
        return False
    if lo is not None and value < lo:
        return False
    return not (hi is not None and value > hi)


def order_items(items: list[dict[str, Any]], q: Query, allowed: set[str], default: tuple[str, str]) -> list[dict[str, Any]]:
    """Sort by ``order[field]=asc|desc`` (ties by id ascending)."""
    field, direction = default
    order = q.get("order")
    if isinstance(order, dict):
        for key in order:
            values = flat(order[key])
            if key in allowed and values and values[-1].lower() in ("asc", "desc"):
                field, direction = key, values[-1].lower()
                break
    reverse = direction == "desc"

    def key_of(item: dict[str, Any]) -> tuple[int, Any]:
        value = item.get(field)
        return (0 if value is None else 1, value if value is not None else 0)

    by_id = sorted(items, key=lambda item: str(item.get("id")) if isinstance(item.get("id"), str) else item.get("id") or 0)
    return sorted(by_id, key=key_of, reverse=reverse)


def text_matches(record: dict[str, Any], needle: str, fields: Iterable[str]) -> bool:
    """Case-insensitive substring search over ``fields`` and custom field values."""
    wanted = needle.casefold()
    if not wanted:
        return True
    haystack: list[str] = [str(record.get("id", ""))]
    haystack.extend(str(record[name]) for name in fields if record.get(name) is not None)
    for cf in record.get("custom_fields_values") or []:
        for value in cf.get("values") or []:
            if value.get("value") is not None:
                haystack.append(str(value["value"]))
    digits = "".join(ch for ch in needle if ch.isdigit())
    for text in haystack:
        if wanted in text.casefold():
            return True
        if len(digits) >= 5 and digits in "".join(ch for ch in text if ch.isdigit()):
            return True
    return False
