"""sync tables: id map, cursors, shadow, conflicts, unsorted links, adapter metadata

Revision ID: 0002_sync
Revises: 0001_initial
Create Date: 2026-11-26 22:23:29.979157
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel
from alembic import op


revision = '0002_sync'
down_revision = "0001_initial"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('sync_conflict',
    sa.Column('id', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
    sa.Column('adapter', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('kind', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('entity', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('local_id', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('field', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('base_json', sa.Text(), nullable=True),
    sa.Column('local_json', sa.Text(), nullable=True),
    sa.Column('remote_json', sa.Text(), nullable=True),
    sa.Column('detail', sa.Text(), nullable=True),
    sa.Column('created_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.Column('updated_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.Column('resolved_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
    sa.Column('resolution', sqlmodel.sql.sqltypes.AutoString(), nullable=True),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('sync_conflict', schema=None) as batch_op:
        batch_op.create_index('ix_sync_conflict_open', ['resolved_at', 'entity', 'local_id'], unique=False)

    op.create_table('sync_cursor',
    sa.Column('adapter', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('entity', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('since', sa.Integer(), nullable=True),
    sa.Column('page', sa.Integer(), nullable=False),
    sa.Column('max_seen', sa.Integer(), nullable=True),
    sa.Column('pass_started', sa.Integer(), nullable=True),
    sa.Column('done_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
    sa.Column('updated_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('adapter', 'entity')
    )
    op.create_table('sync_id_map',
    sa.Column('adapter', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('entity', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('local_id', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('remote_id', sqlmodel.sql.sqltypes.AutoString(), nullable=True),
    sa.Column('state', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('attempt_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
    sa.Column('remote_updated_at', sa.Integer(), nullable=True),
    sa.Column('updated_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('adapter', 'entity', 'local_id'),
    sa.UniqueConstraint('adapter', 'entity', 'remote_id', name='uq_sync_id_map_remote')
    )
    with op.batch_alter_table('sync_id_map', schema=None) as batch_op:
        batch_op.create_index('ix_sync_id_map_state', ['adapter', 'entity', 'state'], unique=False)

    op.create_table('sync_meta',
    sa.Column('adapter', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('key', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('value_json', sa.Text(), nullable=False),
    sa.Column('updated_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('adapter', 'key')
    )
    op.create_table('sync_shadow',
    sa.Column('adapter', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('entity', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('local_id', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('fields_json', sa.Text(), nullable=False),
    sa.Column('remote_updated_at', sa.Integer(), nullable=True),
    sa.Column('updated_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('adapter', 'entity', 'local_id')
    )
    op.create_table('sync_unsorted_link',
    sa.Column('adapter', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('uid', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('local_id', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('remote_lead_id', sqlmodel.sql.sqltypes.AutoString(), nullable=True),
    sa.Column('remote_contact_id', sqlmodel.sql.sqltypes.AutoString(), nullable=True),
    sa.Column('pushed', sqlmodel.sql.sqltypes.AutoString(), nullable=True),
    sa.Column('updated_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('adapter', 'uid')
    )
    with op.batch_alter_table('sync_unsorted_link', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_sync_unsorted_link_local_id'), ['local_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('sync_unsorted_link', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_sync_unsorted_link_local_id'))

    op.drop_table('sync_unsorted_link')
    op.drop_table('sync_shadow')
    op.drop_table('sync_meta')
    with op.batch_alter_table('sync_id_map', schema=None) as batch_op:
        batch_op.drop_index('ix_sync_id_map_state')

    op.drop_table('sync_id_map')
    op.drop_table('sync_cursor')
    with op.batch_alter_table('sync_conflict', schema=None) as batch_op:
        batch_op.drop_index('ix_sync_conflict_open')

    op.drop_table('sync_conflict')
