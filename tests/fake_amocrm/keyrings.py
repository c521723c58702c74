"""Keyring backends for tests only: in memory, and a JSON file for several processes.

Production keeps amoCRM tokens in the OS keyring (Secret Service on Linux,
Keychain on macOS, Credential Locker on Windows) through ``keyring``. Test
machines have none, so tests install one of these with
``keyring.set_keyring(...)``. :class:`FileKeyring` stores secrets in plain
text: it exists so that processes started by a test can share one store, and
must never be used outside tests.
"""

from __future__ import annotations

import fcntl
import json
import os
import threading
from pathlib import Path

from keyring.backend import KeyringBackend
from keyring.errors import PasswordDeleteError


class MemoryKeyring(KeyringBackend):
    """Secrets in a dict of this process."""

    priority = 1  # type: ignore[assignment]

    def __init__(self) -> None:
        super().__init__()
        self._lock = threading.Lock()
        self._items: dict[tuple[str, str], str] = {}

    def get_password(self, service: str, username: str) -> str | None:
        with self._lock:
            return self._items.get((service, username))

    def set_password(self, service: str, username: str, password: str) -> None:
        with self._lock:
            self._items[(service, username)] = password

    def delete_password(self, service: str, username: str) -> None:
        with self._lock:
            if self._items.pop((service, username), None) is None:
                raise PasswordDeleteError(username)


class FileKeyring(KeyringBackend):
    """Secrets in one JSON file (flock-guarded, atomic replace); shared by processes."""

    priority = 1  # type: ignore[assignment]

    def __init__(self, path: str | os.PathLike[str]) -> None:
        super().__init__()
        self.path = Path(path)

    def _locked(self) -> int:
        fd = os.open(f"{self.path}.lock", os.O_RDWR | os.O_CREAT, 0o600)
        fcntl.flock(fd, fcntl.LOCK_EX)
        return fd

    def _read(self) -> dict[str, str]:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}
        return {str(k): str(v) for k, v in data.items()}

    def _write(self, items: dict[str, str]) -> None:
        tmp = self.path.with_suffix(f".tmp{os.getpid()}")
        tmp.write_text(json.dumps(items), encoding="utf-8")
        os.replace(tmp, self.path)

    @staticmethod
    def _key(service: str, username: str) -> str:
        return f"{service}\x1f{username}"

    def get_password(self, service: str, username: str) -> str | None:
        fd = self._locked()
        try:
            return self._read().get(self._key(service, username))
        finally:
            os.close(fd)

    def set_password(self, service: str, username: str, password: str) -> None:
        fd = self._locked()
        try:
            items = self._read()
            items[self._key(service, username)] = password
            self._write(items)
        finally:
            os.close(fd)

    def delete_password(self, service: str, username: str) -> None:
        fd = self._locked()
        try:
            items = self._read()
            if items.pop(self._key(service, username), None) is None:
                raise PasswordDeleteError(username)
            self._write(items)
        finally:
            os.close(fd)
