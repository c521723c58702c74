"""Hub members as PostgreSQL roles, and the hub's status.

A member is a login role granted ``tui_crm_hub`` plus a ``hub_user`` row
(name, e-mail, admin, team, active). What a member may read or write is
decided by row-level security in the database (see the schema migration),
never by checks in the client. Adding, deactivating and deleting members
needs a connection of the database's owner (who may create roles):
``--admin-url``. Passwords are sent as SCRAM verifiers computed here
(``PQencryptPasswordConn``), so the clear text never reaches the server's
statement log.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from tui_crm.domain.errors import NotFoundError, ValidationError

LOGIN = re.compile(r"^[a-z_][a-z0-9_.-]{0,62}$")


@dataclass
class Member:
    login: str
    name: str
    email: str | None
    is_admin: bool
    team: str | None
    active: bool
    last_sync_at: datetime | None
    records: int = 0  # records this member owns


@dataclass
class HubStatus:
    where: str
    login: str
    members: list[Member]
    feed_position: int  # newest change in the feed
    records: int  # records this connection may see


def check_login(login: str) -> str:
    login = login.strip()
    if not LOGIN.match(login):
        raise ValidationError(
            "login", f"{login!r} is not a usable login: lowercase letters, digits, _ . - (a PostgreSQL role name)"
        )
    return login


def add_member(conn: Any, login: str, name: str, *, email: str | None = None, password: str | None = None,
               admin: bool = False, team: str | None = None) -> Member:  # fmt: skip
    """Create the role (or reuse an existing one), grant it the hub, add the member row."""
    from psycopg import sql

    login = check_login(login)
    if not name.strip():
        raise ValidationError("name", "give the member's name (--name)")
    with conn.transaction():
        if conn.execute("SELECT 1 FROM hub_user WHERE login = %s", (login,)).fetchone():
            raise ValidationError("login", f"{login} is already a member of this hub")
        exists = conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (login,)).fetchone()
        if not exists:
            conn.execute(sql.SQL("CREATE ROLE {} LOGIN").format(sql.Identifier(login)))
        if password:
            verifier = conn.pgconn.encrypt_password(password.encode(), login.encode(), b"scram-sha-256").decode()
            conn.execute(sql.SQL("ALTER ROLE {} LOGIN PASSWORD {}").format(sql.Identifier(login), sql.Literal(verifier)))
        conn.execute(sql.SQL("GRANT tui_crm_hub TO {}").format(sql.Identifier(login)))
        conn.execute(
            "INSERT INTO hub_user (login, name, email, is_admin, team) VALUES (%s, %s, %s, %s, %s)",
            (login, name.strip(), email, admin, team),
        )
    return Member(login, name.strip(), email, admin, team, True, None)


def _member(conn: Any, login: str) -> None:
    if not conn.execute("SELECT 1 FROM hub_user WHERE login = %s", (login,)).fetchone():
        raise NotFoundError(f"No member {login!r} on this hub. List them with: crm hub status")


def deactivate_member(conn: Any, login: str) -> None:
    """The member can no longer log in, and sees nothing even on a session still open."""
    from psycopg import sql

    with conn.transaction():
        _member(conn, login)
        conn.execute("UPDATE hub_user SET active = false WHERE login = %s", (login,))
        conn.execute(sql.SQL("ALTER ROLE {} NOLOGIN").format(sql.Identifier(login)))


def delete_member(conn: Any, login: str, transfer_to: str) -> int:
    """Hand the member's records and open tasks to ``transfer_to``, then remove the member.

    Deals, contacts, companies and open tasks get the new responsible (so
    every laptop pulls the change); the member's other records (completed
    tasks, notes) change owner only, so they stay visible to the new owner.
    Returns the number of records handed over."""
    from psycopg import sql

    if transfer_to == login:
        raise ValidationError("transfer-to", "give another member to hand the records to")
    with conn.transaction():
        _member(conn, login)
        target = conn.execute("SELECT active FROM hub_user WHERE login = %s", (transfer_to,)).fetchone()
        if target is None or not target[0]:
            raise ValidationError("transfer-to", f"{transfer_to!r} is not an active member of this hub")
        moved = conn.execute(
            "UPDATE hub_record SET fields = jsonb_set(fields, '{responsible_id}', to_jsonb(%s::text)) "
            "WHERE owner = %s AND (entity IN ('deal', 'contact', 'company') "
            "OR (entity = 'task' AND NOT coalesce((fields ->> 'completed')::boolean, false)))",
            (transfer_to, login),
        ).rowcount
        moved += conn.execute("UPDATE hub_record SET owner = %s WHERE owner = %s", (transfer_to, login)).rowcount
        conn.execute("DELETE FROM hub_user WHERE login = %s", (login,))
        conn.execute(sql.SQL("REVOKE tui_crm_hub FROM {}").format(sql.Identifier(login)))
        conn.execute(sql.SQL("ALTER ROLE {} NOLOGIN").format(sql.Identifier(login)))
    try:
        with conn.transaction():
            conn.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(login)))
    except Exception:  # noqa: BLE001 - a role that owns objects elsewhere stays, without login and without the hub
        pass
    return moved


def hub_status(conn: Any, where: str) -> HubStatus:
    """Members (last sync each), the feed's newest position, records visible to this connection."""
    with conn.transaction():
        login = conn.execute("SELECT session_user").fetchone()[0]
        owned = dict(conn.execute("SELECT owner, count(*) FROM hub_record WHERE NOT deleted GROUP BY owner").fetchall())
        members = [
            Member(login_, name, email, admin, team, active, last, int(owned.get(login_, 0)))
            for login_, name, email, admin, team, active, last in conn.execute(
                "SELECT login, name, email, is_admin, team, active, last_sync_at FROM hub_user ORDER BY login"
            )
        ]
        position = conn.execute("SELECT coalesce(max(seq), 0) FROM hub_feed").fetchone()[0]
        records = sum(owned.values())
    return HubStatus(where, login, members, int(position), int(records))
