"""LISTEN/NOTIFY while the app is online: a pull within seconds of a teammate's change.

The hub's feed trigger sends ``NOTIFY hub_feed, '<entity> <client>'`` with
every committed write (PostgreSQL delivers it at commit, and folds
repeats within a transaction). :class:`HubListener` keeps one connection
in ``LISTEN`` in a daemon thread and calls ``on_change`` (debounced: a
burst of notifications is one call) for writes of other clients. A lost
connection is retried with backoff; offline the app keeps working, and the
next sync catches up from the feed cursor (notifications are only a
prompt, never the data).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from tui_crm.sync.hub.connection import HubAddress, connect

CHANNEL = "hub_feed"


class HubListener:
    def __init__(
        self,
        address: HubAddress,
        password: str | None,
        client_id: str,
        on_change: Callable[[], None],
        *,
        sslcert: str | None = None,
        sslkey: str | None = None,
        debounce: float = 0.5,
        on_state: Callable[[bool], None] | None = None,
    ) -> None:
        self.address, self.password, self.client_id = address, password, client_id
        self.on_change, self.on_state = on_change, on_state
        self.sslcert, self.sslkey = sslcert, sslkey
        self.debounce = debounce
        self.online = False
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._conn: Any = None

    def start(self) -> HubListener:
        self._thread = threading.Thread(target=self._loop, name="hub-listen", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        conn = self._conn
        if conn is not None:
            try:
                conn.cancel()  # wake a blocked wait
            except Exception:  # noqa: BLE001 - closing anyway
                pass
        if self._thread is not None:
            self._thread.join(timeout=5)

    def _set_online(self, online: bool) -> None:
        if online != self.online:
            self.online = online
            if self.on_state is not None:
                self.on_state(online)

    def _loop(self) -> None:
        delay = 1.0
        while not self._stop.is_set():
            try:
                self._conn = connect(self.address, self.password, sslcert=self.sslcert, sslkey=self.sslkey, autocommit=True)
                self._conn.execute(f"LISTEN {CHANNEL}")
                self._set_online(True)
                delay = 1.0
                self._listen()
            except Exception:  # noqa: BLE001 - offline, refused, restarted server: retry later
                pass
            finally:
                self._set_online(False)
                if self._conn is not None:
                    try:
                        self._conn.close()
                    except Exception:  # noqa: BLE001
                        pass
                    self._conn = None
            self._stop.wait(delay)
            delay = min(delay * 2, 60.0)

    def _listen(self) -> None:
        conn = self._conn
        while not self._stop.is_set():
            heard = False
            for note in conn.notifies(timeout=1.0, stop_after=None):
                if not self._own(note.payload):
                    heard = True
                if self._stop.is_set():
                    return
            if heard:
                # a burst of writes is one pull: let it settle briefly, drain what else arrived
                self._stop.wait(self.debounce)
                for _ in conn.notifies(timeout=0.01):
                    pass
                self.on_change()
            else:
                conn.execute("SELECT 1")  # notices a dead connection

    def _own(self, payload: str) -> bool:
        _, _, client = payload.partition(" ")
        return client == self.client_id
