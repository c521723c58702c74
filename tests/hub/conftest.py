"""Hub fixtures: one real PostgreSQL per test session (xdist worker), a fresh
hub database per test (``CREATE DATABASE … TEMPLATE`` a migrated template),
members as real login roles, and several local stores (separate SQLite
files) connected to the hub.

* ``pg``: the server (:mod:`tests.hub.pg_server`), stopped at session end.
* ``hub``: a :class:`Hub` with a fresh database; ``hub.member('alice')``
  adds a member (role ``<db>_alice``, unique across the cluster) and returns
  its login and URL; ``hub.admin()`` is a superuser connection.
* ``client``: ``client('Анна', member)`` opens a new local store (its own
  SQLite file) for that user and connects it to the hub; ``sync(crm)``
  runs one ``crm sync`` in-process.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.hub.pg_server import PgServer, start_server

_counter = itertools.count(1)


@pytest.fixture(scope="session")
def pg() -> Iterator[PgServer]:
    server = start_server()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def hub_template(pg: PgServer) -> str:
    import psycopg

    from tui_crm.sync.hub.schema import init_hub

    with psycopg.connect(pg.dsn(), autocommit=True) as conn:
        conn.execute("CREATE DATABASE hub_template")
    init_hub(pg.dsn("hub_template"))
    return "hub_template"


@dataclass
class MemberLogin:
    login: str
    password: str
    url: str  # without password

    def url_with_password(self) -> str:
        return self.url.replace(f"{self.login}@", f"{self.login}:{self.password}@")


class Hub:
    def __init__(self, pg: PgServer, dbname: str) -> None:
        self.pg = pg
        self.dbname = dbname
        self.admin_url = pg.dsn(dbname)

    def admin(self) -> Any:
        import psycopg

        return psycopg.connect(self.admin_url, autocommit=True)

    def member(self, name: str, *, display: str | None = None, admin: bool = False, team: str | None = None,
               email: str | None = None) -> MemberLogin:  # fmt: skip
        from tui_crm.services.hub import add_member

        login = f"{self.dbname}_{name}"
        password = f"pw-{name}-{self.dbname}"
        add_member(self.admin_url, login, display or name, email=email, password=password, admin=admin, team=team)
        return MemberLogin(login, password, f"postgresql://{login}@127.0.0.1:{self.pg.port}/{self.dbname}")

    def connect_as(self, member: MemberLogin) -> Any:
        import psycopg

        return psycopg.connect(member.url, password=member.password, autocommit=True)


@pytest.fixture
def hub(pg: PgServer, hub_template: str) -> Iterator[Hub]:
    import psycopg

    dbname = f"hub_{next(_counter)}"
    with psycopg.connect(pg.dsn(), autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {dbname} TEMPLATE {hub_template}")
    made = Hub(pg, dbname)
    yield made
    with psycopg.connect(pg.dsn(), autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {dbname} WITH (FORCE)")
        roles = [r[0] for r in conn.execute("SELECT rolname FROM pg_roles WHERE rolname LIKE %s", (f"{dbname}\\_%",))]
        for role in roles:
            conn.execute(f'DROP ROLE IF EXISTS "{role}"')


@pytest.fixture
def client(tmp_path: Path, open_store: Callable[..., Any], hub: Hub, memory_keyring: Any) -> Callable[..., Any]:
    """``client(user, member)``: a new local store for ``user`` connected to the hub as ``member``."""
    from tui_crm.services.hub import connect_hub

    def make(user: str, member: MemberLogin) -> Any:
        crm = open_store(user=user, db=tmp_path / f"{member.login}-{next(_counter)}.db")
        connect_hub(crm, member.url, password=member.password)
        return crm

    return make


@pytest.fixture
def sync() -> Callable[..., Any]:
    """``sync(crm)``: one sync with the connected hub (push then pull); refused records fail the test."""
    from tui_crm.services.sync import run_sync

    def run(crm: Any, *, allow_errors: bool = False, **kwargs: Any) -> Any:
        report = run_sync(crm, **kwargs)
        assert allow_errors or not report.errors, report.errors
        return report

    return run
