"""The secret store (tui_crm/secrets.py): the encrypted file for headless
machines, the refusal of plaintext keyring backends by behaviour, the
environment token, and the OAuth code that is not spent before the store is
known to work (issue 12)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Any

import keyring
import pytest

from tests.fake_amocrm import FakeAmo
from tests.fake_amocrm.keyrings import FileKeyring, MemoryKeyring
from tests.sync.conftest import Cli
from tui_crm import secrets
from tui_crm.secrets import EncryptedFileStore, KeyringSecretStore, SecretStoreError


@pytest.fixture
def no_secret_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    for key in (
        "CRM_SECRETS_BACKEND",
        "CRM_SECRETS_PASSPHRASE",
        "CRM_SECRETS_PASSPHRASE_FD",
        "CRM_AMOCRM_TOKEN",
    ):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("CRM_CONFIG_DIR", str(tmp_path / "cfg"))
    monkeypatch.setenv("CRM_SECRETS_FILE", str(tmp_path / "secrets.enc"))
    return tmp_path / "secrets.enc"


def test_encrypted_file_store_keeps_nothing_readable(tmp_path: Path) -> None:
    path = tmp_path / "s" / "secrets.enc"
    store = EncryptedFileStore(path, "correct horse battery")
    store.check()
    store.set("mail:sales", "пароль-123")
    store.set("amocrm:acme", '{"access_token": "tok"}')
    assert path.stat().st_mode & 0o777 == 0o600
    raw = path.read_bytes()
    assert "пароль".encode() not in raw and b"tok" not in raw and b"mail:sales" not in raw
    again = EncryptedFileStore(path, "correct horse battery")
    assert again.get("mail:sales") == "пароль-123" and again.get("nope") is None
    again.delete("mail:sales")
    assert EncryptedFileStore(path, "correct horse battery").get("mail:sales") is None
    with pytest.raises(SecretStoreError, match="passphrase does not open"):
        EncryptedFileStore(path, "wrong").get("amocrm:acme")


def test_without_a_passphrase_and_no_terminal_the_message_says_what_to_set(no_secret_env: Path) -> None:
    with pytest.raises(SecretStoreError, match="CRM_SECRETS_PASSPHRASE"):
        EncryptedFileStore().check()


def test_the_file_store_is_chosen_when_the_keyring_keeps_plaintext(
    no_secret_env: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    previous = keyring.get_keyring()
    keyring.set_keyring(type("Vault", (FileKeyring,), {})(tmp_path / "plain.json"))
    try:
        assert secrets.keyring_problem() is not None
        monkeypatch.setenv("CRM_SECRETS_PASSPHRASE", "from the environment")
        store = secrets.default_store()
        assert isinstance(store, EncryptedFileStore) and store.path == no_secret_env
        store.set("mail:sales", "pw")  # the mail helper's API
        assert secrets.default_store().get("mail:sales") == "pw"
        assert "pw" not in (tmp_path / "plain.json").read_text() if (tmp_path / "plain.json").exists() else True
        with pytest.raises(SecretStoreError, match="readable"):
            KeyringSecretStore().set("x", "y")
    finally:
        keyring.set_keyring(previous)


def test_config_chooses_the_file_store_even_with_a_working_keyring(
    no_secret_env: Path, tmp_path: Path, memory_keyring: MemoryKeyring
) -> None:
    (tmp_path / "cfg").mkdir()
    (tmp_path / "cfg" / "config.toml").write_text('secrets = "file"\n', encoding="utf-8")
    assert isinstance(secrets.default_store(), EncryptedFileStore)
    (tmp_path / "cfg" / "config.toml").write_text("", encoding="utf-8")
    assert isinstance(secrets.default_store(), KeyringSecretStore)


def test_the_oauth_code_is_not_spent_when_the_store_cannot_save(
    crm: Any, fake: FakeAmo, no_secret_env: Path, tmp_path: Path
) -> None:
    from tui_crm.services.sync import connect_amocrm
    from tui_crm.sync.amocrm import OAuthApp, exchange_code
    from tui_crm.sync.amocrm.errors import AmoTokenStoreError

    previous = keyring.get_keyring()
    keyring.set_keyring(FileKeyring(tmp_path / "plain.json"))  # refused, and no passphrase for the file store
    code = fake.issue_auth_code()
    try:
        with pytest.raises(AmoTokenStoreError, match="CRM_SECRETS_PASSPHRASE"):
            connect_amocrm(
                crm,
                base_url=fake.base_url,
                client_id=fake.oauth.client_id,
                client_secret=fake.oauth.client_secret,
                redirect_uri=fake.oauth.redirect_uri,
                code=code,
            )
    finally:
        keyring.set_keyring(previous)
    assert [r for r in fake.requests if r.path == "/oauth2/access_token"] == []
    app = OAuthApp(fake.oauth.client_id, fake.oauth.client_secret, fake.oauth.redirect_uri)
    assert exchange_code(fake.base_url, app, code).refresh_token  # the code still works


def test_a_long_lived_token_from_the_environment_needs_no_store(cli: Cli, fake: FakeAmo, tmp_path: Path) -> None:
    from tui_crm.services.contacts import ContactInput  # noqa: F401 - the store is set up by the cli fixture

    env = {k: v for k, v in cli.env.items() if not k.startswith("CRM_SECRETS")}
    env["CRM_AMOCRM_TOKEN"] = fake.token
    env["CRM_SECRETS_FILE"] = str(tmp_path / "absent.enc")  # nothing stored there, no passphrase
    fake.create_entity("leads", {"name": "Из окружения"})
    done = subprocess.run(cli.cmd("sync", "--quiet", "--max-rps", "1000"), env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert not (tmp_path / "absent.enc").exists()


def test_the_passphrase_on_a_file_descriptor_for_cron(cli: Cli, fake: FakeAmo) -> None:
    env = dict(cli.env)
    passphrase = env.pop("CRM_SECRETS_PASSPHRASE")
    read_end, write_end = os.pipe()
    os.write(write_end, passphrase.encode() + b"\n")
    os.close(write_end)
    env["CRM_SECRETS_PASSPHRASE_FD"] = str(read_end)
    try:
        done = subprocess.run(
            cli.cmd("sync", "--quiet", "--max-rps", "1000"),
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            pass_fds=(read_end,),
            stdin=subprocess.DEVNULL,
        )
    finally:
        os.close(read_end)
    assert done.returncode == 0, done.stderr
    env.pop("CRM_SECRETS_PASSPHRASE_FD")
    refused = subprocess.run(
        cli.cmd("sync", "--quiet"), env=env, capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL
    )
    assert refused.returncode == 9 and "CRM_SECRETS_PASSPHRASE" in refused.stderr
    assert "Traceback" not in refused.stderr and len(refused.stderr.strip().splitlines()) <= 3
