"""``crm deals list | head -1``: when the reader leaves, crm goes quietly, as Unix tools do."""

from __future__ import annotations

import subprocess
import sys

import pytest

ENTRY = "import sys; from tui_crm.startup import run; sys.argv[0] = 'crm'; run()"


@pytest.mark.parametrize("listing", [["deals", "list"], ["deals", "list", "--json"], ["contacts", "list", "--format", "csv"]])
def test_a_reader_that_leaves_ends_crm_quietly_with_141(crm_cli, cli_env, listing):
    for i in range(3):
        assert crm_cli("add", "lead", f"Сделка {i}", "--phone", f"+7 916 555-12-3{i}").returncode == 0
    proc = subprocess.Popen(
        [sys.executable, "-c", ENTRY, *listing],
        env=cli_env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.close()  # the reader is gone before crm writes its first line
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=60) == 141  # 128 + SIGPIPE, what `set -o pipefail` scripts expect
    assert err == ""
