"""Where tui-crm keeps secrets: amoCRM tokens, mail passwords, hub credentials.

One store for every secret, so a user sets up the secret store once. Secrets
never reach plaintext files or logs. Callers name a secret by a short key
(``"amocrm:acme"``, ``"mail:sales"``) and get strings back; the backend
decides where the bytes live. Today that is the OS keyring (Secret Service,
Keychain, Credential Locker); plaintext keyring backends are refused.
"""

from __future__ import annotations

from typing import Any, Protocol

from tui_crm.domain.errors import CrmError

SERVICE_NAME = "tui-crm"


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


class KeyringSecretStore:
    """Secrets in the OS keyring under service ``tui-crm``, username = key."""

    def __init__(self, service: str = SERVICE_NAME) -> None:
        self.service = service

    def __repr__(self) -> str:
        return f"KeyringSecretStore(service={self.service!r})"

    @staticmethod
    def _keyring() -> Any:
        import keyring

        backend = keyring.get_keyring()
        chain = getattr(backend, "backends", None)
        first = chain[0] if chain else backend
        if type(first).__module__.startswith("keyrings.alt"):
            raise SecretStoreError(
                "The active keyring backend (keyrings.alt) stores secrets unencrypted; tui-crm will not keep "
                "secrets there. Use the system keyring (GNOME Keyring/KWallet via Secret Service, "
                "macOS Keychain, Windows Credential Locker)."
            )
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


class MemorySecretStore:
    """Secrets held in memory (one process; for tests and one-off scripts)."""

    def __init__(self) -> None:
        self._values: dict[str, str] = {}

    def __repr__(self) -> str:
        return f"MemorySecretStore(keys={len(self._values)})"

    def get(self, key: str) -> str | None:
        """The held secret."""
        return self._values.get(key)

    def set(self, key: str, value: str) -> None:
        """Hold a secret."""
        self._values[key] = value

    def delete(self, key: str) -> None:
        """Drop a secret."""
        self._values.pop(key, None)

    def check(self) -> None:
        """Memory always works."""


def default_store() -> SecretStore:
    """The store every secret of this user goes to."""
    return KeyringSecretStore()
