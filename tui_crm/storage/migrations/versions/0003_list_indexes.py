"""Covering indexes for deep list pages and board totals

Revision ID: 0003_list_indexes
Revises: 0002_sync
Create Date: 2026-11-26 22:50:00

Measured on 100k deals (docs/benchmarks.md): a list page at offset 50 000
went from ~700 ms to a few ms, and the board's per-stage totals from ~100 ms
to ~7 ms, because SQLite can answer them from the index alone.
"""

from __future__ import annotations

from alembic import op

revision = "0003_list_indexes"
down_revision = "0002_sync"
branch_labels = None
depends_on = None

INDEXES = {
    "ix_deal_recent": ["deleted_at", "updated_at", "id"],
    "ix_deal_pipeline_recent": ["pipeline_id", "deleted_at", "updated_at", "id"],
    "ix_deal_name": ["deleted_at", "name_fold", "id"],
    "ix_deal_stage_totals": ["pipeline_id", "deleted_at", "stage_id", "budget_rub", "budget_usd"],
}


def upgrade() -> None:
    for name, columns in INDEXES.items():
        op.create_index(name, "deal", columns)


def downgrade() -> None:
    for name in INDEXES:
        op.drop_index(name, table_name="deal")
