"""Alembic environment of the hub's PostgreSQL schema (not the local SQLite one).

Runs on the connection :func:`tui_crm.sync.hub.schema.init_hub` hands in; the
version table is ``hub_alembic_version`` so a database shared with other
applications keeps its own ``alembic_version``.
"""

from __future__ import annotations

from alembic import context


def run_migrations() -> None:
    connection = context.config.attributes["connection"]
    context.configure(connection=connection, target_metadata=None, version_table="hub_alembic_version")
    with context.begin_transaction():
        context.run_migrations()


run_migrations()
