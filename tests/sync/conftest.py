"""Fixtures for sync tests: a fake amoCRM on loopback, a test keyring, a real
SQLite store (the session template from ``tests/conftest.py``) connected to
the fake, and helpers to compare both sides.

``synced`` runs a sync in-process with the client's rate limit lifted (the
fake's is lifted too unless a test turns it on again); the rate-limit and
process tests run ``crm sync`` with the real limits.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import keyring
import pytest

from tests.fake_amocrm import FakeAmo


@pytest.fixture
def synced(store: Any) -> Callable[..., Any]:
    """``synced(crm=store)``: one sync (push then pull), no client-side rate limit.

    A record the remote refused fails the test unless ``allow_errors=True``.
    """
    from tui_crm.services.sync import make_adapter, run_sync

    def run(crm: Any = None, *, allow_errors: bool = False, **kwargs: Any) -> Any:
        target = crm or store
        adapter = make_adapter(target, max_rps=10_000)
        adapter.client.backoff_base = 0.01  # type: ignore[attr-defined]
        try:
            report = run_sync(target, adapter=adapter, **kwargs)
        finally:
            adapter.close()
        assert allow_errors or not report.errors, report.errors
        return report

    return run


def remote_live(fake: FakeAmo, etype: str) -> list[dict[str, Any]]:
    """Remote records that are alive for tui-crm (not deleted, no tui-crm:deleted tag)."""
    out = []
    with fake.state.lock:
        for rec in fake.state.entities[etype].values():
            if rec["is_deleted"]:
                continue
            tags = {fake.state.tags[etype][t]["name"] for t in rec["tag_ids"]}
            if "tui-crm:deleted" in tags:
                continue
            if etype == "leads" and (rec["pipeline_id"], rec["status_id"]) in {
                (p["id"], s["id"]) for p in fake.state.pipelines.values() for s in p["statuses"] if s["type"] == 1
            }:
                continue
            out.append(rec)
    return out


def remote_tags(fake: FakeAmo, etype: str, rec: dict[str, Any]) -> list[str]:
    return sorted(
        fake.state.tags[etype][t]["name"] for t in rec["tag_ids"] if fake.state.tags[etype][t]["name"] != "tui-crm:deleted"
    )


def cf_value(fake: FakeAmo, etype: str, rec: dict[str, Any], name: str) -> Any:
    for cf in rec.get("custom_fields_values") or []:
        if cf["field_name"] == name or cf["field_code"] == name:
            values = [v.get("value") for v in cf["values"]]
            return values if len(values) > 1 else values[0]
    return None


ENTRY = "import sys; from tui_crm.startup import run; sys.argv[0] = 'crm'; run()"


class Cli:
    """``crm`` in child processes on the test's store, sharing one encrypted secret file."""

    def __init__(self, env: dict[str, str], db: Any) -> None:
        self.env = env
        self.db = db

    def cmd(self, *args: str) -> list[str]:
        import sys

        return [sys.executable, "-c", ENTRY, *args]

    def __call__(self, *args: str, timeout: float = 120) -> Any:
        import subprocess

        return subprocess.run(self.cmd(*args), env=self.env, capture_output=True, text=True, encoding="utf-8", timeout=timeout)

    def invoke(self, *args: str) -> Any:
        """The command in this process (Typer's CliRunner): fast, for commands that need no keyring."""
        from typer.testing import CliRunner

        from tui_crm.cli.main import app
        from tui_crm.cli.state import state

        keys = ("CRM_CONFIG_DIR", "CRM_DATA_DIR", "CRM_DB", "CRM_USER", "COLUMNS")
        try:
            return CliRunner().invoke(app, list(args), env={k: self.env[k] for k in keys}, catch_exceptions=False)
        finally:
            if state._crm is not None:
                state._crm.close()
            state._crm = None
            state.db = state.user = None

    def start(self, *args: str) -> Any:
        import subprocess

        return subprocess.Popen(
            self.cmd(*args), env=self.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, encoding="utf-8"
        )


SECRETS_PASSPHRASE = "test passphrase for the secret store"


@pytest.fixture
def cli(tmp_path: Any, _crm_template: Any, fake: FakeAmo, monkeypatch: pytest.MonkeyPatch) -> Cli:
    """A store connected to ``fake`` through ``crm auth amocrm``.

    Tokens go to the encrypted file store (``tmp_path/secrets.enc``, passphrase in
    ``CRM_SECRETS_PASSPHRASE``), which every child process opens: the test keyring backend
    given to the children keeps secrets in a plain JSON file, and tui-crm refuses it."""
    import os
    import shutil
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    config = tmp_path / "cfg"
    config.mkdir()
    (config / "config.toml").write_text('timezone = "Europe/Moscow"\n', encoding="utf-8")
    db = tmp_path / "cli.db"
    shutil.copyfile(_crm_template, db)
    env = {
        **os.environ,
        "CRM_CONFIG_DIR": str(config),
        "CRM_DATA_DIR": str(tmp_path / "data"),
        "CRM_DB": str(db),
        "CRM_USER": "Анна",
        "COLUMNS": "200",
        "PYTHONPATH": str(root),
        "PYTHON_KEYRING_BACKEND": "tests.sync.keyring_backend.EnvFileKeyring",
        "CRM_TEST_KEYRING": str(tmp_path / "keyring.json"),
        "CRM_SECRETS_FILE": str(tmp_path / "secrets.enc"),
        "CRM_SECRETS_PASSPHRASE": SECRETS_PASSPHRASE,
    }
    env.pop("CRM_SECRETS_BACKEND", None)
    env.pop("CRM_AMOCRM_TOKEN", None)
    runner = Cli(env, db)
    from tests.fake_amocrm.keyrings import FileKeyring
    from tui_crm.services.sync import connect_amocrm

    for key in ("CRM_SECRETS_FILE", "CRM_SECRETS_PASSPHRASE"):
        monkeypatch.setenv(key, env[key])
    previous = keyring.get_keyring()
    keyring.set_keyring(FileKeyring(env["CRM_TEST_KEYRING"]))  # what the children get: refused, so the file store
    crm = open_db(db)
    try:
        connect_amocrm(crm, base_url=fake.base_url, long_lived_token=fake.token)
    finally:
        crm.close()
        keyring.set_keyring(previous)
    fake.clear_requests()
    return runner


def open_db(path: Any) -> Any:
    """A ``Crm`` on an existing store file (for checks after child processes ran)."""
    from tui_crm.config import load_settings
    from tui_crm.services.context import open_crm

    settings = load_settings(db=path, user="Анна")
    settings.timezone = "Europe/Moscow"
    return open_crm(settings)
