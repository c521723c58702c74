"""The account's catalog (users, pipelines, loss reasons, custom field
definitions) and the change probe: what lets a sync with nothing to do cost
three requests instead of sixteen.

* **Catalog.** Read once and kept in ``sync_meta`` (key ``catalog``); read
  again after ``CATALOG_TTL`` or as soon as a pulled record names an id the
  catalog does not know (a new stage, field, user or loss reason: the
  adapter raises :class:`~tui_crm.sync.adapter.MetaChanged` and the engine
  refreshes, then reads the page again).
* **Change probe.** After a complete pull the adapter notes the ids of the
  events amoCRM logged in the last seconds before that pull began. The next
  sync first asks ``/api/v4/events`` for everything since then: if amoCRM
  logged nothing new, no record changed, and the per-entity pulls are
  skipped. Note edits leave no event in amoCRM, so a full pull still runs
  at least every ``FULL_PULL_EVERY`` seconds, and always after a run that
  wrote to amoCRM (its own writes are new events).
"""

from __future__ import annotations

from typing import Any

from tui_crm.sync.amocrm.client import AmoClient, embedded_items
from tui_crm.sync.amocrm.errors import AmoForbidden
from tui_crm.sync.amocrm.fields import ENTITY_PATHS

JSON = dict[str, Any]
CATALOG_VERSION = 1
CATALOG_TTL = 6 * 3600
FULL_PULL_EVERY = 15 * 60
PROBE_LIMIT = 100
OVERLAP = 5


def fetch_catalog(client: AmoClient, now: int | None) -> JSON:
    """Read every catalog list from the account (users may be refused to a manager: ``users`` is then None)."""
    try:
        users: list[JSON] | None = list(client.iter_all("users"))
    except AmoForbidden:
        users = None
    return {
        "version": CATALOG_VERSION,
        "at": now or 0,
        "users": users,
        "pipelines": client.pipelines(),
        "loss_reasons": list(client.iter_all("leads/loss_reasons")),
        "fields": {path: client.custom_fields(path) for path in ENTITY_PATHS.values()},
    }


def usable_catalog(stored: Any, now: int | None) -> JSON | None:
    """The stored catalog when it is recent enough to trust."""
    if not isinstance(stored, dict) or stored.get("version") != CATALOG_VERSION or now is None:
        return None
    age = now - int(stored.get("at") or 0)
    return stored if 0 <= age < CATALOG_TTL else None


def _events(client: AmoClient, params: JSON) -> list[JSON] | None:
    try:
        return embedded_items(client.get("events", {**params, "limit": PROBE_LIMIT}), "events")
    except AmoForbidden:
        return None


def remote_changed(client: AmoClient, probe: Any, now: int | None) -> bool:
    """Whether amoCRM may hold changes the last complete pull did not read (True when unsure)."""
    if not isinstance(probe, dict) or now is None or now - int(probe.get("full_at") or 0) >= FULL_PULL_EVERY:
        return True
    items = _events(client, {"filter[created_at][from]": int(probe["since"])})
    if items is None or len(items) >= PROBE_LIMIT:
        return True
    seen = set(probe.get("seen") or [])
    return any(str(item.get("id")) not in seen for item in items)


def note_pulled(client: AmoClient, pull_started: int | None) -> JSON | None:
    """The probe state after a complete pull that began at ``pull_started`` (server time)."""
    if pull_started is None:
        return None
    since = pull_started - OVERLAP
    items = _events(client, {"filter[created_at][from]": since, "filter[created_at][to]": pull_started})
    if items is None or len(items) >= PROBE_LIMIT:
        return None
    return {"since": since, "seen": sorted(str(item.get("id")) for item in items), "full_at": pull_started}
