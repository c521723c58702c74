"""IMAP over TLS and STARTTLS against the real Dovecot, whose certificate a test CA made at start signs.

The CA is trusted per mailbox (``crm mail add --ca-file``); without it the
certificate is refused in one line that says what to do, exit code 9.
"""

from __future__ import annotations

import json

import pytest

from tests.mail.conftest import make_mail


def add(mail_cli, name, port, account, security, *extra):  # noqa: ANN001, ANN002, ANN201 - a test helper
    return mail_cli("mail", "add", name, "--imap", f"127.0.0.1:{port}", "--login", account[0], "--password-stdin",
                    "--security", security, *extra, input=f"{account[1]}\n")


@pytest.mark.parametrize("security", ["tls", "starttls"])
def test_a_mailbox_over_tls_fetches_once_its_ca_is_given(mail_cli, dovecot, imap_account, load, security):
    port = dovecot.tls_port if security == "tls" else dovecot.port
    load(imap_account, "INBOX", make_mail(subject="Шифрованное письмо"))

    added = add(mail_cli, "secure", port, imap_account, security, "--ca-file", str(dovecot.ca_file))
    fetched = mail_cli("mail", "fetch", "secure")

    assert added.returncode == 0, added.stderr
    assert fetched.returncode == 0, fetched.stderr
    assert "secure: 1 new" in fetched.stdout
    [box] = json.loads(mail_cli("mail", "list", "--json").stdout)
    assert (box["security"], box["own_ca"], box["last_error"]) == (security, True, None)
    assert mail_cli("mail", "test", "secure").returncode == 0
    logins = [line for line in dovecot.log().splitlines() if f"Login: user=<{imap_account[0]}>" in line]
    assert "TLS" in logins[-1]  # the server saw the app's login encrypted


@pytest.mark.parametrize("security", ["tls", "starttls"])
def test_an_untrusted_certificate_is_one_clear_line_and_exit_9(mail_cli, dovecot, imap_account, load, security):
    port = dovecot.tls_port if security == "tls" else dovecot.port
    load(imap_account, "INBOX", make_mail(subject="hi"))
    assert add(mail_cli, "plain", port, imap_account, security).returncode == 0

    fetched = mail_cli("mail", "fetch", "plain")
    tested = mail_cli("mail", "test", "plain")

    for result in (fetched, tested):
        assert result.returncode == 9, result.stderr
        [line] = result.stderr.strip().splitlines()
        assert "certificate is not trusted" in line and "--ca-file" in line and "Traceback" not in line
    [box] = json.loads(mail_cli("mail", "list", "--json").stdout)
    assert "certificate is not trusted" in box["last_error"]


def test_a_bad_ca_file_is_refused_and_no_mailbox_is_saved(mail_cli, dovecot, imap_account, tmp_path):
    junk = tmp_path / "junk.pem"
    junk.write_text("not a certificate\n", encoding="ascii")
    key = dovecot.ca_file.with_name("server.key")

    results = [
        add(mail_cli, "x", dovecot.tls_port, imap_account, "tls", "--ca-file", str(junk)),
        add(mail_cli, "x", dovecot.tls_port, imap_account, "tls", "--ca-file", str(key)),
        add(mail_cli, "x", dovecot.tls_port, imap_account, "tls", "--ca-file", str(tmp_path / "missing.pem")),
        add(mail_cli, "x", dovecot.port, imap_account, "none", "--ca-file", str(dovecot.ca_file)),
    ]

    for result in results:
        assert result.returncode == 5 and "ca-file" in result.stderr, result.stderr
        assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.stderr
    assert json.loads(mail_cli("mail", "list", "--json").stdout) == []


@pytest.fixture
def smtp_tls(dovecot):  # noqa: ANN001, ANN201
    """aiosmtpd with STARTTLS required, signed by the same test CA as Dovecot."""
    from tests.mail.servers import start_smtp

    server = start_smtp(tls_folder=dovecot.ca_file.parent)
    try:
        yield server
    finally:
        server.stop()


def test_sending_over_starttls_with_the_ca_and_refusing_without_it(mail_cli, dovecot, imap_account, smtp_tls):
    def add_with_smtp(name, *extra):  # noqa: ANN001, ANN002, ANN202
        return mail_cli("mail", "add", name, "--imap", f"127.0.0.1:{dovecot.port}", "--smtp", f"127.0.0.1:{smtp_tls.port}",
                        "--login", imap_account[0], "--password-stdin", "--security", "starttls", *extra,
                        input=f"{imap_account[1]}\n")

    assert add_with_smtp("trusted", "--ca-file", str(dovecot.ca_file)).returncode == 0
    assert add_with_smtp("untrusted").returncode == 0

    sent = mail_cli("mail", "send", "--mailbox", "trusted", "--to", "olga@client.test", "--subject", "КП", "--body", "Текст")
    refused = mail_cli("mail", "send", "--mailbox", "untrusted", "--to", "olga@client.test", "--subject", "x", "--body", "y")

    assert sent.returncode == 0, sent.stderr
    [(_sender, rcpts, raw)] = smtp_tls.messages  # the untrusted one never reached the server
    assert rcpts == ["olga@client.test"] and b"Subject: " in raw
    assert refused.returncode == 9 and "certificate is not trusted" in refused.stderr
    assert len(refused.stderr.strip().splitlines()) == 1
    [failed] = json.loads(mail_cli("mail", "outbox", "--json").stdout)
    assert (failed["status"], failed["subject"]) == ("failed", "x")
