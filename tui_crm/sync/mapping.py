"""The canonical form of a record that the engine, the local store and every
adapter agree on.

A record is a flat ``dict`` of JSON values keyed by canonical field names.
Values are in the *local* value space (money in minor units, dates as ISO
text, phones in E.164, references as local ids); an adapter converts them to
and from its remote form. References are the only values that differ
between the two sides: locally they are local ids, on the adapter side
:class:`~tui_crm.sync.adapter.Ref` objects naming a remote id. The engine
translates them through the id map.

Fields per entity (``custom.<key>`` for custom fields; ``amo:<id>``-style
keys for remote fields the local schema does not know, kept verbatim):

* company: name, responsible_id, inn, web, address, company_type,
  industry, territory, turnover, employees, needs, phones, emails,
  messengers, tags, deleted
* contact: name, responsible_id, company_id, position, department, gender,
  birthday, phones, emails, messengers (``"telegram:@handle"``), tags, deleted
* deal: name, stage_id, responsible_id, company_id, contacts, main_contact,
  budget_rub, budget_usd, loss_reason, source_channel, source_site,
  source_url, source_message, tags, deleted; the tracking fields (UTM,
  ``_ym_uid``, ...) as ``mkt:<code>`` (``mkt:utm_source``), kept as custom values
* task: text, due_at (unix seconds), all_day, task_type, responsible_id, entity
  (``"deal:<id>"``), completed, result, deleted
* note: entity, text, kind, pinned, deleted
"""

from __future__ import annotations

from typing import Any

# Push and pull order: referenced records first.
ENTITIES: tuple[str, ...] = ("company", "contact", "deal", "task", "note")

# Fields whose value is a list treated as a set: merged element-wise, never a conflict.
SET_FIELDS = frozenset({"tags", "contacts", "phones", "emails", "messengers"})

# Fields holding references: field -> referenced entity ("*" = "entity:id" text).
REF_FIELDS: dict[str, dict[str, str]] = {
    "company": {"responsible_id": "user"},
    "contact": {"responsible_id": "user", "company_id": "company"},
    "deal": {
        "stage_id": "stage",
        "responsible_id": "user",
        "company_id": "company",
        "contacts": "contact",
        "main_contact": "contact",
    },
    "task": {"responsible_id": "user", "entity": "*"},
    "note": {"entity": "*"},
}

FIELDS: dict[str, tuple[str, ...]] = {
    "company": (
        "name",
        "responsible_id",
        "inn",
        "web",
        "address",
        "company_type",
        "industry",
        "territory",
        "turnover",
        "employees",
        "needs",
        "phones",
        "emails",
        "messengers",
        "tags",
        "deleted",
    ),
    "contact": (
        "name",
        "responsible_id",
        "company_id",
        "position",
        "department",
        "gender",
        "birthday",
        "phones",
        "emails",
        "messengers",
        "tags",
        "deleted",
    ),
    "deal": (
        "name",
        "stage_id",
        "responsible_id",
        "company_id",
        "contacts",
        "main_contact",
        "budget_rub",
        "budget_usd",
        "loss_reason",
        "source_channel",
        "source_site",
        "source_url",
        "source_message",
        "tags",
        "deleted",
    ),
    "task": ("text", "due_at", "all_day", "task_type", "responsible_id", "entity", "completed", "result", "deleted"),
    "note": ("entity", "text", "kind", "pinned", "deleted"),
}

# Local table names of the synced entities (change_log.entity values).
TABLES: dict[str, str] = {"company": "company", "contact": "contact", "deal": "deal", "task": "task", "note": "note"}

CUSTOM_PREFIX = "custom."


def is_custom(field: str) -> bool:
    """Whether a canonical field is a custom field (local ``custom.x`` or a kept remote one)."""
    return field.startswith(CUSTOM_PREFIX) or ":" in field


def canonical(value: Any) -> Any:
    """A value in the form comparisons use: lists of sets sorted, tuples as lists."""
    if isinstance(value, tuple):
        value = list(value)
    if isinstance(value, list):
        return [canonical(v) for v in value]
    if isinstance(value, dict):
        return {k: canonical(v) for k, v in value.items()}
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def sort_set(field: str, value: Any) -> Any:
    """Set-valued fields sorted (case-insensitively for tags), None as []."""
    if field not in SET_FIELDS:
        return value
    items = list(value or [])
    if field == "tags":
        seen: dict[str, Any] = {}
        for item in items:
            seen.setdefault(str(item).casefold(), item)
        return [seen[k] for k in sorted(seen)]
    return sorted(set(items), key=lambda v: str(v))


_PLAIN = (str, int, bool, type(None))


def clean(entity: str, fields: dict[str, Any]) -> dict[str, Any]:
    """A record with set fields sorted and values canonical."""
    out: dict[str, Any] = {}
    for key, value in fields.items():
        if type(value) in _PLAIN and not isinstance(value, float):
            out[key] = value
        else:
            value = canonical(value)
            out[key] = sort_set(key, value) if key in SET_FIELDS else value
    return out


def entity_ref(text: str | None) -> tuple[str, str] | None:
    """``"deal:abc"`` -> ``("deal", "abc")``."""
    if not text or ":" not in text:
        return None
    kind, _, ident = text.partition(":")
    return kind, ident


def messenger_parts(item: str) -> tuple[str, str]:
    """``"telegram:@ivan"`` -> ``("telegram", "@ivan")`` (a messenger in the canonical ``messengers`` set)."""
    kind, _, handle = str(item).partition(":")
    return kind.strip().lower() or "other", handle.strip()


def display_value(value: Any) -> str:
    """A canonical value as a person reads it: a kept remote field's ``values`` list by its labels
    (``[{"value": "Сайт", "enum_id": 5}]`` -> ``Сайт``), lists comma-separated, nothing as ``—``."""
    if value is None or value == "" or value == []:
        return "—"
    if isinstance(value, list):
        return ", ".join(display_value(v.get("value") if isinstance(v, dict) else v) for v in value)
    if isinstance(value, dict):
        return display_value(value.get("value", ""))
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)
