"""Fixtures for the mail tests: a real Dovecot and a real SMTP server on loopback.

- ``dovecot`` (session): one Dovecot for the whole run (started from a
  temporary config, stopped at the end; installed with apt-get if missing).
- ``imap_account``: a fresh, empty account on it: ``(login, password)``.
- ``load(account, folder, *messages)``: APPEND messages to a folder.
- ``smtp``: an aiosmtpd server for the test; ``smtp.messages`` holds what it accepted.
- ``mailbox``: the test's store (``crm``, user «Анна») with a personal
  mailbox «work» on a fresh account (password in an in-memory keyring).
- ``make_mail(...)``: the bytes of a simple message.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from typing import Any

import pytest

from tests.mail.servers import Dovecot, SmtpServer, append, start_dovecot, start_smtp


@pytest.fixture(scope="session")
def dovecot() -> Iterator[Dovecot]:
    server = start_dovecot()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def imap_account(dovecot: Dovecot) -> tuple[str, str]:
    return dovecot.add_user()


@pytest.fixture
def load(dovecot: Dovecot) -> Callable[..., None]:
    def _load(account: tuple[str, str], folder: str, *messages: bytes) -> None:
        append(dovecot, account[0], account[1], folder, list(messages))

    return _load


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    server = start_smtp()
    try:
        yield server
    finally:
        server.stop()


def make_mail(
    subject: str = "Hello",
    sender: str = "Olga <olga@client.test>",
    to: str = "me@example.test",
    body: str = "Text",
    cc: str | None = None,
    message_id: str | None = None,
    in_reply_to: str | None = None,
    references: str | None = None,
    date: Any = None,
) -> bytes:
    from datetime import UTC, datetime

    message = EmailMessage()
    message["From"] = sender
    message["To"] = to
    if cc:
        message["Cc"] = cc
    message["Subject"] = subject
    message["Message-ID"] = message_id or make_msgid(domain="client.test")
    message["Date"] = format_datetime(date or datetime(2026, 11, 20, 10, 0, tzinfo=UTC))
    if in_reply_to:
        message["In-Reply-To"] = in_reply_to
    if references:
        message["References"] = references
    message.set_content(body)
    return bytes(message)


@pytest.fixture
def mail_factory() -> Callable[..., bytes]:
    return make_mail


@pytest.fixture
def add_box(crm: Any, dovecot: Dovecot, memory_keyring: Any) -> Callable[..., Any]:
    """``add_box(name, account, corporate=False, smtp=None, owner=None, port=None)``: a mailbox in the test's store."""
    from tui_crm.services.mailboxes import MailboxInput, add_mailbox

    def _add(name: str, account: tuple[str, str], corporate: bool = False, smtp: SmtpServer | None = None,
             owner: str | None = None, port: int | None = None, store: Any = None) -> Any:
        return add_mailbox(
            store or crm,
            MailboxInput(
                name=name,
                imap=f"127.0.0.1:{port or dovecot.port}",
                smtp=f"127.0.0.1:{smtp.port}" if smtp else None,
                login=account[0],
                password=account[1],
                security="none",
                corporate=corporate,
                owner=owner,
            ),
        )

    return _add


@pytest.fixture
def mailbox(add_box: Callable[..., Any], imap_account: tuple[str, str]) -> Any:
    return add_box("work", imap_account)


# `crm` in a child process against the test's store (see tests/cli/conftest.py).
from tests.cli.conftest import cli_env, crm_cli  # noqa: E402, F401

SECRETS_PASSPHRASE = "test passphrase for the mail secrets"


@pytest.fixture
def mail_cli(crm_cli: Callable[..., Any], tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> Callable[..., Any]:  # noqa: F811
    """``mail_cli(*args, input=None)``: ``crm`` with the encrypted secret file shared by the child processes.

    Passwords go to ``tmp_path/secrets.enc`` (``CRM_SECRETS_BACKEND=file``, passphrase in
    ``CRM_SECRETS_PASSPHRASE``), as on a machine without a keyring: a test keyring that keeps
    secrets in a plain file is refused by tui-crm. The same variables are set in this process, so
    a ``Crm`` opened here (the TUI in a story) reads the same store. ``run.secret(key)`` reads one
    secret back from the file; ``run.secrets_file`` is its path."""
    from pathlib import Path

    from tui_crm.secrets import EncryptedFileStore

    root = Path(__file__).resolve().parents[2]
    secrets_file = tmp_path / "secrets.enc"
    env = {
        "PYTHONPATH": str(root),
        "CRM_SECRETS_BACKEND": "file",
        "CRM_SECRETS_FILE": str(secrets_file),
        "CRM_SECRETS_PASSPHRASE": SECRETS_PASSPHRASE,
    }
    for key in ("CRM_SECRETS_BACKEND", "CRM_SECRETS_FILE", "CRM_SECRETS_PASSPHRASE"):
        monkeypatch.setenv(key, env[key])
    monkeypatch.delenv("CRM_SECRETS_PASSPHRASE_FD", raising=False)

    def run(*args: str, input: str | None = None) -> Any:
        return crm_cli(*args, env=env, input=input)

    run.secrets_file = secrets_file  # type: ignore[attr-defined]
    run.secret = lambda key: EncryptedFileStore(secrets_file, SECRETS_PASSPHRASE).get(key)  # type: ignore[attr-defined]
    return run
