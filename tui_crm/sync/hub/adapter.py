"""The hub adapter: a PostgreSQL database behind :class:`tui_crm.sync.adapter.Adapter`.

* Records are keyed by the clients' own UUIDs (``remote_id`` = local id), so
  no id mapping is needed between members: a record pulled into another
  store keeps its id (the engine reuses a 32-hex ``uuid``).
* Fields are stored as the canonical form (``sync/mapping.py``) in JSON;
  references as hub ids: a member's login (users), ``pipeline:stage`` keys
  (stages), record UUIDs (companies, contacts), ``entity:uuid`` (a task's or
  note's record). ``normalize`` is the identity: the hub keeps every value.
* Creates are ``INSERT … ON CONFLICT DO NOTHING``: a retried push changes
  nothing. Updates lock the row, and write a field only where the hub still
  holds the value the engine merged against (``before``) or already the new
  one; a field someone changed in between is left out (it comes back as a
  conflict at the next pull). An update equal to what the hub holds writes
  nothing (the trigger drops it: no feed row).
* Deletes are tombstones (``deleted`` true); ``deletions`` has nothing to say.
* Pull reads the change feed in ``(xid, seq)`` order, only rows of
  transactions older than every transaction still running (see the schema
  migration), so a change committed late is never behind a cursor. Rows this
  client wrote itself move the cursor but are not applied again.
* Each record is written in its own savepoint: one the hub refuses (row-level
  security: a record handed to someone outside the team) is reported, the
  rest go through.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

from tui_crm.sync.adapter import (
    Cursor,
    DeletionPage,
    LocalSchema,
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
from tui_crm.sync.hub.connection import HubAddress, connect
from tui_crm.sync.hub.errors import HubError, explain
from tui_crm.sync.hub.schema import HUB_HEAD
from tui_crm.sync.mapping import ENTITIES, REF_FIELDS

PAGE = 500
CHUNK = 200


def encode(entity: str, fields: dict[str, Any]) -> dict[str, Any]:
    """Canonical fields (Ref space) -> the hub's stored JSON."""
    refs = REF_FIELDS.get(entity, {})
    out: dict[str, Any] = {}
    for name, value in fields.items():
        target = refs.get(name)
        if target is None:
            out[name] = value
        elif isinstance(value, list):
            out[name] = [_ref_text(v, target) for v in value if isinstance(v, Ref)]
        elif isinstance(value, Ref):
            out[name] = _ref_text(value, target)
        else:
            out[name] = None
    return out


def _ref_text(ref: Ref, target: str) -> str:
    return f"{ref.entity}:{ref.remote_id}" if target == "*" else ref.remote_id


def decode(entity: str, stored: dict[str, Any]) -> dict[str, Any]:
    """The hub's stored JSON -> canonical fields (Ref space)."""
    refs = REF_FIELDS.get(entity, {})
    out = dict(stored)
    out["deleted"] = bool(stored.get("deleted"))  # a create leaves ``deleted: false`` out; the shadow holds False
    for name, target in refs.items():
        value = out.get(name)
        if value is None or value == "":
            continue
        if isinstance(value, list):
            out[name] = [_ref(v, target) for v in value if v]
        else:
            out[name] = _ref(str(value), target)
    return out


def _ref(text: str, target: str) -> Ref:
    if target == "*":
        kind, _, ident = text.partition(":")
        return Ref(kind, ident)
    return Ref(target, text)


class HubAdapter:
    """Sync adapter for one hub database (see the module docstring)."""

    entities = ENTITIES

    def __init__(
        self,
        address: HubAddress,
        password: str | None,
        *,
        pipelines: list[RemotePipeline],
        client_id: str,
        sslcert: str | None = None,
        sslkey: str | None = None,
    ) -> None:
        self.address = address
        self.name = address.name
        self.password = password
        self.pipelines = pipelines
        self.client_id = client_id
        self.sslcert, self.sslkey = sslcert, sslkey
        self._conn: Any = None
        self.login = address.user
        self.last_position: tuple[int, int] | None = None

    # ------------------------------------------------------------ plumbing

    @property
    def where(self) -> str:
        return f"{self.address.host}:{self.address.port}/{self.address.dbname}"

    def conn(self) -> Any:
        import psycopg

        if self._conn is None or self._conn.closed:
            try:
                self._conn = connect(self.address, self.password, sslcert=self.sslcert, sslkey=self.sslkey)
                self._conn.execute("SELECT set_config('hub.client', %s, false)", (self.client_id,))
                self._conn.commit()
            except psycopg.Error as exc:
                self._conn = None
                raise explain(exc, self.where) from None
        return self._conn

    def _run(self, body: Callable[[Any], Any]) -> Any:
        """``body(connection)`` in one transaction; psycopg errors become one-line HubErrors."""
        import psycopg

        conn = self.conn()
        try:
            with conn.transaction():
                return body(conn)
        except psycopg.Error as exc:
            if conn.closed or conn.broken:
                self._conn = None
            raise explain(exc, self.where) from None

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    # ---------------------------------------------------------------- meta

    def open(self, schema: LocalSchema, stored: dict[str, Any]) -> RemoteMeta:
        def body(conn: Any) -> RemoteMeta:
            found = conn.execute("SELECT to_regclass('hub_alembic_version') IS NOT NULL").fetchone()[0]
            version = conn.execute("SELECT version_num FROM hub_alembic_version").fetchone() if found else None
            if version is None:
                raise HubError(f"The database at {self.where} is not a tui-crm hub yet; run `crm hub init URL` as its owner.")
            if version[0] != HUB_HEAD:
                raise HubError(
                    f"The hub at {self.where} has schema {version[0]}, this tui-crm wants {HUB_HEAD}; "
                    "upgrade tui-crm, or run `crm hub init URL` with the newer one."
                )
            me = conn.execute("SELECT active FROM hub_user WHERE login = session_user").fetchone()
            if me is None:
                raise HubError(
                    f"{self.login} is not a member of the hub at {self.where}; an admin adds you with `crm hub user add`."
                )
            if not me[0]:
                raise HubError(f"{self.login} is deactivated on the hub at {self.where}; ask an admin.")
            for pipeline in self.pipelines:
                conn.execute(
                    "INSERT INTO hub_pipeline (key, name, sort) VALUES (%s, %s, %s) ON CONFLICT DO NOTHING",
                    (pipeline.remote_id, pipeline.name, pipeline.sort),
                )
                for stage in pipeline.stages:
                    conn.execute(
                        "INSERT INTO hub_stage (id, pipeline_key, key, name, sort, kind) VALUES (%s, %s, %s, %s, %s, %s) "
                        "ON CONFLICT DO NOTHING",
                        (
                            stage.remote_id,
                            pipeline.remote_id,
                            stage.remote_id.split(":", 1)[1],
                            stage.name,
                            stage.sort,
                            stage.kind,
                        ),
                    )
            users = [
                RemoteUser(login, name, email, active, admin)
                for login, name, email, active, admin in conn.execute(
                    "SELECT login, name, email, active, is_admin FROM hub_user ORDER BY login"
                )
            ]
            stages: dict[str, list[RemoteStage]] = {}
            for sid, pkey, name, sort, kind in conn.execute(
                "SELECT id, pipeline_key, name, sort, kind FROM hub_stage ORDER BY pipeline_key, sort, id"
            ):
                stages.setdefault(pkey, []).append(RemoteStage(sid, name, sort, kind))
            pipelines = [
                RemotePipeline(key, name, sort, stages.get(key, []))
                for key, name, sort in conn.execute("SELECT key, name, sort FROM hub_pipeline ORDER BY sort, key")
            ]
            return RemoteMeta(users=users, pipelines=pipelines, current_user=self.login)

        return self._run(body)

    def refresh_meta(self) -> RemoteMeta:
        return self.open(LocalSchema(custom_fields={}), {})

    def stored_meta(self) -> dict[str, Any]:
        return {}

    def normalize(self, entity: str, fields: dict[str, Any]) -> dict[str, Any]:
        return fields

    # ---------------------------------------------------------------- read

    @staticmethod
    def _record(entity: str, rid: str, fields: Any, updated_by: str | None, updated_at: Any) -> RemoteRecord:
        stored = fields if isinstance(fields, dict) else json.loads(fields)
        return RemoteRecord(
            entity=entity,
            remote_id=rid,
            updated_at=int(updated_at or 0),
            fields=decode(entity, stored),
            uuid=rid,
            updated_by=updated_by,
            raw=stored,
        )

    def fetch(self, entity: str, remote_ids: list[str]) -> dict[str, RemoteRecord | None]:
        def body(conn: Any) -> dict[str, RemoteRecord | None]:
            out: dict[str, RemoteRecord | None] = dict.fromkeys(remote_ids)
            rows = conn.execute(
                "SELECT id, fields, updated_by, extract(epoch FROM updated_at)::bigint FROM hub_record "
                "WHERE entity = %s AND id = ANY(%s)",
                (entity, list(remote_ids)),
            )
            for rid, fields, by, at in rows:
                out[rid] = self._record(entity, rid, fields, by, at)
            return out

        return self._run(body) if remote_ids else {}

    def find_created(self, entity: str, items: list[PushItem]) -> dict[str, RemoteRecord]:
        found = self.fetch(entity, [item.local_id for item in items])
        return {lid: rec for lid, rec in found.items() if rec is not None}

    # --------------------------------------------------------------- write

    def create(self, entity: str, items: list[PushItem], on_done: Callable[[list[PushResult]], None]) -> None:
        for start in range(0, len(items), CHUNK):
            chunk = items[start : start + CHUNK]

            def body(conn: Any, chunk: list[PushItem] = chunk) -> list[PushResult]:
                results = []
                for item in chunk:
                    stored = encode(entity, item.fields)
                    error = self._write(
                        conn,
                        "INSERT INTO hub_record (entity, id, fields) VALUES (%s, %s, %s::jsonb) "
                        "ON CONFLICT (entity, id) DO NOTHING",
                        (entity, item.local_id, json.dumps(stored, ensure_ascii=False)),
                    )
                    results.append(PushResult(item.local_id, item.local_id if not error else None, set(item.fields), error=error))
                return results

            on_done(self._run(body))

    def update(self, entity: str, items: list[PushItem], on_done: Callable[[list[PushResult]], None]) -> None:
        for start in range(0, len(items), CHUNK):
            chunk = items[start : start + CHUNK]

            def body(conn: Any, chunk: list[PushItem] = chunk) -> list[PushResult]:
                results = []
                for item in chunk:
                    rid = item.remote_id or item.local_id
                    row = conn.execute(
                        "SELECT fields FROM hub_record WHERE entity = %s AND id = %s FOR UPDATE", (entity, rid)
                    ).fetchone()
                    if row is None:
                        results.append(PushResult(item.local_id, rid, gone=True))
                        continue
                    current = row[0]
                    before = (item.before.raw if item.before is not None else None) or current
                    wanted = encode(entity, item.fields)
                    sent = {
                        name
                        for name, value in wanted.items()
                        if current.get(name) == before.get(name) or current.get(name) == value
                    }
                    merged = {**current, **{name: wanted[name] for name in sent}}
                    error = self._write(
                        conn,
                        "UPDATE hub_record SET fields = %s::jsonb WHERE entity = %s AND id = %s",
                        (json.dumps(merged, ensure_ascii=False), entity, rid),
                    )
                    results.append(PushResult(item.local_id, rid, set() if error else sent, error=error))
                return results

            on_done(self._run(body))

    @staticmethod
    def _write(conn: Any, sql: str, params: tuple[Any, ...]) -> str | None:
        """One write in a savepoint; the hub's refusal (row-level security, a constraint) as a message."""
        import psycopg

        try:
            with conn.transaction():
                conn.execute(sql, params)
        except psycopg.errors.InsufficientPrivilege as exc:
            return f"the hub refused it (your rights: {' '.join(str(exc).split())})"
        except psycopg.errors.IntegrityError as exc:
            return f"the hub refused it: {' '.join(str(exc).split())}"
        return None

    # ---------------------------------------------------------------- pull

    def streams(self, entity: str) -> tuple[str, ...]:
        return (entity,)

    def pull(self, stream: str, cursor: Cursor) -> Iterator[Page]:
        entity = stream
        xid, seq = int(cursor.since or 0), int(cursor.max_seen or 0)
        while True:

            def body(conn: Any, xid: int = xid, seq: int = seq) -> list[tuple[Any, ...]]:
                return conn.execute(
                    "SELECT f.xid::text, f.seq, f.record_id, f.client, r.id, r.fields, r.updated_by, "
                    "extract(epoch FROM r.updated_at)::bigint "
                    "FROM hub_feed f LEFT JOIN hub_record r ON r.entity = f.entity AND r.id = f.record_id "
                    "WHERE f.entity = %s AND (f.xid > %s::text::xid8 OR (f.xid = %s::text::xid8 AND f.seq > %s)) "
                    "AND f.xid < pg_snapshot_xmin(pg_current_snapshot()) "
                    "ORDER BY f.xid, f.seq LIMIT %s",
                    (entity, str(xid), str(xid), seq, PAGE),
                ).fetchall()

            rows = self._run(body)
            records: dict[str, RemoteRecord] = {}
            for row_xid, row_seq, rid, client, visible, fields, by, at in rows:
                xid, seq = int(row_xid), int(row_seq)
                if visible is None or client == self.client_id:
                    continue  # not ours to see (row-level security), or our own write coming back
                records[rid] = self._record(entity, rid, fields, by, at)
            done = len(rows) < PAGE
            self.last_position = max(self.last_position or (0, 0), (xid, seq))
            yield Page(list(records.values()), Cursor(since=xid, max_seen=seq), done=done)
            if done:
                return

    def deletions(self, cursor: Cursor) -> Iterator[DeletionPage]:
        return iter(())  # deletes travel as tombstones (the ``deleted`` field)

    def pulled(self) -> None:
        """After a complete pull: note this member's sync on the hub (``crm hub status``)."""
        position = self.last_position or (0, 0)

        def body(conn: Any) -> None:
            conn.execute("SELECT hub_synced(%s, %s)", (str(position[0]), position[1]))

        self._run(body)

    # ------------------------------------------------------------ incoming

    def incoming(self) -> list[Any]:
        return []  # the hub has no inbox of its own: Unsorted entries stay on the laptop that filed them
