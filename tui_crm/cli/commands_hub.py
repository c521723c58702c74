"""``crm hub``: a team hub on PostgreSQL (docs/hub.md).

``init`` creates or upgrades the hub schema; ``connect`` links this store
(the password goes to the secret store, never to a file); ``status`` shows
members, their last sync and the feed position; ``user add|deactivate|
delete`` manage members with the database owner's address (``--admin-url``
or ``CRM_HUB_ADMIN_URL``). Once connected, ``crm sync`` syncs with the hub.
Failures print one line and exit with 9, like every sync failure.
"""

from __future__ import annotations

import os
import secrets
import sys
from typing import Annotated

import typer

from tui_crm.cli.commands_sync import _sync_errors
from tui_crm.cli.output import clean, emit_json, say, table
from tui_crm.cli.state import state

hub_app = typer.Typer(help="A team hub on PostgreSQL: the same offline-first sync, without amoCRM.", no_args_is_help=True)
user_app = typer.Typer(help="Hub members (PostgreSQL roles): add, deactivate, delete with transfer.", no_args_is_help=True)
hub_app.add_typer(user_app, name="user")

UrlArg = Annotated[str, typer.Argument(help="postgresql://USER@HOST[:PORT]/DATABASE")]
AdminUrlOpt = Annotated[
    str | None,
    typer.Option("--admin-url", help="The database owner's address (default: $CRM_HUB_ADMIN_URL).", show_default=False),
]
PasswordStdin = Annotated[bool, typer.Option("--password-stdin", help="Read the password from stdin.")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON.")]


def _admin_url(given: str | None) -> str:
    from tui_crm.domain.errors import ValidationError

    url = given or os.environ.get("CRM_HUB_ADMIN_URL")
    if not url:
        raise ValidationError("admin-url", "give the database owner's address: --admin-url postgresql://OWNER@HOST/DATABASE")
    return url


def _stdin_password() -> str:
    from tui_crm.domain.errors import ValidationError

    password = sys.stdin.readline().rstrip("\r\n")
    if not password:
        raise ValidationError("password", "no password on stdin: echo PASS | crm hub connect URL --password-stdin")
    return password


@hub_app.command("init")
def init(url: UrlArg) -> None:
    """Create or upgrade the hub schema (run as the database's owner; safe to run again)."""
    from tui_crm.services.hub import init_hub

    with _sync_errors():
        before, after = init_hub(url)
    say(f"Hub schema {after}" + (" (already current)" if before == after else f" (was {before or 'empty'})"))


@hub_app.command("connect")
def connect(
    url: UrlArg,
    password_stdin: PasswordStdin = False,
    sslcert: Annotated[str | None, typer.Option("--sslcert", help="Client certificate (PEM) instead of a password.")] = None,
    sslkey: Annotated[str | None, typer.Option("--sslkey", help="The client certificate's key (PEM).")] = None,
) -> None:
    """Link this store to a hub; `crm sync` then syncs with it (password kept in the secret store)."""
    from tui_crm.services.hub import connect_hub

    password = _stdin_password() if password_stdin else None
    if (
        password is None
        and not sslcert
        and not os.environ.get("CRM_HUB_PASSWORD")
        and sys.stdin.isatty()
        and ":" not in url.split("@")[0].split("//")[-1]
    ):
        import getpass

        password = getpass.getpass("Hub password: ") or None
    with _sync_errors():
        done = connect_hub(state.crm(), url, password=password, sslcert=sslcert, sslkey=sslkey)
    say(
        f"Connected to {clean(done.name)} as {clean(done.login)} ({done.members} member(s)); "
        f"password kept in {clean(done.where)}."
    )
    say("Run `crm sync` to send this store's records and get the team's.")


@hub_app.command("disconnect")
def disconnect() -> None:
    """Stop syncing with the hub (nothing is deleted here or there)."""
    from tui_crm.services.hub import disconnect_hub

    disconnect_hub(state.crm())
    say("Disconnected from the hub.")


@hub_app.command("status")
def status(json_: JsonOpt = False) -> None:
    """Members, last sync per member, feed position."""
    from tui_crm.services import hub

    with _sync_errors():
        info = hub.status(state.crm())
    if json_:
        emit_json(info)
        return
    say(f"hub:      {clean(info.where)} (you are {clean(info.login)})")
    say(f"feed:     position {info.feed_position}; {info.records} record(s) you can see")
    table(
        "Members",
        ["login", "name", "role", "team", "active", "records", "last sync"],
        [
            (
                m.login,
                m.name,
                "admin" if m.is_admin else "manager",
                m.team,
                "yes" if m.active else "no",
                m.records,
                m.last_sync_at.strftime("%Y-%m-%d %H:%M") if m.last_sync_at else "never",
            )  # fmt: skip
            for m in info.members
        ],
    )


@user_app.command("add")
def user_add(
    login: Annotated[str, typer.Argument(help="Login (a PostgreSQL role; an existing role is reused).")],
    name: Annotated[str, typer.Option("--name", help="The member's name as the team sees it.")],
    email: Annotated[str | None, typer.Option("--email", help="E-mail (matches the member's local user).")] = None,
    admin: Annotated[bool, typer.Option("--admin", help="Sees and edits every record.")] = False,
    team: Annotated[str | None, typer.Option("--team", help="Team: managers see their team's records.")] = None,
    password_stdin: PasswordStdin = False,
    admin_url: AdminUrlOpt = None,
) -> None:
    """Add a member (a generated password is printed once when none is given)."""
    from tui_crm.services.hub import add_member

    password = _stdin_password() if password_stdin else secrets.token_urlsafe(18)
    with _sync_errors():
        member = add_member(_admin_url(admin_url), login, name, email=email, password=password, admin=admin, team=team)
    say(f"Added {clean(member.login)} ({clean(member.name)}, {'admin' if member.is_admin else 'manager'}).")
    if not password_stdin:
        say(f"Password (shown once, give it to the member): {password}")


@user_app.command("deactivate")
def user_deactivate(login: Annotated[str, typer.Argument(help="Login.")], admin_url: AdminUrlOpt = None) -> None:
    """The member can no longer log in or see anything; their records stay."""
    from tui_crm.services.hub import deactivate_member

    with _sync_errors():
        deactivate_member(_admin_url(admin_url), login)
    say(f"Deactivated {clean(login)}.")


@user_app.command("delete")
def user_delete(
    login: Annotated[str, typer.Argument(help="Login.")],
    transfer_to: Annotated[str, typer.Option("--transfer-to", help="Member who gets the records and open tasks.")],
    admin_url: AdminUrlOpt = None,
) -> None:
    """Hand the member's records and open tasks to another member, then remove the member."""
    from tui_crm.services.hub import delete_member

    with _sync_errors():
        moved = delete_member(_admin_url(admin_url), login, transfer_to)
    say(f"Deleted {clean(login)}; {moved} record(s) handed to {clean(transfer_to)}.")


def register(app: typer.Typer) -> None:
    app.add_typer(hub_app, name="hub")
