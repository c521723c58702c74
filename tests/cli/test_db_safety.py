"""The database file is never lost, overwritten or converted by surprise.

Real ``crm`` child processes on real SQLite files (issue 9, "Data safety"):
restore refuses the live file itself and a file in use, concurrent first
opens make one store with one admin, a newer or a foreign database is
refused without writing, reading commands never create a store, a file the
user made read-only stays so, backups are private and never half-written.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sqlite3
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from tests.cli.conftest import ENTRY
from tui_crm.storage.store_file import APPLICATION_ID


def _names(crm_cli, *args: str) -> list[str]:
    result = crm_cli(*args, "deals", "list", "--json")
    assert result.returncode == 0, result.stderr
    return sorted(d["name"] for d in json.loads(result.stdout))


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _one_line_error(result: subprocess.CompletedProcess[str]) -> str:
    assert "Traceback" not in result.stderr, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    return lines[0]


def _sql(path: Path, *statements: str) -> None:
    conn = sqlite3.connect(path)
    try:
        for statement in statements:
            conn.execute(statement)
        conn.commit()
    finally:
        conn.close()


def _app_id(path: Path) -> int:
    conn = sqlite3.connect(path)
    try:
        return conn.execute("PRAGMA application_id").fetchone()[0]
    finally:
        conn.close()


# -- restore ---------------------------------------------------------------------------


@pytest.mark.parametrize("via", ["path", "symlink"])
def test_restore_refuses_the_live_database_itself(crm_cli, cli_env, tmp_path, via):
    db = Path(cli_env["CRM_DB"])
    crm_cli("add", "lead", "Живая")
    source = db
    if via == "symlink":
        source = tmp_path / "link.sqlite3"
        source.symlink_to(db)
    result = crm_cli("db", "restore", str(source), "--yes")
    assert result.returncode == 1
    assert "same file" in _one_line_error(result)
    assert db.stat().st_size > 0
    assert _names(crm_cli) == ["Живая"]
    assert not list(db.parent.glob("*.bak"))


def test_restore_checks_the_backup_before_asking(crm_cli, tmp_path):
    result = crm_cli("db", "restore", str(tmp_path / "nonexist.sqlite3"), input="y\n")
    assert result.returncode == 3
    assert "Replace" not in result.stdout + result.stderr
    assert "No backup at" in _one_line_error(result)


HOLDER = """
import sys
from tui_crm.config import load_settings
from tui_crm.services.context import open_crm
from tui_crm.services.deals import LeadInput, capture_lead

crm = open_crm(load_settings())
print("READY", flush=True)
sys.stdin.readline()
capture_lead(crm, LeadInput(name="После попытки восстановления"))
print("SAVED", flush=True)
crm.close()
"""


def test_restore_refuses_while_another_process_has_the_database_open(crm_cli, cli_env, tmp_path):
    good = tmp_path / "good.bak"
    assert crm_cli("db", "backup", str(good)).returncode == 0
    crm_cli("add", "lead", "До")
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER], env=cli_env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, encoding="utf-8"
    )
    try:
        assert holder.stdout.readline().strip() == "READY"
        result = crm_cli("db", "restore", str(good), "--yes")
        assert result.returncode == 1
        assert "in use" in _one_line_error(result)
        holder.stdin.write("go\n")
        holder.stdin.flush()
        assert holder.stdout.readline().strip() == "SAVED"
    finally:
        holder.communicate(timeout=60)
    assert holder.returncode == 0
    # the write reported as saved is there
    assert _names(crm_cli) == ["До", "После попытки восстановления"]
    # once nobody has it open, the restore goes through
    restored = crm_cli("db", "restore", str(good), "--yes")
    assert restored.returncode == 0, restored.stderr
    assert _names(crm_cli) == []


def test_restore_refuses_a_database_of_another_program(crm_cli, tmp_path):
    crm_cli("add", "lead", "Живая")
    foreign = tmp_path / "other.sqlite3"
    _sql(foreign, "CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT)", "INSERT INTO notes (body) VALUES ('x')")
    result = crm_cli("db", "restore", str(foreign), "--yes")
    assert result.returncode == 1
    assert "not a tui-crm database" in _one_line_error(result)
    assert _names(crm_cli) == ["Живая"]


# -- first open ------------------------------------------------------------------------


def test_five_first_captures_at_once_make_one_store_with_one_admin(cli_env, tmp_path):
    for trial in range(3):
        db = tmp_path / f"race{trial}" / "crm.sqlite3"
        env = {**cli_env, "CRM_DB": str(db)}
        env.pop("CRM_USER")
        procs = [
            subprocess.Popen(
                [sys.executable, "-c", ENTRY, "add", "lead", f"race {i}"],
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
                encoding="utf-8",
            )
            for i in range(5)
        ]
        results = [(p.communicate(timeout=120), p.returncode) for p in procs]
        for (_out, err), code in results:
            assert code == 0 and "Traceback" not in err, err
        conn = sqlite3.connect(db)
        try:
            assert conn.execute("SELECT count(*) FROM user").fetchone() == (1,)
            names = sorted(r[0] for r in conn.execute("SELECT name FROM deal"))
        finally:
            conn.close()
        assert names == [f"race {i}" for i in range(5)]


# -- a database this version cannot open -----------------------------------------------


def test_a_database_from_a_newer_version_is_refused_untouched(crm_cli, cli_env):
    db = Path(cli_env["CRM_DB"])
    crm_cli("add", "lead", "Из будущего")
    _sql(db, "UPDATE alembic_version SET version_num = '0099_from_the_future'")
    before = _digest(db)
    for args in (("deals", "list"), ("add", "lead", "x")):
        result = crm_cli(*args)
        assert result.returncode == 8
        assert "made by a newer tui-crm; upgrade" in _one_line_error(result)
    assert _digest(db) == before
    assert not list(db.parent.glob("*.bak"))


def test_a_database_of_another_program_is_not_converted(crm_cli, tmp_path):
    foreign = tmp_path / "other.sqlite3"
    _sql(foreign, "CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT)", "INSERT INTO notes (body) VALUES ('x')")
    before = _digest(foreign)
    for args in (("add", "lead", "x"), ("deals", "list")):
        result = crm_cli("--db", str(foreign), *args)
        assert result.returncode == 8
        assert "not a tui-crm database" in _one_line_error(result)
    assert _digest(foreign) == before
    assert not list(tmp_path.glob("other.sqlite3.*"))


def test_our_stores_carry_the_application_id_and_older_ones_get_it(crm_cli, cli_env, tmp_path):
    new = tmp_path / "fresh" / "crm.sqlite3"
    assert crm_cli("--db", str(new), "add", "lead", "Новая").returncode == 0
    assert _app_id(new) == APPLICATION_ID
    old = Path(cli_env["CRM_DB"])
    _sql(old, "PRAGMA application_id = 0")  # as a store made before the mark existed
    assert _names(crm_cli) == []
    assert _app_id(old) == APPLICATION_ID


# -- reading never creates -------------------------------------------------------------

READING = [
    ("deals", "list"),
    ("deals", "show", "abc"),
    ("contacts", "list"),
    ("search", "x"),
    ("agenda",),
    ("task", "list", "abc"),
    ("db", "check"),
    ("users", "list"),
]


@pytest.mark.parametrize("args", READING, ids=" ".join)
def test_reading_commands_never_create_a_store(crm_cli, tmp_path, args):
    missing = tmp_path / "typo" / "dir" / "x.sqlite3"
    result = crm_cli("--db", str(missing), *args)
    assert result.returncode == 3
    line = _one_line_error(result)
    assert "No database at" in line and str(missing) in line
    assert not (tmp_path / "typo").exists()


def test_a_folder_is_not_a_database(crm_cli, tmp_path):
    result = crm_cli("--db", str(tmp_path), "add", "lead", "x")
    assert result.returncode == 1
    assert "is a folder" in _one_line_error(result)


def test_a_writing_command_creates_the_store_and_says_where(crm_cli, tmp_path):
    new = tmp_path / "new" / "x.sqlite3"
    result = crm_cli("--db", str(new), "add", "lead", "Первая")
    assert result.returncode == 0, result.stderr
    assert str(new) in _one_line_error(result) and "Created" in result.stderr
    assert new.exists()
    again = crm_cli("--db", str(new), "add", "lead", "Вторая")
    assert again.returncode == 0 and again.stderr == ""


# -- a read-only file ------------------------------------------------------------------


def test_a_read_only_database_stays_read_only(crm_cli, cli_env):
    db = Path(cli_env["CRM_DB"])
    crm_cli("add", "lead", "Только чтение")
    db.chmod(0o400)
    assert _names(crm_cli) == ["Только чтение"]
    assert crm_cli("search", "Только").returncode == 0
    result = crm_cli("add", "lead", "Не сохранится")
    assert result.returncode == 1
    assert "read-only" in _one_line_error(result)
    assert stat.S_IMODE(db.stat().st_mode) == 0o400
    assert _names(crm_cli) == ["Только чтение"]


# -- backup ----------------------------------------------------------------------------


def test_backup_over_an_existing_file_is_private(crm_cli, tmp_path):
    target = tmp_path / "old.bak"
    target.write_text("old")
    target.chmod(0o644)
    result = crm_cli("db", "backup", str(target))
    assert result.returncode == 0, result.stderr
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    assert crm_cli("--db", str(target), "db", "check").returncode == 0


def test_a_failed_backup_leaves_no_file(crm_cli, cli_env, tmp_path):
    db = Path(cli_env["CRM_DB"])
    db.write_bytes(b"not a database at all" * 100)
    target = tmp_path / "backups" / "b.bak"
    result = crm_cli("db", "backup", str(target))
    assert result.returncode == 1
    _one_line_error(result)
    assert not target.exists()
    assert not [p for p in target.parent.glob("*")] if target.parent.exists() else True


def test_backup_refuses_to_overwrite_the_live_database(crm_cli, cli_env):
    db = Path(cli_env["CRM_DB"])
    crm_cli("add", "lead", "Живая")
    result = crm_cli("db", "backup", str(db))
    assert result.returncode == 1
    assert "same file" in _one_line_error(result)
    assert _names(crm_cli) == ["Живая"]


def test_backup_is_private_whatever_the_umask(crm_cli, tmp_path):
    os_umask = os.umask(0)
    try:
        result = crm_cli("db", "backup", str(tmp_path / "u.bak"))
    finally:
        os.umask(os_umask)
    assert result.returncode == 0
    assert stat.S_IMODE((tmp_path / "u.bak").stat().st_mode) == 0o600


# -- a bad environment: one line, nothing saved ------------------------------------------


def test_a_damaged_database_names_the_backups_to_restore(crm_cli, cli_env):
    db = Path(cli_env["CRM_DB"])
    crm_cli("add", "lead", "Была")
    assert crm_cli("db", "backup").returncode == 0
    [copy] = db.parent.glob("crm.db.backup-*.bak")
    with db.open("r+b") as f:
        f.truncate(db.stat().st_size // 2)
    for args in (("deals", "list"), ("add", "lead", "Не сохранится"), ("search", "Была"), ("agenda",)):
        result = crm_cli(*args)
        assert result.returncode == 1, (args, result.stderr)
        line = _one_line_error(result)
        assert "damaged" in line and f"restore a backup: crm db restore {copy}" in line
    assert crm_cli("db", "restore", str(copy), "--yes").returncode == 0
    assert _names(crm_cli) == ["Была"]


def _without_root_powers() -> list[str]:
    """A prefix that runs a command as root without the power to ignore file modes."""
    if os.geteuid() != 0:
        return []
    if not shutil.which("setpriv"):
        pytest.skip("running as root without setpriv: a read-only folder would not be read-only")
    return ["setpriv", "--bounding-set", "-dac_override,-dac_read_search,-fowner", "--"]


def test_a_read_only_data_folder(cli_env, tmp_path):
    folder = tmp_path / "ro"
    folder.mkdir()
    db = folder / "crm.db"
    shutil.copyfile(cli_env["CRM_DB"], db)
    db.chmod(0o600)
    folder.chmod(0o500)
    try:
        for args in (("add", "lead", "Не сохранится"), ("deals", "list")):
            result = subprocess.run(
                [*_without_root_powers(), sys.executable, "-c", ENTRY, *args],
                env={**cli_env, "CRM_DB": str(db)},
                capture_output=True,
                text=True,
                encoding="utf-8",
                timeout=60,
            )
            assert result.returncode == 1, result.stderr
            line = _one_line_error(result)
            assert f"its folder {folder} is read-only" in line and "nothing saved" in line
    finally:
        folder.chmod(0o700)
    assert sorted(p.name for p in folder.iterdir()) == ["crm.db"]


FULL_DISK = """
import json, os, shutil, subprocess, sys
entry, template, folder = sys.argv[1:4]
db = os.environ["CRM_DB"] = folder + "/crm.db"
shutil.copyfile(template, db)
runs = []
for i in range(12):
    r = subprocess.run([sys.executable, "-c", entry, "add", "lead", f"lead {i}", "--note", "x" * 100000],
                       capture_output=True, text=True)
    runs.append([r.returncode, r.stderr])
    if r.returncode:
        break
listing = subprocess.run([sys.executable, "-c", entry, "deals", "list", "--json"], capture_output=True, text=True)
print(json.dumps({"runs": runs, "deals": sorted(d["name"] for d in json.loads(listing.stdout))}))
"""


def test_a_full_disk_is_one_line_and_saves_nothing(cli_env, tmp_path):
    """A real full file system: a 700 kB tmpfs in a private mount namespace."""
    if os.geteuid() != 0 or not shutil.which("unshare"):
        pytest.skip("needs root and unshare to mount a small tmpfs")
    folder = tmp_path / "small"
    folder.mkdir()
    script = 'mount -t tmpfs -o size=700k tmpfs "$0" && exec "$@"'
    driver = [sys.executable, "-c", FULL_DISK, ENTRY, cli_env["CRM_DB"], str(folder)]
    result = subprocess.run(
        ["unshare", "-m", "sh", "-c", script, str(folder), *driver],
        env=cli_env,
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=300,
    )
    if "mount" in result.stderr and result.returncode:
        pytest.skip(f"cannot mount a tmpfs here: {result.stderr.strip()}")
    report = json.loads(result.stdout)
    *saved, (code, stderr) = report["runs"]
    assert code == 1 and all(c == 0 for c, _ in saved)
    assert "Traceback" not in stderr
    [line] = stderr.strip().splitlines()
    assert "is full (database or disk is full); nothing saved" in line
    assert report["deals"] == sorted(f"lead {i}" for i in range(len(saved)))
