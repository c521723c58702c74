"""One write transaction with its change-log rows.

Services do every mutation through a ``UnitOfWork``: it starts the write
transaction (``BEGIN IMMEDIATE``), stamps ``updated_at``/``revision``, and
writes a ``change_log`` row per mutation in the same transaction, so the
timeline, undo and the sync outbox can never disagree with the data.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from types import TracebackType
from typing import Any

from sqlalchemy import Engine
from sqlmodel import Session, SQLModel

from tui_crm.domain.ids import utcnow
from tui_crm.storage.engine import WRITE_OPTION
from tui_crm.storage.models import ChangeLog, Record
from tui_crm.storage.store_file import store_error

_SKIP = {"id", "created_at", "updated_at", "revision", "name_fold"}


def to_jsonable(value: Any) -> Any:
    """Values as they are written into change-log JSON."""
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, list | tuple):
        return [to_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {k: to_jsonable(v) for k, v in value.items()}
    return value


def record_fields(record: SQLModel) -> dict[str, Any]:
    """The user-visible columns of a row, for a "create" log entry."""
    # Read the columns directly: model_dump() would build the pydantic
    # serializer that storage.models defers.
    values = ((name, getattr(record, name)) for name in type(record).model_fields)
    return {k: to_jsonable(v) for k, v in values if k not in _SKIP and v is not None}


def database_path(engine: Engine) -> Path | None:
    """The file an engine opens (its URL is a plain path, or a ``file:`` URI when read-only)."""
    database = engine.url.database
    if not database:
        return None
    if database.startswith("file:"):
        from urllib.parse import unquote, urlparse

        return Path(unquote(urlparse(database).path))
    return Path(database)


class UnitOfWork:
    """A write transaction bound to the acting user."""

    # Change-log rows of changes that came from the remote are born synced.
    writes_synced_rows = False

    def __init__(self, engine: Engine, user_id: str | None, batch_id: str | None = None) -> None:
        self.engine = engine
        self.user_id = user_id
        self.batch_id = batch_id
        self.session: Session
        self.now = utcnow()
        self._born: set[tuple[str, str]] = set()  # (table, id) of the rows this transaction creates
        # The file, for one-line errors (read-only, disk full, damaged...).
        self.db_path: Path | None = database_path(engine)
        self.changed: set[str] = set()  # tables this transaction logged a change of
        # table -> what to run once the transaction committed with a change of that table
        self.on_commit: dict[str, Callable[[], None]] = {}

    def __enter__(self) -> UnitOfWork:
        self.session = Session(self.engine, expire_on_commit=False, autoflush=True)
        try:
            self.session.connection(execution_options={WRITE_OPTION: True})
        except Exception as exc:
            self.session.close()
            self._raise_store_error(exc)
            raise
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            if exc_type is None:
                self.session.commit()
            else:
                self.session.rollback()
        except Exception as failure:
            self._raise_store_error(failure)
            raise
        finally:
            self.session.close()
        if exc is not None:
            self._raise_store_error(exc)
            return
        for table in sorted(self.changed & self.on_commit.keys()):
            self.on_commit[table]()

    def changed_table(self, table: str) -> None:
        """Note a change written without :meth:`log` (a bulk path's raw SQL),
        so the table's commit hook still runs."""
        self.changed.add(table)

    def _raise_store_error(self, exc: BaseException) -> None:
        """Re-raise SQLite's failures about the file as one-line errors."""
        if self.db_path is None or not isinstance(exc, Exception):
            return
        error = store_error(exc, self.db_path)
        if error is not None:
            raise error from exc

    def log(self, entity: str, entity_id: str, op: str, changes: dict[str, Any]) -> None:
        """Append a change-log row; ``changes`` maps field -> [old, new]."""
        self.changed.add(entity)
        self.session.add(
            ChangeLog(
                entity=entity,
                entity_id=entity_id,
                op=op,
                changes=json.dumps(to_jsonable(changes), ensure_ascii=False),
                user_id=self.user_id,
                at=self.now,
                batch_id=self.batch_id,
                synced_at=self.now if self.writes_synced_rows else None,
            )
        )

    def create(self, record: Record) -> Record:
        """Add a new row stamped with this transaction's clock.

        A ``created_at`` the caller set on purpose (a copy keeping its
        original date, a record pulled from a remote) is kept.
        """
        if "created_at" not in record.model_fields_set:
            record.created_at = self.now
        record.updated_at = self.now
        self.session.add(record)
        self._born.add((str(record.__tablename__), record.id))
        self.log(str(record.__tablename__), record.id, "create", {k: [None, v] for k, v in record_fields(record).items()})
        return record

    def update(self, record: Record, **values: Any) -> dict[str, list[Any]]:
        """Set fields; logs and bumps the revision only when something changed."""
        changes: dict[str, list[Any]] = {}
        for key, new in values.items():
            old = getattr(record, key)
            if old != new:
                changes[key] = [to_jsonable(old), to_jsonable(new)]
                setattr(record, key, new)
        if changes:
            self.touch(record)
            self.session.add(record)
            self.log(str(record.__tablename__), record.id, "update", {k: v for k, v in changes.items() if k not in _SKIP})
        return changes

    def touch(self, record: Record) -> None:
        """Mark a record changed when a linked row (tag, channel...) changed.

        A record this transaction created is left alone: it is new as a whole
        (revision 1, stamped now), and bumping it would cost an UPDATE per
        phone, e-mail or contact a capture attaches.
        """
        if (str(record.__tablename__), record.id) in self._born:
            return
        record.updated_at = self.now
        record.revision = (record.revision or 0) + 1
        self.session.add(record)

    def soft_delete(self, record: Record) -> None:
        if record.deleted_at is None:
            record.deleted_at = self.now
            self.touch(record)
            self.log(str(record.__tablename__), record.id, "delete", {"deleted_at": [None, to_jsonable(self.now)]})

    def restore(self, record: Record) -> None:
        if record.deleted_at is not None:
            old = record.deleted_at
            record.deleted_at = None
            self.touch(record)
            self.log(str(record.__tablename__), record.id, "restore", {"deleted_at": [to_jsonable(old), None]})
