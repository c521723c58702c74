"""A broken config.toml is one line naming the file and the fix, exit 8, nothing saved."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

CASES = {
    "unknown timezone": (b'timezone = "Mars/Olympus"\n', "unknown timezone 'Mars/Olympus'"),
    "timezone path": (b'timezone = "../../etc/passwd"\n', "unknown timezone"),
    "invalid utf-8": (b'user = "\xd0\x90\xff\xfe"\n', "line 1: not UTF-8"),
    "db of the wrong type": (b"db = 5\n", "db must be text in quotes"),
    "user of the wrong type": (b"user = [1, 2]\n", "user must be text in quotes"),
    "bad toml": (b"timezone = \n", "fix or delete the file"),
}


@pytest.mark.parametrize("content,expected", CASES.values(), ids=CASES.keys())
def test_a_broken_config_file_is_one_line_and_exit_8(crm_cli, cli_env, content, expected):
    config = Path(cli_env["CRM_CONFIG_DIR"]) / "config.toml"
    config.write_bytes(content)
    for args in (("add", "lead", "Не сохранится"), ("deals", "list")):
        result = crm_cli(*args)
        assert result.returncode == 8, result.stderr
        assert "Traceback" not in result.stderr
        [line] = result.stderr.strip().splitlines()
        assert str(config) in line and expected in line
    config.write_text('timezone = "Europe/Moscow"\n', encoding="utf-8")
    assert json.loads(crm_cli("deals", "list", "--json").stdout) == []


def test_config_toml_being_a_folder(crm_cli, cli_env):
    config = Path(cli_env["CRM_CONFIG_DIR"]) / "config.toml"
    config.unlink()
    config.mkdir()
    result = crm_cli("add", "lead", "Не сохранится")
    assert result.returncode == 8
    assert "Traceback" not in result.stderr
    [line] = result.stderr.strip().splitlines()
    assert "is a folder, not a settings file" in line
    config.rmdir()
    assert json.loads(crm_cli("deals", "list", "--json").stdout) == []
