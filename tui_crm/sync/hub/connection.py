"""How a store reaches its hub: a ``postgresql://user@host:port/db`` URL kept in
the store's settings *without* its password, an optional client certificate
(paths only), and the password in the secret store (:mod:`tui_crm.secrets`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote, urlsplit, urlunsplit

from tui_crm.domain.errors import ValidationError


@dataclass(frozen=True)
class HubAddress:
    url: str  # without password
    user: str
    host: str
    port: int
    dbname: str
    password: str | None = None  # only when the URL typed carried one (moved to the secret store)

    @property
    def name(self) -> str:
        """The adapter's name: keys the id map, cursors and shadows of this hub."""
        return f"hub:{self.host}:{self.port}/{self.dbname}"

    @property
    def secret_key(self) -> str:
        return f"hub:{self.user}@{self.host}:{self.port}/{self.dbname}"


def parse_url(url: str) -> HubAddress:
    """A hub address from ``postgresql://user[:password]@host[:port]/dbname[?…]``."""
    raw = (url or "").strip()
    parts = urlsplit(raw)
    if parts.scheme not in ("postgresql", "postgres") or not parts.hostname:
        raise ValidationError("url", f"{raw!r} is not a PostgreSQL address; give postgresql://USER@HOST[:PORT]/DATABASE")
    dbname = unquote(parts.path.lstrip("/"))
    if not dbname or not parts.username:
        raise ValidationError("url", "the address needs a user and a database: postgresql://USER@HOST[:PORT]/DATABASE")
    try:
        port = parts.port or 5432
    except ValueError:
        raise ValidationError("url", f"{raw!r} has a port that is not a number") from None
    user = unquote(parts.username)
    host = parts.hostname
    netloc = f"{parts.username}@{'[' + host + ']' if ':' in host else host}:{port}"
    clean = urlunsplit(("postgresql", netloc, parts.path, parts.query, ""))
    password = unquote(parts.password) if parts.password else None
    return HubAddress(clean, user, host, port, dbname, password)


def connect(address: HubAddress, password: str | None, *, sslcert: str | None = None, sslkey: str | None = None,
            autocommit: bool = False, **extra: Any) -> Any:  # fmt: skip
    """A psycopg connection to the hub (raises psycopg's errors)."""
    import psycopg

    kwargs: dict[str, Any] = {"application_name": "tui-crm", "connect_timeout": 10, **extra}
    if password:
        kwargs["password"] = password
    if sslcert:
        kwargs["sslcert"] = sslcert
        kwargs["sslkey"] = sslkey or sslcert
    return psycopg.connect(address.url, autocommit=autocommit, **kwargs)
