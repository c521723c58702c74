"""Tables the sync engine keeps beside the data (migration 0002_sync).

Every table is keyed by ``adapter``, the name of one remote account (e.g.
``amocrm:acme.amocrm.ru``), so a store could sync with more than one.

* :class:`SyncIdMap` - local UUID <-> remote id, per entity. ``state`` is
  ``attempt`` while a create was sent and not yet confirmed (the next sync
  looks the record up remotely before sending it again), ``linked`` once
  the remote id is known, ``remote_deleted`` after a remote deletion.
  Metadata (users, stages, pipelines) is mapped here too.
* :class:`SyncCursor` - where the pull of one entity stands: the lower
  bound of the current pass, the last page applied in it, the highest
  remote ``updated_at`` seen. Written in the same transaction as the page
  it describes.
* :class:`SyncShadow` - the field values both sides agreed on at the last
  sync of a record (the base of the three-way merge).
* :class:`SyncConflict` - a field changed on both sides to different
  values (``kind='conflict'``), a pulled stage change the local gate would
  refuse (``kind='gate'``) or a remote deletion of a record edited locally
  (``kind='deleted'``); open until ``resolved_at`` is set.
* :class:`SyncUnsortedLink` - a remote incoming lead (``uid``) and the local
  :class:`~tui_crm.storage.models.UnsortedEntry` it became.
* :class:`SyncMeta` - small JSON documents an adapter keeps (remote field
  definitions, task types, loss reasons, account flags).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, Index, Text, UniqueConstraint
from sqlmodel import Field

from tui_crm.domain.ids import new_id, utcnow
from tui_crm.storage.models import Row


class SyncIdMap(Row, table=True):
    __tablename__ = "sync_id_map"
    __table_args__ = (
        UniqueConstraint("adapter", "entity", "remote_id", name="uq_sync_id_map_remote"),
        Index("ix_sync_id_map_state", "adapter", "entity", "state"),
    )

    adapter: str = Field(primary_key=True)
    entity: str = Field(primary_key=True)
    local_id: str = Field(primary_key=True)
    remote_id: str | None = None
    state: str = "linked"  # attempt | linked | remote_deleted
    attempt_at: datetime | None = None
    remote_updated_at: int | None = None
    updated_at: datetime = Field(default_factory=utcnow)


class SyncCursor(Row, table=True):
    __tablename__ = "sync_cursor"

    adapter: str = Field(primary_key=True)
    entity: str = Field(primary_key=True)
    since: int | None = None  # lower bound (remote unix time) of the current pass
    page: int = 0  # last page applied in the current pass (0: none yet)
    max_seen: int | None = None  # highest remote updated_at seen in the current pass
    pass_started: int | None = None  # remote time when the current pass began
    done_at: datetime | None = None  # when the last complete pass ended
    updated_at: datetime = Field(default_factory=utcnow)


class SyncShadow(Row, table=True):
    __tablename__ = "sync_shadow"

    adapter: str = Field(primary_key=True)
    entity: str = Field(primary_key=True)
    local_id: str = Field(primary_key=True)
    fields_json: str = Field(sa_column=Column(Text, nullable=False))
    remote_updated_at: int | None = None
    updated_at: datetime = Field(default_factory=utcnow)


class SyncConflict(Row, table=True):
    __tablename__ = "sync_conflict"
    __table_args__ = (Index("ix_sync_conflict_open", "resolved_at", "entity", "local_id"),)

    id: str = Field(default_factory=new_id, primary_key=True, max_length=32)
    adapter: str
    kind: str = "conflict"  # conflict | gate | deleted
    entity: str
    local_id: str
    field: str
    base_json: str | None = Field(default=None, sa_column=Column(Text))
    local_json: str | None = Field(default=None, sa_column=Column(Text))
    remote_json: str | None = Field(default=None, sa_column=Column(Text))
    detail: str | None = Field(default=None, sa_column=Column(Text))
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)
    resolved_at: datetime | None = None
    resolution: str | None = None  # local | remote | value | ack


class SyncUnsortedLink(Row, table=True):
    __tablename__ = "sync_unsorted_link"

    adapter: str = Field(primary_key=True)
    uid: str = Field(primary_key=True)
    local_id: str = Field(index=True)
    remote_lead_id: str | None = None
    remote_contact_id: str | None = None
    pushed: str | None = None  # accepted | declined, once the remote confirmed
    updated_at: datetime = Field(default_factory=utcnow)


class SyncMeta(Row, table=True):
    __tablename__ = "sync_meta"

    adapter: str = Field(primary_key=True)
    key: str = Field(primary_key=True)
    value_json: str = Field(sa_column=Column(Text, nullable=False))
    updated_at: datetime = Field(default_factory=utcnow)
