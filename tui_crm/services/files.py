"""Files attached to records, stored once by content hash under the data dir."""

from __future__ import annotations

import hashlib
import mimetypes
from pathlib import Path

from sqlmodel import Session

from tui_crm.domain.errors import NotFoundError
from tui_crm.services.context import Crm
from tui_crm.services.records import resolve
from tui_crm.services.tasks import ENTITY_MODELS
from tui_crm.storage import blobs
from tui_crm.storage.models import EntityFile, StoredFile


def blob_path(crm: Crm, sha256: str) -> Path:
    return blobs.blob_path(crm.settings.files_dir, sha256)


def attach_file(crm: Crm, entity_type: str, ref: str, path: Path) -> str:
    """Copy the file into the store (once per content) and link it."""
    sha = _copy_in(crm, path)
    with crm.uow() as work:
        record = resolve(work.session, ENTITY_MODELS[entity_type], ref)
        _stored_row(work.session, sha, path)
        work.create(EntityFile(entity_type=entity_type, entity_id=record.id, sha256=sha, name=path.name))
    return sha


def keep_file(crm: Crm, path: Path) -> str:
    """The file's bytes in the content store and its ``StoredFile`` row (once per content); its SHA-256.

    Linking it to a record is the caller's, in the transaction that makes
    the record (intake), so a crash leaves at worst an unlinked blob.
    """
    sha = _copy_in(crm, path)
    with crm.uow() as work:
        _stored_row(work.session, sha, path)
    return sha


def _copy_in(crm: Crm, path: Path) -> str:
    if not path.is_file():
        raise NotFoundError(f"No file {path}")
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    sha = digest.hexdigest()
    blobs.keep_blob(crm.settings.files_dir, sha, source=path)
    return sha


def _stored_row(session: Session, sha: str, path: Path) -> None:
    if session.get(StoredFile, sha) is None:
        session.add(StoredFile(sha256=sha, size=path.stat().st_size, mime=mimetypes.guess_type(path.name)[0]))
        session.flush()  # no ORM relationship orders this insert before a link
