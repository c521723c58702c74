"""Client-side rate limit for amoCRM: at most N requests in any 1-second window.

amoCRM allows 7 requests per second per integration; repeated 429s get the
whole account blocked (403 for every call until support lifts it). So the
client never relies on 429s: every request, refreshes included, first waits
for a slot in a sliding-window log shared by all threads using the limiter.

The server counts arrival times, which lag the moment the client decides to
send by anything from a millisecond to, on a loaded machine, a good part of a
second. So a request sent through :meth:`RateLimiter.slot` holds its place
in the window while it is in flight and is logged at the time its response
came back, an upper bound of its arrival: whatever the delays, no 1-second
window at the server can see more than ``max_calls`` of them. The window is
still widened by a small ``margin`` (50 ms) for the server's own clock.

The allowance adapts (:meth:`RateLimiter.slow_down`, :meth:`RateLimiter.note_success`):
an account may allow fewer than 7 requests a second (a shared integration,
other clients on the same account), and every 429 counts toward the
lock-out. So a 429 cuts the rate (x0.6, at least one less) and it climbs back
by one only after ``recover_after`` requests in a row went through. The sync
keeps the learned rate per account between runs.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager


class RateLimiter:
    """Sliding-window log: ``max_calls`` per ``period`` seconds (+ ``margin``), thread-safe."""

    def __init__(
        self,
        max_calls: int = 7,
        period: float = 1.0,
        *,
        margin: float = 0.05,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if max_calls < 1:
            raise ValueError("max_calls must be at least 1")
        self.max_calls = max_calls
        self.ceiling = max_calls
        self.recover_after = 300
        self._good = 0
        self.period = period
        self.margin = margin
        self._clock = clock
        self._sleep = sleep
        self._sent: deque[float] = deque()
        self._in_flight = 0
        self._lock = threading.Condition()

    def acquire(self) -> float:
        """Block until a request may be sent and log it now; returns the seconds waited."""
        return self._wait(hold=False)

    @contextmanager
    def slot(self) -> Iterator[None]:
        """Send one request inside: it counts from now until its response is in."""
        self._wait(hold=True)
        try:
            yield
        finally:
            with self._lock:
                self._in_flight -= 1
                self._sent.append(self._clock())
                self._lock.notify_all()

    def _wait(self, hold: bool) -> float:
        waited = 0.0
        with self._lock:
            window = self.period + self.margin
            while True:
                now = self._clock()
                while self._sent and now - self._sent[0] >= window:
                    self._sent.popleft()
                if len(self._sent) + self._in_flight < self.max_calls:
                    if hold:
                        self._in_flight += 1
                    else:
                        self._sent.append(now)
                    return waited
                if self._in_flight:
                    # a response may free a place before the oldest entry ages out
                    pause = self._sent[0] + window - now if self._sent else None
                    self._lock.wait(timeout=pause)
                    waited += self._clock() - now
                else:
                    pause = self._sent[0] + window - now
                    self._sleep(pause)
                    waited += pause

    def penalize(self, seconds: float) -> None:
        """Treat the window as full for ``seconds`` (after a 429, slow everyone down)."""
        with self._lock:
            until = self._clock() + seconds - (self.period + self.margin)
            entries = [until] * (self.max_calls - len(self._sent)) + list(self._sent)
            self._sent = deque(max(entry, until) for entry in entries)

    @property
    def rate(self) -> int:
        """Requests currently allowed per period."""
        return self.max_calls

    def set_rate(self, calls: int) -> None:
        """Start from a rate learned before (clamped to 1..ceiling)."""
        with self._lock:
            self.max_calls = max(1, min(self.ceiling, int(calls)))
            self._good = 0

    def slow_down(self) -> int:
        """After a 429: cut the rate (x0.6, at least by one, never below 1); returns the new rate."""
        with self._lock:
            self.max_calls = max(1, min(self.max_calls - 1, int(self.max_calls * 0.6)))
            self._good = 0
            return self.max_calls

    def note_success(self) -> None:
        """A request went through: after ``recover_after`` in a row, allow one more per period."""
        with self._lock:
            if self.max_calls >= self.ceiling:
                return
            self._good += 1
            if self._good >= self.recover_after:
                self.max_calls += 1
                self._good = 0
