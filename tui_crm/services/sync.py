"""Sync use cases the CLI and the TUI call: connect an account, sync, dry
run, status, conflicts.

The account's address and integration id are kept in the store's settings
(``sync.amocrm.*``); tokens and the client secret only in the secret store
(:mod:`tui_crm.secrets`, through :class:`~tui_crm.sync.amocrm.SecretTokenStore`). ``sync.last_at`` (ISO
UTC) is what the status bar shows as the last sync.

Resolving a conflict (``keep``):

* ``local``: the local value stays and is sent at the next sync;
* ``remote``: the remote value is written locally;
* ``value``: a third value is written locally and sent at the next sync;
* gate notices (a stage change pulled without the fields the gate wants)
  and deletion notices are acknowledged with ``remote``; ``local`` moves
  the deal back to its previous stage, or restores a record deleted
  remotely and creates it again there;
* a ``match`` notice (a contact or company held back on the first connect:
  it matches several amoCRM records) takes ``local`` only: send it as a new
  record. Merging it into the right record here closes it too.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from sqlalchemy import func
from sqlmodel import col, select

from tui_crm.domain.errors import CrmError, NotFoundError, ValidationError
from tui_crm.domain.ids import could_be_id
from tui_crm.domain.text import preview
from tui_crm.services.context import Crm
from tui_crm.storage.models import Setting
from tui_crm.storage.settings import put_setting

if TYPE_CHECKING:
    from tui_crm.sync.adapter import Adapter
    from tui_crm.sync.engine import SyncReport

_BASE_URL = "sync.amocrm.base_url"
_ACCOUNT = "sync.amocrm.account"
_CLIENT_ID = "sync.amocrm.client_id"
_REDIRECT = "sync.amocrm.redirect_uri"
DEFAULT_REDIRECT = "https://localhost/tui-crm/oauth"


class SyncNotConfigured(CrmError):
    """No remote account is connected."""


@dataclass
class ConnectedAccount:
    account: str
    base_url: str
    name: str | None = None
    long_lived: bool = False
    local_unsynced: int = 0  # deals, contacts, companies here that the first sync will create remotely
    where: str = "the system keyring"  # where the tokens are kept


@dataclass
class ConflictView:
    id: str
    kind: str  # conflict | gate | deleted | match (held back on the first connect)
    entity: str
    record_id: str
    record_name: str
    field: str
    base: Any
    local: Any
    remote: Any
    detail: str | None
    created_at: datetime
    resolved_at: datetime | None = None
    resolution: str | None = None
    shown: dict[str, str] = field(default_factory=dict)  # base/local/remote as a person reads them (every kind)


@dataclass
class SyncStatus:
    account: str | None
    pending: int  # records the next sync would create or update remotely (what --dry-run lists)
    last_sync: datetime | None
    open_conflicts: int
    open_notices: int
    pending_by_entity: dict[str, int] = field(default_factory=dict)


# --------------------------------------------------------------- settings


def _setting(crm: Crm, key: str) -> str | None:
    with crm.read() as session:
        row = session.get(Setting, key)
    return row.value if row and row.value else None


def _set_settings(crm: Crm, values: dict[str, str | None]) -> None:
    with crm.uow() as work:
        for key, value in values.items():
            put_setting(work.session, key, value)


def account_address(subdomain: str | None = None, base_url: str | None = None) -> tuple[str, str]:
    """(account key, https address) from a subdomain (``acme``, ``acme.kommo.com``) or a full address."""
    if base_url:
        parts = urlsplit(base_url.strip())
        if not parts.hostname:
            raise ValidationError("base-url", f"{base_url!r} is not an address")
        return (parts.netloc, f"{parts.scheme}://{parts.netloc}")
    if not subdomain or not subdomain.strip():
        raise ValidationError("subdomain", "give the account's subdomain, e.g. --subdomain acme (for acme.amocrm.ru)")
    host = subdomain.strip().lower()
    if host.startswith(("http://", "https://")):
        return account_address(base_url=host)
    if "." not in host:
        host = f"{host}.amocrm.ru"
    return host, f"https://{host}"


def _secret_user(account: str) -> str:
    return f"amocrm-app:{account}"


def _lock_dir(crm: Crm) -> Path:
    return crm.settings.db_path.parent / ".tui-crm-locks"


def connect_amocrm(
    crm: Crm,
    *,
    subdomain: str | None = None,
    base_url: str | None = None,
    client_id: str | None = None,
    client_secret: str | None = None,
    redirect_uri: str | None = None,
    code: str | None = None,
    long_lived_token: str | None = None,
) -> ConnectedAccount:
    """Store the account and its tokens (secret store), then check them with one API call.

    The secret store is checked *before* the single-use OAuth code is traded: a store that
    cannot save would otherwise cost the user a new authorisation in amoCRM. With no token
    given and ``CRM_AMOCRM_TOKEN`` set, that long-lived token is used and nothing is stored."""
    from tui_crm.sync.amocrm import AmoClient, OAuthApp, SecretTokenStore, TokenPair, exchange_code

    credentials = {"--client-id": client_id, "--client-secret": client_secret, "--code": code}
    for option, value in {**credentials, "--long-lived-token": long_lived_token}.items():
        if value and not (value.isascii() and value.isprintable() and " " not in value):
            raise ValidationError(option, "amoCRM gives it as ASCII letters and digits; copy it again (no spaces or other text)")
    account, url = account_address(subdomain, base_url)
    store = SecretTokenStore(account)
    app: OAuthApp | None = None
    from_env = SecretTokenStore.env_pair() if not (long_lived_token or code) else None
    if from_env is not None:
        pair = from_env
    elif long_lived_token:
        store.check()
        pair = TokenPair.long_lived_token(long_lived_token)
    else:
        if not (client_id and client_secret and code):
            raise ValidationError(
                "auth",
                "give --client-id, --client-secret and --code (from the integration's consent redirect), "
                "or --long-lived-token for a private integration (or set CRM_AMOCRM_TOKEN)",
            )
        store.check()
        app = OAuthApp(client_id, client_secret, redirect_uri or DEFAULT_REDIRECT)
        pair = exchange_code(url, app, code)
    if from_env is None:
        store.save(pair)
    if app is not None:
        _save_secret(account, app.client_secret)
    _set_settings(
        crm,
        {
            _BASE_URL: url,
            _ACCOUNT: account,
            _CLIENT_ID: app.client_id if app else None,
            _REDIRECT: app.redirect_uri if app else None,
        },
    )
    client = AmoClient(url, store, oauth=app, lock_dir=_lock_dir(crm))
    try:
        info = client.account()
    finally:
        client.close()
    return ConnectedAccount(
        account,
        url,
        str(info.get("name") or "") or None,
        pair.long_lived,
        _unsynced_records(crm, account),
        where=("the environment (CRM_AMOCRM_TOKEN)" if from_env is not None else _where(store)),
    )


def _where(store: Any) -> str:
    from tui_crm.secrets import describe

    return describe(store.store)


def _unsynced_records(crm: Crm, account: str) -> int:
    """Live deals, contacts and companies not linked to a record of this account yet."""
    from tui_crm.storage.sync_tables import SyncIdMap
    from tui_crm.sync.local import MODELS

    total = 0
    with crm.read() as session:
        for entity in ("deal", "contact", "company"):
            model = MODELS[entity]
            linked = select(SyncIdMap.local_id).where(SyncIdMap.adapter == f"amocrm:{account}", SyncIdMap.entity == entity)
            total += int(
                session.exec(
                    select(func.count()).select_from(model).where(col(model.deleted_at).is_(None), col(model.id).not_in(linked))
                ).one()
            )
    return total


def _save_secret(account: str, secret: str) -> None:
    from tui_crm.secrets import default_store

    default_store().set(_secret_user(account), secret)


def _load_secret(account: str) -> str | None:
    from tui_crm.secrets import SecretStoreError, default_store

    try:
        return default_store().get(_secret_user(account))
    except SecretStoreError:  # no store: refresh is then impossible, the client says so
        return None


def connected_account(crm: Crm) -> tuple[str, str] | None:
    account, url = _setting(crm, _ACCOUNT), _setting(crm, _BASE_URL)
    return (account, url) if account and url else None


def make_adapter(crm: Crm, *, max_rps: int = 7, base_url: str | None = None) -> Adapter:
    """The adapter of the connected account (tokens from the keyring); the team hub's while one
    is connected (``crm hub connect``, services/hub.py)."""
    from tui_crm.services.hub import hub_url, make_hub_adapter

    if hub_url(crm):
        return make_hub_adapter(crm)
    from tui_crm.sync.amocrm import AmoClient, OAuthApp, SecretTokenStore
    from tui_crm.sync.amocrm.adapter import AmoAdapter

    connected = connected_account(crm)
    if connected is None:
        raise SyncNotConfigured(
            "No amoCRM account is connected. Run: crm auth amocrm --subdomain NAME --long-lived-token TOKEN "
            "(or --client-id/--client-secret/--code)."
        )
    account, url = connected
    if base_url:
        url = base_url
    app = None
    client_id = _setting(crm, _CLIENT_ID)
    if client_id:
        secret = _load_secret(account)
        if secret:
            app = OAuthApp(client_id, secret, _setting(crm, _REDIRECT) or DEFAULT_REDIRECT)
    client = AmoClient(url, SecretTokenStore(account), oauth=app, lock_dir=_lock_dir(crm), max_rps=max_rps)
    return AmoAdapter(client, account)


# ------------------------------------------------------------------- sync


def run_sync(
    crm: Crm,
    *,
    adapter: Adapter | None = None,
    progress: Callable[[str, str, int, int | None], None] | None = None,
    push: bool = True,
    pull: bool = True,
    files: bool = False,
) -> SyncReport:
    """Push pending changes, then pull remote ones (and, with ``files``, a slice of the records'
    files: ``tui_crm.sync.files``). Raises AmoError/CrmError on failure."""
    from tui_crm.sync.engine import SyncEngine

    own = adapter is None
    adapter = adapter or make_adapter(crm)
    try:
        return SyncEngine(crm, adapter, progress=progress).run(push=push, pull=pull, files=files)
    finally:
        if own:
            adapter.close()


@dataclass
class PlannedChange:
    entity: str
    action: str  # create | update | link (the same record is already there) | hold (it matches several)
    record_id: str
    fields: dict[str, Any]  # canonical values (kopecks, unix seconds, local ids)
    shown: dict[str, str] = field(default_factory=dict)  # the same values as a person typed them
    remote_id: str | None = None  # link: the remote record it is linked to
    remote_name: str | None = None
    matched_by: str | None = None  # link: "phone +79161234567"; hold: why it is not sent


class SyncPlan(list[PlannedChange]):
    """The dry run's changes, plus what could not be checked (``warnings``)."""

    def __init__(self, changes: list[PlannedChange] | None = None, warnings: list[str] | None = None) -> None:
        super().__init__(changes or [])
        self.warnings = warnings or []


def dry_run(crm: Crm, *, look_up: bool = True, adapter: Adapter | None = None) -> SyncPlan:
    """What the next push would send (computed offline from the change log and the shadows),
    each value also shown the way it was typed (``2 000 000 ₽``, a local date, a stage's name).

    On a first connect (``look_up``) the account's contacts and companies are read (nothing is
    written on either side) and the local ones the first sync would link to them instead of
    creating are listed as ``link`` (which remote record, by what key), the ambiguous ones as
    ``hold`` (see :mod:`tui_crm.sync.first_connect`). Offline otherwise."""
    from tui_crm.services.hub import hub_name
    from tui_crm.sync.engine import SyncEngine

    connected = connected_account(crm)
    name = hub_name(crm) or (f"amocrm:{connected[0]}" if connected else "amocrm:?")
    engine = SyncEngine(crm, _OfflineAdapter(name))
    out = SyncPlan()
    for entity, plan in engine.plan().items():
        for action, items in plan.items():
            out.extend(PlannedChange(entity, action, record_id, fields) for record_id, fields in items)
    if connected and any(c.action == "create" and c.entity in ("contact", "company") for c in out):
        _mark_matches(crm, engine, out, look_up=look_up, adapter=adapter)
    if out:
        from tui_crm.services.sync_display import readable_fields

        with crm.read() as session:
            for change in out:
                change.shown = readable_fields(crm, session, change.entity, change.fields)
    return out


def _mark_matches(crm: Crm, engine: Any, out: SyncPlan, *, look_up: bool, adapter: Adapter | None) -> None:
    """Turn the plan's creates of people and companies into links/holds (first connect)."""
    from tui_crm.storage.sync_tables import SyncMeta
    from tui_crm.sync.first_connect import Preview
    from tui_crm.sync.first_connect import preview as match_preview

    found = Preview()
    own = None
    try:
        if look_up:
            with crm.read() as session:
                stored = {
                    row.key: json.loads(row.value_json)
                    for row in session.exec(select(SyncMeta).where(SyncMeta.adapter == engine.name))
                }
            if adapter is None:
                adapter = own = make_adapter(crm)
            found = match_preview(engine, adapter, stored)
        else:
            found = match_preview(engine, None, {})
    except Exception as exc:  # noqa: BLE001 - the offline plan still stands; say what was not checked
        out.warnings.append(
            f"Could not read amoCRM's contacts and companies to find the ones already there ({_error_text(exc)}); "
            "the list shows them as new."
        )
    finally:
        if own is not None:
            own.close()
    for change in out:
        key = (change.entity, change.record_id)
        if change.action != "create":
            continue
        if key in found.links:
            match = found.links[key]
            change.action, change.matched_by = "link", match.key
            change.remote_id, change.remote_name = match.remote_id, match.remote_name
        elif key in found.held:
            change.action, change.matched_by = "hold", found.held[key]


def _error_text(exc: BaseException) -> str:
    return preview(str(exc) or type(exc).__name__, 200)


class _OfflineAdapter:
    """Stands in for an adapter where only the offline parts of the engine run (dry run)."""

    entities = ("company", "contact", "deal", "task", "note")

    def __init__(self, name: str) -> None:
        self.name = name

    def normalize(self, entity: str, fields: dict[str, Any]) -> dict[str, Any]:
        return fields

    def close(self) -> None:
        return None


# ----------------------------------------------------------------- status


def sync_status(crm: Crm) -> SyncStatus:
    """Account, what the next sync would send, last sync, open conflicts.

    "Pending" is counted from the same plan ``crm sync --dry-run`` shows (records to create or
    update remotely), not from raw change-log rows, so the two always agree: rows of local-only
    tables (pipelines, users, ...) are nothing to send."""
    from tui_crm.services.status import last_sync
    from tui_crm.storage.sync_tables import SyncConflict

    connected = connected_account(crm)
    by_entity: dict[str, int] = {}
    for change in dry_run(crm, look_up=False):
        by_entity[change.entity] = by_entity.get(change.entity, 0) + 1
    with crm.read() as session:
        kinds = session.exec(
            select(SyncConflict.kind, func.count()).where(col(SyncConflict.resolved_at).is_(None)).group_by(SyncConflict.kind)
        ).all()
    counts = {kind: int(n) for kind, n in kinds}
    from tui_crm.services.hub import hub_name

    return SyncStatus(
        account=hub_name(crm) or (connected[0] if connected else None),
        pending=sum(by_entity.values()),
        last_sync=last_sync(crm),
        open_conflicts=counts.get("conflict", 0),
        open_notices=sum(n for k, n in counts.items() if k != "conflict"),
        pending_by_entity=by_entity,
    )


# -------------------------------------------------------------- conflicts


def _record_name(session: Any, entity: str, local_id: str) -> str:
    from tui_crm.sync.local import MODELS

    model = MODELS.get(entity)
    row = session.get(model, local_id) if model else None
    if row is None:
        return local_id[:8]
    return str(getattr(row, "name", None) or getattr(row, "text", "") or local_id[:8])


def _loads(raw: str | None) -> Any:
    return json.loads(raw) if raw else None


def list_conflicts(crm: Crm, *, include_resolved: bool = False) -> list[ConflictView]:
    from tui_crm.services.sync_display import readable
    from tui_crm.storage.sync_tables import SyncConflict
    from tui_crm.sync.mapping import display_value

    def shown(session: Any, row: Any) -> dict[str, str]:
        """Base/local/remote as text, one rule for the CLI and the TUI (which never format values)."""
        values = {"base": _loads(row.base_json), "local": _loads(row.local_json), "remote": _loads(row.remote_json)}
        if row.kind == "match":  # the remote candidates of a held record
            values = {"base": None, "local": None, "remote": [f"#{rid}" for rid in values["remote"] or []]}
            return {side: display_value(value) for side, value in values.items()}
        out = {}
        for side, value in values.items():
            if isinstance(value, dict) and row.kind == "deleted":  # the fields changed here
                out[side] = ", ".join(f"{k}={readable(crm, session, row.entity, k, v)}" for k, v in value.items())
            elif row.kind == "deleted":
                out[side] = display_value(value)
            else:
                out[side] = readable(crm, session, row.entity, row.field, value)
        return out

    with crm.read() as session:
        stmt = select(SyncConflict)
        if not include_resolved:
            stmt = stmt.where(col(SyncConflict.resolved_at).is_(None))
        rows = session.exec(stmt.order_by(col(SyncConflict.created_at), col(SyncConflict.id))).all()
        return [
            ConflictView(
                id=row.id,
                kind=row.kind,
                entity=row.entity,
                record_id=row.local_id,
                record_name=_record_name(session, row.entity, row.local_id),
                field=row.field,
                base=_loads(row.base_json),
                local=_loads(row.local_json),
                remote=_loads(row.remote_json),
                detail=row.detail,
                created_at=row.created_at,
                resolved_at=row.resolved_at,
                resolution=row.resolution,
                shown=shown(session, row),
            )
            for row in rows
        ]


def _find_conflict(session: Any, ref: str) -> Any:
    from tui_crm.storage.sync_tables import SyncConflict

    ref = ref.strip().lower()
    if not could_be_id(ref):
        raise NotFoundError(f"No open conflict «{preview(ref)}». List them with: crm sync conflicts")
    rows = session.exec(
        select(SyncConflict).where(col(SyncConflict.id).startswith(ref), col(SyncConflict.resolved_at).is_(None))
    ).all()
    if not rows:
        raise NotFoundError(f"No open conflict {ref!r}. List them with: crm sync conflicts")
    if len(rows) > 1:
        from tui_crm.domain.errors import AmbiguousError

        raise AmbiguousError(f"{len(rows)} conflicts start with {ref!r}", [r.id[:8] for r in rows])
    return rows[0]


def parse_field_value(crm: Crm, entity: str, field_name: str, raw: str) -> Any:
    """A typed value for a canonical field, from what a person typed."""
    from tui_crm.domain.fields import validate_value
    from tui_crm.domain.money import parse_money
    from tui_crm.services.deal_values import to_minor
    from tui_crm.sync.mapping import SET_FIELDS

    text = raw.strip()
    if text == "":
        return [] if field_name in SET_FIELDS else None
    if field_name in SET_FIELDS:
        return [part.strip() for part in text.split(",") if part.strip()]
    if field_name in ("budget_rub", "budget_usd"):
        return to_minor(parse_money(text, field_name))
    if field_name.startswith("custom."):
        key = field_name.split(".", 1)[1]
        defs = crm.pipelines.custom_fields_for(entity) if entity in ("deal", "contact", "company") else {}
        if key in defs:
            return validate_value(defs[key], text, phone_region=crm.settings.phone_region, now=crm.now())
    if field_name in ("due_at",):
        from tui_crm.domain.when import parse_when

        return int(parse_when(text, crm.now())[0].timestamp())
    if field_name in ("completed", "deleted"):
        return text.lower() in ("1", "yes", "true", "да", "y")
    return text


def resolve_conflict(crm: Crm, ref: str, keep: str) -> ConflictView:
    """Resolve one open conflict: keep ``local``, ``remote``, or any other text as the new value."""
    from tui_crm.storage.sync_tables import SyncIdMap, SyncShadow
    from tui_crm.sync.local import MODELS, LocalStore, SyncUnitOfWork

    choice = keep.strip()
    with crm.read() as session:
        row = _find_conflict(session, ref)
    store = LocalStore()
    entity, local_id, field_name = row.entity, row.local_id, row.field
    remote, local = _loads(row.remote_json), _loads(row.local_json)
    now = crm.clock().astimezone(UTC)

    def set_shadow(session: Any, value: Any) -> None:
        shadow = session.get(SyncShadow, (row.adapter, entity, local_id))
        if shadow is None:
            return
        fields = json.loads(shadow.fields_json)
        fields[field_name] = value
        shadow.fields_json = json.dumps(fields, ensure_ascii=False, sort_keys=True)
        session.add(shadow)

    def close(session: Any, resolution: str) -> None:
        fresh = session.get(type(row), row.id)
        fresh.resolved_at, fresh.resolution = now, resolution
        session.add(fresh)

    lowered = choice.lower()
    if row.kind == "conflict":
        if lowered == "remote":
            work = SyncUnitOfWork(crm.engine, crm.user_id, batch_id="sync:resolve")
            work.now = now
            with work:
                store.apply(work, entity, local_id, {field_name: remote}, new=False)
                set_shadow(work.session, remote)
                close(work.session, "remote")
        else:
            value = local if lowered == "local" else parse_field_value(crm, entity, field_name, choice)
            with crm.uow() as work:
                if lowered != "local":
                    store.apply(work, entity, local_id, {field_name: value}, new=False)
                elif work.session.get(MODELS[entity], local_id) is not None:
                    work.log(entity, local_id, "update", {field_name: [remote, value]})  # queued for the next push
                set_shadow(work.session, remote)
                close(work.session, "local" if lowered == "local" else "value")
    elif row.kind == "gate":
        with crm.uow() as work:
            if lowered == "local" and local:
                store.apply(work, entity, local_id, {"stage_id": local}, new=False)
                set_shadow(work.session, remote)
            close(work.session, "local" if lowered == "local" else "ack")
    elif row.kind == "deleted":
        with crm.uow() as work:
            if lowered == "local":
                record = work.session.get(MODELS[entity], local_id)
                if record is not None:
                    work.restore(record)
                    from tui_crm.services.records import reindex

                    if entity in ("deal", "contact", "company"):
                        reindex(work.session, entity, local_id)
                for model in (SyncIdMap, SyncShadow):
                    found = work.session.get(model, (row.adapter, entity, local_id))
                    if found is not None:
                        work.session.delete(found)
            close(work.session, "local" if lowered == "local" else "ack")
    elif row.kind == "match":
        if lowered != "local":
            raise ValidationError(
                "A record held back on the first sync is resolved by merging it into the record it matches "
                f"(crm {'companies' if entity == 'company' else 'contacts'} merge KEEP {local_id[:8]}), "
                "or with --keep local to send it as a new one."
            )
        with crm.uow() as work:
            close(work.session, "local")  # no longer held: the next sync creates it there
    else:  # pragma: no cover - unknown kinds are only acknowledged
        with crm.uow() as work:
            close(work.session, "ack")
    return next(c for c in list_conflicts(crm, include_resolved=True) if c.id == row.id)
