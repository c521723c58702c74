"""``crm hub init|user add|connect|status`` and ``crm sync`` against a real PostgreSQL, in child processes."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import psycopg
import pytest

ENTRY = "import sys; from tui_crm.startup import run; sys.argv[0] = 'crm'; run()"
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def crm_run(tmp_path: Path, _crm_template: Path) -> Any:
    db = tmp_path / "cli.db"
    shutil.copyfile(_crm_template, db)
    env = {
        **os.environ,
        "CRM_CONFIG_DIR": str(tmp_path / "cfg"),
        "CRM_DATA_DIR": str(tmp_path / "data"),
        "CRM_DB": str(db),
        "CRM_USER": "Анна",
        "COLUMNS": "200",
        "PYTHONPATH": str(ROOT),
        "CRM_SECRETS_BACKEND": "file",
        "CRM_SECRETS_FILE": str(tmp_path / "secrets.enc"),
        "CRM_SECRETS_PASSPHRASE": "test passphrase",
    }
    for key in ("CRM_HUB_PASSWORD", "CRM_HUB_ADMIN_URL", "PGPASSWORD"):
        env.pop(key, None)

    def run(*args: str, input: str | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-c", ENTRY, *args], env=env, input=input, capture_output=True, text=True, timeout=120
        )

    run.tmp = tmp_path  # type: ignore[attr-defined]
    return run


@pytest.mark.slow
def test_init_add_member_connect_sync_status(pg: Any, crm_run: Any) -> None:
    with psycopg.connect(pg.dsn(), autocommit=True) as conn:
        conn.execute("CREATE DATABASE hubcli")
    try:
        owner = pg.dsn("hubcli")
        first = crm_run("hub", "init", owner)
        assert first.returncode == 0, first.stderr
        assert "0001_hub" in first.stdout and "was empty" in first.stdout
        again = crm_run("hub", "init", owner)
        assert again.returncode == 0 and "already current" in again.stdout

        added = crm_run("hub", "user", "add", "hubcli_anna", "--name", "Анна", "--team", "sales", "--password-stdin",
                        "--admin-url", owner, input="s3cret-anna\n")  # fmt: skip
        assert added.returncode == 0, added.stderr
        url = f"postgresql://hubcli_anna@127.0.0.1:{pg.port}/hubcli"

        wrong = crm_run("hub", "connect", url, "--password-stdin", input="wrong\n")
        assert wrong.returncode == 9
        assert len(wrong.stderr.strip().splitlines()) == 1 and "refused the login" in wrong.stderr
        assert "Traceback" not in wrong.stderr

        linked = crm_run("hub", "connect", url, "--password-stdin", input="s3cret-anna\n")
        assert linked.returncode == 0, linked.stderr
        for path in (crm_run.tmp / "cli.db", *(crm_run.tmp / "cfg").rglob("*")):
            if path.is_file():
                assert b"s3cret-anna" not in path.read_bytes(), path

        assert crm_run("add", "lead", "Сайт для Магнита", "--budget", "150000").returncode == 0
        synced = crm_run("sync", "--quiet")
        assert synced.returncode == 0, synced.stderr
        with psycopg.connect(owner) as conn:
            names = [r[0] for r in conn.execute("SELECT fields->>'name' FROM hub_record WHERE entity = 'deal'")]
        assert names == ["Сайт для Магнита"]

        shown = crm_run("hub", "status", "--json")
        assert shown.returncode == 0, shown.stderr
        info = json.loads(shown.stdout)
        with psycopg.connect(owner) as conn:
            owned = conn.execute("SELECT count(*) FROM hub_record WHERE owner = 'hubcli_anna'").fetchone()[0]
        assert [(m["login"], m["records"]) for m in info["members"]] == [("hubcli_anna", owned)]
        assert owned >= 1
        assert info["members"][0]["last_sync_at"] is not None
        assert info["feed_position"] >= 1
        plain = crm_run("hub", "status")
        assert plain.returncode == 0, plain.stderr
        assert "hubcli_anna" in plain.stdout and "Анна" in plain.stdout and "manager" in plain.stdout
        sync_state = crm_run("sync", "status")
        assert f"hub:127.0.0.1:{pg.port}/hubcli" in sync_state.stdout
    finally:
        with psycopg.connect(pg.dsn(), autocommit=True) as conn:
            conn.execute("DROP DATABASE IF EXISTS hubcli WITH (FORCE)")
            conn.execute("DROP ROLE IF EXISTS hubcli_anna")
