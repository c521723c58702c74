"""The amoCRM/Kommo API v4 adapter behind :class:`tui_crm.sync.adapter.Adapter`.

Mapping (see :mod:`.fields` for custom fields):

* leads <-> deals: ``price`` (whole roubles) <-> ``budget_rub`` (kopecks,
  rounded to roubles on the way out); ``pipeline_id``/``status_id`` <->
  ``stage_id`` (statuses 142/143 are the won/lost stage of every pipeline;
  leads in an "Incoming leads" status are not deals yet, they come in as
  Unsorted entries); ``loss_reason_id`` <-> ``loss_reason`` by name;
  ``_embedded.contacts``/``companies`` <-> ``contacts``/``company_id``
  (sent in ``_embedded`` on create, later through ``/link`` and
  ``/unlink``); ``_embedded.contacts[].is_main`` <-> ``main_contact`` (on
  create in ``_embedded``, later a ``/link`` with ``metadata.main_contact``);
  the marketing fields and tracking data by field (:mod:`.fields`,
  :mod:`.marketing`); tags by name (``tags_to_add``/``tags_to_delete``, never the
  replace-all form, so a tag added remotely meanwhile survives).
* contacts, companies: name, responsible, custom fields, tags; a contact's
  company through ``/link``.
* tasks: ``text``, ``complete_till`` (23:59 in the account's zone = an
  all-day task, :mod:`.all_day`), ``task_type_id`` (matched by code or
  name), ``is_completed``, ``result.text``, ``entity_type``/``entity_id``.
* notes: ``common`` notes (``params.text``) of leads, contacts, companies;
  ``is_pinned`` (read with ``with=is_pinned``) <-> ``pinned``, written through
  ``POST /{entity}/notes/{id}/pin`` and ``/unpin``.
* our UUID: a text custom field ``tui_crm_uuid`` (API-only) that the adapter
  creates on leads, contacts and companies just before the first create
  that needs it; every create sets it. Where amoCRM refuses the field (a
  manager's rights, 402, 404, 405, 5xx) the record gets a tag
  ``tui-crm:id:<uuid>`` in the same request instead; the refusal is
  remembered (asked again after a week, a day for a 5xx).
  :meth:`AmoAdapter.find_created` reads the records created since the
  attempt, newest first, and matches either mark. Tasks and notes have no
  custom fields: they are found by their entity, text and due time.
* local deletes: amoCRM API v4 cannot delete leads, contacts, companies,
  tasks or notes. A deleted deal/contact/company gets the tag
  ``tui-crm:deleted`` (a restore removes it); a deleted task is completed
  with the result ``[tui-crm: deleted]``. Other tui-crm users treat both
  as deletions; a person can delete the record in amoCRM for good. Notes
  deleted locally stay in amoCRM.
* remote deletes: ``/api/v4/events`` (``*_deleted``/``*_restored``) and a
  missing record on fetch.
* incremental pull: ``filter[updated_at][from]`` with ``order[updated_at]``;
  every record is re-checked on the client, and the next pass starts a few
  seconds before the lower of (highest ``updated_at`` seen, server time at
  the start of the pass), so a record on the boundary is read again (the
  merge makes that a no-op) instead of missed. An account without API
  filtering (``is_api_filter_enabled`` false, or a page that shows the
  filter was ignored) is read in full and filtered on the client.
"""

from __future__ import annotations

import email.utils
import logging
import time
from collections.abc import Callable, Iterator
from datetime import UTC, tzinfo
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from tui_crm.sync.adapter import (
    Cursor,
    Deletion,
    DeletionPage,
    IncomingLead,
    LocalSchema,
    MetaChanged,
    Page,
    PushItem,
    PushResult,
    Ref,
    RemoteMeta,
    RemotePipeline,
    RemoteRecord,
    RemoteStage,
    RemoteUser,
)
from tui_crm.sync.amocrm.all_day import decode_due, encode_due, normalize_due
from tui_crm.sync.amocrm.catalog import fetch_catalog, note_pulled, remote_changed, usable_catalog
from tui_crm.sync.amocrm.client import AmoClient, embedded_items
from tui_crm.sync.amocrm.errors import (
    AmoAuthError,
    AmoError,
    AmoLockedOut,
    AmoNotFound,
    AmoRateLimited,
    AmoValidationError,
)
from tui_crm.sync.amocrm.fields import (
    DELETED_TAG,
    ENTITY_PATHS,
    MARKER_PREFIX,
    UUID_FIELD_NAME,
    EntityFields,
    Unsendable,
    build_bindings,
    decode_value,
    encode_value,
    roundtrip,
)
from tui_crm.sync.amocrm.files import DriveFiles

log = logging.getLogger(__name__)
JSON = dict[str, Any]

WON, LOST = 142, 143
TASK_DELETED = "[tui-crm: deleted]"
OVERLAP = 5  # seconds re-read at the start of every incremental pass
PAGE = 250
CHUNK = 50
SINGULAR = {"leads": "deal", "contacts": "contact", "companies": "company", "tasks": "task"}
EVENT_ENTITIES = {"lead": "deal", "contact": "contact", "company": "company", "task": "task"}
NOTE_STREAMS = ("note:leads", "note:contacts", "note:companies")
NOTE_WITH = {"with": "is_pinned"}  # a note's ``is_pinned`` is given only when asked for
ACCOUNT_WITH = "is_api_filter_enabled,task_types,datetime_settings,drive_url"
REFUSAL_TTL = {"client": 7 * 86400, "server": 86400}  # ask again for the id field after (4xx, 5xx)
LOOKUP_MARGIN = 15 * 60  # seconds of clock difference allowed when scanning for records a lost create made
LOCAL_TASK_TYPES = {"call": ("FOLLOW_UP", ("звонок", "call", "связаться")), "meeting": ("MEETING", ("встреча", "meeting"))}


def _int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _roubles(kopecks: Any) -> int:
    """Whole roubles (half up): amoCRM's ``price`` is an integer."""
    return int((Decimal(int(kopecks)) / 100).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def _marker(tag: str) -> bool:
    return tag.casefold().startswith(MARKER_PREFIX)


def _marked_uuid(item: JSON) -> str | None:
    """Our id from a ``tui-crm:id:<id>`` tag (records created where the id field was refused)."""
    for tag in (item.get("_embedded") or {}).get("tags") or []:
        name = str(tag.get("name") or "")
        if _marker(name):
            return name[len(MARKER_PREFIX) :] or None
    return None


def _zone(name: Any) -> tzinfo:
    """The account's time zone (``datetime_settings.timezone``), UTC when unknown."""
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        return ZoneInfo(str(name)) if name else UTC
    except (ZoneInfoNotFoundError, ValueError):
        return UTC


def _server_time(date_header: str | None) -> int | None:
    if not date_header:
        return None
    try:
        return int(email.utils.parsedate_to_datetime(date_header).timestamp())
    except (TypeError, ValueError):
        return None


class AmoAdapter:
    """Sync adapter for one amoCRM/Kommo account (see the module docstring)."""

    entities = ("company", "contact", "deal", "task", "note")

    def __init__(self, client: AmoClient, account: str, *, create_uuid_fields: bool = True) -> None:
        self.client = client
        self.name = f"amocrm:{account}"
        self.create_uuid_fields = create_uuid_fields
        self.region = "RU"
        self.filters_enabled = True
        self.fields: dict[str, EntityFields] = {}
        self.loss_reasons: dict[int, str] = {}
        self.task_types: list[JSON] = []
        self.incoming_statuses: set[tuple[int, int]] = set()
        self.opened_at: int | None = None
        self.skew = 0  # server clock - local clock, seconds (from the Date header at open)
        self._meta: dict[str, Any] = {}
        self._schema = LocalSchema(custom_fields={})
        self._stored: dict[str, Any] = {}
        self._account: JSON = {}
        self._probe: Any = None
        self._refreshed = False
        self._uuid_wanted: dict[str, str] = {}
        self._catalog: JSON = {}
        self._refused: dict[str, Any] = {}
        self._newly_refused: list[str] = []
        self.known_users: set[int] | None = None
        self.known_statuses: set[tuple[int, int]] = set()
        self.account_tz: tzinfo = UTC
        self.local_tz: tzinfo = UTC
        self.files = DriveFiles(client)  # files of records (:mod:`.files`), used by ``tui_crm.sync.files``

    def close(self) -> None:
        self.client.close()

    # ----------------------------------------------------------------- meta

    def open(self, schema: LocalSchema, stored: dict[str, Any]) -> RemoteMeta:
        self.region = schema.phone_region
        self._schema = schema
        self._stored = stored
        learned = stored.get("rate")
        if isinstance(learned, int) and not isinstance(learned, bool):
            self.client.limiter.set_rate(learned)  # what this account allowed last time (429s cut it)
        self.local_tz = schema.timezone
        response = self.client.request("GET", "account", params={"with": ACCOUNT_WITH})
        self.opened_at = _server_time(response.headers.get("Date"))
        self.skew = self.opened_at - int(time.time()) if self.opened_at else 0
        account = response.json() if response.content else {}
        self._account = account
        self.filters_enabled = bool(account.get("is_api_filter_enabled", True))
        self.task_types = list((account.get("_embedded") or {}).get("task_types") or [])
        self.account_tz = _zone((account.get("datetime_settings") or {}).get("timezone"))
        self.files.use_drive(account.get("drive_url"))
        self._probe = stored.get("probe")
        catalog = usable_catalog(stored.get("catalog"), self.opened_at)
        fresh = catalog is None
        if catalog is None:
            catalog = fetch_catalog(self.client, self.opened_at)
        return self._use_catalog(catalog, fresh)

    def refresh_meta(self) -> RemoteMeta:
        """Read the catalog again (a pulled record named an id it did not know); once per run."""
        self._refreshed = True
        return self._use_catalog(fetch_catalog(self.client, self.opened_at), True)

    def _use_catalog(self, catalog: JSON, fresh: bool) -> RemoteMeta:
        """Users, pipelines, loss reasons and field bindings from the catalog (warnings only when it was just read)."""
        schema = self._schema
        warnings: list[str] = []
        if fresh and not self.filters_enabled:
            warnings.append("This amoCRM account has API filtering off: every pull reads the full lists.")
        users: list[RemoteUser] = []
        if catalog.get("users") is None:
            self.known_users = None
            if fresh:
                warnings.append(
                    "The integration's user may not list amoCRM users (admin only); responsible users are not mapped."
                )
        else:
            for item in catalog["users"]:
                rights = item.get("rights") or {}
                users.append(
                    RemoteUser(
                        str(item["id"]),
                        str(item.get("name") or item["id"]),
                        item.get("email"),
                        bool(rights.get("is_active", True)),
                        bool(rights.get("is_admin")),
                    )
                )
            self.known_users = {int(u.remote_id) for u in users}
        pipelines: list[RemotePipeline] = []
        self.incoming_statuses = set()
        self.known_statuses = set()
        for item in catalog.get("pipelines") or []:
            pid = int(item["id"])
            stages = []
            for status in (item.get("_embedded") or {}).get("statuses") or []:
                sid = int(status["id"])
                self.known_statuses.add((pid, sid))
                kind = "won" if sid == WON else "lost" if sid == LOST else "unsorted" if status.get("type") == 1 else "normal"
                if kind == "unsorted":
                    self.incoming_statuses.add((pid, sid))
                stages.append(RemoteStage(f"{pid}:{sid}", str(status.get("name")), int(status.get("sort") or 0), kind))
            pipelines.append(RemotePipeline(str(pid), str(item.get("name")), int(item.get("sort") or 0), stages))
        self.loss_reasons = {int(r["id"]): str(r.get("name")) for r in catalog.get("loss_reasons") or []}
        self.fields = {}
        refused: dict[str, Any] = dict(self._stored.get("uuid_refused") or {})
        self._uuid_wanted = {}
        for entity, path in ENTITY_PATHS.items():
            definitions = list((catalog.get("fields") or {}).get(path) or [])
            if any(d.get("name") == UUID_FIELD_NAME for d in definitions):
                refused.pop(path, None)
            elif self.create_uuid_fields and not self._still_refused(refused.get(path)):
                self._uuid_wanted[entity] = path  # created just before the first create that needs it
            bindings = build_bindings(entity, definitions, schema.custom_fields.get(entity, {}))
            if fresh:
                warnings.extend(bindings.warnings)
            self.fields[entity] = bindings
        self._catalog = catalog
        self._refused = refused
        account = self._account
        self._meta = {
            "account": {"id": account.get("id"), "subdomain": account.get("subdomain"), "filters": self.filters_enabled},
            "fields": {e: {k: b.field_id for k, b in f.bindings.items()} for e, f in self.fields.items()},
            "uuid_refused": self._refused,
            "catalog": catalog,
            "probe": self._probe,
        }
        current = account.get("current_user_id")
        return RemoteMeta(users=users, pipelines=pipelines, warnings=warnings, current_user=str(current) if current else None)

    # --------------------------------------------------------- change probe

    def remote_changed(self) -> bool:
        """Whether the per-entity pulls are needed (see :mod:`.catalog`); one request."""
        return remote_changed(self.client, self._probe, self.opened_at)

    def pulled(self) -> None:
        """A complete pull ended: note what it covered for the next sync's probe."""
        self._probe = note_pulled(self.client, self.opened_at)
        self._meta["probe"] = self._probe

    def _unknown_ids(self, entity: str, items: list[JSON]) -> bool:
        """Whether a page names a stage, field, user or loss reason the cached catalog lacks."""
        if self._refreshed:
            return False
        bindings = self.fields.get(entity)
        for item in items:
            if entity == "deal":
                pair = (_int(item.get("pipeline_id")), _int(item.get("status_id")))
                if pair[0] and pair[1] and pair not in self.known_statuses:
                    return True
                reason = _int(item.get("loss_reason_id"))
                if reason and reason not in self.loss_reasons:
                    return True
            if bindings is not None:
                for cf in item.get("custom_fields_values") or []:
                    field_id = cf.get("field_id")
                    if field_id != bindings.uuid_field and field_id not in bindings.by_id:
                        return True
            responsible = _int(item.get("responsible_user_id"))
            if self.known_users is not None and responsible and responsible not in self.known_users:
                return True
        return False

    def _ensure_uuid_field(self, entity: str) -> None:
        """Create our id field on first need (a pull-only sync never asks for it); on a refusal
        the tag marker takes over, said once (``late_warnings``) and remembered."""
        path = self._uuid_wanted.pop(entity, None)
        if path is None:
            return
        # Read again first: a run killed after creating the field never stored it in its catalog.
        definitions = self.client.custom_fields(path)
        reason = None
        if not any(d.get("name") == UUID_FIELD_NAME for d in definitions):
            definitions, reason = self._create_uuid_field(path, definitions)
        self._catalog.setdefault("fields", {})[path] = definitions
        if reason is None:
            self.fields[entity] = build_bindings(entity, definitions, self._schema.custom_fields.get(entity, {}))
            return
        self._refused[path] = reason
        self._newly_refused.append(path)

    @property
    def late_warnings(self) -> list[str]:
        """Warnings that arose after ``open`` (a refused id field): one message for the run."""
        if not self._newly_refused:
            return []
        first = self._refused[self._newly_refused[0]]
        return [
            f"Could not create the {UUID_FIELD_NAME} field on {', '.join(self._newly_refused)} ({first['error']}). "
            f"tui-crm marks the records it creates there with a tag «{MARKER_PREFIX}<id>» instead (a manager may "
            "write tags), to find them again after a lost answer. It asks for the field again in "
            f"{REFUSAL_TTL[first['kind']] // 86400} day(s); an administrator's sync creates it at once."
        ]

    def _still_refused(self, refusal: Any) -> bool:
        """Whether an earlier refusal to create the id field is recent enough not to ask again."""
        if not isinstance(refusal, dict):
            return False
        ttl = REFUSAL_TTL.get(str(refusal.get("kind")), REFUSAL_TTL["server"])
        return int(time.time()) - int(refusal.get("at") or 0) < ttl

    def _create_uuid_field(self, path: str, definitions: list[JSON]) -> tuple[list[JSON], JSON | None]:
        """Create our hidden id field; (definitions, None) or, when amoCRM refuses, (definitions, the refusal).

        Any refusal (403 for a manager, 402 on a lapsed plan, 404, 405, a 5xx, a lost answer
        without the field) lets the sync go on with the tag marker; a lock-out, a rejected token
        or a rate limit stop it as everywhere else."""
        body = [{"name": UUID_FIELD_NAME, "type": "text", "is_api_only": True, "sort": 10000}]
        try:
            created = embedded_items(self.client.post(f"{path}/custom_fields", body), "custom_fields")
            return [*definitions, *created], None
        except (AmoLockedOut, AmoAuthError, AmoRateLimited):
            raise
        except AmoError as exc:
            if exc.maybe_applied:  # the answer was lost: the field may exist now
                again = self.client.custom_fields(path)
                if any(d.get("name") == UUID_FIELD_NAME for d in again):
                    return again, None
            kind = "server" if exc.status is None or exc.status >= 500 else "client"
            return definitions, {"at": int(time.time()), "kind": kind, "error": str(exc)}

    def stored_meta(self) -> dict[str, Any]:
        return {**self._meta, "rate": self.client.limiter.rate}

    # -------------------------------------------------------------- decode

    def _tags(self, item: JSON) -> tuple[list[str], bool]:
        names = [str(t.get("name")) for t in (item.get("_embedded") or {}).get("tags") or [] if t.get("name")]
        deleted = any(n.casefold() == DELETED_TAG for n in names)
        return [n for n in names if n.casefold() != DELETED_TAG and not _marker(n)], deleted

    def _custom(self, entity: str, item: JSON, out: JSON) -> str | None:
        bindings = self.fields.get(entity)
        uuid = None
        if bindings is None:
            return None
        present: set[str] = set()
        for cf in item.get("custom_fields_values") or []:
            field_id = cf.get("field_id")
            if field_id == bindings.uuid_field:
                uuid = str((cf.get("values") or [{}])[0].get("value") or "") or None
                continue
            binding = bindings.by_id.get(field_id)
            if binding is None:
                binding = next(iter([b for b in bindings.bindings.values() if b.field_id == field_id]), None)
            if binding is None:
                continue
            out[binding.canonical] = decode_value(binding, cf.get("values"), self.region)
            present.add(binding.canonical)
        for canonical, binding in bindings.bindings.items():
            if canonical not in present:
                out[canonical] = decode_value(binding, None, self.region)
        return uuid

    def decode(self, entity: str, item: JSON) -> RemoteRecord:
        rid = str(item["id"])
        updated_at = _int(item.get("updated_at")) or 0
        updated_by = str(item["updated_by"]) if item.get("updated_by") else None
        if item.get("is_deleted"):
            return RemoteRecord(entity, rid, updated_at, {}, gone=True, updated_by=updated_by)
        fields: JSON = {}
        uuid = None
        skip = False
        embedded = item.get("_embedded") or {}
        if entity in ("deal", "contact", "company"):
            fields["name"] = item.get("name") or ""
            responsible = item.get("responsible_user_id")
            fields["responsible_id"] = Ref("user", str(responsible)) if responsible else None
            fields["tags"], fields["deleted"] = self._tags(item)
            uuid = self._custom(entity, item, fields) or _marked_uuid(item)
        if entity == "deal":
            pid, sid = _int(item.get("pipeline_id")), _int(item.get("status_id"))
            fields["stage_id"] = Ref("stage", f"{pid}:{sid}") if pid and sid else None
            skip = (pid, sid) in self.incoming_statuses
            price = _int(item.get("price"))
            fields["budget_rub"] = price * 100 if price else None
            reason = _int(item.get("loss_reason_id"))
            fields["loss_reason"] = self.loss_reasons.get(reason) if reason else None
            companies = embedded.get("companies") or []
            fields["company_id"] = Ref("company", str(companies[0]["id"])) if companies else None
            if "contacts" in embedded:
                linked = embedded.get("contacts") or []
                fields["contacts"] = [Ref("contact", str(c["id"])) for c in linked]
                main = next((c for c in linked if c.get("is_main")), None)
                fields["main_contact"] = Ref("contact", str(main["id"])) if main else None
        elif entity == "contact":
            companies = embedded.get("companies") or []
            fields["company_id"] = Ref("company", str(companies[0]["id"])) if companies else None
        elif entity == "task":
            fields["text"] = item.get("text") or ""
            fields["due_at"], fields["all_day"] = decode_due(_int(item.get("complete_till")), self.account_tz, self.local_tz)
            fields["task_type"] = self._local_task_type(item.get("task_type_id"))
            responsible = item.get("responsible_user_id")
            fields["responsible_id"] = Ref("user", str(responsible)) if responsible else None
            etype = SINGULAR.get(str(item.get("entity_type")))
            fields["entity"] = Ref(etype, str(item["entity_id"])) if etype and item.get("entity_id") else None
            fields["completed"] = bool(item.get("is_completed"))
            result = (item.get("result") or {}).get("text") if isinstance(item.get("result"), dict) else None
            fields["deleted"] = result == TASK_DELETED
            fields["result"] = None if fields["deleted"] else result
        elif entity == "note":
            etype = SINGULAR.get(str(item.get("_entity_path")))
            fields["entity"] = Ref(etype, str(item["entity_id"])) if etype and item.get("entity_id") else None
            params = item.get("params") or {}
            fields["text"] = str(params.get("text") or "")
            fields["kind"] = "call" if str(item.get("note_type", "")).startswith("call") else "note"
            fields["deleted"] = False
            if "is_pinned" in item:  # only with ``with=is_pinned``
                fields["pinned"] = bool(item.get("is_pinned"))
            skip = item.get("note_type") not in ("common", "call_in", "call_out")
        raw = {"cfv": {cf.get("field_id"): cf.get("values") for cf in item.get("custom_fields_values") or []}}
        return RemoteRecord(entity, rid, updated_at, fields, uuid=uuid, updated_by=updated_by, skip=skip, raw=raw)

    def _local_task_type(self, type_id: Any) -> str:
        found = next((t for t in self.task_types if t.get("id") == type_id), None)
        if found is None:
            return "other"
        code = str(found.get("code") or "")
        name = str(found.get("name") or "").casefold()
        if code == "MEETING" or name in ("встреча", "meeting"):
            return "meeting"
        if name in ("письмо", "email", "e-mail"):
            return "email"
        if code == "FOLLOW_UP" or name in ("звонок", "call", "связаться"):
            return "call"
        return "other"

    def _remote_task_type(self, local: str | None) -> int:
        def find(code: str | None, names: tuple[str, ...]) -> int | None:
            for task_type in self.task_types:
                if (code and task_type.get("code") == code) or str(task_type.get("name") or "").casefold() in names:
                    return int(task_type["id"])
            return None

        if local == "meeting":
            found = find("MEETING", ("встреча", "meeting"))
        elif local == "email":
            found = find(None, ("письмо", "email", "e-mail"))
        else:
            found = find("FOLLOW_UP", ("звонок", "call", "связаться"))
        if found is None:
            found = find("FOLLOW_UP", ("звонок", "call", "связаться"))
        return found or 1

    # ------------------------------------------------------------ normalize

    def normalize(self, entity: str, fields: dict[str, Any]) -> dict[str, Any]:
        out = dict(fields)
        if entity == "deal":
            if out.get("budget_rub") is not None:
                out["budget_rub"] = _roubles(out["budget_rub"]) * 100 or None
            reason = out.get("loss_reason")
            if reason:
                match = next((n for n in self.loss_reasons.values() if n.casefold() == str(reason).casefold()), None)
                out["loss_reason"] = match or reason
        if entity == "note" and out.get("kind") == "call":
            out["kind"] = "note"  # local call notes go out as common notes
        if entity == "deal" and "main_contact" in out and not out.get("contacts"):
            out["main_contact"] = None  # no contacts, no main one
        if entity == "task":
            if "due_at" in out:
                out["due_at"], out["all_day"] = normalize_due(
                    out["due_at"], bool(out.get("all_day")), self.account_tz, self.local_tz
                )
            out["task_type"] = self._local_task_type(self._remote_task_type(out.get("task_type")))
            if out.get("result") == "":
                out["result"] = None
        bindings = self.fields.get(entity)
        if bindings is not None:
            for canonical, binding in bindings.bindings.items():
                if canonical in out:
                    out[canonical] = roundtrip(binding, out[canonical], self.region)
        return out

    # -------------------------------------------------------------- encode

    def _encode(self, entity: str, item: PushItem, creating: bool) -> tuple[JSON, set[str], list[JSON], list[JSON]]:
        """(payload, fields it carries, links to add, links to remove)."""
        fields = item.fields
        before = item.before.fields if item.before else {}
        raw_before = (item.before.raw or {}).get("cfv", {}) if item.before else {}
        payload: JSON = {} if creating else {"id": int(item.remote_id or 0)}
        sent: set[str] = set()
        links_add: list[JSON] = []
        links_del: list[JSON] = []
        cfv: list[JSON] = []
        tags_add: list[JSON] = []
        tags_del: list[JSON] = []
        embedded: JSON = {}
        main: Ref | None = None
        path = ENTITY_PATHS.get(entity)
        bindings = self.fields.get(entity)
        for name, value in fields.items():
            if name == "name":
                payload["name"] = str(value or "").strip() or ("Сделка" if entity == "deal" else "—")
                sent.add(name)
            elif name == "responsible_id":
                if isinstance(value, Ref):
                    payload["responsible_user_id"] = int(value.remote_id)
                    sent.add(name)
            elif name == "stage_id":
                if isinstance(value, Ref):
                    pid, _, sid = value.remote_id.partition(":")
                    if (int(pid), int(sid)) not in self.incoming_statuses:
                        payload["pipeline_id"], payload["status_id"] = int(pid), int(sid)
                        sent.add(name)
            elif name == "budget_rub":
                payload["price"] = _roubles(value) if value else 0
                sent.add(name)
            elif name == "loss_reason":
                if not value:
                    payload["loss_reason_id"] = None
                    sent.add(name)
                else:
                    reason = next((rid for rid, n in self.loss_reasons.items() if n.casefold() == str(value).casefold()), None)
                    if reason is not None:
                        payload["loss_reason_id"] = reason
                        sent.add(name)
            elif name == "tags":
                wanted = [str(t) for t in value or []]
                if creating:
                    if wanted:
                        embedded["tags"] = [{"name": t} for t in wanted]
                else:
                    had = {str(t).casefold() for t in before.get("tags") or []}
                    want = {t.casefold() for t in wanted}
                    tags_add.extend({"name": t} for t in wanted if t.casefold() not in had)
                    tags_del.extend({"name": t} for t in before.get("tags") or [] if str(t).casefold() not in want)
                sent.add(name)
            elif name == "deleted" and path:
                if creating:
                    continue
                (tags_add if value else tags_del).append({"name": DELETED_TAG})
                sent.add(name)
            elif name == "main_contact" and path:
                if isinstance(value, Ref):
                    main = value
                sent.add(name)
            elif name in ("company_id", "contacts") and path:
                to_type = "companies" if name == "company_id" else "contacts"
                wanted_refs = value if isinstance(value, list) else ([value] if isinstance(value, Ref) else [])
                if creating:
                    if wanted_refs:
                        refs = [{"id": int(r.remote_id)} for r in wanted_refs]
                        if to_type == "contacts":
                            refs = [{"id": int(r.remote_id), "is_main": n == 0} for n, r in enumerate(wanted_refs)]
                        embedded[to_type] = refs
                else:
                    old = before.get(name)
                    old_refs = old if isinstance(old, list) else ([old] if isinstance(old, Ref) else [])
                    old_ids = {r.remote_id for r in old_refs if isinstance(r, Ref)}
                    new_ids = {r.remote_id for r in wanted_refs}
                    for rid in sorted(new_ids - old_ids):
                        links_add.append({"entity_id": payload["id"], "to_entity_id": int(rid), "to_entity_type": to_type})
                    if to_type == "contacts" or not new_ids:
                        for rid in sorted(old_ids - new_ids):
                            links_del.append({"entity_id": payload["id"], "to_entity_id": int(rid), "to_entity_type": to_type})
                sent.add(name)
            elif bindings is not None and name in bindings.bindings:
                binding = bindings.bindings[name]
                try:
                    values = encode_value(binding, value, raw_before.get(binding.field_id))
                except Unsendable:
                    continue
                if values is None and creating:
                    sent.add(name)
                    continue
                cfv.append({"field_id": binding.field_id, "values": values})
                sent.add(name)
            elif entity == "task":
                self._encode_task(name, value, payload, sent, creating, {**before, **fields})
            elif entity == "note":
                if name == "text":
                    payload["params"] = {"text": str(value or "")}
                    payload.setdefault("note_type", "common")
                    sent.add(name)
                elif name == "entity" and creating and isinstance(value, Ref):
                    payload["entity_id"] = int(value.remote_id)
                    sent.add(name)
                elif name == "kind":
                    sent.add(name)
        if main is not None:
            self._encode_main_contact(main, before, payload, embedded, links_add, creating)
        if creating and bindings is not None and bindings.uuid_field:
            cfv.append({"field_id": bindings.uuid_field, "values": [{"value": item.local_id}]})
        elif creating and path:
            embedded.setdefault("tags", []).append({"name": MARKER_PREFIX + item.local_id})
        if cfv:
            payload["custom_fields_values"] = cfv
        if tags_add:
            payload["tags_to_add"] = tags_add
        if tags_del:
            payload["tags_to_delete"] = tags_del
        if embedded:
            payload["_embedded"] = embedded
        payload["request_id"] = item.local_id
        return payload, sent, links_add, links_del

    @staticmethod
    def _encode_main_contact(
        main: Ref, before: JSON, payload: JSON, embedded: JSON, links_add: list[JSON], creating: bool
    ) -> None:
        """The main contact: ``is_main`` in ``_embedded.contacts`` on create, else a ``/link`` of that
        contact with ``metadata.main_contact`` (amoCRM then clears the mark on the others)."""
        if creating:
            refs = embedded.get("contacts") or []
            if any(r["id"] == int(main.remote_id) for r in refs):
                for ref in refs:
                    ref["is_main"] = ref["id"] == int(main.remote_id)
            return
        if before.get("main_contact") == main:
            return
        links_add[:] = [link for link in links_add if link["to_entity_id"] != int(main.remote_id)]
        links_add.append(
            {
                "entity_id": payload["id"],
                "to_entity_id": int(main.remote_id),
                "to_entity_type": "contacts",
                "metadata": {"main_contact": True},
            }
        )

    def _encode_task(self, name: str, value: Any, payload: JSON, sent: set[str], creating: bool, task: JSON) -> None:
        if name == "text":
            payload["text"] = str(value or "") or "—"
        elif name in ("due_at", "all_day"):
            due = encode_due(_int(task.get("due_at")), bool(task.get("all_day")), self.account_tz, self.local_tz)
            if due is None:
                return
            payload["complete_till"] = due
        elif name == "task_type":
            payload["task_type_id"] = self._remote_task_type(value)
        elif name == "responsible_id":
            if not isinstance(value, Ref):
                return
            payload["responsible_user_id"] = int(value.remote_id)
        elif name == "entity":
            if isinstance(value, Ref):
                payload["entity_type"] = ENTITY_PATHS[value.entity]
                payload["entity_id"] = int(value.remote_id)
            elif not creating:
                return
        elif name == "completed":
            payload["is_completed"] = bool(value)
        elif name == "result":
            if value:
                payload["result"] = {"text": str(value)}
        elif name == "deleted":
            if value:
                payload["is_completed"] = True
                payload["result"] = {"text": TASK_DELETED}
            elif not creating:
                return
        else:
            return
        sent.add(name)

    # --------------------------------------------------------------- reads

    def _path(self, entity: str) -> str:
        return {"deal": "leads", "contact": "contacts", "company": "companies", "task": "tasks"}[entity]

    def _with(self, entity: str) -> dict[str, str]:
        return {"with": "contacts"} if entity == "deal" else {}

    def fetch(self, entity: str, remote_ids: list[str]) -> dict[str, RemoteRecord | None]:
        out: dict[str, RemoteRecord | None] = {}
        if not remote_ids:
            return out
        if entity == "note":
            for rid in remote_ids:
                out[rid] = self._fetch_note(rid)
            return out
        path = self._path(entity)
        wanted = [str(r) for r in remote_ids]
        if self.filters_enabled or entity == "task":
            for start in range(0, len(wanted), 100):
                chunk = wanted[start : start + 100]
                params: JSON = {"filter[id][]": chunk, "limit": PAGE, **self._with(entity)}
                items = embedded_items(self.client.get(path, params), path)
                ids = {str(i.get("id")) for i in items}
                if ids - set(chunk):  # the filter was ignored: read the records one by one
                    if entity != "task":
                        self.filters_enabled = False
                    break
                for item in items:
                    out[str(item["id"])] = self.decode(entity, item)
        for rid in wanted:
            if rid not in out:
                item = self.client.get_entity(path, int(rid), with_=("contacts",) if entity == "deal" else ())
                out[rid] = self.decode(entity, item) if item else None
        return out

    def _fetch_note(self, rid: str) -> RemoteRecord | None:
        for path in ("leads", "contacts", "companies"):
            try:
                item = self.client.get(f"{path}/notes/{int(rid)}", dict(NOTE_WITH))
            except AmoNotFound:
                continue
            if isinstance(item, dict) and item.get("id"):
                item["_entity_path"] = path
                return self.decode("note", item)
        return None

    def _pages(self, path: str, params: JSON, cursor: Cursor, key: str) -> Iterator[tuple[list[JSON], Cursor, bool]]:
        """Pages of a list from the cursor; yields (items, cursor after them, last)."""
        since = cursor.since
        page = cursor.page
        max_seen = cursor.max_seen
        started = cursor.pass_started
        use_filter = self.filters_enabled or not path.startswith(("leads", "contacts", "companies")) or "/notes" in path
        while True:
            page += 1
            query: JSON = {**params, "limit": PAGE, "page": page, "order[updated_at]": "asc"}
            if since is not None and use_filter:
                query["filter[updated_at][from]"] = since
            response = self.client.request("GET", path, params=query)
            if started is None:
                started = _server_time(response.headers.get("Date"))
            body = response.json() if response.status_code != 204 and response.content else None
            items = embedded_items(body, path)
            if since is not None and any((_int(i.get(key)) or 0) < since for i in items):
                use_filter = False  # the account ignored the filter: the client filters from here on
            fresh = [i for i in items if since is None or (_int(i.get(key)) or 0) >= since]
            for item in fresh:
                stamp = _int(item.get(key))
                if stamp is not None and (max_seen is None or stamp > max_seen):
                    max_seen = stamp
            links = body.get("_links") if isinstance(body, dict) else None
            last = not items or not (isinstance(links, dict) and links.get("next"))
            if last:
                bounds = [v for v in (max_seen, started) if v is not None]
                next_since = min(bounds) - OVERLAP if bounds else since
                yield fresh, Cursor(since=next_since, page=0, max_seen=None, pass_started=None), True
                return
            yield fresh, Cursor(since=since, page=page, max_seen=max_seen, pass_started=started), False

    def streams(self, entity: str) -> tuple[str, ...]:
        return NOTE_STREAMS if entity == "note" else (entity,)

    def pull(self, stream: str, cursor: Cursor) -> Iterator[Page]:
        if stream.startswith("note:"):
            etype = stream.split(":", 1)[1]
            path, entity, params = f"{etype}/notes", "note", dict(NOTE_WITH)
        else:
            entity = stream
            path, params = self._path(entity), self._with(entity)
        for items, after, last in self._pages(path, params, cursor, "updated_at"):
            if entity != "note" and self._unknown_ids(entity, items):
                raise MetaChanged(f"{path}: a record names an id the cached catalog does not know")
            if entity == "note":
                for item in items:
                    item["_entity_path"] = path.split("/")[0]
            yield Page([self.decode(entity, i) for i in items], after, done=last)

    def deletions(self, cursor: Cursor) -> Iterator[DeletionPage]:
        if cursor.since is None and cursor.page == 0:
            cursor = Cursor(since=(self.opened_at or 0) - OVERLAP if self.opened_at else None)
        types = ",".join(f"{e}_{a}" for e in ("lead", "contact", "company", "task") for a in ("deleted", "restored"))
        params = {"filter[type]": types}
        for items, after, last in self._events(params, cursor):
            out = []
            for event in items:
                kind = str(event.get("type", ""))
                entity = EVENT_ENTITIES.get(str(event.get("entity_type")))
                if entity is None or event.get("entity_id") is None:
                    continue
                out.append(Deletion(entity, str(event["entity_id"]), restored=kind.endswith("_restored")))
            yield DeletionPage(out, after, done=last)

    def _events(self, params: JSON, cursor: Cursor) -> Iterator[tuple[list[JSON], Cursor, bool]]:
        since, page, max_seen, started = cursor.since, cursor.page, cursor.max_seen, cursor.pass_started
        while True:
            page += 1
            query: JSON = {**params, "limit": 100, "page": page, "order[created_at]": "asc"}
            if since is not None:
                query["filter[created_at][from]"] = since
            response = self.client.request("GET", "events", params=query)
            if started is None:
                started = _server_time(response.headers.get("Date"))
            body = response.json() if response.status_code != 204 and response.content else None
            items = embedded_items(body, "events")
            for event in items:
                stamp = _int(event.get("created_at"))
                if stamp is not None and (max_seen is None or stamp > max_seen):
                    max_seen = stamp
            links = body.get("_links") if isinstance(body, dict) else None
            last = not items or not (isinstance(links, dict) and links.get("next"))
            if last:
                bounds = [v for v in (max_seen, started) if v is not None]
                yield items, Cursor(since=min(bounds) - OVERLAP if bounds else since), True
                return
            yield items, Cursor(since=since, page=page, max_seen=max_seen, pass_started=started), False

    # --------------------------------------------------------------- writes

    def create(self, entity: str, items: list[PushItem], on_done: Callable[[list[PushResult]], None]) -> None:
        if entity == "note":
            self._create_notes(items, on_done)
            return
        path = self._path(entity)
        self._ensure_uuid_field(entity)
        for start in range(0, len(items), CHUNK):
            chunk = items[start : start + CHUNK]
            encoded = {item.local_id: self._encode(entity, item, creating=True) for item in chunk}
            results = self._post_chunk(entity, path, chunk, encoded)
            on_done(results)

    def _post_chunk(
        self, entity: str, path: str, chunk: list[PushItem], encoded: dict[str, tuple[JSON, set[str], list[JSON], list[JSON]]]
    ) -> list[PushResult]:
        results: dict[str, PushResult] = {}
        todo = list(chunk)
        for attempt in range(3):
            if not todo:
                break
            try:
                echoes = self.client.post(path, [encoded[i.local_id][0] for i in todo])
            except AmoValidationError as error:
                bad = [i for i in todo if error.errors_for(i.local_id)]
                if not bad:
                    raise
                for item in bad:
                    detail = "; ".join(
                        f"{e.get('path')}: {e.get('detail') or e.get('code')}" for e in error.errors_for(item.local_id)
                    )
                    results[item.local_id] = PushResult(item.local_id, None, error=f"amoCRM refused it ({detail})")
                todo = [i for i in todo if i not in bad]
                found = self.find_created(entity, todo)  # a batch that failed may still have been applied in part
                for local_id, record in found.items():
                    results[local_id] = PushResult(local_id, record.remote_id, set(encoded[local_id][1]), record.updated_at)
                todo = [i for i in todo if i.local_id not in found]
                continue
            except AmoError as error:
                if not error.maybe_applied or attempt == 2:
                    raise
                log.warning("amoCRM create of %d %s: %s; looking the records up", len(todo), path, error)
                found = self.find_created(entity, todo)
                for local_id, record in found.items():
                    results[local_id] = PushResult(local_id, record.remote_id, set(encoded[local_id][1]), record.updated_at)
                todo = [i for i in todo if i.local_id not in found]
                continue
            by_rid = {str(e.get("request_id")): e for e in embedded_items(echoes, path)}
            for item in todo:
                echo = by_rid.get(item.local_id)
                if echo is None:
                    results[item.local_id] = PushResult(item.local_id, None, error="no id in amoCRM's answer")
                else:
                    results[item.local_id] = PushResult(
                        item.local_id, str(echo["id"]), set(encoded[item.local_id][1]), _int(echo.get("updated_at"))
                    )
            todo = []
        return [results[i.local_id] for i in chunk if i.local_id in results]

    def _create_notes(self, items: list[PushItem], on_done: Callable[[list[PushResult]], None]) -> None:
        by_path: dict[str, list[PushItem]] = {}
        for item in items:
            ref = item.fields.get("entity")
            if not isinstance(ref, Ref):
                on_done([PushResult(item.local_id, None, error="its record is not in amoCRM")])
                continue
            by_path.setdefault(ENTITY_PATHS[ref.entity], []).append(item)
        for etype, group in by_path.items():
            for start in range(0, len(group), CHUNK):
                chunk = group[start : start + CHUNK]
                encoded = {item.local_id: self._encode("note", item, creating=True) for item in chunk}
                results = self._post_chunk("note", f"{etype}/notes", chunk, encoded)
                self._pin_notes(f"{etype}/notes", chunk, results, creating=True)
                on_done(results)

    def _pin_notes(self, path: str, items: list[PushItem], results: list[PushResult], *, creating: bool) -> None:
        """Pin or unpin the notes whose ``pinned`` is sent (``POST {path}/{id}/pin|unpin``, one request each;
        a new note is unpinned already). A refusal leaves ``pinned`` unsent: it is tried at the next sync."""
        wanted = {item.local_id: bool(item.fields["pinned"]) for item in items if "pinned" in item.fields}
        for result in results:
            if result.local_id not in wanted or result.error or result.gone or result.remote_id is None:
                continue
            pinned = wanted[result.local_id]
            if pinned or not creating:
                try:
                    self.client.post(f"{path}/{int(result.remote_id)}/{'pin' if pinned else 'unpin'}", None)
                except (AmoLockedOut, AmoAuthError, AmoRateLimited):
                    raise
                except AmoError as error:
                    log.warning("amoCRM %s of note %s: %s", "pin" if pinned else "unpin", result.remote_id, error)
                    continue
            result.sent = {*(result.sent or set()), "pinned"}

    def update(self, entity: str, items: list[PushItem], on_done: Callable[[list[PushResult]], None]) -> None:
        if entity == "note":
            path_of = {}
            for item in items:
                ref = item.before.fields.get("entity") if item.before else None
                path_of[item.local_id] = f"{ENTITY_PATHS[ref.entity]}/notes" if isinstance(ref, Ref) else None
            for path in {p for p in path_of.values() if p}:
                group = [i for i in items if path_of[i.local_id] == path]
                self._update_path("note", path, group, on_done)
            missing = [i for i in items if not path_of[i.local_id]]
            if missing:
                on_done([PushResult(i.local_id, None, error="its record is not in amoCRM") for i in missing])
            return
        self._update_path(entity, self._path(entity), items, on_done)

    def _update_path(self, entity: str, path: str, items: list[PushItem], on_done: Callable[[list[PushResult]], None]) -> None:
        for start in range(0, len(items), CHUNK):
            chunk = items[start : start + CHUNK]
            encoded = {item.local_id: self._encode(entity, item, creating=False) for item in chunk}
            results = {i.local_id: PushResult(i.local_id, i.remote_id, set(encoded[i.local_id][1])) for i in chunk}
            body = [payload for payload, _, _, _ in encoded.values() if len(payload) > 2]
            for attempt in range(2):
                if not body:
                    break
                try:
                    echoes = embedded_items(self.client.patch(path, body), path)
                except AmoValidationError as error:
                    bad = {str(p["request_id"]) for p in body if error.errors_for(str(p["request_id"]))}
                    if not bad or attempt == 1:
                        raise
                    for local_id in bad:
                        detail = "; ".join(str(e.get("detail") or e.get("code")) for e in error.errors_for(local_id))
                        gone = any(str(e.get("path")) == "id" for e in error.errors_for(local_id))
                        results[local_id] = PushResult(
                            local_id, results[local_id].remote_id, gone=gone, error=None if gone else detail
                        )
                    body = [p for p in body if str(p["request_id"]) not in bad]
                    continue
                for echo in echoes:
                    res = results.get(str(echo.get("request_id")))
                    if res is not None:
                        res.updated_at = _int(echo.get("updated_at"))
                break
            self._links(
                path,
                [encoded[i.local_id] for i in chunk if not results[i.local_id].error and not results[i.local_id].gone],
                results,
            )
            if entity == "note":
                self._pin_notes(path, chunk, list(results.values()), creating=False)
            on_done(list(results.values()))

    def _links(
        self, path: str, encoded: list[tuple[JSON, set[str], list[JSON], list[JSON]]], results: dict[str, PushResult]
    ) -> None:
        adds = [link for _, _, add, _ in encoded for link in add]
        dels = [link for _, _, _, rem in encoded for link in rem]
        base = path.split("/")[0]
        for action, links in (("unlink", dels), ("link", adds)):
            for start in range(0, len(links), CHUNK):
                chunk = links[start : start + CHUNK]
                try:
                    self.client.post(f"{base}/{action}", chunk)
                except AmoValidationError as error:
                    log.warning("amoCRM %s refused: %s", action, error)
                    failed = {int(link["entity_id"]) for link in chunk}
                    for res in results.values():
                        if res.remote_id and int(res.remote_id) in failed:
                            res.sent -= {"contacts", "company_id", "main_contact"}

    # ------------------------------------------------------------- lookups

    def find_created(self, entity: str, items: list[PushItem]) -> dict[str, RemoteRecord]:
        found: dict[str, RemoteRecord] = {}
        if entity in ("deal", "contact", "company"):
            return self._find_created_records(entity, items)
        if entity == "task":
            for item in items:
                ref = item.fields.get("entity")
                due = encode_due(
                    _int(item.fields.get("due_at")), bool(item.fields.get("all_day")), self.account_tz, self.local_tz
                )
                params: JSON = {"order[id]": "desc"}
                if isinstance(ref, Ref):
                    params.update({"filter[entity_type]": ENTITY_PATHS[ref.entity], "filter[entity_id]": ref.remote_id})
                for page in self.client.get_all("tasks", params):
                    match = next(
                        (
                            t
                            for t in page
                            if t.get("text") == item.fields.get("text") and (due is None or t.get("complete_till") == due)
                        ),
                        None,
                    )
                    if match is not None:
                        found[item.local_id] = self.decode("task", match)
                    break
        elif entity == "note":
            for item in items:
                ref = item.fields.get("entity")
                if not isinstance(ref, Ref):
                    continue
                etype = ENTITY_PATHS[ref.entity]
                for record in self.client.iter_all(f"{etype}/{ref.remote_id}/notes", dict(NOTE_WITH)):
                    if (record.get("params") or {}).get("text") == item.fields.get("text"):
                        record["_entity_path"] = etype
                        found[item.local_id] = self.decode("note", record)
                        break
        return found

    def _find_created_records(self, entity: str, items: list[PushItem]) -> dict[str, RemoteRecord]:
        """The records among ``items`` a lost or killed create made, by our id (field or tag marker).

        Only records created since the first attempt (less a margin for clock differences) can
        be ours, so the newest are read first (``order[created_at]=desc``) and the scan stops
        once every item is found or the records get older than that: one request for a lost
        chunk, not one look-up per record."""
        wanted = {item.local_id for item in items}
        found: dict[str, RemoteRecord] = {}
        if not wanted:
            return found
        self._ensure_uuid_field(entity)  # the killed run may have made the field: read it before matching
        now = int(time.time())
        since = min((item.attempt_at or now) for item in items) + self.skew - LOOKUP_MARGIN
        params: JSON = {"order[created_at]": "desc", **self._with(entity)}
        if self.filters_enabled:
            params["filter[created_at][from]"] = since
        for page in self.client.get_all(self._path(entity), params):
            for record in page:
                decoded = self.decode(entity, record)
                if decoded.uuid in wanted and decoded.uuid not in found:
                    found[decoded.uuid] = decoded
            oldest = min((_int(r.get("created_at")) or 0) for r in page)
            if len(found) == len(wanted) or oldest < since:
                break
        return found

    # ------------------------------------------------------------- incoming

    def incoming(self) -> list[IncomingLead]:
        out: list[IncomingLead] = []
        for item in self.client.iter_all("leads/unsorted"):
            embedded = item.get("_embedded") or {}
            leads = embedded.get("leads") or []
            contacts = embedded.get("contacts") or []
            contact = contacts[0] if contacts else {}
            phones: list[str] = []
            emails: list[str] = []
            for cf in contact.get("custom_fields_values") or []:
                values = [str(v.get("value")) for v in cf.get("values") or [] if v.get("value")]
                if cf.get("field_code") == "PHONE":
                    phones.extend(values)
                elif cf.get("field_code") == "EMAIL":
                    emails.extend(values)
            metadata = item.get("metadata") or {}
            category = str(item.get("category") or "forms")
            lines = [f"amoCRM {category}: {item.get('source_name') or ''}".rstrip(": ")]
            if isinstance(metadata, dict):
                lines.extend(f"{k}: {v}" for k, v in metadata.items() if v not in (None, "", [], {}))
            body = "\n".join(lines)
            lead = leads[0] if leads else {}
            out.append(
                IncomingLead(
                    uid=str(item["uid"]),
                    pipeline_ref=Ref("pipeline", str(item.get("pipeline_id"))) if item.get("pipeline_id") else None,
                    lead=Ref("deal", str(lead["id"])) if lead.get("id") else None,
                    created_at=_int(item.get("created_at")) or 0,
                    source="amocrm",
                    sender_name=contact.get("name") or None,
                    sender_email=emails[0] if emails else None,
                    sender_phone=phones[0] if phones else None,
                    subject=lead.get("name") or item.get("source_name"),
                    body=body,
                    contact=Ref("contact", str(contact["id"])) if contact.get("id") else None,
                )
            )
        return out

    def accept_incoming(self, uid: str, stage: Ref | None) -> Ref | None:
        body: JSON = {}
        if stage is not None:
            body["status_id"] = int(stage.remote_id.partition(":")[2])
        try:
            answer = self.client.post(f"leads/unsorted/{uid}/accept", body)
        except AmoNotFound:
            return None
        leads = ((answer or {}).get("_embedded") or {}).get("leads") or []
        return Ref("deal", str(leads[0]["id"])) if leads else None

    def decline_incoming(self, uid: str) -> None:
        try:
            self.client.delete(f"leads/unsorted/{uid}/decline", {})
        except AmoNotFound:
            return
