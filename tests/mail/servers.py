"""Real mail servers for the mail tests: Dovecot (IMAP) and aiosmtpd (SMTP) on loopback.

Dovecot runs in the foreground (``dovecot -F -c CONF``) from a config written
into a temporary directory: its own base and state dirs, a passwd-file for
users and passwords, a Maildir per user, an INBOX and a SPECIAL-USE ``\\Sent``
mailbox, plain-text login allowed (loopback only). Users are added while it
runs (Dovecot re-reads the passwd-file when it changes), so each test gets a
fresh, empty account. Nothing here mocks IMAP: the tests talk to the server
over TCP like the app does.

aiosmtpd keeps every message it accepts in memory (``SmtpServer.messages``);
it can also be told to refuse connections (``down()``) to test the outbox.
"""

from __future__ import annotations

import getpass
import os
import shutil
import socket
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path


def free_port() -> int:
    """A TCP port free on loopback right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for_port(port: int, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listens on 127.0.0.1:{port}")


def ensure_dovecot() -> str:
    """The dovecot binary; installs ``dovecot-imapd`` with apt-get when it is missing."""
    found = shutil.which("dovecot") or next((p for p in ("/usr/sbin/dovecot",) if os.path.exists(p)), None)
    if found:
        return found
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    install = ["apt-get", "install", "-y", "-q", "dovecot-imapd"]
    if subprocess.run(install, env=env, capture_output=True).returncode != 0:
        subprocess.run(["apt-get", "update", "-q"], env=env, capture_output=True, check=False)
        subprocess.run(install, env=env, capture_output=True, check=True)
    found = shutil.which("dovecot") or "/usr/sbin/dovecot"
    if not os.path.exists(found):
        raise RuntimeError("dovecot is not installed and apt-get could not install dovecot-imapd")
    return found


POOL = 2000
PASSWORD = "secret-pw"

CONFIG = """\
base_dir = {root}/run
state_dir = {root}/state
log_path = {root}/dovecot.log
instance_name = tui-crm-test-{tag}
protocols = imap
listen = 127.0.0.1
ssl = yes
ssl_cert = <{root}/tls/server.pem
ssl_key = <{root}/tls/server.key
disable_plaintext_auth = no
auth_mechanisms = plain login
first_valid_uid = {uid}
first_valid_gid = {gid}
default_internal_user = {internal}
default_internal_group = {internal_group}
default_login_user = {login_user}
mail_location = maildir:{root}/mail/%u
mail_max_userip_connections = 200
imap_max_line_length = 1M
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {root}/users
}}
userdb {{
  driver = passwd-file
  args = username_format=%u {root}/users
  default_fields = uid={uid} gid={gid} home={root}/home/%u
}}
namespace inbox {{
  inbox = yes
  separator = /
  mailbox Sent {{
    special_use = \\Sent
    auto = subscribe
  }}
}}
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
  inet_listener imaps {{
    address = 127.0.0.1
    port = {tls_port}
    ssl = yes
  }}
  chroot =
}}
service anvil {{
  chroot =
}}
"""


@dataclass
class Dovecot:
    """A running Dovecot: ``host``, ``port`` (plain, STARTTLS offered), ``tls_port`` (IMAPS),
    ``ca_file`` (the PEM of the test CA its certificate is signed by), ``add_user()`` and ``stop()``."""

    root: Path
    port: int
    process: subprocess.Popen[bytes]
    tls_port: int = 0
    ca_file: Path | None = None
    host: str = "127.0.0.1"
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _next: int = 0

    def add_user(self) -> tuple[str, str]:
        """A fresh, empty account; returns (login, password).

        The accounts are written to the passwd-file before Dovecot starts
        (re-reading it after a change is not reliable within a second), and
        handed out one per call.
        """
        with self._lock:
            self._next += 1
            if self._next > POOL:
                raise RuntimeError(f"the test Dovecot has only {POOL} accounts")
            return f"user{self._next:04}@example.test", PASSWORD

    def log(self) -> str:
        path = self.root / "dovecot.log"
        return path.read_text(encoding="utf-8", errors="replace") if path.exists() else ""

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        shutil.rmtree(self.root, ignore_errors=True)


def start_dovecot() -> Dovecot:
    binary = ensure_dovecot()
    # Dovecot's auth and login processes run as unprivileged users when we are
    # root: the directory must be traversable and the passwd-file readable by them.
    root = Path(tempfile.mkdtemp(prefix="tui-crm-dovecot-"))
    root.chmod(0o755)
    for sub in ("run", "state", "mail", "home"):
        (root / sub).mkdir()
    ca_file = make_certificates(root / "tls")
    users = root / "users"
    lines = (f"user{i:04}@example.test:{{PLAIN}}{PASSWORD}::::::\n" for i in range(1, POOL + 1))
    users.write_text("".join(lines), encoding="utf-8")
    users.chmod(0o644)
    port, tls_port = free_port(), free_port()
    uid, gid = os.getuid(), os.getgid()
    if uid == 0:
        # Dovecot never stores mail as root: the mail belongs to its own user.
        import pwd

        internal, internal_group, login_user = "dovecot", "dovecot", "dovenull"
        entry = pwd.getpwnam(internal)
        uid, gid = entry.pw_uid, entry.pw_gid
        for sub in ("mail", "home"):
            os.chown(root / sub, uid, gid)
    else:  # an unprivileged Dovecot: every process runs as us
        internal = login_user = getpass.getuser()
        internal_group = subprocess.run(["id", "-gn"], capture_output=True, text=True).stdout.strip() or internal
    conf = root / "dovecot.conf"
    conf.write_text(
        CONFIG.format(
            root=root, port=port, tls_port=tls_port, uid=uid, gid=gid, tag=root.name, internal=internal,
            internal_group=internal_group, login_user=login_user,
        ),
        encoding="utf-8",
    )
    process = subprocess.Popen([binary, "-F", "-c", str(conf)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    server = Dovecot(root=root, port=port, process=process, tls_port=tls_port, ca_file=ca_file)
    try:
        wait_for_port(port)
        wait_for_port(tls_port)
    except BaseException:
        err = process.stderr.read().decode(errors="replace") if process.poll() is not None and process.stderr else ""
        log = server.log()
        server.stop()
        raise RuntimeError(f"Dovecot did not start: {err} {log}") from None
    return server


def make_certificates(folder: Path, host: str = "127.0.0.1") -> Path:
    """A throwaway CA and a server certificate it signs (for ``host`` and localhost), made now.

    Writes ``ca.pem``, ``server.pem`` and ``server.key`` into ``folder``;
    returns the CA's path: what a client must be told to trust.
    """
    import ipaddress
    from datetime import UTC, datetime, timedelta

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    folder.mkdir(parents=True, exist_ok=True)
    now = datetime.now(UTC) - timedelta(minutes=5)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "tui-crm test CA")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name).issuer_name(ca_name).public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number()).not_valid_before(now).not_valid_after(now + timedelta(days=2))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, host)]))
        .issuer_name(ca_name).public_key(key.public_key())
        .serial_number(x509.random_serial_number()).not_valid_before(now).not_valid_after(now + timedelta(days=2))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address(host)), x509.DNSName("localhost")]),
            critical=False,
        )
        .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    (folder / "ca.pem").write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    (folder / "server.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file = folder / "server.key"
    key_file.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    key_file.chmod(0o600)
    return folder / "ca.pem"


def server_tls_context(folder: Path):  # noqa: ANN201 - ssl.SSLContext
    """A server-side TLS context with the certificate :func:`make_certificates` wrote there."""
    import ssl

    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(folder / "server.pem", folder / "server.key")
    return context


def append(dovecot: Dovecot, login: str, password: str, folder: str, messages: list[bytes]) -> None:
    """Load messages into a folder with IMAP APPEND (as a mail client would)."""
    from imapclient import IMAPClient

    with IMAPClient(dovecot.host, port=dovecot.port, ssl=False, timeout=30) as client:
        client.login(login, password)
        if folder != "INBOX" and not client.folder_exists(folder):
            client.create_folder(folder)
        if len(messages) > 50 and "MULTIAPPEND" in {c.decode() for c in client.capabilities()}:
            for start in range(0, len(messages), 500):
                client.multiappend(folder, messages[start : start + 500])
        else:
            for raw in messages:
                client.append(folder, raw)


@dataclass
class SmtpServer:
    """aiosmtpd on loopback; accepted messages in ``messages`` (raw bytes)."""

    host: str
    port: int
    controller: object
    messages: list[tuple[str, list[str], bytes]] = field(default_factory=list)

    def stop(self) -> None:
        try:
            self.controller.stop()  # type: ignore[attr-defined]
        except AssertionError:  # already stopped
            pass


def start_smtp(password: str = PASSWORD, port: int | None = None, tls_folder: Path | None = None) -> SmtpServer:
    """aiosmtpd on loopback (``port`` or a free one); logins with the test accounts' password pass.

    With ``tls_folder`` (made by :func:`make_certificates`) it offers STARTTLS
    with that certificate and refuses mail and logins before it.
    """
    from aiosmtpd.controller import Controller
    from aiosmtpd.smtp import AuthResult, LoginPassword

    server: SmtpServer

    class Handler:
        async def handle_DATA(self, smtp, session, envelope):  # noqa: ANN001, N802 - aiosmtpd's hook
            server.messages.append((envelope.mail_from, list(envelope.rcpt_tos), bytes(envelope.original_content)))
            return "250 OK"

    def authenticator(smtp, session, envelope, mechanism, auth_data):  # noqa: ANN001
        ok = isinstance(auth_data, LoginPassword) and auth_data.password.decode() == password
        return AuthResult(success=ok, handled=False)

    port = port or free_port()
    tls: dict[str, object] = {"auth_require_tls": False}
    if tls_folder is not None:
        tls = {"tls_context": server_tls_context(tls_folder), "require_starttls": True, "auth_require_tls": True}
    controller = Controller(
        Handler(), hostname="127.0.0.1", port=port, authenticator=authenticator, auth_required=False, **tls
    )
    controller.start()
    server = SmtpServer("127.0.0.1", port, controller)
    return server


class DroppingProxy:
    """A loopback TCP proxy to a server that can cut its connections mid-stream.

    ``cut_after(n)`` makes the next connection close once ``n`` bytes went from
    the server to the client (a dropped link in the middle of a FETCH); later
    connections pass through untouched.
    """

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.port = free_port()
        self._cut_after: int | None = None
        self.cuts = 0
        self._sock = socket.socket()
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind(("127.0.0.1", self.port))
        self._sock.listen(16)
        self._closed = False
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def cut_after(self, nbytes: int) -> None:
        self._cut_after = nbytes

    def _serve(self) -> None:
        while not self._closed:
            try:
                client, _ = self._sock.accept()
            except OSError:
                return
            upstream = socket.create_connection(("127.0.0.1", self.target_port))
            limit, self._cut_after = self._cut_after, None
            threading.Thread(target=self._pump, args=(client, upstream, None), daemon=True).start()
            threading.Thread(target=self._pump, args=(upstream, client, limit), daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket, limit: int | None) -> None:
        sent = 0
        try:
            while True:
                data = source.recv(65536)
                if not data:
                    break
                if limit is not None and sent + len(data) >= limit:
                    sink.sendall(data[: max(0, limit - sent)])
                    self.cuts += 1
                    break
                sink.sendall(data)
                sent += len(data)
        except OSError:
            pass
        finally:
            for end in (source, sink):
                try:
                    end.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                end.close()

    def close(self) -> None:
        self._closed = True
        self._sock.close()
