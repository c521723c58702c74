"""Two writers at once: a CLI capture while the app writes.

One process holds long write transactions (BEGIN IMMEDIATE, ~1 s each, as a
slow screen action would), another captures leads in a tight loop, a third
holds a long read transaction; meanwhile real ``crm add lead`` processes run,
one after another and two at a time. Every process must finish with exit
code 0 and no "database is locked": writers queue on the busy timeout instead
of failing. All rows are there afterwards, and the long reader saw one
consistent snapshot throughout.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

WRITER = Path(__file__).with_name("writer_proc.py")


def crm_command() -> list[str]:
    script = Path(sys.executable).parent / "crm"
    if script.exists():
        return [str(script)]
    return [sys.executable, "-c", "from tui_crm.startup import run; run()"]


def lines(path: Path) -> list[str]:
    return path.read_text(encoding="utf-8").split("\n")[:-1] if path.exists() else []


def wait_until(predicate: object, procs: list[subprocess.Popen[bytes]], errs: list[Path], timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():  # type: ignore[operator]
        for proc, err in zip(procs, errs, strict=True):
            if proc.poll() is not None:
                raise AssertionError(f"a writer exited early ({proc.returncode}): {err.read_text()}")
        if time.monotonic() > deadline:
            raise AssertionError("timed out: " + " | ".join(e.read_text() for e in errs))
        time.sleep(0.01)


def cli_lead(db: Path, env: dict[str, str], n: int) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [*crm_command(), "--db", str(db), "add", "lead", f"Concurrent CLI lead {n}", "--phone",
         f"+7 925 000-{n // 100:02d}-{n % 100:02d}", "--email", f"cli{n}@example.ru", "--json"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


@pytest.mark.slow
def test_cli_capture_while_the_app_writes(tmp_path: Path) -> None:
    db = tmp_path / "shared.db"
    env = {k: v for k, v in os.environ.items() if k not in ("CRM_DB", "CRM_USER")}
    env["CRM_CONFIG_DIR"] = str(tmp_path / "cfg")
    env["CRM_DATA_DIR"] = str(tmp_path / "data")
    stop = tmp_path / "stop"

    # Create the store first, so no two processes race to run the first migration.
    subprocess.run([sys.executable, str(WRITER), str(db), "capture", "--count", "0"], env=env, check=True, capture_output=True)

    procs: list[subprocess.Popen[bytes]] = []
    outs: dict[str, Path] = {}
    errs: list[Path] = []
    # The app: 1 s write transactions with a short pause between them (UI work).
    for mode, extra in (("hold", ["--hold", "1.0", "--gap", "0.2"]), ("capture", []), ("read", [])):
        out, err = tmp_path / f"{mode}.out", tmp_path / f"{mode}.err"
        outs[mode] = out
        errs.append(err)
        with out.open("wb") as o, err.open("wb") as e:
            procs.append(
                subprocess.Popen(
                    [sys.executable, str(WRITER), str(db), mode, "--start", str(len(procs) * 10_000),
                     "--stop-file", str(stop), *extra],
                    stdout=o,
                    stderr=e,
                    env=env,
                )
            )
    wait_until(lambda: all("READY" in lines(p) for p in outs.values()), procs, errs)
    wait_until(lambda: "HOLDING" in lines(outs["hold"]), procs, errs)

    cli_ids: list[str] = []
    failures: list[str] = []
    waits: list[float] = []

    def finish(proc: subprocess.Popen[str], started: float) -> None:
        out, err = proc.communicate(timeout=120)
        waits.append(time.monotonic() - started)
        if proc.returncode != 0 or "locked" in err.lower():
            failures.append(f"rc={proc.returncode}: {err.strip()}")
        else:
            cli_ids.append(json.loads(out)["id"])

    n = 0
    for _ in range(3):  # one at a time, each arriving while the app may hold the lock
        started = time.monotonic()
        finish(cli_lead(db, env, n), started)
        n += 1
    pair = [(cli_lead(db, env, n + k), time.monotonic()) for k in range(2)]  # two captures at once
    for proc, started in pair:
        finish(proc, started)
    assert not failures, failures

    capture_acks_before = len([line for line in lines(outs["capture"]) if line.startswith("ACK")])
    stop.touch()
    for proc, err in zip(procs, errs, strict=True):
        proc.wait(timeout=60)
        assert proc.returncode == 0, err.read_text()
        assert "locked" not in err.read_text().lower(), err.read_text()

    def acked(mode: str) -> list[str]:
        return [line.split()[1] for line in lines(outs[mode]) if line.startswith("ACK")]

    held, captured = acked("hold"), acked("capture")
    assert held, "the app never committed its long transaction"
    assert capture_acks_before > 0 and captured, "the tight-loop writer never got through"
    read_line = next(line for line in lines(outs["read"]) if line.startswith("ACK read"))
    _, _, first_count, last_count = read_line.split()
    assert first_count == last_count, "a read transaction must keep its snapshot while others write"

    conn = sqlite3.connect(db)
    try:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        deals = {r[0] for r in conn.execute("SELECT id FROM deal")}
        companies = {r[0] for r in conn.execute("SELECT id FROM company")}
    finally:
        conn.close()
    assert set(cli_ids) <= deals, "a CLI capture reported success but its deal is missing"
    assert set(captured) <= deals, "a looped capture was acknowledged but is missing"
    assert set(held) <= companies, "a long transaction committed but its row is missing"
    assert len(cli_ids) == 5
    print(f"CLI waits {[round(w, 2) for w in waits]} s; app commits {len(held)}, loop captures {len(captured)}")
