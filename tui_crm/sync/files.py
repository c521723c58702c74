"""Files of synced records, both ways (``crm sync --files``).

Files cost requests amoCRM does not batch (a list per record, the Drive per
file), so they are synced on request, not by every sync: a run with
``files=True`` first takes the records with a local attachment not in the
remote yet, then walks every linked deal, contact and company in a fixed
order from where the last such run stopped (``files_cursor`` in
``sync_meta``), at most ``PER_RUN`` records a run. Per record:

* **pull**: the record's remote file list; a file not known here is read
  from the Drive (name, size), downloaded, stored like any attachment (by
  its SHA-256 under the data dir) and attached to the record;
* **push**: a local attachment not in the remote yet is uploaded to the
  Drive and linked to the remote record.

A link is remembered in the id map (entity ``file``: the local attachment
<-> ``<uuid>@<entity>:<remote id>``), so a file is neither downloaded nor
uploaded twice. Removing a file on one side is not carried to the other
(amoCRM's unlink is not used; a local attachment cannot be deleted yet).
"""

from __future__ import annotations

import hashlib
import logging
from typing import TYPE_CHECKING, Any

from sqlmodel import col, select

from tui_crm.storage.blobs import blob_path, keep_blob
from tui_crm.storage.models import EntityFile, StoredFile
from tui_crm.sync.amocrm.errors import AmoAuthError, AmoError, AmoLockedOut, AmoRateLimited

if TYPE_CHECKING:
    from tui_crm.sync.engine import SyncEngine

log = logging.getLogger(__name__)
PER_RUN = 200
ENTITIES = ("deal", "contact", "company")
CURSOR_KEY = "files_cursor"


def _key(file_uuid: str, entity: str, remote_id: str) -> str:
    return f"{file_uuid}@{entity}:{remote_id}"


class FileSync:
    """One run's file work (see the module docstring)."""

    def __init__(self, engine: SyncEngine) -> None:
        self.engine = engine
        self.drive = getattr(engine.adapter, "files", None)
        self.pulled = self.pushed = 0

    @property
    def usable(self) -> bool:
        return self.drive is not None and bool(getattr(self.drive, "available", False))

    def run(self, cursor: Any) -> tuple[Any, int, int]:
        """Sync the files of up to ``PER_RUN`` records from ``cursor`` on; returns (the next cursor,
        files pulled, files pushed)."""
        self.pulled = self.pushed = 0
        if not self.usable:
            return cursor, 0, 0
        linked = sorted(
            (entity, local_id)
            for (entity, local_id), state in self.engine.maps.state.items()
            if entity in ENTITIES and state == "linked"
        )
        after = tuple(cursor) if isinstance(cursor, list | tuple) and len(cursor) == 2 else None
        rest = [key for key in linked if after is None or key > after]
        walk = rest + [key for key in linked if key not in set(rest)]  # wrap around
        todo = list(dict.fromkeys([*(k for k in self._unsent() if k in set(linked)), *walk]))[:PER_RUN]
        for entity, local_id in todo:
            remote_id = self.engine.maps.remote(entity, local_id)
            if remote_id is None:
                continue
            try:
                self._record(entity, local_id, remote_id)
            except (AmoLockedOut, AmoAuthError, AmoRateLimited):
                raise
            except AmoError as error:  # one record's trouble does not stop the others; tried again next time
                self.engine.report.warnings.append(f"Files of {entity} {local_id[:8]}: {error}")
        walked = [key for key in todo if key in set(walk)]
        return (list(walked[-1]) if walked else cursor), self.pulled, self.pushed

    def _unsent(self) -> list[tuple[str, str]]:
        """Records with a local attachment the id map does not know (never sent)."""
        with self.engine.crm.read() as session:
            rows = session.exec(
                select(EntityFile.id, EntityFile.entity_type, EntityFile.entity_id).where(
                    col(EntityFile.entity_type).in_(ENTITIES), col(EntityFile.deleted_at).is_(None)
                )
            ).all()
        return [(etype, owner) for file_id, etype, owner in rows if self.engine.maps.state.get(("file", file_id)) is None]

    def _record(self, entity: str, local_id: str, remote_id: str) -> None:
        engine, drive = self.engine, self.drive
        assert drive is not None
        remote = drive.links(entity, remote_id)
        with engine.crm.read() as session:
            local = list(
                session.exec(
                    select(EntityFile).where(
                        EntityFile.entity_type == entity, EntityFile.entity_id == local_id, col(EntityFile.deleted_at).is_(None)
                    )
                )
            )
        for file_uuid in remote:
            if engine.maps.local("file", _key(file_uuid, entity, remote_id)) is None:
                self._pull(entity, local_id, remote_id, file_uuid)
        unsent = [f for f in local if engine.maps.state.get(("file", f.id)) is None]
        for attachment in unsent:
            self._push(entity, remote_id, attachment)

    def _pull(self, entity: str, local_id: str, remote_id: str, file_uuid: str) -> None:
        engine, drive = self.engine, self.drive
        assert drive is not None
        info = drive.info(file_uuid)
        content = drive.download(info)
        sha = hashlib.sha256(content).hexdigest()
        keep_blob(engine.crm.settings.files_dir, sha, content=content)
        with engine.uow() as work:
            if work.session.get(StoredFile, sha) is None:
                work.session.add(StoredFile(sha256=sha, size=len(content), mime=info.mime))
                work.session.flush()
            attachment = EntityFile(entity_type=entity, entity_id=local_id, sha256=sha, name=info.name)
            work.create(attachment)
            engine.maps.set(work.session, "file", attachment.id, _key(file_uuid, entity, remote_id), "linked", work.now)
        self.pulled += 1

    def _push(self, entity: str, remote_id: str, attachment: EntityFile) -> None:
        engine, drive = self.engine, self.drive
        assert drive is not None
        with engine.crm.read() as session:
            stored = session.get(StoredFile, attachment.sha256)
        path = blob_path(engine.crm.settings.files_dir, attachment.sha256)
        if stored is None or not path.is_file():
            log.warning("file %s of %s %s is missing from the data dir; not sent", attachment.name, entity, remote_id)
            return
        file_uuid = drive.upload(attachment.name, path.read_bytes(), stored.mime)
        drive.link(entity, remote_id, [file_uuid])
        with engine.uow() as work:
            engine.maps.set(work.session, "file", attachment.id, _key(file_uuid, entity, remote_id), "linked", work.now)
        self.pushed += 1
