"""A fake amoCRM/Kommo API v4 served over real HTTP on 127.0.0.1.

:class:`FakeAmo` runs a ``ThreadingHTTPServer`` on an ephemeral port in a
background thread. It follows the checklist of the reference
(``shared/reference/amocrm-api-v4.md``, section 9): page/limit paging with
``_links.next`` and 204 for an empty page, hal+json and problem+json, batch
writes with ``request_id`` echo, PATCH merge rules, tags, links, events for
deletions, OAuth with single-use rotating refresh tokens, long-lived tokens,
a 7 rps sliding-window rate limit with lock-out, and fault injection
(``fake.faults``, see :mod:`.faults`).

Choices the reference leaves open (marked ⚠ there) and the fake makes:

* ``limit`` above 250 falls back to the default page size 50;
* a missing entity by id answers 204 (``fake.missing_entity_status``);
* POST create echoes carry ``id``/``request_id`` (no ``updated_at``); PATCH
  echoes carry ``updated_at``;
* a batch is validated as a whole: one bad element rejects it (400);
* ``_embedded.contacts``/``companies`` link only on create; later changes go
  through ``/link`` and ``/unlink``;
* deleted leads show only via ``with=only_deleted`` (null fields) and
  ``/api/v4/events`` (``lead_deleted``); contacts/companies only via events;
* events list newest first.

Every request is recorded in ``fake.requests`` with its arrival time
(``time.monotonic()``), so tests can check request rates.
"""

from __future__ import annotations

import json
import re
import secrets
import socket
import socketserver
import sys
import threading
import time
import traceback
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any
from urllib.parse import parse_qs, parse_qsl, urlencode, urlsplit

from . import state as st
from .drive import FakeDrive
from .faults import Faults, InjectedFault, Limits
from .problems import JSON, ApiError, ValidationFailed
from .query import Query, flat, int_param, ints, parse_query, scalar, with_set
from .state import AmoState, FakeClock

ACCESS_TTL = 86400
REFRESH_TTL = 90 * 86400
CODE_TTL = 20 * 60
DEFAULT_LIMIT = 50
MAX_LIMIT = 250

HAL = "application/hal+json"
PROBLEM = "application/problem+json"
HTML = "text/html; charset=utf-8"

_OAUTH_ERROR_TYPE = "https://developers.amocrm.ru/v3/errors/OAuthProblemJson"
_NGINX_403 = (
    "<html>\r\n<head><title>403 Forbidden</title></head>\r\n<body>\r\n"
    "<center><h1>403 Forbidden</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n"
)


def _nginx_page(status: int, title: str) -> str:
    return (
        f"<html>\r\n<head><title>{status} {title}</title></head>\r\n<body>\r\n"
        f"<center><h1>{status} {title}</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n"
    )


@dataclass
class RecordedRequest:
    """One request as the fake saw it.

    ``time`` is ``time.monotonic()`` at arrival; ``status`` is 0 while in
    flight and -1 when the fake dropped the connection on purpose.
    """

    method: str
    path: str
    query: dict[str, list[str]]
    time: float
    clock: int
    client: str
    body: Any = None
    status: int = 0


@dataclass
class Response:
    """What the handler writes back."""

    status: int
    body: bytes = b""
    content_type: str | None = None
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class Request:
    """A parsed request, handed to the route functions."""

    method: str
    path: str
    pairs: list[tuple[str, str]]
    q: Query
    body: Any
    raw: bytes
    headers: Message
    client: str
    user_id: int = 0


@dataclass
class _AccessToken:
    client: str
    user_id: int
    expires_at: int
    long_lived: bool


@dataclass
class _Grant:
    user_id: int
    expires_at: int
    used: bool = False


@dataclass(frozen=True)
class FakeOAuthApp:
    """The integration registered in the fake account."""

    client_id: str
    client_secret: str
    redirect_uri: str


def _json_bytes(payload: Any) -> bytes:
    return json.dumps(payload, ensure_ascii=False).encode("utf-8")


def hal(payload: Any, status: int = 200) -> Response:
    """A successful hal+json response."""
    return Response(status, _json_bytes(payload), HAL)


def no_content() -> Response:
    """204 with an empty body."""
    return Response(204)


def problem_response(error: ApiError) -> Response:
    """A problem+json error response."""
    return Response(error.status, _json_bytes(error.body()), PROBLEM)


Route = Callable[..., Response]

_ENTITY = r"(leads|contacts|companies)"


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def server_bind(self) -> None:
        # Skip HTTPServer.server_bind's getfqdn(): a reverse DNS lookup can stall.
        socketserver.TCPServer.server_bind(self)
        host, port = self.server_address[:2]
        self.server_name = str(host)
        self.server_port = int(port)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "nginx"
    sys_version = ""
    fake: FakeAmo

    def setup(self) -> None:
        super().setup()
        # Headers and body go out in separate writes; without NODELAY, Nagle's
        # algorithm and delayed ACKs add ~40 ms to every response.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        return

    def date_time_string(self, timestamp: float | None = None) -> str:
        """The ``Date`` header on the fake's clock, the one its records' ``created_at``/``updated_at``
        use (in amoCRM both come from one server clock)."""
        return super().date_time_string(self.fake.clock.now() if timestamp is None else timestamp)

    def do_GET(self) -> None:
        self._dispatch()

    def do_POST(self) -> None:
        self._dispatch()

    def do_PATCH(self) -> None:
        self._dispatch()

    def do_DELETE(self) -> None:
        self._dispatch()

    def do_PUT(self) -> None:
        self._dispatch()

    def _dispatch(self) -> None:
        arrived = time.monotonic()
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length > 0 else b""
        response = self.fake._handle(self.command, self.path, raw, self.headers, self.client_address[0], arrived)
        if response is None:
            self.close_connection = True
            return
        try:
            self.send_response(response.status)
            for name, value in response.headers.items():
                self.send_header(name, value)
            if response.content_type:
                self.send_header("Content-Type", response.content_type)
            if response.status != 204:
                self.send_header("Content-Length", str(len(response.body)))
            self.end_headers()
            if response.status != 204 and response.body:
                self.wfile.write(response.body)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True


class FakeAmo:
    """The fake account, its HTTP server, its tokens, faults and request log.

    Start it with ``FakeAmo.start()`` (or ``with FakeAmo() as fake:``); every
    test gets a fresh one through the ``fake_amo`` fixture. ``fake.token`` is a
    long-lived token that works at once (``fake.headers``); OAuth tests use
    :meth:`issue_tokens` / :meth:`issue_auth_code` and ``fake.oauth``.
    """

    def __init__(
        self,
        *,
        clock: FakeClock | None = None,
        subdomain: str = "testcrm",
        client_id: str = "fake-client-id",
        client_secret: str = "fake-client-secret",
        redirect_uri: str = "https://localhost/oauth/callback",
    ) -> None:
        self.clock = clock or FakeClock()
        self.subdomain = subdomain
        self.state = AmoState(self.clock)
        self.faults = Faults()
        self.limits = Limits()
        self.oauth = FakeOAuthApp(client_id, client_secret, redirect_uri)
        self.missing_entity_status = 204
        self.refresh_grants = 0
        self._lock = threading.Lock()
        self._access: dict[str, _AccessToken] = {}
        self._refresh: dict[str, _Grant] = {}
        self._codes: dict[str, _Grant] = {}
        self._requests: list[RecordedRequest] = []
        self._windows: dict[str, deque[float]] = {}
        self.rate_limit_violations = 0
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._base_url = ""
        self.drive = FakeDrive(self.state, "")
        self._routes = self._build_routes()
        self.token = self.issue_long_lived_token()

    # ------------------------------------------------------------ lifecycle

    @classmethod
    def start(cls, **kwargs: Any) -> FakeAmo:
        """Create a fake and serve it on 127.0.0.1 (ephemeral port)."""
        return cls(**kwargs).serve()

    def serve(self) -> FakeAmo:
        """Start the HTTP server in a daemon thread (idempotent)."""
        if self._server is not None:
            return self
        handler = type("FakeAmoHandler", (_Handler,), {"fake": self})
        server = _Server(("127.0.0.1", 0), handler)
        self._server = server
        host, port = server.server_address[:2]
        self._base_url = f"http://{host}:{port}"
        self.state.base_url = self._base_url
        self.drive.base_url = self._base_url
        self._thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and close the listening socket."""
        server, self._server = self._server, None
        if server is None:
            return
        server.shutdown()
        server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> FakeAmo:
        return self.serve()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:<port>`` (the account address; API paths start with /api/v4)."""
        if not self._base_url:
            raise RuntimeError("FakeAmo is not running: call serve() or use FakeAmo.start()")
        return self._base_url

    @property
    def headers(self) -> dict[str, str]:
        """``Authorization`` header with the default long-lived token."""
        return {"Authorization": f"Bearer {self.token}"}

    # --------------------------------------------------------- request log

    @property
    def requests(self) -> list[RecordedRequest]:
        """A copy of the request log, in arrival order."""
        with self._lock:
            return list(self._requests)

    def clear_requests(self) -> None:
        """Forget the logged requests and the rate-limit windows."""
        with self._lock:
            self._requests.clear()
            self._windows.clear()

    def max_requests_per_window(self, window: float = 1.0, *, path_prefix: str = "") -> int:
        """The most requests that arrived within any ``window`` seconds."""
        times = sorted(r.time for r in self.requests if r.path.startswith(path_prefix))
        best = 0
        start = 0
        for end, moment in enumerate(times):
            while moment - times[start] >= window:
                start += 1
            best = max(best, end - start + 1)
        return best

    # ---------------------------------------------------------------- OAuth

    def issue_auth_code(self, user_id: int | None = None) -> str:
        """An authorization code, as the consent redirect would deliver (20 min, single use)."""
        code = "code-" + secrets.token_urlsafe(24)
        with self._lock:
            self._codes[code] = _Grant(self._user(user_id), self.clock.now() + CODE_TTL)
        return code

    def issue_tokens(self, user_id: int | None = None) -> JSON:
        """A fresh OAuth pair (the token endpoint's JSON), without an HTTP round trip."""
        with self._lock:
            return self._new_pair(self._user(user_id))

    def issue_long_lived_token(self, *, days: int = 365, user_id: int | None = None) -> str:
        """A long-lived token (no refresh token) valid for ``days`` on the fake clock."""
        token = "ll-" + secrets.token_urlsafe(32)
        with self._lock:
            self._access[token] = _AccessToken(f"ll:{token[:10]}", self._user(user_id), self.clock.now() + days * 86400, True)
        return token

    def expire_access_tokens(self, *, include_long_lived: bool = False) -> None:
        """Make every issued access token expired now (the next call gets 401)."""
        now = self.clock.now()
        with self._lock:
            for token in self._access.values():
                if include_long_lived or not token.long_lived:
                    token.expires_at = min(token.expires_at, now)

    def revoke_refresh_tokens(self) -> None:
        """Invalidate every refresh token (the integration was disabled)."""
        with self._lock:
            for grant in self._refresh.values():
                grant.used = True

    def _user(self, user_id: int | None) -> int:
        return self.state.admin_user_id if user_id is None else user_id

    def _new_pair(self, user_id: int) -> JSON:
        now = self.clock.now()
        access = "at-" + secrets.token_urlsafe(32)
        refresh = "def50200" + secrets.token_hex(40)
        self._access[access] = _AccessToken(f"app:{self.oauth.client_id}", user_id, now + ACCESS_TTL, False)
        self._refresh[refresh] = _Grant(user_id, now + REFRESH_TTL)
        return {
            "token_type": "Bearer",
            "expires_in": ACCESS_TTL,
            "server_time": now,
            "access_token": access,
            "refresh_token": refresh,
        }

    def _oauth_error(self, status: int, hint: str) -> Response:
        body = {
            "hint": hint,
            "title": "Некорректный запрос",
            "type": _OAUTH_ERROR_TYPE,
            "status": status,
            "detail": "В запросе отсутствует ряд параметров или параметры невалидны",
        }
        return Response(status, _json_bytes(body), PROBLEM)

    def _token_endpoint(self, req: Request) -> Response:
        if req.method != "POST":
            raise ApiError(405, f"Cannot {req.method} {req.path}")
        data = req.body
        if data is None and req.raw:
            data = dict(parse_qsl(req.raw.decode("utf-8", "replace")))
        if not isinstance(data, dict):
            return self._oauth_error(400, "Request body must be a JSON object")
        if data.get("client_id") != self.oauth.client_id or data.get("client_secret") != self.oauth.client_secret:
            return self._oauth_error(401, "Client authentication failed")
        if data.get("redirect_uri") != self.oauth.redirect_uri:
            return self._oauth_error(400, "redirect_uri does not match the integration")
        grant_type = data.get("grant_type")
        now = self.clock.now()
        with self._lock:
            if grant_type == "authorization_code":
                grant = self._codes.get(str(data.get("code")))
                if grant is None or grant.used:
                    return self._oauth_error(400, "Authorization code has been revoked")
                if grant.expires_at <= now:
                    return self._oauth_error(400, "Authorization code has expired")
                grant.used = True
                pair = self._new_pair(grant.user_id)
            elif grant_type == "refresh_token":
                grant = self._refresh.get(str(data.get("refresh_token")))
                if grant is None or grant.used:
                    return self._oauth_error(401, "Token has been revoked")
                if grant.expires_at <= now:
                    return self._oauth_error(401, "Token has expired")
                grant.used = True
                self.refresh_grants += 1
                pair = self._new_pair(grant.user_id)
            else:
                return self._oauth_error(400, "Unsupported grant type")
        return Response(200, _json_bytes(pair), "application/json")

    # ----------------------------------------------------------- test hooks

    def create_entity(self, etype: str, data: JSON, *, user_id: int | None = None) -> JSON:
        """Create a lead/contact/company as a web-UI user would; returns its API shape."""
        with self.state.lock:
            echo = self.state.write_entities(etype, [data], creating=True, user_id=self._user(user_id))[0]
            return self.get_entity(etype, echo["id"]) or {}

    def update_entity(self, etype: str, entity_id: int, data: JSON, *, user_id: int | None = None) -> JSON:
        """Change an entity remotely (PATCH rules); returns its API shape."""
        with self.state.lock:
            self.state.write_entities(etype, [{**data, "id": entity_id}], creating=False, user_id=self._user(user_id))
            return self.get_entity(etype, entity_id) or {}

    def delete_entity(self, etype: str, entity_id: int, *, user_id: int | None = None) -> None:
        """Delete remotely (there is no DELETE in the API): hidden, plus a ``*_deleted`` event."""
        self.state.delete_entity(etype, entity_id, user_id=user_id)

    def restore_entity(self, etype: str, entity_id: int, *, user_id: int | None = None) -> None:
        """Restore a deleted entity (a ``*_restored`` event)."""
        self.state.restore_entity(etype, entity_id, user_id=user_id)

    def get_entity(self, etype: str, entity_id: int) -> JSON | None:
        """The API shape of a live entity (with its links), or None."""
        with self.state.lock:
            rec = self.state.get_entity(etype, entity_id)
            if rec is None:
                return None
            return self.state.render_entity(etype, rec, {"contacts", "leads"})

    def seed_leads(self, count: int, *, name: str = "Lead {i}", **fields: Any) -> list[int]:
        """Create ``count`` leads (``name`` may use ``{i}``); returns their ids."""
        ids: list[int] = []
        with self.state.lock:
            for start in range(0, count, st.MAX_BATCH):
                batch = [{"name": name.format(i=i), **fields} for i in range(start, min(count, start + st.MAX_BATCH))]
                echoes = self.state.write_entities("leads", batch, creating=True, user_id=self.state.admin_user_id)
                ids.extend(e["id"] for e in echoes)
        return ids

    def add_unsorted(
        self,
        lead_name: str,
        *,
        contact_name: str | None = None,
        pipeline_id: int | None = None,
        category: str = "forms",
        source_name: str = "Форма на сайте",
    ) -> str:
        """An incoming lead waiting in Unsorted; returns its ``uid``."""
        contact = {"name": contact_name} if contact_name else None
        rec = self.state.add_unsorted(
            {"name": lead_name}, contact=contact, pipeline_id=pipeline_id, category=category, source_name=source_name
        )
        return str(rec["uid"])

    def events(self, event_type: str | None = None) -> list[JSON]:
        """Recorded events (newest first), optionally of one type."""
        with self.state.lock:
            items = [self.state.render_event(e) for e in self.state.list_events({})]
        return [e for e in items if event_type is None or e["type"] == event_type]

    # -------------------------------------------------------------- serving

    def _handle(self, method: str, target: str, raw: bytes, headers: Message, address: str, arrived: float) -> Response | None:
        split = urlsplit(target)
        path = split.path.rstrip("/") or "/"
        pairs = parse_qsl(split.query, keep_blank_values=True)
        body: Any = None
        body_error = False
        if raw and not path.startswith("/upload/"):  # a file part (Drive upload) is raw bytes
            try:
                body = json.loads(raw.decode("utf-8"))
            except (UnicodeDecodeError, json.JSONDecodeError):
                body_error = True
        token = self._bearer(headers)
        info = self._access.get(token) if token else None
        client = info.client if info else f"ip:{address}"
        record = RecordedRequest(
            method, path, parse_qs(split.query, keep_blank_values=True), arrived, self.clock.now(), client, body
        )
        with self._lock:
            self._requests.append(record)
        try:
            if self.faults.latency > 0:
                time.sleep(self.faults.latency)
            if body_error and not path.startswith("/oauth2/"):
                raise ApiError(400, "Request body is not valid JSON")
            req = Request(method, path, pairs, parse_query(pairs), body, raw, headers, client)
            response = self._serve(req, token, info, arrived)
        except ApiError as error:
            response = problem_response(error)
        except Exception as error:  # pragma: no cover - a bug in the fake
            traceback.print_exc(file=sys.stderr)
            response = problem_response(ApiError(500, repr(error), extra={"trace_id": uuid.uuid4().hex}))
        if response is not None:
            response.headers.setdefault("X-Request-Id", uuid.uuid4().hex)
        record.status = -1 if response is None else response.status
        return response

    @staticmethod
    def _bearer(headers: Message) -> str | None:
        value = headers.get("Authorization") or ""
        scheme, _, token = value.partition(" ")
        return token.strip() if scheme.lower() == "bearer" and token.strip() else None

    def _admit(self, client: str, arrived: float) -> bool:
        with self._lock:
            window = self._windows.setdefault(client, deque())
            while window and arrived - window[0] >= self.limits.window:
                window.popleft()
            if len(window) >= self.limits.max_rps:
                self.rate_limit_violations += 1
                threshold = self.limits.lockout_after
                if threshold is not None and self.rate_limit_violations >= threshold:
                    self.faults.locked_out = True
                return False
            window.append(arrived)
            return True

    def _fault_response(self, fault: InjectedFault) -> Response:
        status = fault.status
        headers: dict[str, str] = {}
        if fault.retry_after_header is not None:
            headers["Retry-After"] = str(fault.retry_after_header)
        if fault.html:
            title = {
                403: "Forbidden",
                429: "Too Many Requests",
                502: "Bad Gateway",
                503: "Service Temporarily Unavailable",
                504: "Gateway Time-out",
            }
            page = _NGINX_403 if status == 403 else _nginx_page(status, title.get(status, "Error"))
            return Response(status, page.encode(), HTML, headers)
        extra: JSON = {}
        if status == 429 and fault.retry_after is not None:
            extra["retry_after"] = fault.retry_after
        if status >= 500:
            extra["trace_id"] = uuid.uuid4().hex
        detail = fault.detail or {
            401: "Unauthorized",
            402: "Payment required",
            429: "You sent too many requests in a given amount of time. Try again later.",
        }.get(status, "Injected failure")
        response = problem_response(ApiError(status, detail, extra=extra))
        response.headers.update(headers)
        return response

    def _rate_limited(self) -> Response:
        fault = InjectedFault(429, 1, self.limits.html_429, self.limits.retry_after, self.limits.retry_after_header)
        return self._fault_response(fault)

    def _serve(self, req: Request, token: str | None, info: _AccessToken | None, arrived: float) -> Response | None:
        if req.path == "/oauth2/access_token":
            return self._token_endpoint(req)
        if not req.path.startswith(("/api/v4/", "/v1.0/", "/upload/", "/download/")):
            raise ApiError(404, f"Cannot {req.method} {self.base_url}{req.path}")
        if self.faults.locked_out:
            return Response(403, _NGINX_403.encode(), HTML)
        fault = self.faults.take(req.method, req.path)
        if fault is not None:
            return self._fault_response(fault)
        if self.limits.enabled and not self._admit(req.client, arrived):
            return self._rate_limited()
        if info is None or info.expires_at <= self.clock.now():
            raise ApiError(401, "Unauthorized" if info is None else "Token has expired")
        if self.faults.payment_required:
            raise ApiError(402, "Payment required")
        req.user_id = info.user_id
        refuse = self.faults.field_create_status
        if refuse is not None and req.method == "POST" and req.path.endswith("/custom_fields"):
            detail = {403: "Only account administrators may add fields", 402: "Payment required"}
            return self._fault_response(InjectedFault(refuse, 1, html=refuse in (502, 503), detail=detail.get(refuse)))
        is_write = req.method in ("POST", "PATCH")
        limit = self.faults.max_write_batch
        if is_write and limit is not None and isinstance(req.body, list) and len(req.body) > limit:
            return Response(504, _nginx_page(504, "Gateway Time-out").encode(), HTML)
        response = self._route(req)
        if req.method in ("POST", "PATCH", "DELETE") and response.status < 300:
            mode = self.faults.take_drop()
            if mode == "close":
                return None
            if mode == "504":
                return Response(504, _nginx_page(504, "Gateway Time-out").encode(), HTML)
        return response

    def _route(self, req: Request) -> Response:
        path_matched = False
        for method, pattern, func in self._routes:
            match = pattern.fullmatch(req.path)
            if match is None:
                continue
            path_matched = True
            if method == req.method:
                with self.state.lock:
                    return func(req, *match.groups())
        if path_matched:
            raise ApiError(405, f"Method {req.method} is not allowed for {req.path}")
        raise ApiError(404, f"Cannot {req.method} {self.base_url}{req.path}")

    def _build_routes(self) -> list[tuple[str, re.Pattern[str], Route]]:
        table: list[tuple[str, str, Route]] = [
            ("GET", r"/api/v4/account", self._r_account),
            ("GET", r"/api/v4/users", self._r_users),
            ("GET", r"/api/v4/users/(\d+)", self._r_user),
            ("GET", r"/api/v4/leads/pipelines", self._r_pipelines),
            ("GET", r"/api/v4/leads/pipelines/(\d+)", self._r_pipeline),
            ("GET", r"/api/v4/leads/pipelines/(\d+)/statuses", self._r_statuses),
            ("GET", r"/api/v4/leads/pipelines/(\d+)/statuses/(\d+)", self._r_status),
            ("GET", r"/api/v4/leads/loss_reasons", self._r_loss_reasons),
            ("GET", r"/api/v4/leads/unsorted", self._r_unsorted_list),
            ("POST", r"/api/v4/leads/unsorted/(forms|sip)", self._r_unsorted_add),
            ("GET", r"/api/v4/leads/unsorted/([0-9a-f]{8,})", self._r_unsorted_get),
            ("POST", r"/api/v4/leads/unsorted/([0-9a-f]{8,})/accept", self._r_unsorted_accept),
            ("DELETE", r"/api/v4/leads/unsorted/([0-9a-f]{8,})/decline", self._r_unsorted_decline),
            ("POST", r"/api/v4/leads/complex", self._r_complex),
            ("GET", rf"/api/v4/{_ENTITY}/custom_fields", self._r_custom_fields),
            ("POST", rf"/api/v4/{_ENTITY}/custom_fields", self._r_custom_fields_add),
            ("GET", rf"/api/v4/{_ENTITY}/custom_fields/(\d+)", self._r_custom_field),
            ("GET", rf"/api/v4/{_ENTITY}/tags", self._r_tags),
            ("POST", rf"/api/v4/{_ENTITY}/tags", self._r_tags_add),
            ("GET", rf"/api/v4/{_ENTITY}/notes", self._r_notes),
            ("POST", rf"/api/v4/{_ENTITY}/notes", self._r_notes_add),
            ("PATCH", rf"/api/v4/{_ENTITY}/notes", self._r_notes_patch),
            ("GET", rf"/api/v4/{_ENTITY}/notes/(\d+)", self._r_note),
            ("POST", rf"/api/v4/{_ENTITY}/notes/(\d+)/(pin|unpin)", self._r_note_pin),
            *self.drive.routes(_ENTITY),
            ("GET", rf"/api/v4/{_ENTITY}/(\d+)/notes", self._r_entity_notes),
            ("POST", rf"/api/v4/{_ENTITY}/(\d+)/notes", self._r_entity_notes_add),
            ("GET", rf"/api/v4/{_ENTITY}/(\d+)/notes/(\d+)", self._r_entity_note),
            ("GET", rf"/api/v4/{_ENTITY}/links", self._r_links_mass),
            ("POST", rf"/api/v4/{_ENTITY}/link", self._r_link_mass),
            ("POST", rf"/api/v4/{_ENTITY}/unlink", self._r_unlink_mass),
            ("GET", rf"/api/v4/{_ENTITY}/(\d+)/links", self._r_links),
            ("POST", rf"/api/v4/{_ENTITY}/(\d+)/link", self._r_link),
            ("POST", rf"/api/v4/{_ENTITY}/(\d+)/unlink", self._r_unlink),
            ("GET", rf"/api/v4/{_ENTITY}", self._r_list),
            ("POST", rf"/api/v4/{_ENTITY}", self._r_create),
            ("PATCH", rf"/api/v4/{_ENTITY}", self._r_patch),
            ("DELETE", rf"/api/v4/{_ENTITY}", self._r_no_delete),
            ("GET", rf"/api/v4/{_ENTITY}/(\d+)", self._r_get),
            ("PATCH", rf"/api/v4/{_ENTITY}/(\d+)", self._r_patch_one),
            ("DELETE", rf"/api/v4/{_ENTITY}/(\d+)", self._r_no_delete),
            ("GET", r"/api/v4/tasks", self._r_tasks),
            ("POST", r"/api/v4/tasks", self._r_tasks_add),
            ("PATCH", r"/api/v4/tasks", self._r_tasks_patch),
            ("DELETE", r"/api/v4/tasks", self._r_no_delete),
            ("GET", r"/api/v4/tasks/(\d+)", self._r_task),
            ("PATCH", r"/api/v4/tasks/(\d+)", self._r_task_patch_one),
            ("DELETE", r"/api/v4/tasks/(\d+)", self._r_no_delete),
            ("GET", r"/api/v4/events", self._r_events),
            ("GET", r"/api/v4/events/([0-9a-z]+)", self._r_event),
            ("GET", r"/api/v4/webhooks", self._r_webhooks),
            ("POST", r"/api/v4/webhooks", self._r_webhook_add),
            ("DELETE", r"/api/v4/webhooks", self._r_webhook_delete),
        ]
        return [(method, re.compile(pattern), func) for method, pattern, func in table]

    # ---------------------------------------------------------------- paging

    def _url(self, req: Request, page: int | None = None) -> str:
        pairs = [(k, v) for k, v in req.pairs if k != "page"]
        if page is not None:
            pairs.append(("page", str(page)))
        query = urlencode(pairs)
        return f"{self.base_url}{req.path}" + (f"?{query}" if query else "")

    def _paged(
        self,
        req: Request,
        key: str,
        records: list[JSON],
        render: Callable[[JSON], JSON],
        *,
        totals: bool = False,
    ) -> Response:
        page = max(1, int_param(req.q, "page", 1))
        limit = int_param(req.q, "limit", DEFAULT_LIMIT)
        if limit > MAX_LIMIT or limit < 1:
            limit = DEFAULT_LIMIT
        start = (page - 1) * limit
        chunk = records[start : start + limit]
        if not chunk:
            return no_content()
        links: JSON = {"self": {"href": self._url(req, page)}}
        if start + limit < len(records):
            links["next"] = {"href": self._url(req, page + 1)}
        if page > 1:
            links["first"] = {"href": self._url(req, 1)}
            links["prev"] = {"href": self._url(req, page - 1)}
        body: JSON = {}
        if totals:
            body["_total_items"] = len(records)
            body["_page_count"] = (len(records) + limit - 1) // limit
        body["_page"] = page
        body["_links"] = links
        body["_embedded"] = {key: [render(r) for r in chunk]}
        return hal(body)

    def _embedded(self, req: Request, key: str, items: list[JSON], status: int = 200) -> Response:
        return hal({"_links": {"self": {"href": self._url(req)}}, "_embedded": {key: items}}, status)

    # ------------------------------------------------------------ account

    def _r_account(self, req: Request) -> Response:
        s = self.state
        wanted = with_set(req.q)
        body: JSON = {
            "id": s.account_id,
            "name": "Тестовая CRM",
            "subdomain": self.subdomain,
            "created_at": 1600000000,
            "created_by": s.admin_user_id,
            "updated_at": 1600000000,
            "updated_by": s.admin_user_id,
            "current_user_id": req.user_id,
            "country": "RU",
            "customers_mode": "disabled",
            "is_unsorted_on": True,
            "is_loss_reason_enabled": True,
            "is_helpbot_enabled": False,
            "is_technical_account": False,
            "contact_name_display_order": 1,
            "currency": "RUB",
            "currency_symbol": "₽",
            "_links": {"self": {"href": s.href("account")}},
        }
        embedded: JSON = {}
        if "is_api_filter_enabled" in wanted:
            body["is_api_filter_enabled"] = not self.faults.ignore_filters
        if "task_types" in wanted:
            embedded["task_types"] = [dict(t) for t in s.task_types]
        if "users_groups" in wanted:
            embedded["users_groups"] = [{"id": 0, "name": "Отдел продаж", "uuid": None}]
        if "version" in wanted:
            body["version"] = 1
        if "drive_url" in wanted:
            body["drive_url"] = self.drive.base_url  # its own host in amoCRM (drive-*.amocrm.ru)
        if "datetime_settings" in wanted:
            body["datetime_settings"] = {"date_pattern": "d.m.Y", "timezone": "Europe/Moscow", "timezone_offset": "+03:00"}
        if embedded:
            body["_embedded"] = embedded
        return hal(body)

    def _r_users(self, req: Request) -> Response:
        users = sorted(self.state.users.values(), key=lambda u: u["id"])
        return self._paged(req, "users", users, self.state.render_user, totals=True)

    def _r_user(self, req: Request, user_id: str) -> Response:
        user = self.state.users.get(int(user_id))
        if user is None:
            raise ApiError(404, f"User {user_id} not found")
        return hal(self.state.render_user(user))

    # ------------------------------------------------------------ pipelines

    def _pipeline(self, pipeline_id: str) -> JSON:
        pipeline = self.state.pipelines.get(int(pipeline_id))
        if pipeline is None:
            raise ApiError(404, f"Pipeline {pipeline_id} not found")
        return pipeline

    def _r_pipelines(self, req: Request) -> Response:
        pipelines = sorted(self.state.pipelines.values(), key=lambda p: p["sort"])
        body = {
            "_total_items": len(pipelines),
            "_links": {"self": {"href": self._url(req)}},
            "_embedded": {"pipelines": [self.state.render_pipeline(p) for p in pipelines]},
        }
        return hal(body)

    def _r_pipeline(self, req: Request, pipeline_id: str) -> Response:
        return hal(self.state.render_pipeline(self._pipeline(pipeline_id)))

    def _r_statuses(self, req: Request, pipeline_id: str) -> Response:
        pipeline = self._pipeline(pipeline_id)
        statuses = [self.state.render_status(s) for s in sorted(pipeline["statuses"], key=lambda s: s["sort"])]
        body = {"_total_items": len(statuses), "_links": {"self": {"href": self._url(req)}}, "_embedded": {"statuses": statuses}}
        return hal(body)

    def _r_status(self, req: Request, pipeline_id: str, status_id: str) -> Response:
        status = self.state.status_of(int(self._pipeline(pipeline_id)["id"]), int(status_id))
        if status is None:
            raise ApiError(404, f"Status {status_id} not found")
        return hal(self.state.render_status(status))

    def _r_loss_reasons(self, req: Request) -> Response:
        reasons = sorted(self.state.loss_reasons.values(), key=lambda r: r["sort"])
        items = [{**r, "_links": {"self": {"href": self.state.href(f"leads/loss_reasons/{r['id']}")}}} for r in reasons]
        return self._paged(req, "loss_reasons", items, lambda r: r, totals=True)

    # ------------------------------------------------------------- unsorted

    def _r_unsorted_list(self, req: Request) -> Response:
        items = self.state.list_unsorted(req.q)
        return self._paged(req, "unsorted", items, self.state.render_unsorted, totals=True)

    def _r_unsorted_get(self, req: Request, uid: str) -> Response:
        rec = self.state.unsorted.get(uid)
        if rec is None:
            raise ApiError(404, f"Incoming lead {uid} not found")
        return hal(self.state.render_unsorted(rec))

    def _r_unsorted_add(self, req: Request, category: str) -> Response:
        batch = st.check_batch(req.body)
        out = []
        for index, el in enumerate(batch):
            if not isinstance(el, dict) or not el.get("source_uid") or not el.get("source_name") or "metadata" not in el:
                raise ApiError(400, "source_uid, source_name and metadata are required")
            embedded = el.get("_embedded") or {}
            leads = embedded.get("leads") or [{}]
            contacts = embedded.get("contacts") or []
            companies = embedded.get("companies") or []
            rec = self.state.add_unsorted(
                leads[0],
                contact=contacts[0] if contacts else None,
                company=companies[0] if companies else None,
                category=category,
                source_uid=str(el["source_uid"]),
                source_name=str(el["source_name"]),
                pipeline_id=el.get("pipeline_id"),
                metadata=el.get("metadata"),
                user_id=req.user_id,
            )
            rendered = self.state.render_unsorted(rec, full=False)
            out.append(
                {
                    "uid": rec["uid"],
                    "account_id": rec["account_id"],
                    "request_id": st.request_id_of(el, index),
                    "_embedded": rendered["_embedded"],
                }
            )
        return hal({"_total_items": len(out), "_embedded": {"unsorted": out}})

    def _r_unsorted_accept(self, req: Request, uid: str) -> Response:
        body = req.body if isinstance(req.body, dict) else {}
        user = body.get("user_id")
        status_id = body.get("status_id")
        return hal(self.state.accept_unsorted(uid, user_id=req.user_id, status_id=status_id, acting_user=user))

    def _r_unsorted_decline(self, req: Request, uid: str) -> Response:
        return hal(self.state.decline_unsorted(uid, user_id=req.user_id))

    def _r_complex(self, req: Request) -> Response:
        return Response(200, _json_bytes(self.state.create_complex(req.body, user_id=req.user_id)), "application/json")

    # -------------------------------------------------------- custom fields

    def _r_custom_fields(self, req: Request, etype: str) -> Response:
        fields = sorted(self.state.custom_fields[etype].values(), key=lambda f: f["sort"])
        return self._paged(req, "custom_fields", fields, lambda f: self.state.render_custom_field(etype, f), totals=True)

    def _r_custom_field(self, req: Request, etype: str, field_id: str) -> Response:
        definition = self.state.custom_fields[etype].get(int(field_id))
        if definition is None:
            raise ApiError(404, f"Custom field {field_id} not found")
        return hal(self.state.render_custom_field(etype, definition))

    def _r_custom_fields_add(self, req: Request, etype: str) -> Response:
        batch = st.check_batch(req.body)
        out = []
        for index, el in enumerate(batch):
            if not isinstance(el, dict) or not isinstance(el.get("name"), str) or not isinstance(el.get("type"), str):
                raise ApiError(400, "name and type are required")
            enums = [e.get("value") for e in el.get("enums") or [] if isinstance(e, dict)]
            field_id = self.state.add_custom_field(etype, el["name"], el["type"], code=el.get("code"), enums=enums)
            rendered = self.state.render_custom_field(etype, self.state.custom_fields[etype][field_id])
            rendered["request_id"] = st.request_id_of(el, index)
            out.append(rendered)
        return self._embedded(req, "custom_fields", out)

    # ----------------------------------------------------------------- tags

    def _r_tags(self, req: Request, etype: str) -> Response:
        return self._paged(req, "tags", self.state.list_tags(etype, req.q), dict)

    def _r_tags_add(self, req: Request, etype: str) -> Response:
        return self._embedded(req, "tags", self.state.add_tags(etype, req.body))

    # ------------------------------------------------------------- entities

    def _r_list(self, req: Request, etype: str) -> Response:
        records = self.state.list_entities(etype, req.q, filters_enabled=not self.faults.ignore_filters)
        return self._paged(req, etype, records, st.make_renderer(self.state, etype, with_set(req.q)))

    def _missing(self, what: str) -> Response:
        if self.missing_entity_status == 404:
            raise ApiError(404, f"{what} not found")
        return no_content()

    def _r_get(self, req: Request, etype: str, entity_id: str) -> Response:
        rec = self.state.get_entity(etype, int(entity_id))
        if rec is None:
            return self._missing(f"{etype} {entity_id}")
        return hal(self.state.render_entity(etype, rec, with_set(req.q)))

    def _r_create(self, req: Request, etype: str) -> Response:
        return self._embedded(req, etype, self.state.write_entities(etype, req.body, creating=True, user_id=req.user_id))

    def _r_patch(self, req: Request, etype: str) -> Response:
        return self._embedded(req, etype, self.state.write_entities(etype, req.body, creating=False, user_id=req.user_id))

    def _r_patch_one(self, req: Request, etype: str, entity_id: str) -> Response:
        if not isinstance(req.body, dict):
            raise ApiError(400, "Request body must be a JSON object")
        echo = self.state.write_entities(etype, [{**req.body, "id": int(entity_id)}], creating=False, user_id=req.user_id)[0]
        echo.pop("request_id", None)
        return hal(echo)

    def _r_no_delete(self, req: Request, *args: str) -> Response:
        raise ApiError(405, "Deleting entities is not available through the API")

    # ---------------------------------------------------------------- tasks

    def _r_tasks(self, req: Request) -> Response:
        return self._paged(req, "tasks", self.state.list_tasks(req.q), self.state.render_task)

    def _r_task(self, req: Request, task_id: str) -> Response:
        task = self.state.tasks.get(int(task_id))
        if task is None or task.get("_deleted"):
            return self._missing(f"task {task_id}")
        return hal(self.state.render_task(task))

    def _r_tasks_add(self, req: Request) -> Response:
        return self._embedded(req, "tasks", self.state.write_tasks(req.body, creating=True, user_id=req.user_id))

    def _r_tasks_patch(self, req: Request) -> Response:
        return self._embedded(req, "tasks", self.state.write_tasks(req.body, creating=False, user_id=req.user_id))

    def _r_task_patch_one(self, req: Request, task_id: str) -> Response:
        if not isinstance(req.body, dict):
            raise ApiError(400, "Request body must be a JSON object")
        echo = self.state.write_tasks([{**req.body, "id": int(task_id)}], creating=False, user_id=req.user_id)[0]
        echo.pop("request_id", None)
        return hal(echo)

    # ---------------------------------------------------------------- notes

    def _r_notes(self, req: Request, etype: str) -> Response:
        notes = self.state.list_notes(etype, req.q)
        return self._paged(req, "notes", notes, lambda n: self.state.render_note(etype, n, with_set(req.q)))

    def _r_entity_notes(self, req: Request, etype: str, entity_id: str) -> Response:
        notes = self.state.list_notes(etype, req.q, entity_id=int(entity_id))
        return self._paged(req, "notes", notes, lambda n: self.state.render_note(etype, n, with_set(req.q)))

    def _r_note(self, req: Request, etype: str, note_id: str) -> Response:
        note = self.state.notes[etype].get(int(note_id))
        if note is None:
            return self._missing(f"note {note_id}")
        return hal(self.state.render_note(etype, note, with_set(req.q)))

    def _r_entity_note(self, req: Request, etype: str, entity_id: str, note_id: str) -> Response:
        note = self.state.notes[etype].get(int(note_id))
        if note is None or note["entity_id"] != int(entity_id):
            return self._missing(f"note {note_id}")
        return hal(self.state.render_note(etype, note, with_set(req.q)))

    def _r_note_pin(self, req: Request, etype: str, note_id: str, action: str) -> Response:
        """``POST /api/v4/{entity_type}/notes/{id}/pin|unpin``: 204 (KDOC pin-note)."""
        if not self.state.pin_note(etype, int(note_id), action == "pin", user_id=req.user_id):
            return self._missing(f"note {note_id}")
        return Response(204)

    def _r_notes_add(self, req: Request, etype: str) -> Response:
        return self._embedded(req, "notes", self.state.write_notes(etype, req.body, creating=True, user_id=req.user_id))

    def _r_entity_notes_add(self, req: Request, etype: str, entity_id: str) -> Response:
        items = self.state.write_notes(etype, req.body, creating=True, user_id=req.user_id, entity_id=int(entity_id))
        return self._embedded(req, "notes", items)

    def _r_notes_patch(self, req: Request, etype: str) -> Response:
        return self._embedded(req, "notes", self.state.write_notes(etype, req.body, creating=False, user_id=req.user_id))

    # ---------------------------------------------------------------- links

    def _link_targets(self, etype: str, body: Any, *, mass: bool) -> list[tuple[int, str, int, JSON | None]]:
        batch = st.check_batch(body)
        errors: list[JSON] = []
        out: list[tuple[int, str, int, JSON | None]] = []
        for index, el in enumerate(batch):
            errs: list[JSON] = []
            if not isinstance(el, dict):
                errors.append({"request_id": str(index), "errors": [{"code": "InvalidType", "path": "", "detail": "object"}]})
                continue
            entity_id = el.get("entity_id") if mass else 0
            if mass and (not isinstance(entity_id, int) or self.state.get_entity(etype, entity_id) is None):
                errs.append({"code": "NotSupportedChoice", "path": "entity_id", "detail": "Entity not found."})
            to_type = str(el.get("to_entity_type"))
            if self.state.check_link(etype, to_type, el.get("to_entity_id"), str(index), errs) and not errs:
                metadata = el.get("metadata") if isinstance(el.get("metadata"), dict) else None
                out.append((int(entity_id or 0), to_type, int(el["to_entity_id"]), metadata))
            if errs:
                errors.append({"request_id": str(index), "errors": errs})
        if errors:
            raise ValidationFailed(errors)
        return out

    def _link_item(self, etype: str, entity_id: int, to_type: str, to_id: int, metadata: JSON | None, *, mass: bool) -> JSON:
        item: JSON = {}
        if mass:
            item.update(entity_id=entity_id, entity_type=etype)
        item.update(to_entity_id=to_id, to_entity_type=to_type, metadata=metadata or None)
        return item

    def _entity_or_404(self, etype: str, entity_id: str) -> int:
        ident = int(entity_id)
        if self.state.get_entity(etype, ident) is None:
            raise ApiError(404, f"{etype} {entity_id} not found")
        return ident

    def _r_links(self, req: Request, etype: str, entity_id: str) -> Response:
        ident = self._entity_or_404(etype, entity_id)
        items = self._links_of(etype, ident, req.q, mass=False)
        return self._embedded(req, "links", items) if items else no_content()

    def _links_of(self, etype: str, ident: int, q: Query, *, mass: bool) -> list[JSON]:
        wanted_type = scalar(q.get("filter") or {}, "to_entity_type") if isinstance(q.get("filter"), dict) else None
        items = []
        for to_type in st.ENTITY_TYPES:
            if to_type == etype or (wanted_type and wanted_type != to_type):
                continue
            for other, metadata in self.state.linked(etype, ident, to_type):
                items.append(self._link_item(etype, ident, to_type, other, metadata, mass=mass))
        return items

    def _r_links_mass(self, req: Request, etype: str) -> Response:
        filt = req.q.get("filter")
        ids = ints(flat(filt.get("entity_id")), "entity_id") if isinstance(filt, dict) else []
        if not ids:
            raise ApiError(400, "filter[entity_id] is required")
        items = [
            item
            for ident in ids
            if self.state.get_entity(etype, ident)
            for item in self._links_of(etype, ident, req.q, mass=True)
        ]
        return self._embedded(req, "links", items) if items else no_content()

    def _r_link(self, req: Request, etype: str, entity_id: str) -> Response:
        ident = self._entity_or_404(etype, entity_id)
        out = []
        for _, to_type, to_id, metadata in self._link_targets(etype, req.body, mass=False):
            stored = self.state.link(etype, ident, to_type, to_id, metadata, user_id=req.user_id)
            out.append(self._link_item(etype, ident, to_type, to_id, stored, mass=False))
        return self._embedded(req, "links", out)

    def _r_unlink(self, req: Request, etype: str, entity_id: str) -> Response:
        ident = self._entity_or_404(etype, entity_id)
        for _, to_type, to_id, _ in self._link_targets(etype, req.body, mass=False):
            self.state.unlink(etype, ident, to_type, to_id, user_id=req.user_id)
        return no_content()

    def _r_link_mass(self, req: Request, etype: str) -> Response:
        out = []
        for ident, to_type, to_id, metadata in self._link_targets(etype, req.body, mass=True):
            stored = self.state.link(etype, ident, to_type, to_id, metadata, user_id=req.user_id)
            out.append(self._link_item(etype, ident, to_type, to_id, stored, mass=True))
        return self._embedded(req, "links", out)

    def _r_unlink_mass(self, req: Request, etype: str) -> Response:
        for ident, to_type, to_id, _ in self._link_targets(etype, req.body, mass=True):
            self.state.unlink(etype, ident, to_type, to_id, user_id=req.user_id)
        return no_content()

    # --------------------------------------------------------------- events

    def _r_events(self, req: Request) -> Response:
        return self._paged(req, "events", self.state.list_events(req.q), self.state.render_event)

    def _r_event(self, req: Request, event_id: str) -> Response:
        event = next((e for e in self.state.events if e["id"] == event_id), None)
        if event is None:
            return self._missing(f"event {event_id}")
        return hal(self.state.render_event(event))

    # ------------------------------------------------------------- webhooks

    def _r_webhooks(self, req: Request) -> Response:
        hooks = list(self.state.webhooks)
        filt = req.q.get("filter")
        destination = scalar(filt, "destination") if isinstance(filt, dict) else None
        if destination:
            hooks = [h for h in hooks if h["destination"] == destination]
        if not hooks:
            return no_content()
        return hal({"_total_items": len(hooks), "_embedded": {"webhooks": hooks}})

    def _r_webhook_add(self, req: Request) -> Response:
        body = req.body
        if (
            not isinstance(body, dict)
            or not isinstance(body.get("destination"), str)
            or not isinstance(body.get("settings"), list)
        ):
            raise ApiError(400, "destination and settings are required")
        hook = {
            "id": self.state.new_id(),
            "destination": body["destination"],
            "created_at": self.clock.now(),
            "updated_at": self.clock.now(),
            "account_id": self.state.account_id,
            "created_by": req.user_id,
            "sort": body.get("sort", 1),
            "disabled": False,
            "settings": list(body["settings"]),
        }
        self.state.webhooks = [h for h in self.state.webhooks if h["destination"] != hook["destination"]] + [hook]
        return hal(hook, 201)

    def _r_webhook_delete(self, req: Request) -> Response:
        destination = req.body.get("destination") if isinstance(req.body, dict) else None
        if not destination:
            raise ApiError(400, "destination is required")
        self.state.webhooks = [h for h in self.state.webhooks if h["destination"] != destination]
        return no_content()
