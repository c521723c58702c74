"""Alembic environment: runs against the connection the app hands in."""

from __future__ import annotations

from alembic import context
from sqlmodel import SQLModel

import tui_crm.storage.import_models  # noqa: F401  (registers the import tables)
import tui_crm.storage.mail_tables  # noqa: F401  (registers the mail tables)
import tui_crm.storage.models  # noqa: F401  (registers the tables)
import tui_crm.storage.report_tables  # noqa: F401  (registers the stage_event table)
import tui_crm.storage.sync_tables  # noqa: F401  (registers the sync tables)

target_metadata = SQLModel.metadata


def run_migrations() -> None:
    connection = context.config.attributes.get("connection")
    if connection is None:
        from sqlalchemy import create_engine

        engine = create_engine(context.config.get_main_option("sqlalchemy.url"))
        with engine.begin() as conn:
            _run(conn)
    else:
        _run(connection)


def _run(connection: object) -> None:
    context.configure(connection=connection, target_metadata=target_metadata, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()


run_migrations()
