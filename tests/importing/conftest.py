"""Fixtures of the import tests: the shared store plus a file directory."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture
def files(tmp_path: Path) -> Path:
    path = tmp_path / "files"
    path.mkdir()
    return path


# The CLI fixtures (a store under tmp_path, ``crm`` in a child process or in-process).
from tests.cli.conftest import cli_env, crm_cli, invoke  # noqa: E402,F401
