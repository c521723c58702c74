"""The interface between the sync engine and a remote (amoCRM/Kommo, a hub).

The engine (``engine.py``) knows the local store and this interface, nothing
of HTTP. An adapter converts records between the canonical form
(``mapping.py``) and its remote, with references as :class:`Ref`; it never
touches the local database: everything it needs to know about local
configuration comes in :class:`LocalSchema`.

Rules an adapter follows:

* ``create`` stores the local id on the remote record (``uuid``) when the
  remote can hold it, so that :meth:`Adapter.find_created` can tell, after a
  lost response, whether a create went through;
* ``create``/``update`` report progress through ``on_done`` after every
  write the remote confirmed, so the engine commits the id map and the
  change-log marks chunk by chunk;
* ``pull`` yields pages; the engine applies each page and the cursor the
  page carries in one transaction.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, tzinfo
from typing import Any, Protocol


@dataclass(frozen=True)
class Ref:
    """A reference to a remote record (``entity`` is canonical: deal, contact, user, stage...)."""

    entity: str
    remote_id: str


UNSENDABLE = object()  # a value the remote cannot hold (an adapter leaves the field out)


@dataclass
class RemoteRecord:
    entity: str
    remote_id: str
    updated_at: int
    fields: dict[str, Any]
    uuid: str | None = None  # the local id the record carries remotely, if any
    gone: bool = False  # deleted remotely for good (no longer readable)
    updated_by: str | None = None  # remote user id
    skip: bool = False  # not a record of this entity for us (e.g. an incoming lead)
    raw: Any = None  # adapter-private details of the remote record


@dataclass
class PushItem:
    local_id: str
    fields: dict[str, Any]  # canonical values (Ref space) to write
    remote_id: str | None = None
    before: RemoteRecord | None = None  # the remote record as fetched just before an update
    attempt_at: int | None = None  # unix time (local clock) a create of it was first marked as attempted


@dataclass
class PushResult:
    local_id: str
    remote_id: str | None
    sent: set[str] = field(default_factory=set)  # fields the remote now holds as given
    updated_at: int | None = None
    error: str | None = None  # the remote refused this record (message for the user)
    gone: bool = False  # the remote record no longer exists


@dataclass
class Cursor:
    """Where a pull stands (stored in ``sync_cursor``)."""

    since: int | None = None
    page: int = 0
    max_seen: int | None = None
    pass_started: int | None = None


@dataclass
class Page:
    records: list[RemoteRecord]
    cursor: Cursor
    done: bool = False  # the last page of a complete pass
    total_hint: int | None = None


@dataclass
class Deletion:
    entity: str
    remote_id: str
    restored: bool = False


@dataclass
class DeletionPage:
    items: list[Deletion]
    cursor: Cursor
    done: bool = False


@dataclass
class RemoteUser:
    remote_id: str
    name: str
    email: str | None
    active: bool = True
    admin: bool = False


@dataclass
class RemoteStage:
    remote_id: str  # unique across pipelines ("<pipeline>:<status>" for amoCRM)
    name: str
    sort: int
    kind: str  # unsorted | normal | won | lost


@dataclass
class RemotePipeline:
    remote_id: str
    name: str
    sort: int
    stages: list[RemoteStage]


@dataclass
class RemoteMeta:
    users: list[RemoteUser]
    pipelines: list[RemotePipeline]
    warnings: list[str] = field(default_factory=list)
    current_user: str | None = None  # the remote user the credentials act as


@dataclass
class IncomingLead:
    """A remote incoming request (amoCRM Unsorted)."""

    uid: str
    pipeline_ref: Ref | None
    lead: Ref | None
    created_at: int
    source: str
    sender_name: str | None = None
    sender_email: str | None = None
    sender_phone: str | None = None
    subject: str | None = None
    body: str | None = None
    contact: Ref | None = None


class MetaChanged(Exception):
    """A pulled page names an id the adapter's cached metadata does not know (a new stage, field,
    user): the engine refreshes the metadata (``adapter.refresh_meta()``) and reads the page again."""


@dataclass
class LocalSchema:
    """What an adapter needs to know of the local configuration."""

    custom_fields: dict[str, dict[str, Any]]  # entity -> key -> {"label", "type", "options", "currency"}
    phone_region: str = "RU"
    timezone: tzinfo = UTC  # the store's zone: an all-day task is due at local midnight of its day


class Adapter(Protocol):
    """What the engine needs from a remote. See the module docstring."""

    name: str  # e.g. "amocrm:acme.amocrm.ru": keys the id map, cursors, shadows
    entities: tuple[str, ...]  # canonical entities this adapter syncs, in dependency order

    def open(self, schema: LocalSchema, stored: dict[str, Any]) -> RemoteMeta:
        """Read account metadata (users, pipelines, field definitions); ``stored`` is what it saved last time."""
        ...

    def stored_meta(self) -> dict[str, Any]:
        """JSON documents to keep in ``sync_meta`` for next time."""
        ...

    def normalize(self, entity: str, fields: dict[str, Any]) -> dict[str, Any]:
        """Local values as the remote would give them back (e.g. money rounded to what it stores)."""
        ...

    def fetch(self, entity: str, remote_ids: list[str]) -> dict[str, RemoteRecord | None]:
        """Current remote records by id (None: deleted or missing)."""
        ...

    def find_created(self, entity: str, items: list[PushItem]) -> dict[str, RemoteRecord]:
        """Remote records a create for these local records already made (keyed by local id)."""
        ...

    def create(self, entity: str, items: list[PushItem], on_done: Callable[[list[PushResult]], None]) -> None:
        """Create records; ``on_done`` after each confirmed chunk."""
        ...

    def update(self, entity: str, items: list[PushItem], on_done: Callable[[list[PushResult]], None]) -> None:
        """Write changed fields of existing records; ``on_done`` after each confirmed chunk."""
        ...

    def streams(self, entity: str) -> tuple[str, ...]:
        """The change feeds of an entity (each with its own cursor); usually just the entity."""
        ...

    def pull(self, stream: str, cursor: Cursor) -> Iterator[Page]:
        """Records changed since the cursor, page by page."""
        ...

    def deletions(self, cursor: Cursor) -> Iterator[DeletionPage]:
        """Remote deletions (and restores) since the cursor."""
        ...

    def incoming(self) -> list[IncomingLead]:
        """Every incoming request currently waiting remotely."""
        ...

    def accept_incoming(self, uid: str, stage: Ref | None) -> Ref | None:
        """Accept an incoming request; returns the lead it became (None if it is gone)."""
        ...

    def decline_incoming(self, uid: str) -> None:
        """Decline an incoming request (no error if it is already gone)."""
        ...

    def close(self) -> None: ...
