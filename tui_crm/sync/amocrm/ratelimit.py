"""Client-side rate limit for amoCRM: at most N requests in any 1-second window.

amoCRM allows 7 requests per second per integration; repeated 429s get the
whole account blocked (403 for every call until support lifts it). So the
client never relies on 429s: every request, refreshes included, first waits
for a slot in a sliding-window log shared by all threads using the limiter.

The window is widened by a small ``margin`` (50 ms by default) because the
server measures arrival times, which jitter by a few milliseconds relative to
the moment the client sends.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable


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
        self.period = period
        self.margin = margin
        self._clock = clock
        self._sleep = sleep
        self._sent: deque[float] = deque()
        self._lock = threading.Lock()

    def acquire(self) -> float:
        """Block until a request may be sent; returns the seconds waited.

        The lock is held while waiting, so waiting threads go one at a time
        in arrival order.
        """
        waited = 0.0
        with self._lock:
            window = self.period + self.margin
            while True:
                now = self._clock()
                while self._sent and now - self._sent[0] >= window:
                    self._sent.popleft()
                if len(self._sent) < self.max_calls:
                    self._sent.append(now)
                    return waited
                pause = self._sent[0] + window - now
                self._sleep(pause)
                waited += pause

    def penalize(self, seconds: float) -> None:
        """Treat the window as full for ``seconds`` (after a 429, slow everyone down)."""
        with self._lock:
            until = self._clock() + seconds - (self.period + self.margin)
            entries = [until] * (self.max_calls - len(self._sent)) + list(self._sent)
            self._sent = deque(max(entry, until) for entry in entries)
