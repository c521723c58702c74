"""Tables of the importer: one row per import, one per source row.

``import_batch`` gives every import an id (for ``crm import undo ID`` and
``crm import list``) and records how far it got, so a killed import can be
resumed or undone. ``import_row`` keeps, per source row, what happened
(created / updated / skipped / rejected), the record it touched and the
row's fingerprint, by which an exact repeat of an already imported row is
recognised. What an update changed is in ``change_log`` under the
import's id as ``batch_id``: undo restores from there.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, Index, Text
from sqlmodel import Field

from tui_crm.domain.ids import new_id, utcnow
from tui_crm.storage.models import Row


class ImportBatch(Row, table=True):
    __tablename__ = "import_batch"

    id: str = Field(default_factory=new_id, primary_key=True, max_length=32)
    created_at: datetime = Field(default_factory=utcnow)
    finished_at: datetime | None = None
    file_name: str
    file_sha256: str = Field(index=True)
    kind: str  # deals | contacts
    mode: str  # create | update | upsert
    policy: str  # strict | lenient
    status: str = "running"  # running | done | undone
    user_id: str | None = None
    rows_done: int = 0  # source rows handled by committed batches (resume point)
    counts_json: str = Field(default="{}", sa_column=Column(Text, nullable=False))


class ImportRow(Row, table=True):
    __tablename__ = "import_row"
    __table_args__ = (
        Index("ix_import_row_import", "import_id", "line"),
        Index("ix_import_row_fingerprint", "fingerprint"),
        Index("ix_import_row_entity", "entity_id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    import_id: str = Field(foreign_key="import_batch.id")
    line: int
    action: str  # created | updated | skipped | rejected
    entity: str | None = None
    entity_id: str | None = None
    fingerprint: str | None = None
    reason: str | None = Field(default=None, sa_column=Column(Text))
