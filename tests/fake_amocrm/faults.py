"""Fault injection and rate-limit settings of the fake amoCRM.

``fake.faults`` holds switches tests flip to make the fake misbehave the ways
the real service does (reference sections 2, 3.1 and 6):

* :meth:`Faults.fail_next` and its shortcuts queue canned error responses
  (429 as HTML or problem+json, 401, 402, 403, 5xx) for the next matching
  requests under ``/api/v4``;
* ``locked_out`` answers every API call with the nginx 403 page;
* ``payment_required`` answers every API call with 402;
* ``max_write_batch`` answers a POST/PATCH array longer than it with 504
  (nothing is written);
* :meth:`Faults.drop_next_write` applies a write and then closes the
  connection without a reply (``mode="close"``) or replies 504
  (``mode="504"``): the outcome the client cannot see; ``drop_every = n``
  does that to every n-th write, closing and 504 in turn (a long flaky run);
* ``ignore_filters`` makes lead/contact/company lists ignore every
  ``filter[...]`` parameter (an account without API filtering; the account
  then reports ``is_api_filter_enabled: false``);
* ``latency`` delays every response by that many seconds;
* ``field_create_status`` answers every ``POST .../custom_fields`` with that
  status (403: a manager's account without admin rights; 402 on a lapsed
  plan; 404/405; a 5xx) while everything else works.

``fake.limits`` (:class:`Limits`) holds the rate limit: at most ``max_rps``
API requests in any 1-second sliding window per client, else 429; after
``lockout_after`` such violations the account is locked out (403).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Literal

DropMode = Literal["close", "504"]


@dataclass
class InjectedFault:
    """A canned error response for the next ``remaining`` matching requests."""

    status: int
    remaining: int
    html: bool = False
    retry_after: int | None = None
    retry_after_header: int | None = None
    method: str | None = None
    path_prefix: str | None = None
    detail: str | None = None

    def matches(self, method: str, path: str) -> bool:
        """Whether this fault applies to the request."""
        if self.method is not None and self.method.upper() != method.upper():
            return False
        return self.path_prefix is None or path.startswith(self.path_prefix)


@dataclass
class _Drop:
    mode: DropMode
    remaining: int


@dataclass
class Limits:
    """Rate limit of the fake (per client: an OAuth integration or a long-lived token)."""

    enabled: bool = True
    max_rps: int = 7
    window: float = 1.0
    lockout_after: int | None = 10
    html_429: bool = False
    retry_after: int | None = 1
    retry_after_header: int | None = None


class Faults:
    """Switches and queues that make the fake fail on purpose."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._queue: list[InjectedFault] = []
        self._drops: list[_Drop] = []
        self.locked_out = False
        self.payment_required = False
        self.max_write_batch: int | None = None
        self.ignore_filters = False
        self.latency = 0.0
        self.field_create_status: int | None = None
        self.drop_every: int | None = None
        self._writes = 0

    def fail_next(
        self,
        status: int,
        count: int = 1,
        *,
        html: bool = False,
        retry_after: int | None = None,
        retry_after_header: int | None = None,
        method: str | None = None,
        path: str | None = None,
        detail: str | None = None,
    ) -> None:
        """Answer the next ``count`` API requests (matching ``method``/``path`` prefix) with ``status``.

        The body is problem+json (with ``retry_after`` for 429, ``trace_id``
        for 5xx) or, with ``html=True``, an nginx error page. A JSON 403 is
        "insufficient rights"; the lock-out page is ``html=True`` (or
        :meth:`lock_out`).
        """
        with self._lock:
            self._queue.append(InjectedFault(status, count, html, retry_after, retry_after_header, method, path, detail))

    def rate_limit_next(
        self, count: int = 1, *, html: bool = False, retry_after: int | None = 1, retry_after_header: int | None = None
    ) -> None:
        """The next ``count`` API requests get 429 (HTML page or problem+json with ``retry_after``)."""
        self.fail_next(429, count, html=html, retry_after=retry_after, retry_after_header=retry_after_header)

    def server_error_next(self, count: int = 1, *, status: int = 500, method: str | None = None, path: str | None = None) -> None:
        """The next ``count`` matching API requests get a 5xx (500 JSON with trace_id; 502/503/504 HTML)."""
        self.fail_next(status, count, method=method, path=path, html=status != 500)

    def unauthorized_next(self, count: int = 1) -> None:
        """The next ``count`` API requests get 401 whatever their token."""
        self.fail_next(401, count)

    def drop_next_write(self, count: int = 1, *, mode: DropMode = "close") -> None:
        """Apply the next ``count`` writes, then drop the connection (or reply 504)."""
        with self._lock:
            self._drops.append(_Drop(mode, count))

    def lock_out(self) -> None:
        """Block the account: every API call gets the nginx 403 page."""
        self.locked_out = True

    def unlock(self) -> None:
        """Lift the block (what amoCRM support does)."""
        self.locked_out = False

    def clear(self) -> None:
        """Drop every queued fault and reset every switch."""
        with self._lock:
            self._queue.clear()
            self._drops.clear()
        self.locked_out = False
        self.payment_required = False
        self.max_write_batch = None
        self.ignore_filters = False
        self.latency = 0.0
        self.drop_every = None
        self._writes = 0

    def take(self, method: str, path: str) -> InjectedFault | None:
        """Consume one queued fault that matches the request (server side)."""
        with self._lock:
            for fault in self._queue:
                if fault.remaining > 0 and fault.matches(method, path):
                    fault.remaining -= 1
                    if fault.remaining == 0:
                        self._queue.remove(fault)
                    return fault
            return None

    def take_drop(self) -> DropMode | None:
        """Consume one "drop after write" if any is queued (server side)."""
        with self._lock:
            if not self._drops:
                if not self.drop_every:
                    return None
                self._writes += 1
                if self._writes % self.drop_every:
                    return None
                return "close" if (self._writes // self.drop_every) % 2 else "504"
            entry = self._drops[0]
            entry.remaining -= 1
            if entry.remaining <= 0:
                self._drops.pop(0)
            return entry.mode
