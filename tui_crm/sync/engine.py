"""The sync engine: push the local change log, then pull remote changes.

It knows the local store (through :mod:`tui_crm.sync.local`) and the
:class:`~tui_crm.sync.adapter.Adapter` interface; nothing of HTTP. One run:

1. **open**: the adapter reads the account's metadata; remote users,
   pipelines and stages are mapped onto local ones (by e-mail/name), the
   ones with no local counterpart are created locally so no record is lost.
2. **push**: change-log rows with ``synced_at`` NULL (up to the newest row
   when the run began) are grouped per record. The record's *current* state
   is what is sent:

   * not mapped yet -> create. An ``attempt`` row is committed in the id map
     first; the adapter stores our UUID on the remote record. If the run
     dies before the answer is committed, the next run finds the attempt,
     asks the adapter to look the record up (``find_created``) and links it
     instead of creating a second one.
   * mapped -> the remote record is fetched and merged three-way against
     the shadow; only fields changed locally and not remotely are sent
     (PATCH of those fields only). A local delete is the field
     ``deleted``: what the remote can do with it is the adapter's choice.
   * id map, shadow and ``synced_at`` of the record's change-log rows are
     written in one transaction after the remote confirmed the write.
3. **pull**: per entity, pages since the stored cursor. Each page (plus any
   record it references that is not known locally yet) is merged and
   applied together with the new cursor in one transaction, so a killed
   run resumes at the next page and re-reading a page changes nothing
   (the merge is idempotent). Remote deletions come from the adapter's
   deletion feed and become tombstones.

Conflicts and notices go to ``sync_conflict`` (see :mod:`.conflicts`).
"""

from __future__ import annotations

import json
import os
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import text
from sqlmodel import Session, col, select

from tui_crm.crm import Crm
from tui_crm.domain.ids import new_id
from tui_crm.domain.text import fold
from tui_crm.storage.models import ChangeLog, Note, Pipeline, Stage, User
from tui_crm.storage.settings import LAST_SYNC_KEY, put_setting
from tui_crm.storage.sync_tables import SyncConflict, SyncCursor, SyncIdMap, SyncMeta, SyncShadow
from tui_crm.sync.adapter import (
    UNSENDABLE,
    Adapter,
    Cursor,
    LocalSchema,
    PushItem,
    PushResult,
    Ref,
    RemoteMeta,
    RemoteRecord,
)
from tui_crm.sync.local import MODELS, LocalStore, SyncUnitOfWork, db_time, fast_id
from tui_crm.sync.mapping import ENTITIES, REF_FIELDS, TABLES, clean, entity_ref, is_custom
from tui_crm.sync.merge import FieldConflict, MergeResult, merge, same
from tui_crm.sync.pipeline import pull_streams

ADAPTER_KEY = "sync.adapter"
FETCH_CHUNK = 100
CREATE_CHUNK = 50  # records per create request, each chunk marked as an attempt first


class SyncBusy(RuntimeError):
    """Another sync of this store is running."""


@dataclass
class EntityStats:
    pushed_new: int = 0
    pushed_changed: int = 0
    pulled_new: int = 0
    pulled_changed: int = 0
    deleted_local: int = 0
    conflicts: int = 0
    errors: int = 0

    def total(self) -> int:
        return self.pushed_new + self.pushed_changed + self.pulled_new + self.pulled_changed + self.deleted_local


@dataclass
class SyncReport:
    stats: dict[str, EntityStats] = field(default_factory=lambda: defaultdict(EntityStats))
    warnings: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    conflicts: int = 0  # new conflict records
    notices: int = 0  # new gate / deletion notices
    pages: int = 0
    files_pulled: int = 0  # ``files=True`` runs only (sync/files.py)
    files_pushed: int = 0
    linked: int = 0  # local records linked to the same remote ones on the first connect (sync/first_connect.py)
    finished_at: datetime | None = None


Progress = Callable[[str, str, int, int | None], None]


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


@contextmanager
def sync_lock(db_path: os.PathLike[str] | str) -> Iterator[None]:
    """One sync per store at a time (a lock file next to the database)."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows
        yield
        return
    path = f"{db_path}.sync.lock"
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise SyncBusy("Another sync of this store is running; wait for it to finish.") from None
        yield
    finally:
        os.close(fd)


class IdMaps:
    """The id map of one adapter, cached in memory for a run."""

    def __init__(self, adapter: str) -> None:
        self.adapter = adapter
        self.l2r: dict[tuple[str, str], str] = {}
        self.r2l: dict[tuple[str, str], str] = {}
        self.state: dict[tuple[str, str], str] = {}
        self.attempted: dict[tuple[str, str], int] = {}  # unix time of a create attempt not confirmed yet

    def load(self, session: Session) -> None:
        self.l2r.clear()
        self.r2l.clear()
        self.state.clear()
        self.attempted.clear()
        for row in session.exec(select(SyncIdMap).where(SyncIdMap.adapter == self.adapter)):
            self.state[(row.entity, row.local_id)] = row.state
            if row.state == "attempt" and row.attempt_at is not None:
                stamp = row.attempt_at if row.attempt_at.tzinfo else row.attempt_at.replace(tzinfo=UTC)
                self.attempted[(row.entity, row.local_id)] = int(stamp.timestamp())
            if row.remote_id is not None:
                self.l2r[(row.entity, row.local_id)] = row.remote_id
                self.r2l[(row.entity, row.remote_id)] = row.local_id

    def remote(self, entity: str, local_id: str) -> str | None:
        if self.state.get((entity, local_id)) == "attempt":
            return None
        return self.l2r.get((entity, local_id))

    def local(self, entity: str, remote_id: str) -> str | None:
        return self.r2l.get((entity, remote_id))

    def set(self, session: Session, entity: str, local_id: str, remote_id: str | None, state: str, now: datetime) -> None:
        old_remote = self.l2r.pop((entity, local_id), None)
        if old_remote is not None:
            self.r2l.pop((entity, old_remote), None)
        if remote_id is not None:
            other = self.r2l.get((entity, remote_id))
            if other is not None and other != local_id:
                self.drop(session, entity, other)
            self.l2r[(entity, local_id)] = remote_id
            self.r2l[(entity, remote_id)] = local_id
        self.state[(entity, local_id)] = state
        session.execute(
            text(
                "INSERT OR REPLACE INTO sync_id_map (adapter, entity, local_id, remote_id, state, attempt_at, updated_at) "
                "VALUES (:a, :e, :l, :r, :s, :t, :t)"
            ),
            {"a": self.adapter, "e": entity, "l": local_id, "r": remote_id, "s": state, "t": db_time(now)},
        )

    def set_many(self, session: Session, entity: str, pairs: list[tuple[str, str]], now: datetime) -> None:
        """Link many new local records (none mapped yet) to their remote ids."""
        for local_id, remote_id in pairs:
            self.l2r[(entity, local_id)] = remote_id
            self.r2l[(entity, remote_id)] = local_id
            self.state[(entity, local_id)] = "linked"
        raw = session.connection().connection.driver_connection
        stamp = db_time(now)
        raw.executemany(
            "INSERT OR REPLACE INTO sync_id_map (adapter, entity, local_id, remote_id, state, attempt_at, updated_at) "
            "VALUES (?, ?, ?, ?, 'linked', ?, ?)",
            [(self.adapter, entity, lid, rid, stamp, stamp) for lid, rid in pairs],
        )

    def drop(self, session: Session, entity: str, local_id: str) -> None:
        remote = self.l2r.pop((entity, local_id), None)
        if remote is not None:
            self.r2l.pop((entity, remote), None)
        self.state.pop((entity, local_id), None)
        session.execute(
            text("DELETE FROM sync_id_map WHERE adapter = :a AND entity = :e AND local_id = :l"),
            {"a": self.adapter, "e": entity, "l": local_id},
        )


class SyncEngine:
    """One sync of a store with one adapter. ``run()`` does push then pull."""

    def __init__(self, crm: Crm, adapter: Adapter, *, progress: Progress | None = None) -> None:
        self.crm = crm
        self.adapter = adapter
        self.name = adapter.name
        self.progress = progress or (lambda phase, entity, done, total: None)
        self.maps = IdMaps(self.name)
        self.report = SyncReport()
        self.run_id = new_id()
        self.local = LocalStore(default_stage=self._default_stage())
        self.snapshot_seq = 0
        self._open_conflicts: set[tuple[str, str, str, str]] = set()
        self.first_links: dict[tuple[str, str], Any] = {}  # (entity, remote id) -> first_connect.Match

    # ----------------------------------------------------------- plumbing

    def _default_stage(self) -> tuple[str, str] | None:
        try:
            pipeline = self.crm.pipelines.pipeline(self.crm.settings.default_pipeline)
        except Exception:  # noqa: BLE001 - any config problem: fall back to the first pipeline
            pipeline = self.crm.pipelines.pipelines[0]
        lead = pipeline.stage_by_kind("lead")
        return (pipeline.key, lead.key) if lead else None

    def now(self) -> datetime:
        return self.crm.clock().astimezone(UTC)

    def uow(self, user_id: str | None = None) -> SyncUnitOfWork:
        work = SyncUnitOfWork(self.crm.engine, user_id, batch_id=f"sync:{self.run_id}")
        work.now = self.now()
        return work

    def _schema(self) -> LocalSchema:
        fields: dict[str, dict[str, Any]] = {}
        for entity in ("deal", "contact", "company"):
            fields[entity] = {
                key: {"label": d.label, "type": d.type.value, "options": list(d.options), "currency": d.currency}
                for key, d in self.crm.pipelines.custom_fields_for(entity).items()
            }
        return LocalSchema(custom_fields=fields, phone_region=self.crm.settings.phone_region, timezone=self.crm.tz)

    # ---------------------------------------------------------------- run

    def run(self, *, push: bool = True, pull: bool = True, files: bool = False) -> SyncReport:
        with sync_lock(self.crm.settings.db_path):
            self.open()
            try:
                if push and pull:
                    from tui_crm.sync.first_connect import pull_first

                    pull_first(self)  # a first connect: link what both sides hold before pushing
                if push:
                    self.push()
                if pull:
                    self.pull()
                if files:
                    self.sync_files()
                self.finish()
            finally:
                self._save_meta()  # what the adapter learned (its rate after 429s), even from a failed run
        return self.report

    def open(self) -> RemoteMeta:
        with self.crm.read() as session:
            stored = {
                row.key: json.loads(row.value_json) for row in session.exec(select(SyncMeta).where(SyncMeta.adapter == self.name))
            }
        self.progress("open", "account", 0, None)
        meta = self.adapter.open(self._schema(), stored)
        self.progress("open", "account", 1, 1)
        self.report.warnings.extend(meta.warnings)
        with self.uow() as work:
            self._write_meta(work)
            put_setting(work.session, ADAPTER_KEY, self.name)
        with self.crm.read() as session:
            self.maps.load(session)
        self._map_meta(meta)
        with self.crm.read() as session:
            self._open_conflicts = {
                (c.entity, c.local_id, c.field, c.kind)
                for c in session.exec(
                    select(SyncConflict).where(SyncConflict.adapter == self.name, col(SyncConflict.resolved_at).is_(None))
                )
            }
        return meta

    def sync_files(self) -> None:
        """Files of the linked records, a slice a run (see :mod:`tui_crm.sync.files`)."""
        from tui_crm.sync.files import CURSOR_KEY, FileSync

        step = FileSync(self)
        if not step.usable:
            self.report.warnings.append("This account gave no file storage address (drive_url): files were not synced.")
            return
        with self.crm.read() as session:
            row = session.get(SyncMeta, (self.name, CURSOR_KEY))
        cursor = json.loads(row.value_json) if row else None
        cursor, self.report.files_pulled, self.report.files_pushed = step.run(cursor)
        with self.uow() as work:
            work.session.merge(SyncMeta(adapter=self.name, key=CURSOR_KEY, value_json=_dumps(cursor), updated_at=work.now))

    def _write_meta(self, work: SyncUnitOfWork) -> None:
        for key, value in self.adapter.stored_meta().items():
            work.session.merge(SyncMeta(adapter=self.name, key=key, value_json=_dumps(value), updated_at=work.now))

    def _save_meta(self) -> None:
        try:
            with self.uow() as work:
                self._write_meta(work)
        except Exception:  # noqa: BLE001 - never hide the run's own error behind this one
            return

    def finish(self) -> None:
        self.report.warnings.extend(getattr(self.adapter, "late_warnings", []))
        self.report.finished_at = self.now()
        with self.uow() as work:
            put_setting(work.session, LAST_SYNC_KEY, self.report.finished_at.isoformat())

    # ------------------------------------------------------------ metadata

    def _map_meta(self, meta: RemoteMeta) -> None:
        with self.uow() as work:
            session = work.session
            users = list(session.exec(select(User)))
            mapped_users = {lid for (entity, lid) in self.maps.l2r if entity == "user"}
            me = meta.current_user
            if (
                me
                and self.crm.user_id
                and self.crm.user_id not in mapped_users
                and self.maps.local("user", me) is None
                and any(u.remote_id == me for u in meta.users)
            ):
                # The person running tui-crm is the user the credentials act as.
                self.maps.set(session, "user", self.crm.user_id, me, "linked", work.now)
                mapped_users.add(self.crm.user_id)
            for remote in meta.users:
                if self.maps.local("user", remote.remote_id):
                    continue
                candidates = [u for u in users if u.id not in mapped_users]
                match = next((u for u in candidates if remote.email and u.email and fold(u.email) == fold(remote.email)), None)
                match = match or next((u for u in candidates if fold(u.name) == fold(remote.name)), None)
                if match is None:
                    match = User(name=remote.name, email=remote.email, is_active=remote.active, is_admin=False)
                    work.create(match)
                    session.flush()
                    users.append(match)
                mapped_users.add(match.id)
                self.maps.set(session, "user", match.id, remote.remote_id, "linked", work.now)
            pipelines = list(session.exec(select(Pipeline)))
            for remote_p in meta.pipelines:
                local_pid = self.maps.local("pipeline", remote_p.remote_id)
                pipeline = session.get(Pipeline, local_pid) if local_pid else None
                if pipeline is None:
                    taken = {lid for (entity, lid) in self.maps.l2r if entity == "pipeline"}
                    pipeline = next(
                        (
                            p
                            for p in pipelines
                            if p.id not in taken and p.deleted_at is None and fold(p.name) == fold(remote_p.name)
                        ),
                        None,
                    )
                    if pipeline is None:
                        pipeline = Pipeline(key=f"amo_{remote_p.remote_id}", name=remote_p.name, sort=100 + remote_p.sort)
                        work.create(pipeline)
                        session.flush()
                        pipelines.append(pipeline)
                        self.report.warnings.append(
                            f"Remote pipeline «{remote_p.name}» has no local counterpart; its deals are kept in a pipeline "
                            "of that name. Add it to pipelines.toml (crm pipelines path) to get its stages and gates."
                        )
                    self.maps.set(session, "pipeline", pipeline.id, remote_p.remote_id, "linked", work.now)
                stages = list(session.exec(select(Stage).where(Stage.pipeline_id == pipeline.id)))
                for remote_s in remote_p.stages:
                    if self.maps.local("stage", remote_s.remote_id):
                        continue
                    taken = {lid for (entity, lid) in self.maps.l2r if entity == "stage"}
                    free = [s for s in stages if s.id not in taken and s.deleted_at is None]
                    if remote_s.kind in ("won", "lost", "unsorted"):
                        match = next((s for s in free if s.kind == remote_s.kind), None)
                    else:
                        match = next(
                            (s for s in free if s.kind in ("lead", "normal") and fold(s.name) == fold(remote_s.name)), None
                        )
                    if match is None:
                        match = Stage(
                            pipeline_id=pipeline.id,
                            key=f"amo_{remote_s.remote_id.replace(':', '_')}",
                            name=remote_s.name,
                            sort=remote_s.sort,
                            kind=remote_s.kind,
                        )
                        work.create(match)
                        session.flush()
                        stages.append(match)
                        self.report.warnings.append(
                            f"Remote stage «{remote_s.name}» of «{remote_p.name}» has no local counterpart; added locally."
                        )
                    self.maps.set(session, "stage", match.id, remote_s.remote_id, "linked", work.now)

    # ------------------------------------------------------ ref translation

    def to_remote(self, entity: str, fields: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
        """Local values -> Ref space; returns (remote values, the local values they stand for)."""
        refs = REF_FIELDS.get(entity, {})
        out: dict[str, Any] = {}
        used: dict[str, Any] = {}
        for name, value in fields.items():
            target = refs.get(name)
            if target is None:
                out[name], used[name] = value, value
                continue
            if isinstance(value, list):
                mapped = [(v, self.maps.remote(target, v)) for v in value]
                out[name] = [Ref(target, r) for _, r in mapped if r is not None]
                used[name] = [v for v, r in mapped if r is not None]
                continue
            if value is None:
                out[name], used[name] = None, None
                continue
            ref_entity, ref_id = (entity_ref(value) or ("", "")) if target == "*" else (target, value)
            remote = self.maps.remote(ref_entity, ref_id) if ref_entity else None
            if remote is None:
                out[name] = UNSENDABLE
            else:
                out[name], used[name] = Ref(ref_entity, remote), value
        return {k: v for k, v in out.items() if v is not UNSENDABLE}, used

    def to_local(self, entity: str, fields: dict[str, Any]) -> dict[str, Any]:
        """Ref space -> local ids (an unknown reference becomes an unresolved marker text)."""
        out = dict(fields)
        for name in REF_FIELDS.get(entity, {}):
            value = out.get(name)
            if isinstance(value, Ref):
                out[name] = self._local_ref(name, entity, value)
            elif isinstance(value, list) and value:
                out[name] = [self._local_ref(name, entity, v) if isinstance(v, Ref) else v for v in value]
        return clean(entity, out)

    def _local_ref(self, name: str, entity: str, ref: Ref) -> str:
        local = self.maps.local(ref.entity, ref.remote_id)
        if local is None:
            return Unresolved(f"?{ref.entity}:{ref.remote_id}")
        return f"{ref.entity}:{local}" if REF_FIELDS.get(entity, {}).get(name) == "*" else local

    def normalize(self, entity: str, fields: dict[str, Any]) -> dict[str, Any]:
        return clean(entity, self.adapter.normalize(entity, dict(fields)))

    def norm_base(self, entity: str, base: dict[str, Any] | None) -> dict[str, Any] | None:
        """The shadow's custom values in today's normal form (shadows written by older versions kept
        extra keys such as ``enum_code: null``); both sides are compared normalised."""
        if not base:
            return base
        custom = {k: v for k, v in base.items() if is_custom(k)}
        if not custom:
            return base
        normalized = self.normalize(entity, custom)
        return {**base, **{k: normalized.get(k) for k in custom}}

    def _pending_ids(self, session: Session, entity: str, ids: list[str]) -> set[str]:
        """The records among ``ids`` with local changes not in the remote yet (change-log rows not synced)."""
        out: set[str] = set()
        table = TABLES.get(entity, entity)
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            out.update(
                session.exec(
                    select(ChangeLog.entity_id).where(
                        ChangeLog.entity == table, col(ChangeLog.synced_at).is_(None), col(ChangeLog.entity_id).in_(chunk)
                    )
                ).all()
            )
        return out

    def _as_untouched(self, entity: str, local_id: str, local: dict[str, Any], base: dict[str, Any]) -> dict[str, Any]:
        """A record nobody changed here: what it holds is what both sides agreed on (the shadow), so a
        difference in form alone is never a local change; fields in an open conflict keep their value."""
        kept = {k: v for k, v in base.items() if (entity, local_id, k, "conflict") not in self._open_conflicts}
        return {**local, **kept}

    # ------------------------------------------------------------- shadows

    def _shadows(self, session: Session, entity: str, ids: list[str]) -> dict[str, dict[str, Any]]:
        out: dict[str, dict[str, Any]] = {}
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            for row in session.exec(
                select(SyncShadow).where(
                    SyncShadow.adapter == self.name, SyncShadow.entity == entity, col(SyncShadow.local_id).in_(chunk)
                )
            ):
                out[row.local_id] = json.loads(row.fields_json)
        return out

    def _save_shadow(
        self, session: Session, entity: str, local_id: str, fields: dict[str, Any], remote_updated_at: int | None
    ) -> None:
        session.execute(
            text(
                "INSERT OR REPLACE INTO sync_shadow (adapter, entity, local_id, fields_json, remote_updated_at, updated_at) "
                "VALUES (:a, :e, :l, :f, :r, :t)"
            ),
            {
                "a": self.name,
                "e": entity,
                "l": local_id,
                "f": _dumps(fields),
                "r": remote_updated_at,
                "t": db_time(self.now()),
            },
        )

    def _save_shadows(self, session: Session, entity: str, rows: list[tuple[str, dict[str, Any], int | None]]) -> None:
        if not rows:
            return
        stamp = db_time(self.now())
        raw = session.connection().connection.driver_connection
        raw.executemany(
            "INSERT OR REPLACE INTO sync_shadow (adapter, entity, local_id, fields_json, remote_updated_at, updated_at) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            [(self.name, entity, lid, _dumps(fields), updated, stamp) for lid, fields, updated in rows],
        )

    def _drop_shadow(self, session: Session, entity: str, local_id: str) -> None:
        session.execute(
            text("DELETE FROM sync_shadow WHERE adapter = :a AND entity = :e AND local_id = :l"),
            {"a": self.name, "e": entity, "l": local_id},
        )

    def _mark_synced(self, session: Session, entity: str, local_ids: list[str]) -> None:
        table = TABLES.get(entity, entity)
        now = db_time(self.now())
        for start in range(0, len(local_ids), 500):
            chunk = local_ids[start : start + 500]
            marks = ",".join(f":i{n}" for n in range(len(chunk)))
            params: dict[str, Any] = {f"i{n}": v for n, v in enumerate(chunk)}
            params.update(e=table, s=self.snapshot_seq, t=now)
            session.execute(
                text(
                    f"UPDATE change_log SET synced_at = :t WHERE entity = :e AND synced_at IS NULL AND seq <= :s "
                    f"AND entity_id IN ({marks})"
                ),
                params,
            )

    # ----------------------------------------------------------- conflicts

    def _record_conflict(
        self,
        session: Session,
        entity: str,
        local_id: str,
        conflict: FieldConflict,
        *,
        kind: str = "conflict",
        detail: str | None = None,
    ) -> None:
        row = session.exec(
            select(SyncConflict).where(
                SyncConflict.adapter == self.name,
                SyncConflict.entity == entity,
                SyncConflict.local_id == local_id,
                SyncConflict.field == conflict.field,
                SyncConflict.kind == kind,
                col(SyncConflict.resolved_at).is_(None),
            )
        ).first()
        now = self.now()
        if row is None:
            row = SyncConflict(
                adapter=self.name, kind=kind, entity=entity, local_id=local_id, field=conflict.field, created_at=now
            )
            self._open_conflicts.add((entity, local_id, conflict.field, kind))
            if kind == "conflict":
                self.report.conflicts += 1
                self.report.stats[entity].conflicts += 1
            else:
                self.report.notices += 1
        row.base_json = _dumps(conflict.base)
        row.local_json = _dumps(conflict.local)
        row.remote_json = _dumps(conflict.remote)
        row.detail = detail
        row.updated_at = now
        session.add(row)

    def _settle_conflicts(self, session: Session, entity: str, local_id: str, agreed: set[str]) -> None:
        """Close open conflicts on fields both sides now agree on."""
        fields = [f for f in agreed if (entity, local_id, f, "conflict") in self._open_conflicts]
        if not fields:
            return
        for row in session.exec(
            select(SyncConflict).where(
                SyncConflict.adapter == self.name,
                SyncConflict.entity == entity,
                SyncConflict.local_id == local_id,
                col(SyncConflict.field).in_(fields),
                SyncConflict.kind == "conflict",
                col(SyncConflict.resolved_at).is_(None),
            )
        ):
            row.resolved_at = self.now()
            row.resolution = "converged"
            session.add(row)
            self._open_conflicts.discard((entity, local_id, row.field, "conflict"))

    # ---------------------------------------------------------------- push

    def pending(self, session: Session) -> dict[str, list[str]]:
        """Records with change-log rows not yet synced (up to the snapshot), by change_log entity."""
        rows = session.exec(
            select(ChangeLog.entity, ChangeLog.entity_id)
            .where(col(ChangeLog.synced_at).is_(None), col(ChangeLog.seq) <= self.snapshot_seq)
            .group_by(ChangeLog.entity, ChangeLog.entity_id)
            .order_by(ChangeLog.entity, col(ChangeLog.entity_id))
        ).all()
        out: dict[str, list[str]] = defaultdict(list)
        for entity, entity_id in rows:
            out[entity].append(entity_id)
        return out

    def _take_snapshot(self) -> None:
        with self.crm.read() as session:
            self.snapshot_seq = int(session.exec(select(ChangeLog.seq).order_by(col(ChangeLog.seq).desc()).limit(1)).first() or 0)

    def push(self) -> None:
        self._take_snapshot()
        with self.crm.read() as session:
            pending = self.pending(session)
        synced_tables = {TABLES[e] for e in self.adapter.entities}
        local_only = {entity: ids for entity, ids in pending.items() if entity not in synced_tables}
        if local_only:
            with self.uow() as work:
                for entity, ids in local_only.items():
                    self._mark_synced(work.session, entity, ids)
        self.push_incoming()
        for entity in self.adapter.entities:
            ids = pending.get(TABLES[entity], [])
            if ids:
                self._push_entity(entity, ids)

    def push_incoming(self) -> None:
        """Hook for adapters with an incoming-requests inbox (see :mod:`.incoming`)."""
        from tui_crm.sync.incoming import push_incoming

        push_incoming(self)

    def _pushable(self, entity: str, fields: dict[str, Any]) -> bool:
        if entity == "note":
            ref = entity_ref(fields.get("entity"))
            return fields.get("kind") in ("note", "call") and ref is not None and ref[0] in ("deal", "contact", "company")
        if entity == "task":
            ref = entity_ref(fields.get("entity"))
            return ref is None or ref[0] in ("deal", "contact", "company")
        return True

    def _push_entity(self, entity: str, ids: list[str]) -> None:
        from tui_crm.sync.first_connect import held_ids

        with self.crm.read() as session:
            records = self.local.read_many(session, entity, ids)
        held = held_ids(self, entity)  # matching several remote records: not created until resolved
        creates: list[str] = []
        attempts: list[str] = []
        updates: list[str] = []
        settled: list[str] = []
        for local_id in ids:
            fields = records.get(local_id)
            state = self.maps.state.get((entity, local_id))
            if fields is None or not self._pushable(entity, fields):
                settled.append(local_id)
            elif state is None:
                if local_id not in held:
                    (settled if fields.get("deleted") else creates).append(local_id)
            elif state == "attempt":
                attempts.append(local_id)
            elif state == "remote_deleted":
                settled.append(local_id)
            else:
                updates.append(local_id)
        if settled:
            with self.uow() as work:
                self._mark_synced(work.session, entity, settled)
        total = len(creates) + len(attempts) + len(updates)
        self.progress("push", entity, 0, total)
        if attempts:
            asked = []
            for lid in attempts:
                item = self._push_item(entity, lid, records[lid])[0]
                item.attempt_at = self.maps.attempted.get((entity, lid))
                asked.append(item)
            found = self.adapter.find_created(entity, asked)
            with self.uow() as work:
                gone_here: list[str] = []
                for local_id in attempts:
                    remote = found.get(local_id)
                    if remote is None:
                        if records[local_id].get("deleted"):  # never made it there, and deleted here since
                            self.maps.drop(work.session, entity, local_id)
                            gone_here.append(local_id)
                        else:
                            creates.append(local_id)
                        continue
                    self.maps.set(work.session, entity, local_id, remote.remote_id, "linked", work.now)
                    self._save_shadow(work.session, entity, local_id, self.to_local(entity, remote.fields), remote.updated_at)
                    updates.append(local_id)
                self._mark_synced(work.session, entity, gone_here)
        done = 0
        if creates:
            done = self._push_creates(entity, creates, records, done, total)
        if updates:
            self._push_updates(entity, updates, records, done, total)

    def _push_item(self, entity: str, local_id: str, fields: dict[str, Any]) -> tuple[PushItem, dict[str, Any]]:
        values = {k: v for k, v in fields.items() if k != "deleted" or v}
        remote, used = self.to_remote(entity, values)
        return PushItem(local_id=local_id, fields=remote), used

    def _push_creates(self, entity: str, ids: list[str], records: dict[str, dict[str, Any]], done: int, total: int) -> int:
        items: list[PushItem] = []
        used: dict[str, dict[str, Any]] = {}
        for local_id in ids:
            normalized = self.normalize(entity, records[local_id])
            item, used[local_id] = self._push_item(entity, local_id, normalized)
            items.append(item)
        counter = [done]

        def on_done(results: list[PushResult]) -> None:
            with self.uow() as work:
                synced: list[str] = []
                for result in results:
                    if result.error or result.remote_id is None:
                        self.maps.drop(work.session, entity, result.local_id)
                        self._push_error(entity, result)
                        continue
                    self.maps.set(work.session, entity, result.local_id, result.remote_id, "linked", work.now)
                    shadow = {k: v for k, v in used[result.local_id].items() if k in result.sent}
                    shadow["deleted"] = False
                    self._save_shadow(work.session, entity, result.local_id, shadow, result.updated_at)
                    synced.append(result.local_id)
                    self.report.stats[entity].pushed_new += 1
                self._mark_synced(work.session, entity, synced)
            counter[0] += len(results)
            self.progress("push", entity, counter[0], total)

        for start in range(0, len(items), CREATE_CHUNK):
            chunk = items[start : start + CREATE_CHUNK]
            # Committed before the chunk is sent: after a crash the next run looks these up instead of sending them again.
            with self.uow() as work:
                for item in chunk:
                    self.maps.set(work.session, entity, item.local_id, None, "attempt", work.now)
                    item.attempt_at = int(work.now.timestamp())
            self.adapter.create(entity, chunk, on_done)
        return counter[0]

    def _push_error(self, entity: str, result: PushResult) -> None:
        self.report.stats[entity].errors += 1
        self.report.errors.append(f"{entity} {result.local_id[:8]}: {result.error}")

    def _push_updates(self, entity: str, ids: list[str], records: dict[str, dict[str, Any]], done: int, total: int) -> None:
        with self.crm.read() as session:
            shadows = self._shadows(session, entity, ids)
        counter = [done]
        for start in range(0, len(ids), FETCH_CHUNK):
            chunk = ids[start : start + FETCH_CHUNK]
            remote_ids = {lid: self.maps.remote(entity, lid) for lid in chunk}
            fetched = self.adapter.fetch(entity, [r for r in remote_ids.values() if r is not None])
            items: list[PushItem] = []
            plans: dict[str, tuple[MergeResult, dict[str, Any], dict[str, Any] | None, RemoteRecord]] = {}
            quiet: list[str] = []
            gone: list[str] = []
            for local_id in chunk:
                remote = fetched.get(remote_ids[local_id] or "")
                if remote is None or remote.gone:
                    gone.append(local_id)
                    continue
                local = self.normalize(entity, records[local_id])
                base = self.norm_base(entity, shadows.get(local_id))
                result = merge(base, local, self.to_local(entity, remote.fields))
                sendable = {k: v for k, v in result.to_remote.items() if not _unresolved(v)}
                remote_values, used = self.to_remote(entity, sendable)
                plans[local_id] = (result, used, base, remote)
                if remote_values:
                    items.append(PushItem(local_id, remote_values, remote.remote_id, before=remote))
                else:
                    quiet.append(local_id)
            with self.uow() as work:
                for local_id in quiet:
                    result, used, base, remote = plans[local_id]
                    self._after_push(work.session, entity, local_id, result, used, base, remote, set())
                self._mark_synced(work.session, entity, quiet)
                for local_id in gone:
                    self._remote_gone(work, entity, local_id, records[local_id], shadows.get(local_id))
                self._mark_synced(work.session, entity, gone)
            counter[0] += len(quiet) + len(gone)

            def on_done(results: list[PushResult], plans: dict[str, Any] = plans) -> None:
                with self.uow() as work:
                    synced: list[str] = []
                    for res in results:
                        result, used, base, remote = plans[res.local_id]
                        if res.gone:
                            self._remote_gone(work, entity, res.local_id, records[res.local_id], base)
                            synced.append(res.local_id)
                            continue
                        if res.error:
                            self._push_error(entity, res)
                            continue
                        self._after_push(work.session, entity, res.local_id, result, used, base, remote, res.sent, res.updated_at)
                        synced.append(res.local_id)
                        self.report.stats[entity].pushed_changed += 1
                    self._mark_synced(work.session, entity, synced)
                counter[0] += len(results)
                self.progress("push", entity, counter[0], total)

            if items:
                self.adapter.update(entity, items, on_done)

    def _after_push(
        self,
        session: Session,
        entity: str,
        local_id: str,
        result: MergeResult,
        used: dict[str, Any],
        base: dict[str, Any] | None,
        remote: RemoteRecord,
        sent: set[str],
        updated_at: int | None = None,
    ) -> None:
        shadow = dict(base or {})
        remote_local = self.to_local(entity, remote.fields)
        for name in result.agreed:
            shadow[name] = remote_local.get(name)
        for name in sent:
            if name not in used:
                continue
            if base is None or same((base or {}).get(name), remote_local.get(name)):
                shadow[name] = used[name]
        for conflict in result.conflicts:
            self._record_conflict(session, entity, local_id, conflict)
        self._save_shadow(session, entity, local_id, shadow, updated_at or remote.updated_at)

    def _remote_gone(
        self, work: SyncUnitOfWork, entity: str, local_id: str, local: dict[str, Any] | None, base: dict[str, Any] | None
    ) -> None:
        """The remote record was deleted for good: tombstone it here; a pending local edit becomes a notice."""
        session = work.session
        current = self.local.read(session, entity, local_id)
        if current is None:
            self.maps.set(session, entity, local_id, self.maps.l2r.get((entity, local_id)), "remote_deleted", work.now)
            return
        normalized = self.normalize(entity, current)
        base = self.norm_base(entity, base)
        touched = bool(self._pending_ids(session, entity, [local_id]))
        changed = sorted(
            k for k in normalized if touched and k != "deleted" and base is not None and not same(normalized.get(k), base.get(k))
        )
        if changed and not current.get("deleted"):
            detail = "deleted remotely while changed here: " + ", ".join(changed)
            self._record_conflict(
                session,
                entity,
                local_id,
                FieldConflict("deleted", False, {k: normalized.get(k) for k in changed}, True),
                kind="deleted",
                detail=detail,
            )
        if not current.get("deleted"):
            self.local.apply(work, entity, local_id, {"deleted": True}, new=False)
            self.report.stats[entity].deleted_local += 1
        shadow = dict(base or normalized)
        shadow["deleted"] = True
        self._save_shadow(session, entity, local_id, shadow, None)
        self.maps.set(session, entity, local_id, self.maps.l2r.get((entity, local_id)), "remote_deleted", work.now)

    # ---------------------------------------------------------------- pull

    def pull(self) -> None:
        """Pull every entity, the deletions and the incoming requests. An adapter with a change
        probe (``remote_changed``) may say nothing changed since its last complete pull: the
        entity pulls are then skipped (never while a pass is half done)."""
        probe = getattr(self.adapter, "remote_changed", None)
        if probe is None or self._mid_pass() or probe():
            pull_streams(self, self.adapter.entities)  # one download pipe for every stream (sync/pipeline.py)
            self._pull_deletions()
            done = getattr(self.adapter, "pulled", None)
            if done is not None:
                done()
        from tui_crm.sync.incoming import pull_incoming

        pull_incoming(self)

    def _mid_pass(self) -> bool:
        """Whether a pull pass of this adapter stopped part-way (a killed run): it must be finished."""
        with self.crm.read() as session:
            row = session.exec(
                select(SyncCursor).where(SyncCursor.adapter == self.name, col(SyncCursor.page) > 0).limit(1)
            ).first()
        return row is not None

    def _refresh_meta(self) -> None:
        """The adapter met an id its cached metadata lacks: read the metadata again and map it."""
        meta = self.adapter.refresh_meta()  # type: ignore[attr-defined]
        self.report.warnings.extend(meta.warnings)
        self._map_meta(meta)
        self._save_meta()

    def _cursor(self, key: str) -> Cursor:
        with self.crm.read() as session:
            row = session.get(SyncCursor, (self.name, key))
        if row is None:
            return Cursor()
        return Cursor(since=row.since, page=row.page, max_seen=row.max_seen, pass_started=row.pass_started)

    def _save_cursor(self, session: Session, key: str, cursor: Cursor, done: bool) -> None:
        row = session.get(SyncCursor, (self.name, key)) or SyncCursor(adapter=self.name, entity=key)
        row.since, row.page, row.max_seen, row.pass_started = cursor.since, cursor.page, cursor.max_seen, cursor.pass_started
        row.updated_at = self.now()
        if done:
            row.done_at = row.updated_at
        session.add(row)

    def apply_page(
        self,
        entity: str,
        records: list[RemoteRecord],
        *,
        cursor_key: str | None = None,
        cursor: Cursor | None = None,
        done: bool = False,
    ) -> None:
        """Apply pulled records (and the records they reference) with the cursor in one transaction."""
        extra = self._resolve_refs(records)
        with self.uow() as work:
            for ref_entity in ENTITIES:
                batch = [r for r in extra if r.entity == ref_entity]
                if batch:
                    self._apply_records(work, ref_entity, batch)
            self._apply_records(work, entity, records)
            if cursor_key is not None and cursor is not None:
                self._save_cursor(work.session, cursor_key, cursor, done)

    def _refs_of(self, record: RemoteRecord) -> list[Ref]:
        out: list[Ref] = []
        for name in REF_FIELDS.get(record.entity, {}):
            value = record.fields.get(name)
            values = value if isinstance(value, list) else [value]
            out.extend(v for v in values if isinstance(v, Ref) and v.entity in MODELS)
        return out

    def _resolve_refs(self, records: list[RemoteRecord]) -> list[RemoteRecord]:
        """Fetch records the page references that are not known locally yet (a few levels deep)."""
        extra: list[RemoteRecord] = []
        known: set[tuple[str, str]] = {(r.entity, r.remote_id) for r in records}
        frontier = records
        for _ in range(3):
            wanted: dict[str, set[str]] = defaultdict(set)
            for record in frontier:
                for ref in self._refs_of(record):
                    key = (ref.entity, ref.remote_id)
                    if key in known or self.maps.local(*key) is not None:
                        continue
                    wanted[ref.entity].add(ref.remote_id)
            if not wanted:
                break
            frontier = []
            for ref_entity, rids in wanted.items():
                if ref_entity not in self.adapter.entities:
                    continue
                fetched = self.adapter.fetch(ref_entity, sorted(rids))
                for rid in rids:
                    known.add((ref_entity, rid))
                    record = fetched.get(rid)
                    if record is not None and not record.gone and not record.skip:
                        frontier.append(record)
            extra.extend(frontier)
        return extra

    def _apply_records(self, work: SyncUnitOfWork, entity: str, records: list[RemoteRecord]) -> None:
        session = work.session
        live = [r for r in records if not r.skip]
        mapped = {r.remote_id: self.maps.local(entity, r.remote_id) for r in live}
        ids = [lid for lid in mapped.values() if lid]
        uuids = [r.uuid for r in live if r.uuid and not mapped.get(r.remote_id)]
        links = self.first_links
        firsts = {r.remote_id: m for r in live if not mapped.get(r.remote_id) and (m := links.get((entity, r.remote_id)))}
        uuids += [m.local_id for m in firsts.values()]
        locals_ = self.local.read_many(session, entity, ids + uuids)
        shadows = self._shadows(session, entity, ids + uuids)
        touched = self._pending_ids(session, entity, ids + uuids)
        fresh: list[tuple[str, dict[str, Any], RemoteRecord]] = []
        fresh_remote: set[str] = set()
        for record in live:
            local_id = mapped.get(record.remote_id)
            if local_id is None and record.uuid and record.uuid in locals_:
                owner = self.maps.remote(entity, record.uuid)
                if owner is None or owner == record.remote_id:
                    local_id = record.uuid
                    self.maps.set(session, entity, local_id, record.remote_id, "linked", work.now)
            first = firsts.get(record.remote_id) if local_id is None else None
            if first is not None and first.local_id in locals_ and self.maps.state.get((entity, first.local_id)) is None:
                local_id = first.local_id  # the same person/company on both sides (first connect)
                self.maps.set(session, entity, local_id, record.remote_id, "linked", work.now)
                self.first_links.pop((entity, record.remote_id), None)
            else:
                first = None
            if record.gone:
                if local_id is not None:
                    self._remote_gone(work, entity, local_id, locals_.get(local_id), shadows.get(local_id))
                continue
            user = self.maps.local("user", record.updated_by) if record.updated_by else None
            work.user_id = user
            remote = self._strip_unresolved(self.to_local(entity, record.fields), entity)
            if entity == "note" and not remote.get("entity"):
                continue  # a note of a record that is not here (an incoming lead): nothing to hang it on
            local = locals_.get(local_id) if local_id else None
            if local is None:
                if remote.get("deleted") or record.remote_id in fresh_remote:
                    continue
                if local_id is None:
                    # read_many above already looked every candidate uuid up (tombstones too): no query per record
                    uuid = record.uuid
                    local_id = uuid if uuid and len(uuid) == 32 and uuid not in locals_ else fast_id()
                    fresh.append((local_id, remote, record))
                    fresh_remote.add(record.remote_id)
                else:  # mapped, but the local row is gone: write it again
                    self.local.apply(work, entity, local_id, remote, new=True)
                    self._save_shadow(session, entity, local_id, remote, record.updated_at)
                self.report.stats[entity].pulled_new += 1
                continue
            assert local_id is not None
            base = self.norm_base(entity, shadows.get(local_id))
            mine = self.normalize(entity, local)
            if first is not None:
                from tui_crm.sync.first_connect import first_base

                base = first_base(mine, remote)
            if base is not None and local_id not in touched:
                mine = self._as_untouched(entity, local_id, mine, base)
            result = merge(base, mine, remote)
            if result.to_local:
                old_stage = local.get("stage_id")
                self.local.apply(work, entity, local_id, result.to_local, new=False)
                if result.to_local.get("deleted"):
                    self.report.stats[entity].deleted_local += 1
                else:
                    self.report.stats[entity].pulled_changed += 1
                if entity == "deal" and "stage_id" in result.to_local and not result.to_local.get("deleted"):
                    self._check_gate(work, local_id, old_stage)
            for conflict in result.conflicts:
                self._record_conflict(session, entity, local_id, conflict)
            self._settle_conflicts(session, entity, local_id, result.agreed)
            shadow = {k: v for k, v in result.base.items() if k not in result.to_remote}
            for name in result.to_remote:
                if base is not None and name in base:
                    shadow[name] = base[name]
            if self.maps.state.get((entity, local_id)) == "remote_deleted" and not remote.get("deleted"):
                self.maps.set(session, entity, local_id, record.remote_id, "linked", work.now)
            self._save_shadow(session, entity, local_id, shadow, record.updated_at)
        work.user_id = None
        if fresh:
            self.local.create_many(work, entity, [(local_id, values) for local_id, values, _ in fresh])
            self.maps.set_many(session, entity, [(local_id, record.remote_id) for local_id, _, record in fresh], work.now)
            self._save_shadows(session, entity, [(local_id, values, record.updated_at) for local_id, values, record in fresh])

    @staticmethod
    def _strip_unresolved(fields: dict[str, Any], entity: str = "") -> dict[str, Any]:
        out = dict(fields)
        for name in REF_FIELDS.get(entity, {}) if entity else list(out):
            value = out.get(name)
            if isinstance(value, list):
                out[name] = [v for v in value if not isinstance(v, Unresolved)]
            elif isinstance(value, Unresolved):
                out[name] = None
        return out

    @staticmethod
    def _free_id(session: Session, entity: str, local_id: str) -> bool:
        return len(local_id) == 32 and session.get(MODELS[entity], local_id) is None

    def _check_gate(self, work: SyncUnitOfWork, deal_id: str, old_stage_id: str | None) -> None:
        """A pulled stage change the local gate would refuse is applied, and flagged (notice + timeline note)."""
        from tui_crm.domain.gates import missing_fields
        from tui_crm.storage.models import Deal
        from tui_crm.storage.record_edits import gate_values

        session = work.session
        deal = session.get(Deal, deal_id)
        if deal is None:
            return
        stage = session.get(Stage, deal.stage_id)
        pipeline = session.get(Pipeline, deal.pipeline_id)
        if stage is None or pipeline is None:
            return
        try:
            self.crm.pipelines.pipeline(pipeline.key).stage(stage.key)
            missing = missing_fields(self.crm.pipelines, pipeline.key, stage.key, gate_values(session, deal))
        except Exception:  # noqa: BLE001 - a stage the pipelines file does not know has no gate
            return
        if not missing:
            return
        labels = ", ".join(m.label for m in missing)
        old = session.get(Stage, old_stage_id) if old_stage_id else None
        text_ = f"Moved remotely to «{stage.name}» without: {labels}"
        self._record_conflict(
            session,
            "deal",
            deal_id,
            FieldConflict("stage_id", old_stage_id, old_stage_id, deal.stage_id),
            kind="gate",
            detail=text_ + (f" (was «{old.name}»)" if old else ""),
        )
        work.create(Note(entity_type="deal", entity_id=deal_id, kind="system", text=text_))

    def _pull_deletions(self) -> None:
        key = "_deletions"
        cursor = self._cursor(key)
        for page in self.adapter.deletions(cursor):
            by_entity: dict[str, list[str]] = defaultdict(list)
            restored: dict[str, list[str]] = defaultdict(list)
            for item in page.items:
                if self.maps.local(item.entity, item.remote_id) is None:
                    continue
                (restored if item.restored else by_entity)[item.entity].append(item.remote_id)
            fetched_restored: list[RemoteRecord] = []
            for entity, rids in restored.items():
                fetched = self.adapter.fetch(entity, rids)
                fetched_restored.extend(r for r in fetched.values() if r is not None and not r.gone)
            with self.uow() as work:
                for entity, rids in by_entity.items():
                    ids = [lid for rid in rids if (lid := self.maps.local(entity, rid))]
                    shadows = self._shadows(work.session, entity, ids)
                    for local_id in ids:
                        self._remote_gone(work, entity, local_id, None, shadows.get(local_id))
                for entity in ENTITIES:
                    batch = [r for r in fetched_restored if r.entity == entity]
                    if batch:
                        self._apply_records(work, entity, batch)
                self._save_cursor(work.session, key, page.cursor, page.done)

    # -------------------------------------------------------------- dry run

    def plan(self) -> dict[str, dict[str, list[tuple[str, dict[str, Any]]]]]:
        """What a push would send, computed offline: entity -> create/update -> [(local id, fields)]."""
        self._take_snapshot()
        with self.crm.read() as session:
            self.maps.load(session)
            pending = self.pending(session)
            out: dict[str, dict[str, list[tuple[str, dict[str, Any]]]]] = {}
            for entity in ENTITIES:
                ids = pending.get(TABLES[entity], [])
                if not ids:
                    continue
                records = self.local.read_many(session, entity, ids)
                shadows = self._shadows(session, entity, ids)
                plan: dict[str, list[tuple[str, dict[str, Any]]]] = {"create": [], "update": []}
                for local_id in ids:
                    fields = records.get(local_id)
                    if fields is None or not self._pushable(entity, fields):
                        continue
                    state = self.maps.state.get((entity, local_id))
                    if state is None:
                        if not fields.get("deleted"):
                            plan["create"].append((local_id, fields))
                        continue
                    if state == "remote_deleted":
                        continue
                    base = shadows.get(local_id) or {}
                    normalized = self.normalize(entity, fields)
                    changed = {k: v for k, v in normalized.items() if not same(v, base.get(k))}
                    if changed:
                        plan["update"].append((local_id, changed))
                if plan["create"] or plan["update"]:
                    out[entity] = plan
        return out


class Unresolved(str):
    """A remote reference to a record not known locally (yet)."""


def _unresolved(value: Any) -> bool:
    if isinstance(value, list):
        return any(_unresolved(v) for v in value)
    return isinstance(value, Unresolved)
