"""stage_event: deals' stage entries copied from the change log by a trigger, for the reports

Revision ID: 0016_reports
Revises: 0013_mail_tls
Create Date: 2026-12-04 18:00:00

The funnel counts deals entering each stage and the time they spent there.
Reading those from ``change_log.changes`` (JSON) took ~1 s on 100k deals
with their history even with an expression index, since SQLite 3.40 still
reads each row to evaluate the JSON. ``stage_event`` holds one narrow row
per stage entry; ``tr_change_log_stage`` fills it on every change-log insert
(any writer), and the upgrade backfills it from the existing log.
Also indexes for the activity report: calls by author, tasks completed and
deals changed by each user.
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel
from alembic import op

from tui_crm.storage.report_tables import STAGE_EVENT_COLUMNS, STAGE_EVENT_VALUES, STAGE_EVENT_WHEN

revision = "0016_reports"
down_revision = "0013_mail_tls"
branch_labels = None
depends_on = None

TRIGGER = "tr_change_log_stage"


def upgrade() -> None:
    op.create_table(
        "stage_event",
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("deal_id", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("from_stage", sqlmodel.sql.sqltypes.AutoString(), nullable=True),
        sa.Column("to_stage", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("user_id", sqlmodel.sql.sqltypes.AutoString(), nullable=True),
        sa.PrimaryKeyConstraint("seq"),
    )
    op.create_index("ix_stage_event_stage", "stage_event", ["to_stage", "at", "deal_id", "from_stage"])
    op.create_index("ix_stage_event_deal", "stage_event", ["deal_id", "seq", "to_stage", "at", "from_stage"])
    op.execute(
        f"INSERT INTO stage_event({STAGE_EVENT_COLUMNS}) SELECT {STAGE_EVENT_VALUES.format(row='c')}"
        f" FROM change_log c WHERE {STAGE_EVENT_WHEN.format(row='c')}"
    )
    op.execute(
        f"CREATE TRIGGER {TRIGGER} AFTER INSERT ON change_log WHEN {STAGE_EVENT_WHEN.format(row='NEW')}"
        f" BEGIN INSERT INTO stage_event({STAGE_EVENT_COLUMNS}) VALUES ({STAGE_EVENT_VALUES.format(row='NEW')}); END"
    )
    op.create_index("ix_note_call_author", "note", ["author_id", "created_at"], sqlite_where=sa.text("kind = 'call'"))
    op.create_index("ix_change_deal_user", "change_log", ["user_id", "at", "entity_id"], sqlite_where=sa.text("entity = 'deal'"))
    op.create_index("ix_task_completed", "task", ["completed_at", "responsible_id"], sqlite_where=sa.text("completed_at IS NOT NULL"))


def downgrade() -> None:
    op.drop_index("ix_task_completed", table_name="task")
    op.drop_index("ix_change_deal_user", table_name="change_log")
    op.drop_index("ix_note_call_author", table_name="note")
    op.execute(f"DROP TRIGGER IF EXISTS {TRIGGER}")
    op.drop_index("ix_stage_event_deal", table_name="stage_event")
    op.drop_index("ix_stage_event_stage", table_name="stage_event")
    op.drop_table("stage_event")
