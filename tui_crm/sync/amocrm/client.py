"""HTTP client for the amoCRM/Kommo REST API v4 (no knowledge of local records).

:class:`AmoClient` wraps one ``httpx.Client`` and applies the service's
rules to every call:

* at most ``max_rps`` requests in any 1-second window, across the threads
  sharing the client (:class:`~.ratelimit.RateLimiter`);
* 429: wait (``Retry-After`` header, else the body's ``retry_after``, else
  exponential backoff with jitter) and retry, a bounded number of times,
  whatever the body looks like (HTML or JSON). A 429 means the request was
  not processed, so retrying writes is safe;
* 403 from the gateway raises :class:`~.errors.AmoLockedOut` at once; 403
  with a JSON body raises :class:`~.errors.AmoForbidden`; neither is retried;
* 401: refresh the token once (serialised across threads and processes by
  :class:`~.tokens.TokenManager`) and retry once; a second 401 raises
  :class:`~.errors.AmoAuthError`;
* 402 raises :class:`~.errors.AmoPaymentRequired`;
* 5xx or no response (refused, timeout, dropped): a GET (any idempotent
  request) is sent again with exponential backoff and jitter, at most
  ``idempotent_attempts`` times in all (tenacity); a POST/PATCH is never
  sent again here and raises :class:`~.errors.AmoServerError` /
  :class:`~.errors.AmoUnavailable` with ``maybe_applied=True``: the caller
  looks the records up before sending anything again;
* 429 also cuts the client's rate (:meth:`~.ratelimit.RateLimiter.slow_down`),
  which climbs back slowly.

Lists are read with :meth:`AmoClient.get_all` (pages of up to 250, ends on 204
or when there is no ``_links.next``); writes go out with
:meth:`AmoClient.post_batch` / :meth:`AmoClient.patch_batch` in chunks of at
most 50, each element carrying a ``request_id`` that the server echoes.
"""

from __future__ import annotations

import email.utils
import logging
import os
import random
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any
from urllib.parse import urlsplit

import httpx
import tenacity

from .errors import (
    AmoError,
    AmoNotFound,
    AmoRateLimited,
    AmoRequestError,
    AmoServerError,
    AmoUnavailable,
    BatchProgress,
    error_from_response,
    json_body,
)
from .ratelimit import RateLimiter
from .tokens import OAuthApp, TokenManager, TokenStore

JSON = dict[str, Any]
Params = Mapping[str, Any]

API_PREFIX = "/api/v4/"
MAX_PAGE_LIMIT = 250
DEFAULT_CHUNK = 50
MAX_CHUNK = 250
USER_AGENT = "tui-crm/0.1 (+amoCRM API v4 adapter)"

_IDEMPOTENT = frozenset({"GET", "HEAD"})
_NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)
_LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1"})

log = logging.getLogger(__name__)


def _account_root(base_url: str) -> str:
    """Normalise the account address; refuse plain HTTP except on loopback."""
    parts = urlsplit(base_url.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"Not an account address: {base_url!r} (expected https://<subdomain>.amocrm.ru)")
    if parts.scheme == "http" and parts.hostname not in _LOOPBACK:
        raise ValueError(f"Refusing to send amoCRM tokens over plain HTTP to {parts.hostname}; use https://")
    path = parts.path.rstrip("/")
    if path in ("/api/v4", "/api"):
        path = ""
    if path:
        raise ValueError(f"The account address must not have a path: {base_url!r}")
    return f"{parts.scheme}://{parts.netloc}"


def embedded_items(payload: Any, path: str = "") -> list[JSON]:
    """The list under ``_embedded`` (the only one, or the one named after the path)."""
    if not isinstance(payload, dict):
        return []
    embedded = payload.get("_embedded")
    if not isinstance(embedded, dict):
        return []
    lists = {key: value for key, value in embedded.items() if isinstance(value, list)}
    if len(lists) == 1:
        return list(next(iter(lists.values())))
    segments = [s for s in urlsplit(path).path.split("/") if s and not s.isdigit()]
    for segment in reversed(segments):
        if segment in lists:
            return list(lists[segment])
    return []


def _transient(exc: BaseException) -> bool:
    """Worth sending an idempotent request again: no answer, or a server error."""
    return isinstance(exc, AmoUnavailable) or (isinstance(exc, AmoServerError) and (exc.status or 0) >= 500)


def _parse_retry_after(response: httpx.Response) -> float | None:
    header = response.headers.get("Retry-After")
    if header:
        try:
            return max(0.0, float(header))
        except ValueError:
            try:
                moment = email.utils.parsedate_to_datetime(header)
            except (TypeError, ValueError):
                moment = None
            if moment is not None:
                return max(0.0, moment.timestamp() - time.time())
    body = json_body(response)
    if isinstance(body, dict):
        value = body.get("retry_after")
        if isinstance(value, int | float) and not isinstance(value, bool):
            return max(0.0, float(value))
    return None


class AmoClient:
    """A rate-limited, retrying, token-refreshing client of one amoCRM account.

    ``base_url`` is the account address (``https://<subdomain>.amocrm.ru`` or
    ``.kommo.com``); paths are ``/api/v4/...`` or relative to it (``"leads"``).
    ``oauth`` (the integration keys) enables refresh; without it, or with a
    long-lived token, a 401 raises at once. ``lock_dir`` holds the refresh
    lock file shared with other processes (without it, only the threads of
    this process are serialised). Pass one ``rate_limiter`` to several
    clients of the same account in one process so they share the budget.
    """

    def __init__(
        self,
        base_url: str,
        token_store: TokenStore,
        *,
        max_rps: int = 7,
        timeout: float = 30.0,
        oauth: OAuthApp | None = None,
        lock_dir: str | os.PathLike[str] | None = None,
        rate_limiter: RateLimiter | None = None,
        max_retries: int = 5,
        backoff_base: float = 1.0,
        max_backoff: float = 30.0,
        max_retry_wait: float = 60.0,
        idempotent_attempts: int = 5,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.base_url = _account_root(base_url)
        self.limiter = rate_limiter or RateLimiter(max_rps)
        self.max_retries = max_retries
        self.backoff_base = backoff_base
        self.max_backoff = max_backoff
        self.max_retry_wait = max_retry_wait
        self.idempotent_attempts = max(1, idempotent_attempts)
        self._sleep = sleep
        self._http = httpx.Client(
            base_url=self.base_url,
            timeout=httpx.Timeout(timeout, connect=min(timeout, 10.0)),
            headers={"User-Agent": USER_AGENT, "Accept": "application/hal+json, application/json"},
            follow_redirects=False,
        )
        self.tokens = TokenManager(
            token_store,
            base_url=self.base_url,
            app=oauth,
            lock_dir=lock_dir,
            http=self._http,
            before_request=self.limiter.acquire,
        )
        self._jitter = random.Random()
        self._jitter_lock = threading.Lock()
        self._origins: set[tuple[str, str]] = set()  # other hosts of this account (its file Drive)

    def allow_origin(self, url: str) -> bool:
        """Let the token go to ``url``'s host as well: the account's file storage (``drive_url``)
        lives on another host. Only an https host of the same service (or this very host, as
        on a test server) is accepted; returns whether it was."""
        parts, mine = urlsplit(url), urlsplit(self.base_url)
        root = ".".join(mine.hostname.split(".")[-2:]) if mine.hostname and mine.hostname.count(".") >= 1 else None
        same_service = parts.scheme == "https" and root is not None and (parts.hostname or "").endswith("." + root)
        if (parts.scheme, parts.netloc) != (mine.scheme, mine.netloc) and not same_service:
            return False
        self._origins.add((parts.scheme, parts.netloc))
        return True

    def __repr__(self) -> str:
        return f"AmoClient(base_url={self.base_url!r})"

    def __enter__(self) -> AmoClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the connection pool."""
        self._http.close()

    # ------------------------------------------------------------ low level

    def _target(self, path: str) -> str:
        if path.startswith(("http://", "https://")):
            if not self._same_origin(path):
                raise ValueError(f"Refusing to send the token to another host: {path}")
            return path
        if path.startswith("/"):
            return path
        return API_PREFIX + path

    def _same_origin(self, url: str) -> bool:
        mine, theirs = urlsplit(self.base_url), urlsplit(url)
        return (mine.scheme, mine.netloc) == (theirs.scheme, theirs.netloc) or (theirs.scheme, theirs.netloc) in self._origins

    def _backoff(self, attempt: int) -> float:
        ceiling = min(self.max_backoff, self.backoff_base * (2 ** max(0, attempt - 1)))
        with self._jitter_lock:
            return ceiling / 2 + self._jitter.uniform(0, ceiling / 2)

    def request(
        self,
        method: str,
        path: str,
        *,
        params: Params | None = None,
        json: Any = None,
        content: bytes | None = None,
        content_type: str | None = None,
    ) -> httpx.Response:
        """Send one request under every rule above; returns a 2xx response or raises AmoError.

        An idempotent request (GET, HEAD, ...: reads and look-ups) that meets a 5xx or no answer
        is sent again, up to ``idempotent_attempts`` times in all, after an exponential backoff
        with jitter (tenacity). A write is never sent again here: its caller looks the records
        up first (the lost-response look-up), since amoCRM does not deduplicate."""
        method = method.upper()
        url = self._target(path)
        if content is not None:  # raw bytes (a file part for the Drive): a write, sent once
            return self._send(method, url, params, None, content, content_type)
        if method not in _IDEMPOTENT:
            return self._send(method, url, params, json)
        retrying = tenacity.Retrying(
            stop=tenacity.stop_after_attempt(self.idempotent_attempts),
            wait=tenacity.wait_exponential(multiplier=self.backoff_base, max=self.max_backoff)
            + tenacity.wait_random(0, self.backoff_base),
            retry=tenacity.retry_if_exception(_transient),
            sleep=self._sleep,
            reraise=True,
            before_sleep=lambda state: log.info(
                "amoCRM %s %s: %s; retrying (attempt %d)", method, url, state.outcome.exception(), state.attempt_number + 1
            ),
        )
        return retrying(self._send, method, url, params, json)

    def _send(
        self,
        method: str,
        url: str,
        params: Params | None,
        json: Any,
        content: bytes | None = None,
        content_type: str | None = None,
    ) -> httpx.Response:
        """One request, with the 429 waits and the single refresh after a 401."""
        idempotent = method in _IDEMPOTENT
        rate_limited = 0
        refreshed = False
        token = self.tokens.access_token()
        while True:
            try:
                with self.limiter.slot():
                    headers = {"Authorization": f"Bearer {token}"}
                    if content_type:
                        headers["Content-Type"] = content_type
                    response = self._http.request(method, url, params=params, json=json, content=content, headers=headers)
            except httpx.TransportError as exc:
                sent = not isinstance(exc, _NOT_SENT)
                what = "timed out" if isinstance(exc, httpx.TimeoutException) else "failed"
                unsure = " The write may or may not have been applied." if sent and not idempotent else ""
                raise AmoUnavailable(
                    f"{method} {urlsplit(url).path or url}: the connection to amoCRM at {self.base_url} {what} "
                    f"({type(exc).__name__}).{unsure} "
                    "Check the network and sync again.",
                    maybe_applied=sent and not idempotent,
                ) from None
            status = response.status_code
            if 200 <= status < 300:
                self.limiter.note_success()
                return response
            if 300 <= status < 400:
                raise AmoRequestError(
                    f"amoCRM redirected {method} {url} (HTTP {status}); check the account address {self.base_url}.",
                    status=status,
                )
            if status == 429:
                rate_limited += 1
                hint = _parse_retry_after(response)
                rate = self.limiter.slow_down()
                if rate_limited > self.max_retries or (hint is not None and hint > self.max_retry_wait):
                    error = error_from_response(response, method=method)
                    assert isinstance(error, AmoRateLimited)
                    error.retry_after = hint
                    raise error
                delay = hint if hint is not None else self._backoff(rate_limited)
                log.warning("amoCRM answered 429 to %s %s; waiting %.2f s, then %d requests/s", method, url, delay, rate)
                self.limiter.penalize(delay)
                continue
            if status == 401 and not refreshed:
                refreshed = True
                token = self.tokens.refresh_after_401(token)
                continue
            raise error_from_response(response, method=method)

    @staticmethod
    def _json(response: httpx.Response) -> Any:
        if response.status_code == 204 or not response.content:
            return None
        try:
            return response.json()
        except ValueError:
            raise AmoError(
                f"amoCRM answered {response.request.method} {response.url.path} with something that is not JSON "
                f"(HTTP {response.status_code}).",
                status=response.status_code,
                request_id=response.headers.get("X-Request-Id"),
            ) from None

    # ----------------------------------------------------------------- reads

    def get(self, path: str, params: Params | None = None) -> Any:
        """GET and parse JSON; None for 204 No Content."""
        return self._json(self.request("GET", path, params=params))

    def get_entity(self, path: str, entity_id: int, *, with_: Iterable[str] = ()) -> JSON | None:
        """One record by id (``path`` like ``"leads"``); None when missing (204 or 404)."""
        params = {"with": ",".join(with_)} if with_ else None
        try:
            payload = self.get(f"{path.rstrip('/')}/{int(entity_id)}", params)
        except AmoNotFound:
            return None
        return payload if isinstance(payload, dict) else None

    def get_all(self, path: str, params: Params | None = None) -> Iterator[list[JSON]]:
        """Yield the pages of a list (``limit`` 250 unless smaller), each a list of records.

        Stops on 204, on an empty page, or when the page has no
        ``_links.next``; follows ``next`` when it points at this account,
        else asks for ``page + 1``.
        """
        base: dict[str, Any] = dict(params or {})
        limit = int(base.pop("limit", MAX_PAGE_LIMIT))
        base["limit"] = max(1, min(limit, MAX_PAGE_LIMIT))
        page = int(base.pop("page", 1))
        url = path
        query: dict[str, Any] | None = {**base, "page": page}
        seen: set[str] = set()
        while True:
            response = self.request("GET", url, params=query)
            payload = self._json(response)
            items = embedded_items(payload, path)
            if not items:
                return
            yield items
            links = payload.get("_links") if isinstance(payload, dict) else None
            next_link = links.get("next") if isinstance(links, dict) else None
            href = next_link.get("href") if isinstance(next_link, dict) else None
            if not isinstance(href, str) or not href:
                return
            page += 1
            if self._same_origin(href) and href not in seen:
                seen.add(href)
                url, query = href, None
            else:
                url, query = path, {**base, "page": page}

    def iter_all(self, path: str, params: Params | None = None) -> Iterator[JSON]:
        """Every record of a list, page after page."""
        for page in self.get_all(path, params):
            yield from page

    # ---------------------------------------------------------------- writes

    def post(self, path: str, json: Any) -> Any:
        """POST once (no chunking); parsed JSON or None."""
        return self._json(self.request("POST", path, json=json))

    def patch(self, path: str, json: Any) -> Any:
        """PATCH once (no chunking); parsed JSON or None."""
        return self._json(self.request("PATCH", path, json=json))

    def delete(self, path: str, json: Any = None) -> Any:
        """DELETE (only some resources allow it, e.g. unsorted decline, webhooks)."""
        return self._json(self.request("DELETE", path, json=json))

    def post_batch(
        self,
        path: str,
        items: Sequence[Mapping[str, Any]],
        *,
        chunk_size: int = DEFAULT_CHUNK,
        on_chunk: Callable[[list[JSON], list[JSON]], None] | None = None,
    ) -> list[JSON]:
        """Create records in chunks; returns the ``_embedded`` echoes (``id``, ``request_id``)."""
        return self._write_batch("POST", path, items, chunk_size, on_chunk)

    def patch_batch(
        self,
        path: str,
        items: Sequence[Mapping[str, Any]],
        *,
        chunk_size: int = DEFAULT_CHUNK,
        on_chunk: Callable[[list[JSON], list[JSON]], None] | None = None,
    ) -> list[JSON]:
        """Update records (each with ``id``) in chunks; returns the echoes (``id``, ``updated_at``, ``request_id``)."""
        return self._write_batch("PATCH", path, items, chunk_size, on_chunk)

    def _write_batch(
        self,
        method: str,
        path: str,
        items: Sequence[Mapping[str, Any]],
        chunk_size: int,
        on_chunk: Callable[[list[JSON], list[JSON]], None] | None,
    ) -> list[JSON]:
        if not 1 <= chunk_size <= MAX_CHUNK:
            raise ValueError(f"chunk_size must be between 1 and {MAX_CHUNK}")
        prepared: list[JSON] = []
        for index, item in enumerate(items):
            element = dict(item)
            if element.get("request_id") is None:
                element["request_id"] = str(index)
            prepared.append(element)
        done: list[JSON] = []
        for start in range(0, len(prepared), chunk_size):
            chunk = prepared[start : start + chunk_size]
            try:
                response = self.request(method, path, json=chunk)
                echoed = embedded_items(self._json(response), path)
            except AmoError as error:
                error.batch = BatchProgress(done=list(done), failed=chunk, not_sent=prepared[start + chunk_size :])
                raise
            if on_chunk is not None:
                on_chunk(chunk, echoed)
            done.extend(echoed)
        return done

    # --------------------------------------------------------------- helpers

    def account(self, with_: Iterable[str] = ()) -> JSON:
        """``GET /api/v4/account`` (``with_`` e.g. ``["is_api_filter_enabled", "task_types"]``)."""
        params = {"with": ",".join(with_)} if with_ else None
        payload = self.get("account", params)
        return payload if isinstance(payload, dict) else {}

    def api_filter_enabled(self) -> bool:
        """Whether ``filter[...]`` on leads/contacts/companies works for this account."""
        return bool(self.account(["is_api_filter_enabled"]).get("is_api_filter_enabled"))

    def pipelines(self) -> list[JSON]:
        """Every pipeline with ``_embedded.statuses``."""
        return embedded_items(self.get("leads/pipelines"), "pipelines")

    def custom_fields(self, entity: str) -> list[JSON]:
        """Custom field definitions of ``leads``, ``contacts`` or ``companies`` (with enums)."""
        return list(self.iter_all(f"{entity}/custom_fields"))

    def users(self) -> list[JSON]:
        """The account's users (admin rights needed; AmoForbidden otherwise)."""
        return list(self.iter_all("users"))
