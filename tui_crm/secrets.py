"""Where tui-crm keeps secrets: amoCRM tokens, mail passwords, hub credentials.

One store for every secret, so a user sets up the secret store once. Secrets
never reach plaintext files or logs. Callers name a secret by a short key
(``"amocrm:acme"``, ``"mail:sales"``) and get strings back through
``default_store().get/set/delete``; the backend decides where the bytes live:

* **the OS keyring** (Secret Service, Keychain, Credential Locker) when one
  works. A keyring backend that keeps secrets readable on disk is refused
  by what it does, not by its name: a canary secret is written and the
  backend's storage files are searched for it (plain, base64, hex).
* **an encrypted file** (``<data dir>/secrets.enc``, mode 0600) on machines
  without a usable keyring (a server, SSH, cron), or when chosen with
  ``CRM_SECRETS_BACKEND=file`` or ``secrets = "file"`` in config.toml. It is
  Fernet (AES-128-CBC + HMAC-SHA256, from ``cryptography``) under a key
  derived from a passphrase with scrypt. The passphrase comes from
  ``CRM_SECRETS_PASSPHRASE``, from a file descriptor named by
  ``CRM_SECRETS_PASSPHRASE_FD`` (cron: ``3<~/.config/tui-crm/pass``), or
  from a prompt in a terminal.

``check()`` tells, before anything single-use is spent (an OAuth code), that
a secret could be saved now.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import getpass
import hashlib
import json
import os
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, Protocol

from tui_crm.domain.errors import CrmError

SERVICE_NAME = "tui-crm"
ENV_BACKEND = "CRM_SECRETS_BACKEND"  # "keyring" | "file"
ENV_FILE = "CRM_SECRETS_FILE"
ENV_PASSPHRASE = "CRM_SECRETS_PASSPHRASE"
ENV_PASSPHRASE_FD = "CRM_SECRETS_PASSPHRASE_FD"
FILE_FORMAT = "tui-crm-secrets/1"
SCRYPT = {"n": 2**15, "r": 8, "p": 1}
_CANARY_USER = "__tui_crm_canary__"


class SecretStoreError(CrmError):
    """The secret store is missing, locked or refused; the message says what to do."""


class SecretStore(Protocol):
    """A place for named secrets. Every method raises :class:`SecretStoreError` on failure."""

    def get(self, key: str) -> str | None:
        """The secret, or None when none is stored under ``key``."""
        ...

    def set(self, key: str, value: str) -> None:
        """Store ``value`` under ``key``, replacing what was there."""
        ...

    def delete(self, key: str) -> None:
        """Forget ``key`` (no error when it is not there)."""
        ...

    def check(self) -> None:
        """Raise :class:`SecretStoreError` unless a secret could be saved now."""
        ...


# ------------------------------------------------------------------ keyring

_HOW_TO = (
    "Use the system keyring (GNOME Keyring/KWallet via Secret Service, macOS Keychain, Windows Credential "
    f"Locker), or the encrypted file store: {ENV_BACKEND}=file and a passphrase ({ENV_PASSPHRASE} or "
    f"{ENV_PASSPHRASE_FD}; see docs/sync.md)."
)
_vetted: dict[int, tuple[Any, str | None]] = {}  # id -> (the backend, kept so its id is not reused; problem)
_vet_lock = threading.Lock()


def _storage_files(backend: Any) -> list[Path]:
    """Files a keyring backend names in its attributes or properties (where it may keep secrets)."""
    values: list[Any] = list(vars(backend).values()) if hasattr(backend, "__dict__") else []
    for name in dir(type(backend)):
        if isinstance(getattr(type(backend), name, None), property):
            with contextlib.suppress(Exception):
                values.append(getattr(backend, name))
    out: list[Path] = []
    for value in values:
        if isinstance(value, str | os.PathLike) and str(value).strip():
            path = Path(value).expanduser()
            with contextlib.suppress(OSError):
                if path.is_file() and path not in out:
                    out.append(path)
    return out


def _readable_on_disk(files: list[Path], canary: str) -> Path | None:
    raw = canary.encode()
    hexed = binascii.hexlify(raw)
    needles = [raw, base64.b64encode(raw)[:-4], base64.urlsafe_b64encode(raw)[:-4], hexed, hexed.upper()]
    for path in files:
        with contextlib.suppress(OSError):
            data = path.read_bytes()
            if any(n in data for n in needles):
                return path
    return None


def plaintext_reason(backend: Any) -> str | None:
    """Why ``backend`` must not hold secrets (it keeps them readable on disk), or None.

    Judged by behaviour: a canary secret is written through the backend and its storage files
    (before and after the write) are searched for it, so a plaintext backend under another name
    or module is still caught."""
    chain = getattr(backend, "backends", None)
    targets = list(chain) if chain else [backend]
    for target in targets[:1]:  # the backend that receives writes
        canary = "tui-crm-canary-" + os.urandom(12).hex()
        before = _storage_files(target)
        try:
            target.set_password(SERVICE_NAME, _CANARY_USER, canary)
        except Exception:  # noqa: BLE001 - a backend that cannot write is judged by the probe, not here
            return None
        try:
            leaked = _readable_on_disk(before + [p for p in _storage_files(target) if p not in before], canary)
        finally:
            with contextlib.suppress(Exception):
                target.delete_password(SERVICE_NAME, _CANARY_USER)
        if leaked is not None:
            name = type(target).__name__
            return f"The keyring backend {name} keeps secrets readable in {leaked}; tui-crm will not keep secrets there."
    return None


def keyring_problem() -> str | None:
    """Why the OS keyring cannot be used now (none, locked, plaintext), or None when it can."""
    try:
        import keyring
    except ImportError:  # pragma: no cover - a dependency
        return "The keyring package is not installed."
    backend = keyring.get_keyring()
    key = id(backend)
    with _vet_lock:
        if key in _vetted:
            return _vetted[key][1]
    chain = getattr(backend, "backends", None)
    try:
        if chain is not None and not chain:
            raise LookupError("no keyring backend is installed")
        backend.get_password(SERVICE_NAME, _CANARY_USER)
        problem = plaintext_reason(backend)
    except Exception as exc:  # noqa: BLE001 - no backend, a locked one, D-Bus missing: all mean "not usable"
        problem = f"No usable system keyring ({type(exc).__name__}: {exc})."
    with _vet_lock:
        _vetted[key] = (backend, problem)
    return problem


class KeyringSecretStore:
    """Secrets in the OS keyring under service ``tui-crm``, username = key."""

    def __init__(self, service: str = SERVICE_NAME) -> None:
        self.service = service

    def __repr__(self) -> str:
        return f"KeyringSecretStore(service={self.service!r})"

    @staticmethod
    def _keyring() -> Any:
        problem = keyring_problem()
        if problem:
            raise SecretStoreError(f"{problem} {_HOW_TO}")
        import keyring

        return keyring

    def get(self, key: str) -> str | None:
        """Read one secret from the keyring."""
        from keyring.errors import KeyringError

        try:
            return self._keyring().get_password(self.service, key)
        except KeyringError as exc:
            raise SecretStoreError(f"Cannot read from the system keyring: {exc}. Unlock or install a keyring.") from None

    def set(self, key: str, value: str) -> None:
        """Write one secret to the keyring."""
        from keyring.errors import KeyringError

        try:
            self._keyring().set_password(self.service, key, value)
        except KeyringError as exc:
            raise SecretStoreError(f"Cannot save to the system keyring: {exc}. Unlock or install a keyring.") from None

    def delete(self, key: str) -> None:
        """Delete one secret (no error if there is none)."""
        from keyring.errors import KeyringError, PasswordDeleteError

        try:
            self._keyring().delete_password(self.service, key)
        except PasswordDeleteError:
            return
        except KeyringError as exc:
            raise SecretStoreError(f"Cannot delete from the system keyring: {exc}.") from None

    def check(self) -> None:
        """Fail early (before a single-use OAuth code is spent) when the keyring cannot store."""
        self._keyring()


# ------------------------------------------------------------ encrypted file

_fd_passphrases: dict[int, str] = {}
_keys: dict[tuple[str, str], bytes] = {}
_keys_lock = threading.Lock()


def passphrase_from_env() -> str | None:
    """The passphrase from ``CRM_SECRETS_PASSPHRASE_FD`` (read once) or ``CRM_SECRETS_PASSPHRASE``."""
    fd_text = os.environ.get(ENV_PASSPHRASE_FD, "").strip()
    if fd_text:
        try:
            fd = int(fd_text)
        except ValueError:
            raise SecretStoreError(f"{ENV_PASSPHRASE_FD}={fd_text!r} is not a file descriptor number.") from None
        if fd not in _fd_passphrases:
            chunks = []
            try:
                while chunk := os.read(fd, 4096):
                    chunks.append(chunk)
            except OSError as exc:
                raise SecretStoreError(f"Cannot read the passphrase from file descriptor {fd}: {exc.strerror}.") from None
            _fd_passphrases[fd] = b"".join(chunks).decode("utf-8").rstrip("\r\n")
        return _fd_passphrases[fd] or None
    return os.environ.get(ENV_PASSPHRASE) or None


def _prompt(path: Path, creating: bool) -> str:
    if not (sys.stdin.isatty() and sys.stderr.isatty()):
        raise SecretStoreError(
            f"The encrypted secret store {path} needs its passphrase: set {ENV_PASSPHRASE}, or pass it on a file "
            f"descriptor named by {ENV_PASSPHRASE_FD} (cron), or run the command in a terminal."
        )
    first = getpass.getpass(f"Passphrase for tui-crm secrets ({path}): ")
    if creating:
        if len(first) < 8:
            raise SecretStoreError("Choose a passphrase of at least 8 characters for the secret store.")
        if getpass.getpass("Repeat the passphrase: ") != first:
            raise SecretStoreError("The two passphrases differ; nothing was saved.")
    if not first:
        raise SecretStoreError("An empty passphrase does not open the secret store.")
    return first


class EncryptedFileStore:
    """Secrets in one file, encrypted with a key derived from a passphrase (see the module docstring).

    The file is JSON: format, scrypt parameters, salt, and one Fernet token holding every secret.
    Writes take an exclusive lock (``<file>.lock``) and replace the file atomically, so several
    processes (a cron sync, the mail poller) can share it.
    """

    def __init__(self, path: str | os.PathLike[str] | None = None, passphrase: str | Callable[[], str] | None = None) -> None:
        self.path = Path(path) if path is not None else default_secrets_file()
        self._passphrase = passphrase

    def __repr__(self) -> str:
        return f"EncryptedFileStore(path={str(self.path)!r})"

    # -- key

    def _get_passphrase(self, creating: bool) -> str:
        if callable(self._passphrase):
            return self._passphrase()
        if self._passphrase:
            return self._passphrase
        found = passphrase_from_env()
        if found:
            return found
        self._passphrase = _prompt(self.path, creating)
        return self._passphrase

    def _key(self, salt: bytes, params: dict[str, int], creating: bool) -> bytes:
        passphrase = self._get_passphrase(creating)
        cache = (hashlib.sha256(salt + passphrase.encode()).hexdigest(), json.dumps(params, sort_keys=True))
        with _keys_lock:
            if cache in _keys:
                return _keys[cache]
        from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

        raw = Scrypt(salt=salt, length=32, n=params["n"], r=params["r"], p=params["p"]).derive(passphrase.encode())
        key = base64.urlsafe_b64encode(raw)
        with _keys_lock:
            _keys[cache] = key
        return key

    # -- file

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(f"{self.path}.lock", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            try:
                import fcntl

                fcntl.flock(fd, fcntl.LOCK_EX)
            except ImportError:  # pragma: no cover - Windows: one process at a time is the user's job
                pass
            yield
        finally:
            os.close(fd)

    def _read(self, creating: bool = False) -> tuple[dict[str, str], bytes, dict[str, int]]:
        from cryptography.fernet import Fernet, InvalidToken

        try:
            doc = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            salt = os.urandom(16)
            self._key(salt, SCRYPT, creating=True)  # ask (and confirm) the new passphrase once
            return {}, salt, dict(SCRYPT)
        except (OSError, ValueError) as exc:
            raise SecretStoreError(f"The secret store {self.path} is unreadable ({exc}); restore it or remove it.") from None
        if not isinstance(doc, dict) or doc.get("format") != FILE_FORMAT:
            raise SecretStoreError(f"{self.path} is not a tui-crm secret store.")
        salt = base64.b64decode(doc["salt"])
        params = {k: int(doc[k]) for k in ("n", "r", "p")}
        key = self._key(salt, params, creating)
        try:
            plain = Fernet(key).decrypt(str(doc["data"]).encode())
        except InvalidToken:
            raise SecretStoreError(
                f"The passphrase does not open the secret store {self.path}. Check {ENV_PASSPHRASE} / "
                f"{ENV_PASSPHRASE_FD}, or type it again."
            ) from None
        data = json.loads(plain)
        return {str(k): str(v) for k, v in data.items()}, salt, params

    def _write(self, items: dict[str, str], salt: bytes, params: dict[str, int]) -> None:
        from cryptography.fernet import Fernet

        token = Fernet(self._key(salt, params, creating=False)).encrypt(json.dumps(items).encode())
        doc = {"format": FILE_FORMAT, "kdf": "scrypt", **params, "salt": base64.b64encode(salt).decode(), "data": token.decode()}
        tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as out:
                out.write(json.dumps(doc))
                out.flush()
                os.fsync(out.fileno())
            os.chmod(tmp, 0o600)
            os.replace(tmp, self.path)
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)

    def _guard(self, action: str) -> contextlib.AbstractContextManager[None]:
        path = self.path

        @contextlib.contextmanager
        def run() -> Iterator[None]:
            try:
                yield
            except OSError as exc:
                raise SecretStoreError(f"Cannot {action} the secret store {path}: {exc.strerror or exc}.") from None

        return run()

    # -- API

    def get(self, key: str) -> str | None:
        """Read one secret (None when the file or the key does not exist)."""
        if not self.path.exists():
            return None
        with self._guard("read"), self._locked():
            return self._read()[0].get(key)

    def set(self, key: str, value: str) -> None:
        """Store one secret (the file is created on the first one, mode 0600)."""
        with self._guard("write"), self._locked():
            items, salt, params = self._read(creating=True)
            items[key] = value
            self._write(items, salt, params)

    def delete(self, key: str) -> None:
        """Forget one secret."""
        if not self.path.exists():
            return
        with self._guard("write"), self._locked():
            items, salt, params = self._read()
            if items.pop(key, None) is not None:
                self._write(items, salt, params)

    def check(self) -> None:
        """The passphrase is at hand and opens the file (or a new file can be made there)."""
        with self._guard("open"), self._locked():
            self._read(creating=True)
        if not os.access(self.path.parent, os.W_OK):
            raise SecretStoreError(f"Cannot write the secret store in {self.path.parent}.")


# ------------------------------------------------------------------ choice


def default_secrets_file() -> Path:
    """``CRM_SECRETS_FILE`` or ``<data dir>/secrets.enc``."""
    env = os.environ.get(ENV_FILE)
    if env:
        return Path(env).expanduser()
    from tui_crm.config import data_dir

    return data_dir() / "secrets.enc"


def configured_backend() -> str | None:
    """``keyring`` or ``file`` when chosen (``CRM_SECRETS_BACKEND``, or ``secrets`` in config.toml)."""
    choice = os.environ.get(ENV_BACKEND, "").strip().lower()
    if not choice:
        from tui_crm.config import config_dir, options_in

        choice = options_in(config_dir()).secrets or ""
    if choice and choice not in ("keyring", "file"):
        raise SecretStoreError(f"Unknown secret store {choice!r}: use {ENV_BACKEND}=keyring or {ENV_BACKEND}=file.")
    return choice or None


def default_store() -> SecretStore:
    """The store every secret of this user goes to: the configured one, else the OS keyring when
    it works, else the encrypted file."""
    choice = configured_backend()
    if choice == "file":
        return EncryptedFileStore()
    if choice == "keyring":
        return KeyringSecretStore()
    if keyring_problem() is None:
        return KeyringSecretStore()
    return EncryptedFileStore()


def describe(store: SecretStore) -> str:
    """Where ``store`` keeps secrets, for messages (``the system keyring``, ``the encrypted file …``)."""
    if isinstance(store, EncryptedFileStore):
        return f"the encrypted file {store.path}"
    if isinstance(store, KeyringSecretStore):
        return "the system keyring"
    return "memory"
