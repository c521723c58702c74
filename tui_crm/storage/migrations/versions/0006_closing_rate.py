"""Closing rate: the Bank of Russia's rate a deal was won at, and a cache of rates

Revision ID: 0006_closing_rate
Revises: 0005_agenda_indexes
Create Date: 2026-12-04 15:05:00

A deal won in RUB at the closing day's USD rate keeps that rate and its
date (``deal.closing_rate``, ``deal.closing_rate_date``). Rates fetched
from the Bank of Russia are cached per currency and day
(``exchange_rate``), so a closing works offline once the day's rate has
been seen and the service is asked once per day.
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = "0006_closing_rate"
down_revision = "0005_agenda_indexes"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("deal", schema=None) as batch_op:
        batch_op.add_column(sa.Column("closing_rate", sqlmodel.sql.sqltypes.AutoString(), nullable=True))
        batch_op.add_column(sa.Column("closing_rate_date", sa.Date(), nullable=True))
    op.create_table(
        "exchange_rate",
        sa.Column("currency", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("rate", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("rate_date", sa.Date(), nullable=False),
        sa.Column("fetched_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("currency", "day"),
    )


def downgrade() -> None:
    op.drop_table("exchange_rate")
    with op.batch_alter_table("deal", schema=None) as batch_op:
        batch_op.drop_column("closing_rate_date")
        batch_op.drop_column("closing_rate")
