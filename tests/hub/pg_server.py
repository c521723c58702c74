"""A real PostgreSQL on loopback for the hub tests (no mocked database).

One server per test session (per xdist worker): ``initdb`` into a fresh
temporary directory, ``pg_ctl start`` on a free loopback port with its
unix socket in the same directory, stopped and removed at the end.

* The binaries live in ``/usr/lib/postgresql/<major>/bin`` (not on PATH);
  when none is found, the ``postgresql`` package is installed with apt-get
  (``.ci/run`` does the same up front).
* ``initdb`` refuses to run as root, and CI runs as root: then every server
  command runs as the ``postgres`` user (``runuser -u postgres --``) and
  the temporary directory belongs to it.
* Password login over TCP (scram-sha-256) like a real hub; the superuser
  ``postgres`` gets a random password.
* ``fsync=off`` for speed (a killed server's data survives in the OS page
  cache), but commits stay synchronous: an acknowledged commit is in the
  WAL, so ``restart()`` (an immediate stop, like a crash) loses nothing
  acknowledged, as on a real server.
"""

from __future__ import annotations

import glob
import os
import secrets
import shutil
import socket
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def pg_bin_dir() -> Path:
    """The newest PostgreSQL server's bin directory; installs ``postgresql`` when there is none."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(p.split("/")[4]))
    if not found:
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        install = ["apt-get", "install", "-y", "-q", "postgresql"]
        if subprocess.run(install, env=env, capture_output=True).returncode != 0:
            subprocess.run(["apt-get", "update", "-q"], env=env, capture_output=True, check=False)
            subprocess.run(install, env=env, capture_output=True, check=True)
        found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(p.split("/")[4]))
    if not found:
        raise RuntimeError("PostgreSQL server binaries not found in /usr/lib/postgresql/*/bin; install the postgresql package")
    return Path(found[-1]).parent


@dataclass
class PgServer:
    root: Path
    port: int
    password: str
    bin_dir: Path
    as_postgres: bool

    @property
    def data(self) -> Path:
        return self.root / "data"

    def dsn(self, dbname: str = "postgres", user: str = "postgres", password: str | None = None) -> str:
        """A libpq URL for ``user`` on this server (the superuser's password by default)."""
        pw = self.password if password is None and user == "postgres" else password
        auth = f"{user}:{pw}" if pw else user
        return f"postgresql://{auth}@127.0.0.1:{self.port}/{dbname}"

    def _run(self, *args: str) -> subprocess.CompletedProcess[str]:
        cmd = [str(self.bin_dir / args[0]), *args[1:]]
        if self.as_postgres:
            cmd = ["runuser", "-u", "postgres", "--", *cmd]
        return subprocess.run(cmd, capture_output=True, text=True, check=False)

    def start(self) -> None:
        pwfile = self.root / "pw"
        pwfile.write_text(self.password + "\n")
        if self.as_postgres:
            shutil.chown(pwfile, "postgres")
        done = self._run(
            "initdb", "-D", str(self.data), "-U", "postgres", "-E", "UTF8", "--no-locale",
            "--auth-local=trust", "--auth-host=scram-sha-256", f"--pwfile={pwfile}",
        )  # fmt: skip
        if done.returncode != 0:
            raise RuntimeError(f"initdb failed: {done.stderr.strip()}")
        pwfile.unlink()
        options = (
            f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off "
            "-c full_page_writes=off -c max_connections=200"
        )
        done = self._run("pg_ctl", "-D", str(self.data), "-o", options, "-l", str(self.root / "log"), "-w", "-t", "60", "start")
        if done.returncode != 0:
            log = (self.root / "log").read_text(errors="replace") if (self.root / "log").exists() else ""
            raise RuntimeError(f"pg_ctl start failed: {done.stderr.strip()} {log[-2000:]}")

    def restart(self, mode: str = "immediate") -> None:
        """Stop (``immediate``: like a crash, no shutdown checkpoint) and start again on the same port."""
        done = self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-l", str(self.root / "log"), "-w", "-t", "60", "restart")
        if done.returncode != 0:
            raise RuntimeError(f"pg_ctl restart failed: {done.stderr.strip()}")

    def stop(self) -> None:
        self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")
        shutil.rmtree(self.root, ignore_errors=True)


def start_server() -> PgServer:
    bin_dir = pg_bin_dir()
    as_postgres = os.geteuid() == 0
    root = Path(tempfile.mkdtemp(prefix="tui-crm-pg-"))
    if as_postgres:
        shutil.chown(root, "postgres", "postgres")
    server = PgServer(root=root, port=free_port(), password=secrets.token_hex(12), bin_dir=bin_dir, as_postgres=as_postgres)
    try:
        server.start()
    except BaseException:
        shutil.rmtree(root, ignore_errors=True)
        raise
    return server
