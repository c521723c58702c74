"""Running ``crm`` against a store under ``tmp_path``.

- ``crm_cli(*args)``: the real entry point ``tui_crm.cli.main.run`` in a
  child process (so exit codes are the ones a script sees), with
  ``CRM_CONFIG_DIR``/``CRM_DB``/``CRM_USER`` pointing at the test's files
  and ``timezone = "Europe/Moscow"`` in config.toml. The clock is the real
  one: ``crm`` has no test clock.
- ``invoke(*args)``: the Typer app in-process through ``CliRunner`` (fast;
  for output checks of successful commands). The CLI caches the open store
  in a module global, so it is closed and reset after every call.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

ENTRY = "import sys; from tui_crm.startup import run; sys.argv[0] = 'crm'; run()"


@pytest.fixture
def cli_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, _crm_template: Path) -> dict[str, str]:
    config = tmp_path / "cfg"
    config.mkdir()
    (config / "config.toml").write_text('timezone = "Europe/Moscow"\n', encoding="utf-8")
    db = tmp_path / "crm.db"
    shutil.copyfile(_crm_template, db)  # migrated, with the pipelines and «Анна»
    db.chmod(0o600)
    values = {
        "CRM_CONFIG_DIR": str(config),
        "CRM_DATA_DIR": str(tmp_path / "data"),
        "CRM_DB": str(db),
        "CRM_USER": "Анна",
        "COLUMNS": "200",
    }
    for key, value in values.items():
        monkeypatch.setenv(key, value)
    for key in ("FORCE_COLOR", "NO_COLOR", "TERM"):
        monkeypatch.delenv(key, raising=False)
    return {**os.environ, **values}


@pytest.fixture
def crm_cli(cli_env: dict[str, str]) -> Callable[..., subprocess.CompletedProcess[str]]:
    def run(*args: str, env: dict[str, str] | None = None, input: str | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-c", ENTRY, *args],
            env={**cli_env, **(env or {})},
            input=input,
            capture_output=True,
            text=True,
            encoding="utf-8",
            timeout=60,
        )

    return run


class Invoker:
    def __init__(self) -> None:
        from typer.testing import CliRunner

        self.runner = CliRunner()

    def __call__(self, *args: str, input: str | None = None) -> Any:
        from tui_crm.cli.main import app
        from tui_crm.cli.state import state

        try:
            result = self.runner.invoke(app, list(args), input=input, catch_exceptions=True)
        finally:
            if state._crm is not None:
                state._crm.close()
            state._crm, state.db, state.user = None, None, None
        return result

    def ok(self, *args: str) -> str:
        """stdout of a command that must succeed."""
        result = self(*args)
        assert result.exit_code == 0, (args, result.output, result.exception)
        return result.stdout

    def json(self, *args: str) -> Any:
        return json.loads(self.ok(*args, "--json"))


@pytest.fixture
def invoke(cli_env: dict[str, str]) -> Iterator[Invoker]:
    yield Invoker()
