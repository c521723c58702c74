"""IMAP with imapclient: connect, find INBOX and Sent, read new messages, append to Sent.

Only two folders are ever read (the manual: "только Входящие и
Отправленные"): INBOX, and Sent found by its SPECIAL-USE ``\\Sent`` flag or,
on servers without SPECIAL-USE, by the names clients commonly give it.
Network failures become :class:`MailError` with a message saying what to
check; :class:`ConnectionLost` marks the ones worth a reconnect.
"""

from __future__ import annotations

import socket
import ssl
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime

from tui_crm.domain.errors import CrmError

SENT_NAMES = ("sent", "sent items", "sent messages", "sent mail", "отправленные", "[gmail]/sent mail", "inbox/sent", "inbox.sent")
LOOPBACK = ("127.0.0.1", "::1", "localhost")
FETCH_ITEMS = [b"BODY.PEEK[]", b"INTERNALDATE"]


class MailError(CrmError):
    """A mail server could not be reached or refused; the message says what to check."""


class ConnectionLost(MailError):
    """The connection dropped while talking to the server (worth a reconnect)."""


class UntrustedCertificate(MailError):
    """The server's TLS certificate is not signed by an authority we trust (no reconnect helps)."""


@dataclass
class ServerAddress:
    host: str
    port: int
    security: str  # tls | starttls | none
    login: str
    password: str
    timeout: float = 60.0
    ca_pem: str | None = None  # trust this CA (PEM) instead of the system's


def tls_context(address: ServerAddress) -> ssl.SSLContext | None:
    """Verifying context: the mailbox's own CA when it has one, else the system's (None for ``none``).

    Building it reads the system's CA store (~0.1 s): only when TLS is used.
    """
    if address.security == "none":
        return None
    if address.ca_pem:
        return ssl.create_default_context(cadata=address.ca_pem)
    return ssl.create_default_context()


def untrusted(kind: str, address: ServerAddress, exc: ssl.SSLCertVerificationError) -> UntrustedCertificate:
    """The one-line error for a certificate we do not trust: what is wrong and what to do."""
    reason = exc.verify_message or exc.reason or "verification failed"
    return UntrustedCertificate(
        f"{kind} {address.host}:{address.port}: the server's certificate is not trusted ({reason}); "
        "if it is your server, add the mailbox again with --ca-file CA.pem (the certificate authority that signed it)"
    )


def is_loopback(host: str) -> bool:
    return host.strip("[]").lower() in LOOPBACK or host.startswith("127.")


def _lost(exc: BaseException) -> bool:
    import imaplib

    return isinstance(exc, OSError | imaplib.IMAP4.abort | EOFError)


@dataclass
class FetchedMessage:
    uid: int
    raw: bytes
    internal_date: datetime | None


class ImapSession:
    """One logged-in IMAP connection (use as a context manager)."""

    def __init__(self, address: ServerAddress) -> None:
        from imapclient import IMAPClient
        from imapclient.exceptions import LoginError

        self.address = address
        where = f"{address.host}:{address.port}"
        try:
            context = tls_context(address)
            self.client = IMAPClient(
                address.host, port=address.port, ssl=address.security == "tls", ssl_context=context, timeout=address.timeout
            )
            if address.security == "starttls":
                self.client.starttls(context)
        except ssl.SSLCertVerificationError as exc:
            raise untrusted("IMAP", address, exc) from None
        except (OSError, ssl.SSLError) as exc:
            raise ConnectionLost(f"Cannot connect to IMAP {where}: {exc}. Check the host, port and --security.") from None
        except Exception as exc:
            raise MailError(f"IMAP {where} refused the connection: {exc}") from None
        try:
            self.client.login(address.login, address.password)
        except LoginError:
            self.close()
            raise MailError(f"IMAP {where} refused the login {address.login!r}: check the login and password") from None
        except Exception as exc:
            self.close()
            raise ConnectionLost(f"IMAP {where}: login failed: {exc}") from None

    def __enter__(self) -> ImapSession:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        try:
            self.client.logout()
        except Exception:
            try:
                self.client.shutdown()
            except Exception:
                pass

    def _call(self, what: str, fn, *args, **kwargs):  # noqa: ANN001, ANN002, ANN003, ANN202 - a thin wrapper
        try:
            return fn(*args, **kwargs)
        except Exception as exc:
            if _lost(exc):
                raise ConnectionLost(f"IMAP connection lost during {what}: {exc}") from None
            raise MailError(f"IMAP {what} failed: {exc}") from None

    def folders(self) -> dict[str, str]:
        """``{"inbox": "INBOX", "sent": NAME}`` (no ``sent`` when the account has none)."""
        listed = self._call("LIST", self.client.list_folders)
        found = {"inbox": "INBOX"}
        by_name: dict[str, str] = {}
        for flags, _delimiter, name in listed:
            name = name if isinstance(name, str) else name.decode("utf-8", "replace")
            if b"\\Sent" in flags or "\\Sent" in flags:
                found["sent"] = name
                return found
            by_name[name.casefold()] = name
        for candidate in SENT_NAMES:
            if candidate in by_name:
                found["sent"] = by_name[candidate]
                break
        return found

    def select(self, folder: str) -> tuple[int, int | None]:
        """Select read-only; returns (UIDVALIDITY, UIDNEXT)."""
        info = self._call(f"SELECT {folder}", self.client.select_folder, folder, readonly=True)
        uidnext = info.get(b"UIDNEXT")
        return int(info[b"UIDVALIDITY"]), int(uidnext) if uidnext is not None else None

    def uids_after(self, last_uid: int) -> list[int]:
        """UIDs above ``last_uid``, ascending (``N:*`` also answers the last UID: filtered)."""
        uids = self._call("SEARCH", self.client.search, ["UID", f"{last_uid + 1}:*"])
        return sorted(u for u in uids if u > last_uid)

    def fetch(self, uids: list[int]) -> Iterator[FetchedMessage]:
        data = self._call("FETCH", self.client.fetch, uids, FETCH_ITEMS)
        for uid in uids:
            item = data.get(uid)
            if item is None:  # expunged meanwhile
                continue
            raw = item.get(b"BODY[]") or b""
            yield FetchedMessage(uid, raw, item.get(b"INTERNALDATE"))

    def can_idle(self) -> bool:
        """Whether the server offers IMAP IDLE (RFC 2177)."""
        return b"IDLE" in self._call("CAPABILITY", self.client.capabilities)

    def idle_for(self, seconds: float, stop: Callable[[], bool], slice_s: float = 0.5) -> bool:
        """Wait in IDLE on the selected folder for up to ``seconds``, or until ``stop()`` says so.

        True when the server announced a change of the message count
        (``EXISTS``: new mail, most likely). ``stop`` is looked at every
        ``slice_s``. A closed connection makes ``idle_check`` return nothing
        at once, again and again: three such returns in a row are taken for
        :class:`ConnectionLost`. IDLE is always ended before returning, so
        the connection can be used or re-IDLEd (RFC 2177: within 29 minutes).
        """
        self._call("IDLE", self.client.idle)
        changed, quick_empty = False, 0
        deadline = time.monotonic() + seconds
        failed = False
        try:
            while not changed and not stop() and time.monotonic() < deadline:
                started = time.monotonic()
                responses = self._call("IDLE", self.client.idle_check, timeout=slice_s)
                changed = any(len(r) >= 2 and r[1] in (b"EXISTS", b"RECENT") for r in responses)
                quick_empty = quick_empty + 1 if not responses and time.monotonic() - started < slice_s / 4 else 0
                if quick_empty >= 3:
                    raise ConnectionLost("IMAP connection closed during IDLE")
        except BaseException:
            failed = True
            raise
        finally:
            try:
                self.client.idle_done()
            except Exception as exc:
                if not failed:  # else the first error is the one to tell
                    raise ConnectionLost(f"IMAP connection lost ending IDLE: {exc}") from None
        return changed

    def append(self, folder: str, raw: bytes) -> None:
        self._call("APPEND", self.client.append, folder, raw, flags=(b"\\Seen",))

    def contains(self, folder: str, message_id: str) -> bool:
        """Whether a message with this Message-ID is in the folder (after a crash while sending)."""
        self._call(f"SELECT {folder}", self.client.select_folder, folder, readonly=True)
        return bool(self._call("SEARCH", self.client.search, ["HEADER", "Message-ID", message_id]))


def probe(host: str, port: int, timeout: float = 5.0) -> None:
    """Raise :class:`ConnectionLost` unless something accepts TCP at host:port."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return
    except OSError as exc:
        raise ConnectionLost(f"{host}:{port} is unreachable: {exc}") from None
