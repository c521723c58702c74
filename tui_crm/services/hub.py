"""Team hub use cases the CLI and the TUI call: init, connect, the adapter for
``crm sync``, members and status (docs/hub.md).

The store keeps the hub's address without its password (``sync.hub.url``),
the client certificate's paths if any, and a random client id
(``sync.hub.client``: the hub does not send a client's own writes back to
it). The password lives only in the secret store (:mod:`tui_crm.secrets`).
While a hub is connected, ``crm sync`` syncs with it instead of amoCRM.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from tui_crm.domain.errors import ValidationError
from tui_crm.domain.ids import new_id
from tui_crm.services.context import Crm
from tui_crm.storage.models import Setting
from tui_crm.storage.settings import put_setting

if TYPE_CHECKING:
    from tui_crm.sync.hub.adapter import HubAdapter
    from tui_crm.sync.hub.members import HubStatus, Member

URL_KEY = "sync.hub.url"
CERT_KEY = "sync.hub.sslcert"
KEY_KEY = "sync.hub.sslkey"
CLIENT_KEY = "sync.hub.client"
PASSWORD_ENV = "CRM_HUB_PASSWORD"


@dataclass
class HubConnected:
    name: str  # the adapter name (hub:host:port/db)
    url: str  # without password
    login: str
    where: str  # where the password is kept
    members: int


def _setting(crm: Crm, key: str) -> str | None:
    with crm.read() as session:
        row = session.get(Setting, key)
    return row.value if row and row.value else None


def hub_url(crm: Crm) -> str | None:
    """The connected hub's address (no password), None when the store has no hub."""
    return _setting(crm, URL_KEY)


def hub_name(crm: Crm) -> str | None:
    from tui_crm.sync.hub.connection import parse_url

    url = hub_url(crm)
    return parse_url(url).name if url else None


def init_hub(url: str) -> tuple[str | None, str]:
    """Create or upgrade the hub schema at ``url`` (the database owner's address; a password in the
    URL, ``PGPASSWORD`` or ``~/.pgpass`` as libpq finds it). Returns (revision before, after)."""
    import sqlalchemy.exc

    from tui_crm.sync.hub.connection import parse_url
    from tui_crm.sync.hub.errors import explain
    from tui_crm.sync.hub.schema import init_hub as run

    address = parse_url(url)
    try:
        return run(url.strip())
    except sqlalchemy.exc.DBAPIError as exc:
        raise explain(exc.orig or exc, f"{address.host}:{address.port}/{address.dbname}") from None


def _check_file(option: str, path: str | None) -> str | None:
    if not path:
        return None
    full = os.path.abspath(os.path.expanduser(path))
    if not os.path.isfile(full):
        raise ValidationError(option, f"{path} is not a file; give the path of the client certificate (PEM)")
    return full


def connect_hub(
    crm: Crm, url: str, *, password: str | None = None, sslcert: str | None = None, sslkey: str | None = None
) -> HubConnected:
    """Check the address and the login (one connection, membership), then keep the address
    here and the password in the secret store. Nothing is saved when the hub refuses."""
    from tui_crm.secrets import default_store, describe
    from tui_crm.sync.hub.connection import parse_url

    address = parse_url(url)
    given = password or address.password or None
    secret = given or os.environ.get(PASSWORD_ENV) or None  # the environment's password is used, never stored
    cert, key = _check_file("--sslcert", sslcert), _check_file("--sslkey", sslkey)
    store = default_store() if given else None
    if store is not None:
        store.check()
    client = _setting(crm, CLIENT_KEY) or new_id()
    adapter = _adapter(crm, address.url, secret, cert, key, client)
    try:
        from tui_crm.sync.adapter import LocalSchema

        meta = adapter.open(LocalSchema(custom_fields={}), {})
    finally:
        adapter.close()
    if store is not None and given:
        store.set(address.secret_key, given)
    with crm.uow() as work:
        put_setting(work.session, URL_KEY, address.url)
        put_setting(work.session, CERT_KEY, cert)
        put_setting(work.session, KEY_KEY, key)
        put_setting(work.session, CLIENT_KEY, client)
    where = describe(store) if store else (f"the environment ({PASSWORD_ENV})" if secret else "nowhere (libpq's own)")
    return HubConnected(address.name, address.url, address.user, where, len(meta.users))


def disconnect_hub(crm: Crm) -> None:
    with crm.uow() as work:
        for key in (URL_KEY, CERT_KEY, KEY_KEY):
            put_setting(work.session, key, None)


def _pipelines(crm: Crm) -> list[Any]:
    from tui_crm.sync.adapter import RemotePipeline, RemoteStage

    out = []
    for n, pipeline in enumerate(crm.pipelines.pipelines):
        stages = [
            RemoteStage(f"{pipeline.key}:{stage.key}", stage.name, m, "normal" if stage.kind == "lead" else stage.kind)
            for m, stage in enumerate(pipeline.stages)
        ]
        out.append(RemotePipeline(pipeline.key, pipeline.name, n, stages))
    return out


def _adapter(crm: Crm, url: str, password: str | None, cert: str | None, key: str | None, client: str) -> HubAdapter:
    from tui_crm.sync.hub.adapter import HubAdapter
    from tui_crm.sync.hub.connection import parse_url

    return HubAdapter(parse_url(url), password, pipelines=_pipelines(crm), client_id=client, sslcert=cert, sslkey=key)


def _password(url: str) -> str | None:
    from tui_crm.secrets import SecretStoreError, default_store
    from tui_crm.sync.hub.connection import parse_url

    if os.environ.get(PASSWORD_ENV):
        return os.environ[PASSWORD_ENV]
    try:
        return default_store().get(parse_url(url).secret_key)
    except SecretStoreError:
        return None  # libpq may still find one (~/.pgpass), or a client certificate logs in


def make_hub_adapter(crm: Crm) -> HubAdapter:
    """The adapter of the connected hub (password from the secret store)."""
    from tui_crm.services.sync import SyncNotConfigured

    url = hub_url(crm)
    if url is None:
        raise SyncNotConfigured("No hub is connected. Run: crm hub connect postgresql://USER@HOST/DATABASE")
    client = _setting(crm, CLIENT_KEY) or new_id()
    return _adapter(crm, url, _password(url), _setting(crm, CERT_KEY), _setting(crm, KEY_KEY), client)


# ----------------------------------------------------------------- members


def _admin_conn(admin_url: str) -> Any:
    import psycopg

    from tui_crm.sync.hub.connection import parse_url
    from tui_crm.sync.hub.errors import explain

    address = parse_url(admin_url)
    try:
        return psycopg.connect(admin_url.strip(), application_name="tui-crm", connect_timeout=10)
    except psycopg.Error as exc:
        raise explain(exc, f"{address.host}:{address.port}/{address.dbname}") from None


def _with_admin(admin_url: str, action: Any) -> Any:
    import psycopg

    from tui_crm.sync.hub.connection import parse_url
    from tui_crm.sync.hub.errors import explain

    address = parse_url(admin_url)
    conn = _admin_conn(admin_url)
    try:
        return action(conn)
    except psycopg.Error as exc:
        raise explain(exc, f"{address.host}:{address.port}/{address.dbname}") from None
    finally:
        conn.close()


def add_member(admin_url: str, login: str, name: str, *, email: str | None = None, password: str | None = None,
               admin: bool = False, team: str | None = None) -> Member:  # fmt: skip
    from tui_crm.sync.hub import members

    login = members.check_login(login)  # before connecting: a bad login costs no round trip
    return _with_admin(
        admin_url, lambda c: members.add_member(c, login, name, email=email, password=password, admin=admin, team=team)
    )


def deactivate_member(admin_url: str, login: str) -> None:
    from tui_crm.sync.hub import members

    _with_admin(admin_url, lambda c: members.deactivate_member(c, login))


def delete_member(admin_url: str, login: str, transfer_to: str) -> int:
    from tui_crm.sync.hub import members

    return int(_with_admin(admin_url, lambda c: members.delete_member(c, login, transfer_to)))


def status(crm: Crm) -> HubStatus:
    """Members, last sync per member, the feed position, as the connected member sees them."""
    from tui_crm.sync.hub import members

    adapter = make_hub_adapter(crm)
    try:
        return adapter._run(lambda conn: members.hub_status(conn, adapter.where))  # type: ignore[no-any-return]
    finally:
        adapter.close()


# -------------------------------------------------------------------- live


def start_listener(crm: Crm, on_change: Any, on_state: Any = None) -> Any:
    """Start listening to the connected hub (None when no hub is connected); ``stop()`` it on exit."""
    from tui_crm.sync.hub.connection import parse_url
    from tui_crm.sync.hub.listen import HubListener

    url = hub_url(crm)
    if url is None:
        return None
    client = _setting(crm, CLIENT_KEY) or ""
    return HubListener(
        parse_url(url),
        _password(url),
        client,
        on_change,
        sslcert=_setting(crm, CERT_KEY),
        sslkey=_setting(crm, KEY_KEY),
        on_state=on_state,
    ).start()


def hub_label(name: str | None) -> str:
    """``hub:db.example.com:5432/team`` as the status bar shows it: ``hub db.example.com/team``."""
    if not name or not name.startswith("hub:"):
        return ""
    host_port, _, db = name[4:].partition("/")
    return f"hub {host_port.rsplit(':', 1)[0]}/{db}"
