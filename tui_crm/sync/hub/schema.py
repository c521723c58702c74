"""Creating and upgrading the hub's PostgreSQL schema (Alembic, its own environment).

``crm hub init URL`` runs :func:`init_hub` with a connection of the
database's owner (a role that may also create roles, since members are
PostgreSQL roles). Migrations live in ``sync/hub/migrations``; the version
is kept in ``hub_alembic_version``.
"""

from __future__ import annotations

from pathlib import Path

MIGRATIONS = Path(__file__).with_name("migrations")
HUB_HEAD = "0001_hub"


def sqlalchemy_url(url: str) -> str:
    """``postgresql://…`` as SQLAlchemy's psycopg 3 dialect wants it."""
    for prefix in ("postgresql+psycopg://", "postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    raise ValueError(url)


def init_hub(url: str, **connect_args: object) -> tuple[str | None, str]:
    """Create or upgrade the hub schema; returns (revision before, revision after)."""
    from alembic import command
    from alembic.config import Config
    from sqlalchemy import create_engine
    from sqlalchemy.pool import NullPool

    engine = create_engine(sqlalchemy_url(url), poolclass=NullPool, connect_args=dict(connect_args))
    try:
        before = hub_revision_of(engine)
        config = Config()
        config.set_main_option("script_location", str(MIGRATIONS))
        with engine.begin() as connection:
            config.attributes["connection"] = connection
            command.upgrade(config, "head")
        return before, hub_revision_of(engine) or HUB_HEAD
    finally:
        engine.dispose()


def hub_revision_of(engine: object) -> str | None:
    from sqlalchemy import text

    with engine.connect() as connection:  # type: ignore[attr-defined]
        exists = connection.execute(text("SELECT to_regclass('hub_alembic_version') IS NOT NULL")).scalar()
        if not exists:
            return None
        return connection.execute(text("SELECT version_num FROM hub_alembic_version")).scalar()
