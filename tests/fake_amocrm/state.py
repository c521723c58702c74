"""In-memory state of the fake amoCRM account and every rule of its writes.

Everything here runs under ``AmoState.lock`` (the HTTP handlers and the test
hooks on :class:`~tests.fake_amocrm.server.FakeAmo` take it). Records are kept
in an internal shape close to the API's and rendered on the way out.

Batch writes are validated element by element first and applied only when
every element is valid (the fake treats a batch as atomic; the real API's
behaviour is unverified, see the reference, section 5).
"""

from __future__ import annotations

import copy
import datetime as dt
import threading
import time
import uuid
from collections.abc import Callable
from typing import Any

from . import seed
from .problems import JSON, ApiError, ValidationFailed, bad_choice, invalid_type, not_expected, problem
from .query import Query, flat, in_range, ints, order_items, range_bounds, scalar, split_commas, text_matches, with_set

ENTITY_TYPES = ("leads", "contacts", "companies")
SINGULAR = {"leads": "lead", "contacts": "contact", "companies": "company", "tasks": "task"}
PLURAL = {v: k for k, v in SINGULAR.items()}
WON_STATUS_ID = 142
LOST_STATUS_ID = 143
CLOSED_STATUSES = (WON_STATUS_ID, LOST_STATUS_ID)
MAX_BATCH = 250
UNSORTED_STATUS_TYPE = 1

_MISSING: Any = object()

# Writable top-level keys and their kinds ("?" = nullable).
_COMMON_FIELDS = {
    "responsible_user_id": "int",
    "group_id": "int",
    "created_by": "int",
    "updated_by": "int",
    "created_at": "int",
    "updated_at": "int",
}
FIELD_KINDS: dict[str, dict[str, str]] = {
    "leads": {
        **_COMMON_FIELDS,
        "name": "str",
        "price": "int",
        "status_id": "int",
        "pipeline_id": "int",
        "closed_at": "int?",
        "loss_reason_id": "int?",
        "score": "int?",
        "labor_cost": "int?",
    },
    "contacts": {**_COMMON_FIELDS, "name": "str", "first_name": "str", "last_name": "str"},
    "companies": {**_COMMON_FIELDS, "name": "str"},
}
_STRUCTURAL = {"id", "request_id", "custom_fields_values", "tags_to_add", "tags_to_delete", "_embedded"}
EMBEDDED_LINKS: dict[str, set[str]] = {"leads": {"contacts", "companies"}, "contacts": {"companies"}, "companies": {"contacts"}}
_LINKABLE = {frozenset(("leads", "contacts")), frozenset(("leads", "companies")), frozenset(("contacts", "companies"))}
_TYPE_ORDER = {"leads": 0, "contacts": 1, "companies": 2}

ENUM_TYPES = ("select", "multiselect", "radiobutton")
NUMBER_TYPES = ("numeric", "price", "monetary")
DATE_TYPES = ("date", "date_time", "birthday")

NOTE_TYPES = (
    "common",
    "call_in",
    "call_out",
    "service_message",
    "extended_service_message",
    "geolocation",
    "sms_in",
    "sms_out",
    "attachment",
)
TASK_KINDS = {
    "text": "str",
    "complete_till": "int",
    "task_type_id": "int",
    "entity_id": "int?",
    "entity_type": "str?",
    "responsible_user_id": "int",
    "is_completed": "bool",
    "duration": "int",
    "created_by": "int",
    "updated_by": "int",
    "created_at": "int",
    "updated_at": "int",
    "group_id": "int",
}
NOTE_KINDS = {
    "entity_id": "int",
    "note_type": "str",
    "responsible_user_id": "int",
    "created_by": "int",
    "updated_by": "int",
    "created_at": "int",
    "updated_at": "int",
    "group_id": "int",
    "is_need_to_trigger_digital_pipeline": "bool",
}


class FakeClock:
    """Unix seconds the fake stamps on records and tokens; tests set or advance it.

    It stands still unless told otherwise, so ``updated_at`` values are
    predictable; :meth:`advance` moves it forward.
    """

    def __init__(self, start: int | None = None) -> None:
        self._lock = threading.Lock()
        self._now = int(time.time()) if start is None else int(start)

    def now(self) -> int:
        """The current fake time."""
        with self._lock:
            return self._now

    def set(self, value: int) -> None:
        """Jump to ``value`` (may go backwards: tests decide)."""
        with self._lock:
            self._now = int(value)

    def advance(self, seconds: int = 1) -> int:
        """Move forward by ``seconds`` and return the new time."""
        with self._lock:
            self._now += int(seconds)
            return self._now


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def request_id_of(element: Any, index: int) -> Any:
    """The request_id to echo: the element's own, else the index as a string."""
    if isinstance(element, dict) and element.get("request_id") is not None:
        return element["request_id"]
    return str(index)


def check_batch(items: Any, *, limit: int = MAX_BATCH) -> list[Any]:
    """A write body must be a non-empty JSON array of at most ``limit`` elements."""
    if not isinstance(items, list):
        raise ApiError(400, "Request body must be a JSON array")
    if not items:
        raise ApiError(400, "Request data cannot be blank")
    if len(items) > limit:
        raise ApiError(422, f"Limit of {limit} per request")
    return items


def _check_kinds(el: JSON, kinds: dict[str, str], errs: list[JSON]) -> JSON:
    out: JSON = {}
    for key, kind in kinds.items():
        if key not in el:
            continue
        value = el[key]
        nullable = kind.endswith("?")
        base = kind.rstrip("?")
        if value is None and nullable:
            out[key] = None
        elif base == "str" and not isinstance(value, str):
            errs.append(invalid_type(key, "string"))
        elif base == "int" and not _is_int(value):
            errs.append(invalid_type(key, "int"))
        elif base == "bool" and not isinstance(value, bool):
            errs.append(invalid_type(key, "bool"))
        else:
            out[key] = value
    return out


def _to_timestamp(value: Any) -> int | None:
    if _is_int(value):
        return int(value)
    if isinstance(value, str):
        try:
            parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=dt.UTC)
        return int(parsed.timestamp())
    return None


class AmoState:
    """The account: users, pipelines, field definitions, entities, events."""

    def __init__(self, clock: FakeClock, base_url: str = "http://127.0.0.1") -> None:
        self.lock = threading.RLock()
        self.clock = clock
        self.base_url = base_url
        self.account_id = seed.ACCOUNT_ID
        self._next_id = 1_000_000
        self._event_seq = 0
        self.users: dict[int, JSON] = {}
        self.pipelines: dict[int, JSON] = {}
        self.custom_fields: dict[str, dict[int, JSON]] = {e: {} for e in ENTITY_TYPES}
        self.entities: dict[str, dict[int, JSON]] = {e: {} for e in ENTITY_TYPES}
        self.tags: dict[str, dict[int, JSON]] = {e: {} for e in ENTITY_TYPES}
        self.tasks: dict[int, JSON] = {}
        self.notes: dict[str, dict[int, JSON]] = {e: {} for e in ENTITY_TYPES}
        self.links: dict[tuple[str, int, str, int], JSON] = {}
        self.events: list[JSON] = []
        self.unsorted: dict[str, JSON] = {}
        self.loss_reasons: dict[int, JSON] = {}
        self.webhooks: list[JSON] = []
        self.task_types: list[JSON] = copy.deepcopy(seed.TASK_TYPES)
        self.admin_user_id = 0
        self.main_pipeline_id = 0
        self._seed()

    # ----------------------------------------------------------------- basics

    def new_id(self) -> int:
        """A fresh server-side id (one counter for every kind of record)."""
        with self.lock:
            self._next_id += 1
            return self._next_id

    def href(self, path: str) -> str:
        """Absolute ``_links`` address of an API path."""
        return f"{self.base_url}/api/v4/{path}"

    def _seed(self) -> None:
        for name, email, is_admin in seed.USERS:
            user_id = self.add_user(name, email, is_admin=is_admin)
            if is_admin and not self.admin_user_id:
                self.admin_user_id = user_id
        for index, (name, stages) in enumerate(seed.PIPELINES):
            self.add_pipeline(name, stages, is_main=index == 0)
        for etype, fields in seed.CUSTOM_FIELDS.items():
            for name, ftype, code, enums in fields:
                self.add_custom_field(etype, name, ftype, code=code, enums=enums)
        for index, name in enumerate(seed.LOSS_REASONS):
            reason_id = self.new_id()
            now = self.clock.now()
            self.loss_reasons[reason_id] = {
                "id": reason_id,
                "name": name,
                "sort": (index + 1) * 10,
                "created_at": now,
                "updated_at": now,
            }

    def add_user(self, name: str, email: str, *, is_admin: bool = False, is_active: bool = True) -> int:
        """Add a user to the account and return its id."""
        with self.lock:
            user_id = self.new_id()
            full = {"view": "A", "edit": "A", "add": "A", "delete": "A", "export": "A"}
            self.users[user_id] = {
                "id": user_id,
                "name": name,
                "email": email,
                "lang": "ru",
                "rights": {
                    "leads": dict(full),
                    "contacts": dict(full),
                    "companies": dict(full),
                    "tasks": {"edit": "A", "delete": "A"},
                    "mail_access": True,
                    "catalog_access": True,
                    "status_rights": [],
                    "is_admin": is_admin,
                    "is_free": False,
                    "is_active": is_active,
                    "group_id": None,
                    "role_id": None,
                },
            }
            return user_id

    def add_pipeline(self, name: str, stages: list[str], *, is_main: bool = False) -> int:
        """Add a pipeline: Incoming leads (type 1), ``stages``, 142 won, 143 lost."""
        with self.lock:
            pipeline_id = self.new_id()

            def status(status_id: int, sname: str, sort: int, editable: bool, stype: int, color: str) -> JSON:
                return {
                    "id": status_id,
                    "name": sname,
                    "sort": sort,
                    "is_editable": editable,
                    "pipeline_id": pipeline_id,
                    "color": color,
                    "type": stype,
                    "account_id": self.account_id,
                }

            statuses = [status(self.new_id(), seed.UNSORTED_NAME, 10, False, UNSORTED_STATUS_TYPE, "#c1c1c1")]
            for index, stage in enumerate(stages):
                statuses.append(status(self.new_id(), stage, 20 + 10 * index, True, 0, "#99ccff"))
            statuses.append(status(WON_STATUS_ID, seed.WON_NAME, 10000, False, 0, "#CCFF66"))
            statuses.append(status(LOST_STATUS_ID, seed.LOST_NAME, 11000, False, 0, "#D5D8DB"))
            if is_main:
                for other in self.pipelines.values():
                    other["is_main"] = False
                self.main_pipeline_id = pipeline_id
            self.pipelines[pipeline_id] = {
                "id": pipeline_id,
                "name": name,
                "sort": (len(self.pipelines) + 1) * 10,
                "is_main": is_main or not self.pipelines,
                "is_unsorted_on": True,
                "is_archive": False,
                "account_id": self.account_id,
                "statuses": statuses,
            }
            if not self.main_pipeline_id:
                self.main_pipeline_id = pipeline_id
            return pipeline_id

    def add_custom_field(
        self,
        etype: str,
        name: str,
        ftype: str,
        *,
        code: str | None = None,
        enums: list[str] | None = None,
        required_statuses: list[JSON] | None = None,
    ) -> int:
        """Define a custom field (``enums`` for select-like and multitext types)."""
        with self.lock:
            field_id = self.new_id()
            enum_list = [
                {"id": self.new_id(), "value": value, "sort": (index + 1) * 10} for index, value in enumerate(enums or [])
            ]
            self.custom_fields[etype][field_id] = {
                "id": field_id,
                "name": name,
                "type": ftype,
                "account_id": self.account_id,
                "code": code,
                "sort": (len(self.custom_fields[etype]) + 1) * 10,
                "is_api_only": False,
                "enums": enum_list or None,
                "group_id": None,
                "required_statuses": required_statuses or [],
                "is_deletable": code is None,
                "is_predefined": code is not None,
                "entity_type": etype,
                "remind": "never" if ftype == "birthday" else None,
                "triggers": [],
                "currency": None,
                "hidden_statuses": [],
                "chained_lists": None,
                "tracking_callback": None,
            }
            return field_id

    def field_by_name(self, etype: str, name: str) -> JSON:
        """A custom field definition by its name or code (test convenience)."""
        for definition in self.custom_fields[etype].values():
            if name in (definition["name"], definition["code"]):
                return definition
        raise KeyError(name)

    # ------------------------------------------------------------ pipelines

    def status_of(self, pipeline_id: int, status_id: int) -> JSON | None:
        """The status ``status_id`` of pipeline ``pipeline_id``, if it exists."""
        pipeline = self.pipelines.get(pipeline_id)
        if pipeline is None:
            return None
        return next((s for s in pipeline["statuses"] if s["id"] == status_id), None)

    def first_regular_status(self, pipeline_id: int) -> int:
        """The first ordinary stage of a pipeline (where new leads go)."""
        statuses = self.pipelines[pipeline_id]["statuses"]
        regular = [s for s in statuses if s["type"] == 0 and s["id"] not in CLOSED_STATUSES]
        return min(regular, key=lambda s: s["sort"])["id"] if regular else WON_STATUS_ID

    def unsorted_status(self, pipeline_id: int) -> int:
        """The Incoming leads status (type 1) of a pipeline."""
        return next(s["id"] for s in self.pipelines[pipeline_id]["statuses"] if s["type"] == UNSORTED_STATUS_TYPE)

    def render_status(self, status: JSON) -> JSON:
        """A status with its ``_links``."""
        out = dict(status)
        out["_links"] = {"self": {"href": self.href(f"leads/pipelines/{status['pipeline_id']}/statuses/{status['id']}")}}
        return out

    def render_pipeline(self, pipeline: JSON) -> JSON:
        """A pipeline with ``_embedded.statuses``."""
        out = {k: v for k, v in pipeline.items() if k != "statuses"}
        out["_links"] = {"self": {"href": self.href(f"leads/pipelines/{pipeline['id']}")}}
        out["_embedded"] = {"statuses": [self.render_status(s) for s in sorted(pipeline["statuses"], key=lambda s: s["sort"])]}
        return out

    def render_custom_field(self, etype: str, definition: JSON) -> JSON:
        """A custom field definition with ``_links``."""
        out = copy.deepcopy(definition)
        out["_links"] = {"self": {"href": self.href(f"{etype}/custom_fields/{definition['id']}")}}
        return out

    def render_user(self, user: JSON) -> JSON:
        """A user with ``_links``."""
        out = copy.deepcopy(user)
        out["_links"] = {"self": {"href": self.href(f"users/{user['id']}")}}
        return out

    # --------------------------------------------------------------- events

    def add_event(
        self,
        etype_singular: str,
        entity_id: int,
        event_type: str,
        *,
        user_id: int,
        value_before: list[JSON] | None = None,
        value_after: list[JSON] | None = None,
    ) -> JSON:
        """Append an audit event (what ``/api/v4/events`` lists)."""
        with self.lock:
            self._event_seq += 1
            event = {
                "id": f"{self._event_seq:08x}{uuid.uuid4().hex[:16]}",
                "type": event_type,
                "entity_id": entity_id,
                "entity_type": etype_singular,
                "created_by": user_id,
                "created_at": self.clock.now(),
                "value_after": value_after or [],
                "value_before": value_before or [],
                "account_id": self.account_id,
                "_seq": self._event_seq,
            }
            self.events.append(event)
            return event

    def list_events(self, q: Query) -> list[JSON]:
        """Events after filters, newest first unless ``order[created_at]=asc``."""
        events = list(self.events)
        filt = q.get("filter")
        if isinstance(filt, dict):
            for key, node in filt.items():
                if key == "id":
                    wanted = set(split_commas(flat(node)))
                    events = [e for e in events if e["id"] in wanted]
                elif key == "type":
                    types = set(split_commas(flat(node)))
                    events = [e for e in events if e["type"] in types]
                elif key == "entity":
                    kinds = {PLURAL.get(k, k) for k in split_commas(flat(node))}
                    events = [e for e in events if PLURAL.get(e["entity_type"], e["entity_type"]) in kinds]
                elif key == "entity_id":
                    ids = set(ints(flat(node), key))
                    events = [e for e in events if e["entity_id"] in ids]
                elif key == "created_by":
                    ids = set(ints(flat(node), key))
                    events = [e for e in events if e["created_by"] in ids]
                elif key == "created_at":
                    lo, hi = range_bounds(node, key)
                    events = [e for e in events if in_range(e["created_at"], lo, hi)]
        direction = "desc"
        order = q.get("order")
        if isinstance(order, dict):
            for key in ("created_at", "id"):
                values = flat(order.get(key))
                if values and values[-1].lower() in ("asc", "desc"):
                    direction = values[-1].lower()
        events.sort(key=lambda e: (e["created_at"], e["_seq"]), reverse=direction == "desc")
        return events

    def render_event(self, event: JSON) -> JSON:
        """An event with ``_links`` and ``_embedded.entity``."""
        out = {k: copy.deepcopy(v) for k, v in event.items() if k != "_seq"}
        out["_links"] = {"self": {"href": self.href(f"events/{event['id']}")}}
        plural = PLURAL.get(event["entity_type"], event["entity_type"])
        out["_embedded"] = {
            "entity": {"id": event["entity_id"], "_links": {"self": {"href": self.href(f"{plural}/{event['entity_id']}")}}}
        }
        return out

    # ------------------------------------------------------------- entities

    def get_entity(self, etype: str, entity_id: int, *, include_deleted: bool = False) -> JSON | None:
        """The internal record, or None when missing (or deleted)."""
        rec = self.entities[etype].get(entity_id)
        if rec is None or (rec["is_deleted"] and not include_deleted):
            return None
        return rec

    def write_entities(self, etype: str, items: Any, *, creating: bool, user_id: int) -> list[JSON]:
        """POST (``creating``) or PATCH a batch; returns the ``_embedded`` echo items."""
        with self.lock:
            batch = check_batch(items)
            plans: list[tuple[Any, JSON | None, JSON]] = []
            errors: list[JSON] = []
            for index, el in enumerate(batch):
                rid = request_id_of(el, index)
                errs: list[JSON] = []
                existing: JSON | None = None
                plan: JSON = {}
                if not isinstance(el, dict):
                    errs.append(invalid_type("", "object"))
                else:
                    if not creating:
                        existing = self._existing_for_patch(etype, el, errs)
                    if creating or existing is not None:
                        plan = self._plan_entity(etype, el, existing, errs)
                if errs:
                    errors.append({"request_id": rid, "errors": errs})
                plans.append((rid, existing, plan))
            if errors:
                raise ValidationFailed(errors)
            out = []
            for rid, existing, plan in plans:
                rec = self._commit_entity(etype, plan, existing, user_id)
                out.append(self._write_echo(etype, rec, rid, creating))
            return out

    def _write_echo(self, etype: str, rec: JSON, rid: Any, creating: bool) -> JSON:
        echo: JSON = {"id": rec["id"]}
        if creating:
            if etype in ("contacts", "companies"):
                echo["is_deleted"] = False
            if etype == "contacts":
                echo["is_unsorted"] = False
        else:
            echo["updated_at"] = rec["updated_at"]
        echo["request_id"] = rid
        echo["_links"] = {"self": {"href": self.href(f"{etype}/{rec['id']}")}}
        return echo

    def _existing_for_patch(self, etype: str, el: JSON, errs: list[JSON]) -> JSON | None:
        entity_id = el.get("id")
        if not _is_int(entity_id):
            errs.append(problem("NotBlank", "id", "The id of the entity to update is required."))
            return None
        rec = self.get_entity(etype, entity_id)
        if rec is None:
            errs.append(bad_choice("id", "Entity not found or deleted."))
        return rec

    def _plan_entity(self, etype: str, el: JSON, existing: JSON | None, errs: list[JSON]) -> JSON:
        creating = existing is None
        kinds = FIELD_KINDS[etype]
        for key in el:
            if key not in kinds and key not in _STRUCTURAL or (key == "id" and creating):
                errs.append(not_expected(key))
        fields = _check_kinds(el, kinds, errs)
        if "responsible_user_id" in fields and fields["responsible_user_id"] not in self.users:
            errs.append(bad_choice("responsible_user_id", "User not found."))
        for key in ("created_by", "updated_by"):
            if key in fields and fields[key] != 0 and fields[key] not in self.users:
                errs.append(bad_choice(key, "User not found."))
        if etype == "leads":
            self._plan_lead_status(el, fields, existing, errs)
            reason = fields.get("loss_reason_id")
            if reason is not None and reason not in self.loss_reasons:
                errs.append(bad_choice("loss_reason_id", "Loss reason not found."))
            if "price" in fields and fields["price"] < 0:
                errs.append(problem("GreaterThanOrEqual", "price", "This value should be greater than or equal to 0."))
        if etype == "contacts" and "name" not in fields and ({"first_name", "last_name"} & set(fields)):
            first = fields.get("first_name", existing["first_name"] if existing else "")
            last = fields.get("last_name", existing["last_name"] if existing else "")
            fields["name"] = f"{first} {last}".strip()
        plan: JSON = {"fields": fields, "cfv": _MISSING, "tags": _MISSING, "tags_add": [], "tags_del": [], "links": []}
        if "custom_fields_values" in el:
            cfv = el["custom_fields_values"]
            if cfv is None:
                pass
            elif not isinstance(cfv, list):
                errs.append(invalid_type("custom_fields_values", "array"))
            else:
                current = existing["custom_fields_values"] if existing else None
                plan["cfv"] = self._merge_cfv(etype, current, cfv, errs)
        for key in ("tags_to_add", "tags_to_delete"):
            if key in el:
                refs = self._check_tag_refs(etype, el[key], key, errs, must_exist=False)
                plan["tags_add" if key == "tags_to_add" else "tags_del"] = refs
        embedded = el.get("_embedded")
        if embedded is not None:
            if not isinstance(embedded, dict):
                errs.append(invalid_type("_embedded", "object"))
            else:
                for key, value in embedded.items():
                    path = f"_embedded.{key}"
                    if key == "tags":
                        plan["tags"] = [] if value is None else self._check_tag_refs(etype, value, path, errs)
                    elif key == "source" and etype == "leads":
                        continue
                    elif key in EMBEDDED_LINKS[etype] and creating:
                        plan["links"].extend(self._check_embedded_links(key, value, path, errs))
                    else:
                        errs.append(not_expected(path))
        return plan

    def _plan_lead_status(self, el: JSON, fields: JSON, existing: JSON | None, errs: list[JSON]) -> None:
        if "status_id" not in fields and "pipeline_id" not in fields:
            if existing is None:
                fields["pipeline_id"] = self.main_pipeline_id
                fields["status_id"] = self.first_regular_status(self.main_pipeline_id)
            return
        pipeline_id = fields.get("pipeline_id")
        if pipeline_id is not None and pipeline_id not in self.pipelines:
            errs.append(bad_choice("pipeline_id", "Pipeline not found."))
            return
        if "status_id" not in fields:
            assert pipeline_id is not None
            if existing is None or existing["pipeline_id"] != pipeline_id:
                fields["status_id"] = self.first_regular_status(pipeline_id)
            return
        status_id = fields["status_id"]
        if pipeline_id is None:
            if existing is not None:
                pipeline_id = existing["pipeline_id"]
            elif status_id in CLOSED_STATUSES:
                pipeline_id = self.main_pipeline_id
            else:
                pipeline_id = next(
                    (pid for pid in self.pipelines if self.status_of(pid, status_id) is not None), self.main_pipeline_id
                )
            fields["pipeline_id"] = pipeline_id
        status = self.status_of(pipeline_id, status_id)
        if status is None:
            errs.append(bad_choice("status_id", "Status not found in the pipeline."))
        elif status["type"] == UNSORTED_STATUS_TYPE and (existing is None or existing["status_id"] != status_id):
            errs.append(bad_choice("status_id", "A lead cannot be moved to Incoming leads through the API."))

    def _check_tag_refs(self, etype: str, value: Any, path: str, errs: list[JSON], *, must_exist: bool = True) -> list[JSON]:
        if not isinstance(value, list):
            errs.append(invalid_type(path, "array"))
            return []
        refs: list[JSON] = []
        for index, ref in enumerate(value):
            ref_path = f"{path}.{index}"
            if not isinstance(ref, dict):
                errs.append(invalid_type(ref_path, "object"))
                continue
            for key in ref:
                if key not in ("id", "name", "color"):
                    errs.append(not_expected(f"{ref_path}.{key}"))
            if ref.get("id") is not None:
                if not _is_int(ref["id"]):
                    errs.append(invalid_type(f"{ref_path}.id", "int"))
                elif ref["id"] not in self.tags[etype] and must_exist:
                    errs.append(bad_choice(f"{ref_path}.id", "Tag not found."))
                else:
                    refs.append({"id": ref["id"]})
            elif isinstance(ref.get("name"), str) and ref["name"].strip():
                refs.append({"name": ref["name"].strip(), "color": ref.get("color")})
            else:
                errs.append(problem("NotBlank", f"{ref_path}.name", "Pass the tag id or a non-empty name."))
        return refs

    def _check_embedded_links(self, to_type: str, value: Any, path: str, errs: list[JSON]) -> list[JSON]:
        if not isinstance(value, list):
            errs.append(invalid_type(path, "array"))
            return []
        links: list[JSON] = []
        for index, ref in enumerate(value):
            ref_path = f"{path}.{index}"
            if not isinstance(ref, dict) or not _is_int(ref.get("id")):
                errs.append(invalid_type(f"{ref_path}.id", "int"))
                continue
            if self.get_entity(to_type, ref["id"]) is None:
                errs.append(bad_choice(f"{ref_path}.id", "Linked entity not found."))
                continue
            links.append({"to_type": to_type, "to_id": ref["id"], "main": bool(ref.get("is_main"))})
        return links

    def _merge_cfv(self, etype: str, current: list[JSON] | None, incoming: list[Any], errs: list[JSON]) -> list[JSON] | None:
        result: dict[int, JSON] = {cf["field_id"]: copy.deepcopy(cf) for cf in current or []}
        definitions = self.custom_fields[etype]
        for index, entry in enumerate(incoming):
            path = f"custom_fields_values.{index}"
            if not isinstance(entry, dict):
                errs.append(invalid_type(path, "object"))
                continue
            for key in entry:
                if key not in ("field_id", "field_code", "values", "field_name", "field_type", "is_computed"):
                    errs.append(not_expected(f"{path}.{key}"))
            definition: JSON | None = None
            if entry.get("field_id") is not None:
                field_id = entry["field_id"]
                definition = definitions.get(field_id) if _is_int(field_id) else None
                if definition is None:
                    errs.append(bad_choice(f"{path}.field_id", "Custom field not found."))
                    continue
            elif entry.get("field_code"):
                definition = next((d for d in definitions.values() if d["code"] == entry["field_code"]), None)
                if definition is None:
                    errs.append(bad_choice(f"{path}.field_code", "Custom field not found."))
                    continue
            else:
                errs.append(problem("NotBlank", f"{path}.field_id", "You must pass field_id or field_code."))
                continue
            if "values" not in entry:
                errs.append(problem("NotBlank", f"{path}.values", "This value should not be blank."))
                continue
            values = entry["values"]
            if values is None:
                result.pop(definition["id"], None)
                continue
            if not isinstance(values, list):
                errs.append(invalid_type(f"{path}.values", "array"))
                continue
            normalized = self._normalize_values(definition, values, f"{path}.values", errs)
            if not normalized:
                result.pop(definition["id"], None)
                continue
            result[definition["id"]] = {
                "field_id": definition["id"],
                "field_name": definition["name"],
                "field_code": definition["code"],
                "field_type": definition["type"],
                "values": normalized,
                "is_computed": False,
            }
        return list(result.values()) or None

    def _normalize_values(self, definition: JSON, values: list[Any], path: str, errs: list[JSON]) -> list[JSON]:
        ftype = definition["type"]
        enums: list[JSON] = definition["enums"] or []
        if ftype in ("select", "radiobutton") and len(values) > 1:
            errs.append(problem("Count", path, "This field takes a single value."))
            return []
        allowed = {"value"}
        if ftype in ENUM_TYPES:
            allowed.add("enum_id")
        if ftype == "multitext":
            allowed |= {"enum_id", "enum_code"}
        out: list[JSON] = []
        for index, value in enumerate(values):
            vpath = f"{path}.{index}"
            if not isinstance(value, dict):
                errs.append(invalid_type(vpath, "object"))
                continue
            extra = [key for key in value if key not in allowed]
            for key in extra:
                errs.append(not_expected(f"{vpath}.{key}"))
            if extra:
                continue
            if ftype in ENUM_TYPES:
                if "enum_id" in value:
                    enum = next((e for e in enums if e["id"] == value["enum_id"]), None)
                    where = f"{vpath}.enum_id"
                else:
                    enum = next((e for e in enums if e["value"] == value.get("value")), None)
                    where = f"{vpath}.value"
                if enum is None:
                    errs.append(bad_choice(where))
                    continue
                out.append({"value": enum["value"], "enum_id": enum["id"], "enum_code": None})
                continue
            raw = value.get("value")
            if raw is None or raw == "":
                errs.append(problem("NotBlank", f"{vpath}.value", "This value should not be blank."))
                continue
            if ftype == "multitext":
                if not isinstance(raw, str):
                    errs.append(invalid_type(f"{vpath}.value", "string"))
                    continue
                if "enum_id" in value:
                    enum = next((e for e in enums if e["id"] == value["enum_id"]), None)
                elif "enum_code" in value:
                    enum = next((e for e in enums if e["value"] == value["enum_code"]), None)
                else:
                    enum = enums[0] if enums else None
                if enum is None:
                    errs.append(bad_choice(f"{vpath}.enum_code"))
                    continue
                out.append({"value": raw, "enum_id": enum["id"], "enum_code": enum["value"]})
            elif ftype == "checkbox":
                if not isinstance(raw, bool | int):
                    errs.append(invalid_type(f"{vpath}.value", "bool"))
                    continue
                out.append({"value": bool(raw)})
            elif ftype in NUMBER_TYPES:
                try:
                    number = float(raw) if not isinstance(raw, bool) else None
                except (TypeError, ValueError):
                    number = None
                if number is None:
                    errs.append(invalid_type(f"{vpath}.value", "numeric"))
                    continue
                out.append({"value": str(raw)})
            elif ftype in DATE_TYPES:
                stamp = _to_timestamp(raw)
                if stamp is None:
                    errs.append(invalid_type(f"{vpath}.value", "date (unix time or RFC 3339)"))
                    continue
                out.append({"value": stamp})
            else:
                if isinstance(raw, bool) or not isinstance(raw, str | int | float):
                    errs.append(invalid_type(f"{vpath}.value", "string"))
                    continue
                out.append({"value": str(raw)})
        return out

    def _new_entity(self, etype: str, user_id: int, now: int) -> JSON:
        responsible = user_id if user_id in self.users else self.admin_user_id
        rec: JSON = {"id": self.new_id(), "name": ""}
        if etype == "leads":
            rec.update(price=0, responsible_user_id=responsible, group_id=0, status_id=None, pipeline_id=None)
            rec.update(loss_reason_id=None)
        elif etype == "contacts":
            rec.update(first_name="", last_name="", responsible_user_id=responsible, group_id=0)
        else:
            rec.update(responsible_user_id=responsible, group_id=0)
        rec.update(created_by=user_id, updated_by=user_id, created_at=now, updated_at=now)
        if etype == "leads":
            rec.update(closed_at=None)
        rec.update(closest_task_at=None, is_deleted=False)
        if etype == "contacts":
            rec["is_unsorted"] = False
        rec["custom_fields_values"] = None
        if etype == "leads":
            rec.update(score=None, labor_cost=None)
        rec["account_id"] = self.account_id
        rec["tag_ids"] = []
        return rec

    def _resolve_tag(self, etype: str, ref: JSON, *, create: bool) -> int | None:
        if "id" in ref:
            return ref["id"] if ref["id"] in self.tags[etype] else None
        name = ref["name"]
        for tag in self.tags[etype].values():
            if tag["name"].casefold() == name.casefold():
                return tag["id"]
        if not create:
            return None
        tag_id = self.new_id()
        self.tags[etype][tag_id] = {"id": tag_id, "name": name, "color": ref.get("color")}
        return tag_id

    def _commit_entity(self, etype: str, plan: JSON, existing: JSON | None, user_id: int) -> JSON:
        now = self.clock.now()
        creating = existing is None
        rec = self._new_entity(etype, user_id, now) if existing is None else existing
        before = copy.deepcopy(rec)
        fields: JSON = plan["fields"]
        rec.update(fields)
        if plan["cfv"] is not _MISSING:
            rec["custom_fields_values"] = plan["cfv"]
        tag_ids: list[int] = list(rec["tag_ids"])
        if plan["tags"] is not _MISSING:
            tag_ids = []
            for ref in plan["tags"]:
                tag_id = self._resolve_tag(etype, ref, create=True)
                if tag_id is not None and tag_id not in tag_ids:
                    tag_ids.append(tag_id)
        for ref in plan["tags_add"]:
            tag_id = self._resolve_tag(etype, ref, create=True)
            if tag_id is not None and tag_id not in tag_ids:
                tag_ids.append(tag_id)
        for ref in plan["tags_del"]:
            tag_id = self._resolve_tag(etype, ref, create=False)
            if tag_id in tag_ids:
                tag_ids.remove(tag_id)
        rec["tag_ids"] = tag_ids
        if etype == "leads":
            was_closed = not creating and before["status_id"] in CLOSED_STATUSES
            if "closed_at" not in fields:
                if rec["status_id"] in CLOSED_STATUSES and not was_closed:
                    rec["closed_at"] = now
                elif rec["status_id"] not in CLOSED_STATUSES:
                    rec["closed_at"] = None
            if not rec["name"]:
                rec["name"] = f"Сделка #{rec['id']}"
        if "updated_at" not in fields:
            rec["updated_at"] = now
        if "updated_by" not in fields:
            rec["updated_by"] = user_id
        singular = SINGULAR[etype]
        if creating:
            self.entities[etype][rec["id"]] = rec
            self.add_event(singular, rec["id"], f"{singular}_added", user_id=user_id)
        else:
            self._record_changes(etype, before, rec, user_id)
        for link in plan["links"]:
            self.link(etype, rec["id"], link["to_type"], link["to_id"], {"main_contact": link["main"]}, user_id=user_id)
        return rec

    def _record_changes(self, etype: str, before: JSON, after: JSON, user_id: int) -> None:
        singular = SINGULAR[etype]
        entity_id = after["id"]

        def event(kind: str, old: list[JSON], new: list[JSON]) -> None:
            self.add_event(singular, entity_id, kind, user_id=user_id, value_before=old, value_after=new)

        if etype == "leads" and (before["status_id"], before["pipeline_id"]) != (after["status_id"], after["pipeline_id"]):
            event(
                "lead_status_changed",
                [{"lead_status": {"id": before["status_id"], "pipeline_id": before["pipeline_id"]}}],
                [{"lead_status": {"id": after["status_id"], "pipeline_id": after["pipeline_id"]}}],
            )
        if before["name"] != after["name"]:
            event(
                "name_field_changed",
                [{"name_field_value": {"name": before["name"]}}],
                [{"name_field_value": {"name": after["name"]}}],
            )
        if etype == "leads" and before["price"] != after["price"]:
            event(
                "sale_field_changed",
                [{"sale_field_value": {"sale": before["price"]}}],
                [{"sale_field_value": {"sale": after["price"]}}],
            )
        if before["responsible_user_id"] != after["responsible_user_id"]:
            event(
                "entity_responsible_changed",
                [{"responsible_user": {"id": before["responsible_user_id"]}}],
                [{"responsible_user": {"id": after["responsible_user_id"]}}],
            )
        old_cf = {cf["field_id"]: cf for cf in before["custom_fields_values"] or []}
        new_cf = {cf["field_id"]: cf for cf in after["custom_fields_values"] or []}
        for field_id in sorted(set(old_cf) | set(new_cf)):
            if old_cf.get(field_id) != new_cf.get(field_id):
                event(
                    f"custom_field_{field_id}_value_changed",
                    [{"custom_field_value": {"field_id": field_id, "values": (old_cf.get(field_id) or {}).get("values")}}],
                    [{"custom_field_value": {"field_id": field_id, "values": (new_cf.get(field_id) or {}).get("values")}}],
                )
        for tag_id in after["tag_ids"]:
            if tag_id not in before["tag_ids"]:
                tag = self.tags[etype][tag_id]
                event("entity_tag_added", [], [{"tag": {"id": tag_id, "name": tag["name"]}}])
        for tag_id in before["tag_ids"]:
            if tag_id not in after["tag_ids"]:
                tag = self.tags[etype][tag_id]
                event("entity_tag_deleted", [{"tag": {"id": tag_id, "name": tag["name"]}}], [])

    def delete_entity(self, etype: str, entity_id: int, *, user_id: int | None = None) -> None:
        """Delete as a user of the web UI would: hidden from lists, a ``*_deleted`` event."""
        with self.lock:
            rec = self.get_entity(etype, entity_id)
            if rec is None:
                raise KeyError(f"{etype} {entity_id} not found")
            who = self.admin_user_id if user_id is None else user_id
            rec["is_deleted"] = True
            rec["updated_at"] = self.clock.now()
            rec["updated_by"] = who
            singular = SINGULAR[etype]
            self.add_event(singular, entity_id, f"{singular}_deleted", user_id=who)

    def restore_entity(self, etype: str, entity_id: int, *, user_id: int | None = None) -> None:
        """Undo :meth:`delete_entity` (a ``*_restored`` event)."""
        with self.lock:
            rec = self.entities[etype].get(entity_id)
            if rec is None or not rec["is_deleted"]:
                raise KeyError(f"deleted {etype} {entity_id} not found")
            who = self.admin_user_id if user_id is None else user_id
            rec["is_deleted"] = False
            rec["updated_at"] = self.clock.now()
            rec["updated_by"] = who
            singular = SINGULAR[etype]
            self.add_event(singular, entity_id, f"{singular}_restored", user_id=who)

    def list_entities(self, etype: str, q: Query, *, filters_enabled: bool) -> list[JSON]:
        """Records matching ``with=only_deleted``, ``filter[...]``, ``query`` and ``order``."""
        wanted = with_set(q)
        only_deleted = etype == "leads" and "only_deleted" in wanted
        records = [r for r in self.entities[etype].values() if r["is_deleted"] == only_deleted]
        filt = q.get("filter")
        if filters_enabled and isinstance(filt, dict):
            records = self._filter_entities(etype, records, filt)
        needle = scalar(q, "query")
        if needle:
            records = [r for r in records if text_matches(r, needle, ("name", "first_name", "last_name"))]
        return order_items(records, q, {"id", "created_at", "updated_at"}, ("id", "asc"))

    def _filter_entities(self, etype: str, records: list[JSON], filt: JSON) -> list[JSON]:
        for key, node in filt.items():
            if key == "id":
                ids = set(ints(flat(node), key))
                records = [r for r in records if r["id"] in ids]
            elif key in ("created_at", "updated_at", "closed_at", "closest_task_at") or (
                key == "price" and isinstance(node, dict) and {"from", "to"} & set(node)
            ):
                lo, hi = range_bounds(node, key)
                records = [r for r in records if in_range(r.get(key), lo, hi)]
            elif key in ("responsible_user_id", "created_by", "updated_by", "pipeline_id", "price", "status_id"):
                values = set(ints(flat(node), key))
                records = [r for r in records if r.get(key) in values]
            elif key == "name":
                names = set(flat(node))
                records = [r for r in records if r["name"] in names]
            elif key == "statuses" and etype == "leads" and isinstance(node, dict):
                pairs = set()
                for sub in node.values():
                    if isinstance(sub, dict):
                        pids = ints(flat(sub.get("pipeline_id")), "statuses.pipeline_id")
                        sids = ints(flat(sub.get("status_id")), "statuses.status_id")
                        if pids and sids:
                            pairs.add((pids[-1], sids[-1]))
                records = [r for r in records if (r["pipeline_id"], r["status_id"]) in pairs]
        return records

    def render_entity(self, etype: str, rec: JSON, wanted: set[str]) -> JSON:
        """The API shape of an entity, with the ``_embedded`` parts ``with=`` asks for."""
        link = {"self": {"href": self.href(f"{etype}/{rec['id']}")}}
        if rec["is_deleted"]:
            out = {k: None for k in rec if k not in ("tag_ids",)}
            out.update(id=rec["id"], updated_at=rec["updated_at"], updated_by=rec["updated_by"])
            out.update(is_deleted=True, account_id=self.account_id, _links=link, _embedded={"tags": []})
            return out
        out = {k: copy.deepcopy(v) for k, v in rec.items() if k != "tag_ids"}
        out["_links"] = link
        embedded: JSON = {"tags": [dict(self.tags[etype][t]) for t in rec["tag_ids"]]}

        def refs(to_type: str, *, main: bool = False) -> list[JSON]:
            items = []
            for other_id, metadata in self.linked(etype, rec["id"], to_type):
                item: JSON = {"id": other_id}
                if main:
                    item["is_main"] = bool(metadata.get("main_contact"))
                item["_links"] = {"self": {"href": self.href(f"{to_type}/{other_id}")}}
                items.append(item)
            return items

        if etype == "leads":
            embedded["companies"] = refs("companies")
            if "contacts" in wanted:
                embedded["contacts"] = refs("contacts", main=True)
            if "loss_reason" in wanted:
                reason = self.loss_reasons.get(rec["loss_reason_id"] or 0)
                embedded["loss_reason"] = [dict(reason)] if reason else []
            if "source_id" in wanted:
                out["source_id"] = None
            if "is_price_modified_by_robot" in wanted:
                out["is_price_modified_by_robot"] = False
        elif etype == "contacts":
            embedded["companies"] = refs("companies")
            if "leads" in wanted:
                embedded["leads"] = refs("leads")
        else:
            if "contacts" in wanted:
                embedded["contacts"] = refs("contacts")
            if "leads" in wanted:
                embedded["leads"] = refs("leads")
        if "catalog_elements" in wanted:
            embedded["catalog_elements"] = []
        out["_embedded"] = embedded
        return out

    # ---------------------------------------------------------------- links

    @staticmethod
    def _link_key(a_type: str, a_id: int, b_type: str, b_id: int) -> tuple[str, int, str, int]:
        if _TYPE_ORDER[a_type] <= _TYPE_ORDER[b_type]:
            return (a_type, a_id, b_type, b_id)
        return (b_type, b_id, a_type, a_id)

    def linked(self, etype: str, entity_id: int, to_type: str) -> list[tuple[int, JSON]]:
        """Ids (and link metadata) of live ``to_type`` entities linked to this one."""
        out: list[tuple[int, JSON]] = []
        for (a_type, a_id, b_type, b_id), metadata in self.links.items():
            if (a_type, a_id, b_type) == (etype, entity_id, to_type):
                other = b_id
            elif (b_type, b_id, a_type) == (etype, entity_id, to_type):
                other = a_id
            else:
                continue
            if self.get_entity(to_type, other) is not None:
                out.append((other, metadata))
        return sorted(out, key=lambda pair: pair[0])

    def check_link(self, etype: str, to_type: str, to_id: Any, path: str, errs: list[JSON]) -> bool:
        """Validate one link target; appends errors and returns whether it is usable."""
        if to_type not in ENTITY_TYPES or frozenset((etype, to_type)) not in _LINKABLE:
            errs.append(bad_choice(f"{path}.to_entity_type", "These entities cannot be linked."))
            return False
        if not _is_int(to_id) or self.get_entity(to_type, to_id) is None:
            errs.append(bad_choice(f"{path}.to_entity_id", "Linked entity not found."))
            return False
        return True

    def link(self, etype: str, entity_id: int, to_type: str, to_id: int, metadata: JSON | None, *, user_id: int) -> JSON:
        """Link two entities (a lead/contact has one company; a lead one main contact)."""
        with self.lock:
            for one_type, one_id, other_type in ((etype, entity_id, to_type), (to_type, to_id, etype)):
                if other_type == "companies" and one_type in ("leads", "contacts"):
                    for company_id, _ in self.linked(one_type, one_id, "companies"):
                        self.links.pop(self._link_key(one_type, one_id, "companies", company_id), None)
            key = self._link_key(etype, entity_id, to_type, to_id)
            stored: JSON = {}
            if {etype, to_type} == {"leads", "contacts"}:
                lead_id = entity_id if etype == "leads" else to_id
                others = [
                    (cid, md)
                    for cid, md in self.linked("leads", lead_id, "contacts")
                    if self._link_key("leads", lead_id, "contacts", cid) != key
                ]
                want_main = bool((metadata or {}).get("main_contact")) or not any(md.get("main_contact") for _, md in others)
                if want_main:
                    for _, md in others:
                        md["main_contact"] = False
                stored["main_contact"] = want_main
            self.links[key] = stored
            now = self.clock.now()
            for kind, ident in ((etype, entity_id), (to_type, to_id)):
                rec = self.entities[kind][ident]
                rec["updated_at"] = now
            self.add_event(
                SINGULAR[etype],
                entity_id,
                "entity_linked",
                user_id=user_id,
                value_after=[{"link": {"entity": {"type": SINGULAR[to_type], "id": to_id}}}],
            )
            return stored

    def unlink(self, etype: str, entity_id: int, to_type: str, to_id: int, *, user_id: int) -> bool:
        """Remove a link; returns whether there was one."""
        with self.lock:
            removed = self.links.pop(self._link_key(etype, entity_id, to_type, to_id), None) is not None
            if removed:
                now = self.clock.now()
                for kind, ident in ((etype, entity_id), (to_type, to_id)):
                    self.entities[kind][ident]["updated_at"] = now
                self.add_event(
                    SINGULAR[etype],
                    entity_id,
                    "entity_unlinked",
                    user_id=user_id,
                    value_before=[{"link": {"entity": {"type": SINGULAR[to_type], "id": to_id}}}],
                )
            return removed

    # ---------------------------------------------------------------- tasks

    def write_tasks(self, items: Any, *, creating: bool, user_id: int) -> list[JSON]:
        """POST or PATCH a batch of tasks."""
        with self.lock:
            batch = check_batch(items)
            plans: list[tuple[Any, JSON | None, JSON]] = []
            errors: list[JSON] = []
            for index, el in enumerate(batch):
                rid = request_id_of(el, index)
                errs: list[JSON] = []
                existing: JSON | None = None
                fields: JSON = {}
                if not isinstance(el, dict):
                    errs.append(invalid_type("", "object"))
                else:
                    if not creating:
                        task_id = el.get("id")
                        existing = self.tasks.get(task_id) if _is_int(task_id) else None
                        if existing is None or existing.get("_deleted"):
                            errs.append(bad_choice("id", "Task not found."))
                            existing = None
                    fields = self._plan_task(el, existing, creating, errs)
                if errs:
                    errors.append({"request_id": rid, "errors": errs})
                plans.append((rid, existing, fields))
            if errors:
                raise ValidationFailed(errors)
            out = []
            for rid, existing, fields in plans:
                task = self._commit_task(fields, existing, user_id)
                echo: JSON = {"id": task["id"]}
                if not creating:
                    echo["updated_at"] = task["updated_at"]
                echo["request_id"] = rid
                echo["_links"] = {"self": {"href": self.href(f"tasks/{task['id']}")}}
                out.append(echo)
            return out

    def _plan_task(self, el: JSON, existing: JSON | None, creating: bool, errs: list[JSON]) -> JSON:
        for key in el:
            if key not in TASK_KINDS and key not in ("id", "request_id", "result") or (key == "id" and creating):
                errs.append(not_expected(key))
        fields = _check_kinds(el, TASK_KINDS, errs)
        if creating:
            for key in ("text", "complete_till"):
                if key not in el:
                    errs.append(problem("NotBlank", key, "This value should not be blank."))
        if "task_type_id" in fields and fields["task_type_id"] not in {t["id"] for t in self.task_types}:
            errs.append(bad_choice("task_type_id", "Task type not found."))
        if "responsible_user_id" in fields and fields["responsible_user_id"] not in self.users:
            errs.append(bad_choice("responsible_user_id", "User not found."))
        if "result" in el:
            result = el["result"]
            if not isinstance(result, dict) or not isinstance(result.get("text"), str):
                errs.append(invalid_type("result", "object with text"))
            else:
                fields["result"] = {"text": result["text"]}
        if "entity_id" in fields or "entity_type" in fields:
            entity_type = fields.get("entity_type", existing["entity_type"] if existing else None)
            entity_id = fields.get("entity_id", existing["entity_id"] if existing else None)
            if entity_type is None and entity_id is None:
                pass
            elif entity_type not in ENTITY_TYPES:
                errs.append(bad_choice("entity_type", "Unknown entity type."))
            elif entity_id is None or self.get_entity(entity_type, entity_id) is None:
                errs.append(bad_choice("entity_id", "Entity not found."))
        return fields

    def _commit_task(self, fields: JSON, existing: JSON | None, user_id: int) -> JSON:
        now = self.clock.now()
        if existing is None:
            task: JSON = {
                "id": self.new_id(),
                "created_by": user_id,
                "updated_by": user_id,
                "created_at": now,
                "updated_at": now,
                "responsible_user_id": user_id if user_id in self.users else self.admin_user_id,
                "group_id": 0,
                "entity_id": None,
                "entity_type": None,
                "duration": 0,
                "is_completed": False,
                "task_type_id": 1,
                "text": "",
                "result": {},
                "complete_till": now,
                "account_id": self.account_id,
            }
            before = None
        else:
            task = existing
            before = copy.deepcopy(existing)
        old_target = (task["entity_type"], task["entity_id"])
        task.update(fields)
        if "updated_at" not in fields:
            task["updated_at"] = now
        if "updated_by" not in fields:
            task["updated_by"] = user_id
        if before is None:
            self.tasks[task["id"]] = task
            self.add_event("task", task["id"], "task_added", user_id=user_id)
        else:
            if task["is_completed"] and not before["is_completed"]:
                self.add_event("task", task["id"], "task_completed", user_id=user_id)
            if task["complete_till"] != before["complete_till"]:
                self.add_event("task", task["id"], "task_deadline_changed", user_id=user_id)
            if task["text"] != before["text"]:
                self.add_event("task", task["id"], "task_text_changed", user_id=user_id)
            if task["result"] != before["result"]:
                self.add_event("task", task["id"], "task_result_added", user_id=user_id)
        for target in {old_target, (task["entity_type"], task["entity_id"])}:
            self._refresh_closest_task(*target)
        return task

    def _refresh_closest_task(self, entity_type: str | None, entity_id: int | None) -> None:
        if entity_type not in ENTITY_TYPES or entity_id is None:
            return
        rec = self.entities[entity_type].get(entity_id)
        if rec is None:
            return
        open_due = [
            t["complete_till"]
            for t in self.tasks.values()
            if t["entity_type"] == entity_type and t["entity_id"] == entity_id and not t["is_completed"] and not t.get("_deleted")
        ]
        rec["closest_task_at"] = min(open_due) if open_due else None

    def delete_task(self, task_id: int, *, user_id: int | None = None) -> None:
        """Delete a task as the web UI would (a ``task_deleted`` event)."""
        with self.lock:
            task = self.tasks[task_id]
            task["_deleted"] = True
            task["updated_at"] = self.clock.now()
            self.add_event("task", task_id, "task_deleted", user_id=self.admin_user_id if user_id is None else user_id)
            self._refresh_closest_task(task["entity_type"], task["entity_id"])

    def list_tasks(self, q: Query) -> list[JSON]:
        """Tasks after filters and order (task filters are not the alpha API filtering)."""
        tasks = [t for t in self.tasks.values() if not t.get("_deleted")]
        filt = q.get("filter")
        if isinstance(filt, dict):
            for key, node in filt.items():
                if key in ("id", "responsible_user_id", "entity_id", "created_by"):
                    values = set(ints(flat(node), key))
                    tasks = [t for t in tasks if t.get(key) in values]
                elif key == "task_type":
                    values = set(ints(flat(node), key))
                    tasks = [t for t in tasks if t["task_type_id"] in values]
                elif key == "entity_type":
                    kinds = set(split_commas(flat(node)))
                    tasks = [t for t in tasks if t["entity_type"] in kinds]
                elif key == "is_completed":
                    values = flat(node)
                    wanted = values[-1].lower() in ("1", "true") if values else True
                    tasks = [t for t in tasks if t["is_completed"] == wanted]
                elif key in ("updated_at", "created_at", "complete_till"):
                    lo, hi = range_bounds(node, key)
                    tasks = [t for t in tasks if in_range(t.get(key), lo, hi)]
        return order_items(tasks, q, {"id", "created_at", "complete_till", "updated_at"}, ("id", "asc"))

    def render_task(self, task: JSON) -> JSON:
        """A task with ``_links``."""
        out = {k: copy.deepcopy(v) for k, v in task.items() if not k.startswith("_")}
        out["_links"] = {"self": {"href": self.href(f"tasks/{task['id']}")}}
        return out

    # ---------------------------------------------------------------- notes

    def write_notes(self, etype: str, items: Any, *, creating: bool, user_id: int, entity_id: int | None = None) -> list[JSON]:
        """POST or PATCH a batch of notes of one entity type."""
        with self.lock:
            batch = check_batch(items)
            plans: list[tuple[Any, JSON | None, JSON]] = []
            errors: list[JSON] = []
            for index, el in enumerate(batch):
                rid = request_id_of(el, index)
                errs: list[JSON] = []
                existing: JSON | None = None
                fields: JSON = {}
                if not isinstance(el, dict):
                    errs.append(invalid_type("", "object"))
                else:
                    if entity_id is not None and "entity_id" not in el:
                        el = {**el, "entity_id": entity_id}
                    if not creating:
                        note_id = el.get("id")
                        existing = self.notes[etype].get(note_id) if _is_int(note_id) else None
                        if existing is None:
                            errs.append(bad_choice("id", "Note not found."))
                    fields = self._plan_note(etype, el, creating, errs)
                if errs:
                    errors.append({"request_id": rid, "errors": errs})
                plans.append((rid, existing, fields))
            if errors:
                raise ValidationFailed(errors)
            out = []
            for rid, existing, fields in plans:
                note = self._commit_note(etype, fields, existing, user_id)
                echo: JSON = {"id": note["id"], "entity_id": note["entity_id"]}
                if not creating:
                    echo["updated_at"] = note["updated_at"]
                echo["request_id"] = rid
                echo["_links"] = {"self": {"href": self.href(f"{etype}/{note['entity_id']}/notes/{note['id']}")}}
                out.append(echo)
            return out

    def _plan_note(self, etype: str, el: JSON, creating: bool, errs: list[JSON]) -> JSON:
        for key in el:
            if key not in NOTE_KINDS and key not in ("id", "request_id", "params") or (key == "id" and creating):
                errs.append(not_expected(key))
        fields = _check_kinds(el, NOTE_KINDS, errs)
        if creating:
            for key in ("entity_id", "note_type"):
                if key not in el:
                    errs.append(problem("NotBlank", key, "This value should not be blank."))
        if "note_type" in fields and fields["note_type"] not in NOTE_TYPES:
            errs.append(bad_choice("note_type", "Unknown note type."))
        if "entity_id" in fields and self.get_entity(etype, fields["entity_id"]) is None:
            errs.append(bad_choice("entity_id", "Entity not found."))
        if "params" in el:
            if not isinstance(el["params"], dict):
                errs.append(invalid_type("params", "object"))
            else:
                fields["params"] = copy.deepcopy(el["params"])
        elif creating:
            errs.append(problem("NotBlank", "params", "This value should not be blank."))
        return fields

    def _commit_note(self, etype: str, fields: JSON, existing: JSON | None, user_id: int) -> JSON:
        now = self.clock.now()
        if existing is None:
            note: JSON = {
                "id": self.new_id(),
                "entity_id": None,
                "created_by": user_id,
                "updated_by": user_id,
                "created_at": now,
                "updated_at": now,
                "responsible_user_id": user_id if user_id in self.users else self.admin_user_id,
                "group_id": 0,
                "note_type": "common",
                "params": {},
                "account_id": self.account_id,
                "is_pinned": False,
            }
        else:
            note = existing
        note.update(fields)
        if "updated_at" not in fields:
            note["updated_at"] = now
        if "updated_by" not in fields:
            note["updated_by"] = user_id
        if existing is None:
            self.notes[etype][note["id"]] = note
            if note["note_type"] == "common":
                self.add_event(
                    SINGULAR[etype],
                    note["entity_id"],
                    "common_note_added",
                    user_id=user_id,
                    value_after=[{"note": {"id": note["id"]}}],
                )
        return note

    def list_notes(self, etype: str, q: Query, *, entity_id: int | None = None) -> list[JSON]:
        """Notes of one entity type (optionally of one entity) after filters."""
        notes = list(self.notes[etype].values())
        if entity_id is not None:
            notes = [n for n in notes if n["entity_id"] == entity_id]
        filt = q.get("filter")
        if isinstance(filt, dict):
            for key, node in filt.items():
                if key in ("id", "entity_id"):
                    values = set(ints(flat(node), key))
                    notes = [n for n in notes if n[key] in values]
                elif key == "note_type":
                    kinds = set(split_commas(flat(node)))
                    notes = [n for n in notes if n["note_type"] in kinds]
                elif key == "updated_at":
                    lo, hi = range_bounds(node, key)
                    notes = [n for n in notes if in_range(n["updated_at"], lo, hi)]
        return order_items(notes, q, {"id", "updated_at"}, ("id", "asc"))

    def pin_note(self, etype: str, note_id: int, pinned: bool, *, user_id: int) -> bool:
        """Pin or unpin a note; False when there is no such note. The fake stamps ``updated_at``
        (whether amoCRM does is unverified; the adapter's periodic full pull covers either way)."""
        with self.lock:
            note = self.notes[etype].get(note_id)
            if note is None:
                return False
            if note["is_pinned"] != pinned:
                note.update(is_pinned=pinned, updated_at=self.clock.now(), updated_by=user_id)
            return True

    def render_note(self, etype: str, note: JSON, wanted: set[str] | frozenset[str] = frozenset()) -> JSON:
        """A note with ``_links``; ``is_pinned`` only with ``with=is_pinned`` (KDOC notes-by-entity-id)."""
        out = copy.deepcopy(note)
        if "is_pinned" not in wanted:
            out.pop("is_pinned", None)
        out["_links"] = {"self": {"href": self.href(f"{etype}/{note['entity_id']}/notes/{note['id']}")}}
        return out

    # ------------------------------------------------------------- unsorted

    def _create_raw(self, etype: str, data: JSON, user_id: int, *, extra: JSON | None = None) -> JSON:
        errs: list[JSON] = []
        plan = self._plan_entity(etype, data, None, errs)
        if errs:
            raise ValidationFailed([{"request_id": "0", "errors": errs}])
        plan["fields"].update(extra or {})
        return self._commit_entity(etype, plan, None, user_id)

    def add_unsorted(
        self,
        lead: JSON,
        *,
        contact: JSON | None = None,
        company: JSON | None = None,
        category: str = "forms",
        source_uid: str = "site-form",
        source_name: str = "Форма на сайте",
        pipeline_id: int | None = None,
        metadata: JSON | None = None,
        user_id: int = 0,
    ) -> JSON:
        """An incoming lead: a lead in the pipeline's Incoming leads status (+ contact/company)."""
        with self.lock:
            pid = pipeline_id or self.main_pipeline_id
            if pid not in self.pipelines:
                raise ApiError(400, "Pipeline not found")
            lead_data = {k: v for k, v in lead.items() if k not in ("status_id", "pipeline_id")}
            lead_rec = self._create_raw(
                "leads", lead_data, user_id, extra={"pipeline_id": pid, "status_id": self.unsorted_status(pid)}
            )
            contact_ids: list[int] = []
            company_ids: list[int] = []
            if contact is not None:
                contact_rec = self._create_raw("contacts", contact, user_id, extra={"is_unsorted": True})
                contact_ids.append(contact_rec["id"])
                self.link("leads", lead_rec["id"], "contacts", contact_rec["id"], {"main_contact": True}, user_id=user_id)
            if company is not None:
                company_rec = self._create_raw("companies", company, user_id)
                company_ids.append(company_rec["id"])
                self.link("leads", lead_rec["id"], "companies", company_rec["id"], None, user_id=user_id)
            uid = uuid.uuid4().hex
            rec = {
                "uid": uid,
                "source_uid": source_uid,
                "source_name": source_name,
                "category": category,
                "pipeline_id": pid,
                "created_at": self.clock.now(),
                "metadata": metadata or {},
                "account_id": self.account_id,
                "lead_id": lead_rec["id"],
                "contact_ids": contact_ids,
                "company_ids": company_ids,
            }
            self.unsorted[uid] = rec
            return rec

    def render_unsorted(self, rec: JSON, *, full: bool = True) -> JSON:
        """An incoming lead with ``_embedded`` leads/contacts/companies."""

        def refs(etype: str, ids: list[int]) -> list[JSON]:
            items = []
            for ident in ids:
                entity = self.entities[etype].get(ident)
                if entity is None:
                    continue
                if full and not entity["is_deleted"]:
                    items.append(self.render_entity(etype, entity, set()))
                else:
                    items.append({"id": ident, "_links": {"self": {"href": self.href(f"{etype}/{ident}")}}})
            return items

        out = {k: copy.deepcopy(v) for k, v in rec.items() if k not in ("lead_id", "contact_ids", "company_ids")}
        out["_links"] = {"self": {"href": self.href(f"leads/unsorted/{rec['uid']}")}}
        out["_embedded"] = {
            "leads": refs("leads", [rec["lead_id"]]),
            "contacts": refs("contacts", rec["contact_ids"]),
            "companies": refs("companies", rec["company_ids"]),
        }
        return out

    def list_unsorted(self, q: Query) -> list[JSON]:
        """Incoming leads after ``filter[uid|category|pipeline_id]``."""
        items = list(self.unsorted.values())
        filt = q.get("filter")
        if isinstance(filt, dict):
            if "uid" in filt:
                uids = set(split_commas(flat(filt["uid"])))
                items = [i for i in items if i["uid"] in uids]
            if "category" in filt:
                categories = set(split_commas(flat(filt["category"])))
                items = [i for i in items if i["category"] in categories]
            if "pipeline_id" in filt:
                pids = set(ints(flat(filt["pipeline_id"]), "pipeline_id"))
                items = [i for i in items if i["pipeline_id"] in pids]
        return order_items(items, q, {"created_at"}, ("created_at", "asc"))

    def accept_unsorted(self, uid: str, *, user_id: int, status_id: int | None = None, acting_user: int | None = None) -> JSON:
        """Accept an incoming lead: it moves to ``status_id`` (default: first stage)."""
        with self.lock:
            rec = self.unsorted.get(uid)
            if rec is None:
                raise ApiError(404, f"Incoming lead {uid} not found")
            lead = self.entities["leads"][rec["lead_id"]]
            target = status_id if status_id is not None else self.first_regular_status(rec["pipeline_id"])
            status = self.status_of(rec["pipeline_id"], target)
            if status is None or status["type"] == UNSORTED_STATUS_TYPE:
                raise ValidationFailed(
                    [{"request_id": "0", "errors": [bad_choice("status_id", "Status not found in the pipeline.")]}]
                )
            who = acting_user if acting_user is not None else user_id
            changes: JSON = {"status_id": target}
            if who in self.users:
                changes["responsible_user_id"] = who
            plan: JSON = {"fields": changes, "cfv": _MISSING, "tags": _MISSING, "tags_add": [], "tags_del": [], "links": []}
            self._commit_entity("leads", plan, lead, user_id)
            for contact_id in rec["contact_ids"]:
                self.entities["contacts"][contact_id]["is_unsorted"] = False
            del self.unsorted[uid]
            out = self.render_unsorted(rec, full=False)
            return {"uid": uid, "_embedded": out["_embedded"]}

    def decline_unsorted(self, uid: str, *, user_id: int) -> JSON:
        """Decline an incoming lead: the lead (and its new contacts) are deleted."""
        with self.lock:
            rec = self.unsorted.get(uid)
            if rec is None:
                raise ApiError(404, f"Incoming lead {uid} not found")
            self.delete_entity("leads", rec["lead_id"], user_id=user_id)
            for contact_id in rec["contact_ids"]:
                if self.get_entity("contacts", contact_id) is not None:
                    self.delete_entity("contacts", contact_id, user_id=user_id)
            del self.unsorted[uid]
            out = self.render_unsorted(rec, full=False)
            return {"uid": uid, "_embedded": out["_embedded"]}

    # -------------------------------------------------------------- complex

    def create_complex(self, items: Any, *, user_id: int) -> list[JSON]:
        """``POST /leads/complex``: a lead with a new contact and company each (≤ 50)."""
        with self.lock:
            batch = check_batch(items, limit=50)
            prepared: list[tuple[Any, JSON, JSON | None, JSON | None]] = []
            errors: list[JSON] = []
            for index, el in enumerate(batch):
                rid = request_id_of(el, index)
                errs: list[JSON] = []
                if not isinstance(el, dict):
                    errors.append({"request_id": rid, "errors": [invalid_type("", "object")]})
                    continue
                embedded = dict(el.get("_embedded") or {})
                contacts = embedded.pop("contacts", None) or []
                companies = embedded.pop("companies", None) or []
                embedded.pop("metadata", None)
                lead = {k: v for k, v in el.items() if k not in ("_embedded", "request_id")}
                if embedded:
                    lead["_embedded"] = embedded
                contact = contacts[0] if contacts else None
                company = companies[0] if companies else None
                if len(contacts) > 1 or len(companies) > 1:
                    errs.append(problem("Count", "_embedded", "At most 1 contact and 1 company per lead."))
                self._plan_entity("leads", lead, None, errs)
                if isinstance(contact, dict):
                    self._plan_entity("contacts", contact, None, errs)
                if isinstance(company, dict):
                    self._plan_entity("companies", company, None, errs)
                if errs:
                    errors.append({"request_id": rid, "errors": errs})
                prepared.append((rid, lead, contact, company))
            if errors:
                raise ValidationFailed(errors)
            out: list[JSON] = []
            for rid, lead, contact, company in prepared:
                lead_rec = self._create_raw("leads", lead, user_id)
                contact_id = company_id = None
                if contact is not None:
                    contact_id = self._create_raw("contacts", contact, user_id)["id"]
                    self.link("leads", lead_rec["id"], "contacts", contact_id, {"main_contact": True}, user_id=user_id)
                if company is not None:
                    company_id = self._create_raw("companies", company, user_id)["id"]
                    self.link("leads", lead_rec["id"], "companies", company_id, None, user_id=user_id)
                    if contact_id is not None:
                        self.link("contacts", contact_id, "companies", company_id, None, user_id=user_id)
                out.append(
                    {
                        "id": lead_rec["id"],
                        "contact_id": contact_id,
                        "company_id": company_id,
                        "request_id": [str(rid)],
                        "merged": False,
                    }
                )
            return out

    # ----------------------------------------------------------------- tags

    def list_tags(self, etype: str, q: Query) -> list[JSON]:
        """Tags of an entity type after ``filter[id|name]`` and ``query``."""
        tags = list(self.tags[etype].values())
        filt = q.get("filter")
        if isinstance(filt, dict):
            if "id" in filt:
                ids = set(ints(flat(filt["id"]), "id"))
                tags = [t for t in tags if t["id"] in ids]
            if "name" in filt:
                names = set(flat(filt["name"]))
                tags = [t for t in tags if t["name"] in names]
        needle = scalar(q, "query")
        if needle:
            tags = [t for t in tags if needle.casefold() in t["name"].casefold()]
        return sorted(tags, key=lambda t: t["id"])

    def add_tags(self, etype: str, items: Any) -> list[JSON]:
        """``POST /{entity}/tags``: create tags by name (an existing name is reused)."""
        with self.lock:
            batch = check_batch(items)
            errors: list[JSON] = []
            for index, el in enumerate(batch):
                if not isinstance(el, dict) or not isinstance(el.get("name"), str) or not el["name"].strip():
                    errors.append(
                        {"request_id": request_id_of(el, index), "errors": [problem("NotBlank", "name", "Tag name is required.")]}
                    )
            if errors:
                raise ValidationFailed(errors)
            out = []
            for index, el in enumerate(batch):
                tag_id = self._resolve_tag(etype, {"name": el["name"].strip(), "color": el.get("color")}, create=True)
                assert tag_id is not None
                out.append({**self.tags[etype][tag_id], "request_id": request_id_of(el, index)})
            return out


def make_renderer(state: AmoState, etype: str, wanted: set[str]) -> Callable[[JSON], JSON]:
    """A function rendering one record of ``etype`` (for the pager)."""
    return lambda rec: state.render_entity(etype, rec, wanted)
