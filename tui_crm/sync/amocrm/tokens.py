"""amoCRM OAuth tokens: their store and a refresh that is safe to race.

Tokens live only in the user's secret store (:mod:`tui_crm.secrets`: the OS
keyring, or the passphrase-encrypted file on a headless machine), as one
JSON secret per account named ``"amocrm:<account_key>"``; never in plain
files or logs, and ``repr()`` of every object here hides them. A long-lived
token may instead come from ``CRM_AMOCRM_TOKEN``.

amoCRM refresh tokens are single use, globally: whoever refreshes first
invalidates the pair every other holder has (reference section 1.1). So
:class:`TokenManager` refreshes under a lock shared by the threads of this
process and, through ``fcntl.flock`` on ``<lock_dir>/<store.lock_name>.lock``,
by other processes; once it holds the lock it re-reads the store, and uses
the pair another process stored meanwhile instead of refreshing again. The
new pair is saved before it is used. Long-lived tokens (private
integrations) have no refresh token and are never refreshed.
"""

from __future__ import annotations

import base64
import json
import os
import re
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import httpx

from tui_crm.secrets import SecretStore, SecretStoreError, default_store

from .errors import AmoAuthError, AmoError, AmoTokenStoreError, AmoUnavailable, error_from_response

try:  # POSIX; elsewhere only the threads of one process are serialised.
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

REFRESH_LEEWAY = 60
TOKEN_PATH = "/oauth2/access_token"

_RECONNECT = "Reconnect the amoCRM integration (authorize tui-crm again) to get new tokens."


@dataclass(frozen=True, repr=False)
class TokenPair:
    """An access token, its refresh token (None for long-lived tokens) and expiry (unix s)."""

    access_token: str
    refresh_token: str | None
    expires_at: int | None
    token_type: str = "Bearer"

    def __repr__(self) -> str:
        refresh = "'***'" if self.refresh_token else "None"
        return (
            f"TokenPair(access_token='***', refresh_token={refresh}, expires_at={self.expires_at}, long_lived={self.long_lived})"
        )

    __str__ = __repr__

    @property
    def long_lived(self) -> bool:
        """True for a long-lived token: nothing to refresh it with."""
        return self.refresh_token is None

    def expired(self, now: float | None = None, leeway: float = REFRESH_LEEWAY) -> bool:
        """Whether the access token expires within ``leeway`` seconds."""
        if self.expires_at is None:
            return False
        moment = time.time() if now is None else now
        return moment + leeway >= self.expires_at

    def to_json(self) -> str:
        """The secret stored in the keyring."""
        return json.dumps(
            {
                "access_token": self.access_token,
                "refresh_token": self.refresh_token,
                "expires_at": self.expires_at,
                "token_type": self.token_type,
            }
        )

    @classmethod
    def from_json(cls, raw: str) -> TokenPair:
        """Parse :meth:`to_json` output; ValueError if it is not a token pair."""
        data = json.loads(raw)
        if not isinstance(data, dict) or not isinstance(data.get("access_token"), str):
            raise ValueError("not a token pair")
        expires = data.get("expires_at")
        refresh = data.get("refresh_token")
        return cls(
            access_token=data["access_token"],
            refresh_token=refresh if isinstance(refresh, str) and refresh else None,
            expires_at=int(expires) if isinstance(expires, int | float) else None,
            token_type=str(data.get("token_type") or "Bearer"),
        )

    @classmethod
    def from_response(cls, payload: Any, *, now: float | None = None) -> TokenPair:
        """A pair from the token endpoint's JSON (expiry from ``expires_in``, local clock)."""
        if not isinstance(payload, dict) or not isinstance(payload.get("access_token"), str):
            raise AmoAuthError("amoCRM answered the token request without an access token. " + _RECONNECT)
        moment = int(time.time() if now is None else now)
        expires_in = payload.get("expires_in")
        refresh = payload.get("refresh_token")
        return cls(
            access_token=payload["access_token"],
            refresh_token=refresh if isinstance(refresh, str) and refresh else None,
            expires_at=moment + int(expires_in) if isinstance(expires_in, int | float) else None,
            token_type=str(payload.get("token_type") or "Bearer"),
        )

    @classmethod
    def long_lived_token(cls, token: str, *, expires_at: int | None = None) -> TokenPair:
        """Wrap a long-lived token; its expiry is read from the JWT ``exp`` claim when present."""
        return cls(access_token=token.strip(), refresh_token=None, expires_at=expires_at or _jwt_expiry(token))


def _jwt_expiry(token: str) -> int | None:
    parts = token.split(".")
    if len(parts) != 3:
        return None
    try:
        padded = parts[1] + "=" * (-len(parts[1]) % 4)
        claims = json.loads(base64.urlsafe_b64decode(padded))
    except (ValueError, json.JSONDecodeError):
        return None
    exp = claims.get("exp") if isinstance(claims, dict) else None
    return int(exp) if isinstance(exp, int | float) else None


@dataclass(frozen=True, repr=False)
class OAuthApp:
    """The integration's keys (Settings → Integrations in amoCRM)."""

    client_id: str
    client_secret: str
    redirect_uri: str

    def __repr__(self) -> str:
        return f"OAuthApp(client_id={self.client_id!r}, client_secret='***', redirect_uri={self.redirect_uri!r})"


class TokenStore(Protocol):
    """Where one account's token pair is kept. ``lock_name`` names its refresh lock file."""

    @property
    def lock_name(self) -> str:
        """A file-name-safe id of the account, shared by every process using it."""
        ...

    def load(self) -> TokenPair | None:
        """The stored pair, or None when the account is not connected."""
        ...

    def save(self, pair: TokenPair) -> None:
        """Replace the stored pair."""
        ...

    def clear(self) -> None:
        """Forget the tokens (disconnect)."""
        ...


def _safe_name(account_key: str) -> str:
    return "amocrm-" + re.sub(r"[^A-Za-z0-9_.-]", "_", account_key)


ENV_TOKEN = "CRM_AMOCRM_TOKEN"


class SecretTokenStore:
    """One account's pair as a JSON secret ``amocrm:<account_key>`` in the user's secret store
    (:func:`tui_crm.secrets.default_store`: the OS keyring or the encrypted file).

    A long-lived token in the environment (``CRM_AMOCRM_TOKEN``, for servers and cron) takes
    precedence over anything stored and is never written anywhere."""

    def __init__(self, account_key: str, store: SecretStore | None = None) -> None:
        if not account_key:
            raise ValueError("account_key must not be empty")
        self.account_key = account_key
        self.username = f"amocrm:{account_key}"
        self._store = store

    def __repr__(self) -> str:
        return f"SecretTokenStore(account_key={self.account_key!r})"

    @property
    def store(self) -> SecretStore:
        """The secret store (chosen on first use, so the environment of the moment counts)."""
        if self._store is None:
            self._store = default_store()
        return self._store

    @property
    def lock_name(self) -> str:
        """``amocrm-<account_key>`` with unsafe characters replaced."""
        return _safe_name(self.account_key)

    @staticmethod
    def env_pair() -> TokenPair | None:
        """The long-lived token from ``CRM_AMOCRM_TOKEN``, if set."""
        token = os.environ.get(ENV_TOKEN, "").strip()
        return TokenPair.long_lived_token(token) if token else None

    def check(self) -> None:
        """Raise AmoTokenStoreError unless the pair could be saved now (before a code is spent)."""
        try:
            self.store.check()
        except SecretStoreError as exc:
            raise AmoTokenStoreError(f"Cannot keep amoCRM tokens: {exc}") from None

    def load(self) -> TokenPair | None:
        """The pair: the environment's long-lived token, else the stored one."""
        from_env = self.env_pair()
        if from_env is not None:
            return from_env
        try:
            raw = self.store.get(self.username)
        except SecretStoreError as exc:
            raise AmoTokenStoreError(f"Cannot read amoCRM tokens: {exc}") from None
        if raw is None:
            return None
        try:
            return TokenPair.from_json(raw)
        except (ValueError, TypeError):
            raise AmoTokenStoreError("The stored amoCRM tokens are unreadable. " + _RECONNECT) from None

    def save(self, pair: TokenPair) -> None:
        """Store the pair (not the environment's token: it stays where the user keeps it)."""
        from_env = self.env_pair()
        if from_env is not None and from_env.access_token == pair.access_token:
            return
        try:
            self.store.set(self.username, pair.to_json())
        except SecretStoreError as exc:
            raise AmoTokenStoreError(f"Cannot save amoCRM tokens: {exc}") from None

    def clear(self) -> None:
        """Delete the stored pair (no error if there is none)."""
        try:
            self.store.delete(self.username)
        except SecretStoreError as exc:
            raise AmoTokenStoreError(f"Cannot delete amoCRM tokens: {exc}") from None


class MemoryTokenStore:
    """A pair held in memory (one process; for tests and one-off scripts)."""

    def __init__(self, pair: TokenPair | None = None, *, lock_name: str = "amocrm-memory") -> None:
        self._pair = pair
        self._lock_name = lock_name
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"MemoryTokenStore(lock_name={self._lock_name!r}, connected={self._pair is not None})"

    @property
    def lock_name(self) -> str:
        """The lock file name given at construction."""
        return self._lock_name

    def load(self) -> TokenPair | None:
        """The held pair."""
        with self._lock:
            return self._pair

    def save(self, pair: TokenPair) -> None:
        """Replace the held pair."""
        with self._lock:
            self._pair = pair

    def clear(self) -> None:
        """Forget the pair."""
        with self._lock:
            self._pair = None


# ---------------------------------------------------------------- OAuth calls


def _token_request(base_url: str, payload: dict[str, str], *, http: httpx.Client | None, timeout: float) -> TokenPair:
    url = base_url.rstrip("/") + TOKEN_PATH
    own = http is None
    client = httpx.Client(timeout=timeout) if http is None else http
    try:
        try:
            response = client.post(url, json=payload, headers={"Accept": "application/json"})
        except httpx.TransportError as exc:
            raise AmoUnavailable(
                f"Could not reach amoCRM at {base_url} to obtain tokens ({type(exc).__name__}). Check the network and retry.",
                maybe_applied=not isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout),
            ) from None
    finally:
        if own:
            client.close()
    if response.status_code in (400, 401):
        hint = _hint(response)
        raise AmoAuthError(
            f"amoCRM refused the token request ({hint}). " + _RECONNECT,
            status=response.status_code,
            request_id=response.headers.get("X-Request-Id"),
            detail=hint,
        )
    if response.status_code != 200:
        raise error_from_response(response, method="POST")
    try:
        body = response.json()
    except ValueError:
        raise AmoAuthError("amoCRM answered the token request with something that is not JSON. " + _RECONNECT) from None
    return TokenPair.from_response(body)


def _hint(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return f"HTTP {response.status_code}"
    if isinstance(body, dict):
        return str(body.get("hint") or body.get("detail") or body.get("title") or f"HTTP {response.status_code}")
    return f"HTTP {response.status_code}"


def exchange_code(
    base_url: str, app: OAuthApp, code: str, *, http: httpx.Client | None = None, timeout: float = 30.0
) -> TokenPair:
    """Trade an authorization code (20 minutes, single use) for a token pair."""
    payload = {
        "client_id": app.client_id,
        "client_secret": app.client_secret,
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": app.redirect_uri,
    }
    return _token_request(base_url, payload, http=http, timeout=timeout)


def refresh(
    base_url: str, app: OAuthApp, refresh_token: str, *, http: httpx.Client | None = None, timeout: float = 30.0
) -> TokenPair:
    """Trade a refresh token for a new pair. The old refresh token is dead afterwards.

    Call it through :class:`TokenManager`, which serialises refreshes and
    stores the new pair first; calling it directly risks losing the pair.
    """
    payload = {
        "client_id": app.client_id,
        "client_secret": app.client_secret,
        "grant_type": "refresh_token",
        "refresh_token": refresh_token,
        "redirect_uri": app.redirect_uri,
    }
    return _token_request(base_url, payload, http=http, timeout=timeout)


# ------------------------------------------------------------- refresh lock

_PROCESS_LOCKS: dict[str, threading.Lock] = {}
_PROCESS_LOCKS_GUARD = threading.Lock()


@contextmanager
def refresh_lock(lock_dir: Path | None, name: str) -> Iterator[None]:
    """Hold the refresh lock of one account: a thread lock, then ``flock`` on a file."""
    key = str(lock_dir / name) if lock_dir is not None else f"<memory>/{name}"
    with _PROCESS_LOCKS_GUARD:
        thread_lock = _PROCESS_LOCKS.setdefault(key, threading.Lock())
    with thread_lock:
        if lock_dir is None or fcntl is None:
            yield
            return
        lock_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd = os.open(lock_dir / f"{name}.lock", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)


class TokenManager:
    """The token lifecycle of one account for one client.

    ``access_token()`` returns a usable token, refreshing ahead of expiry;
    ``refresh_after_401(token)`` is what the client calls when the server
    rejected ``token``. Both refresh through :func:`refresh_lock`.
    ``before_request`` (the client's rate limiter) runs before each token
    request.
    """

    def __init__(
        self,
        store: TokenStore,
        *,
        base_url: str,
        app: OAuthApp | None = None,
        lock_dir: str | os.PathLike[str] | None = None,
        http: httpx.Client | None = None,
        before_request: Callable[[], object] | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.store = store
        self.base_url = base_url
        self.app = app
        self.lock_dir = Path(lock_dir) if lock_dir is not None else None
        self._http = http
        self._before_request = before_request
        self._clock = clock
        self._cached: TokenPair | None = None
        self._lock = threading.Lock()
        self.refresh_count = 0

    def __repr__(self) -> str:
        return f"TokenManager(store={self.store!r}, base_url={self.base_url!r})"

    def current(self) -> TokenPair:
        """The pair in use (loaded from the store once); AmoAuthError if not connected."""
        with self._lock:
            if self._cached is None:
                self._cached = self.store.load()
            if self._cached is None:
                raise AmoAuthError("Not connected to amoCRM: no tokens stored for this account. " + _RECONNECT)
            return self._cached

    def can_refresh(self, pair: TokenPair) -> bool:
        """Whether a refresh is possible (OAuth pair and integration keys known)."""
        return pair.refresh_token is not None and self.app is not None

    def access_token(self) -> str:
        """A token to send now, refreshed first if it expires within a minute."""
        pair = self.current()
        if pair.expired(self._clock()) and self.can_refresh(pair):
            pair = self._refresh(pair.access_token)
        return pair.access_token

    def refresh_after_401(self, rejected: str) -> str:
        """The server said 401 to ``rejected``: get a newer token (once) or raise AmoAuthError."""
        pair = self.current()
        if not self.can_refresh(pair):
            if pair.long_lived:
                raise AmoAuthError(
                    "amoCRM rejected the long-lived token (expired or revoked). Generate a new one in the "
                    "private integration's Keys and scopes tab and store it again."
                )
            raise AmoAuthError("amoCRM rejected the access token and no integration keys were given to refresh it. " + _RECONNECT)
        return self._refresh(rejected).access_token

    def _refresh(self, rejected: str) -> TokenPair:
        assert self.app is not None
        with refresh_lock(self.lock_dir, self.store.lock_name):
            stored = self.store.load()
            if stored is None:
                raise AmoAuthError("Not connected to amoCRM: the stored tokens were removed. " + _RECONNECT)
            if stored.access_token != rejected and not stored.expired(self._clock(), leeway=0):
                with self._lock:
                    self._cached = stored
                return stored
            if stored.refresh_token is None:
                raise AmoAuthError("amoCRM rejected the long-lived token (expired or revoked). Store a new one.")
            if self._before_request is not None:
                self._before_request()
            try:
                pair = refresh(self.base_url, self.app, stored.refresh_token, http=self._http)
            except AmoError:
                with self._lock:
                    self._cached = None
                raise
            self.store.save(pair)
            self.refresh_count += 1
            with self._lock:
                self._cached = pair
            return pair
