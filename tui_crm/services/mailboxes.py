"""Mailboxes: add, list, remove and test IMAP/SMTP accounts.

A mailbox is personal (its messages are visible to its owner only; others
see that a message exists, as amoCRM's lock does) or corporate (shared,
added by an admin; mail from strangers to it becomes Unsorted requests).
Passwords go to the secret store (``mail:<mailbox id>``), never to the
database or a log.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from sqlmodel import col, select

from tui_crm.domain.errors import NotFoundError, ValidationError
from tui_crm.domain.matching import email_key
from tui_crm.domain.validation import normalize_email
from tui_crm.mail.imap import ServerAddress, is_loopback
from tui_crm.services.context import Crm
from tui_crm.services.mail_views import MailboxView
from tui_crm.services.parties import assignable_user
from tui_crm.services.pipelines import find_pipeline
from tui_crm.storage.mail_tables import Mailbox, MailFolder
from tui_crm.storage.models import User

SECURITY = ("tls", "starttls", "none")
IMAP_PORTS = {"tls": 993, "starttls": 143, "none": 143}
SMTP_PORTS = {"tls": 465, "starttls": 587, "none": 25}


@dataclass
class MailboxInput:
    name: str
    imap: str
    login: str
    password: str
    smtp: str | None = None
    security: str = "tls"
    corporate: bool = False
    owner: str | None = None
    address: str | None = None
    pipeline: str | None = None
    ca_file: Path | None = None  # trust the CA in this PEM file (a company server's own certificate)


def secret_key(mailbox_id: str) -> str:
    return f"mail:{mailbox_id}"


def _secrets():  # noqa: ANN202 - the store's protocol type
    from tui_crm.secrets import default_store

    return default_store()


def split_host(value: str, default_port: int, what: str) -> tuple[str, int]:
    """``host`` or ``host:port`` (``[v6]:port`` too)."""
    value = value.strip()
    if not value:
        raise ValidationError(what, "give a host, e.g. imap.example.com or imap.example.com:993")
    host, port = value, default_port
    if value.startswith("["):
        host, _, rest = value[1:].partition("]")
        if rest.startswith(":"):
            port = _port(rest[1:], what)
    elif value.count(":") == 1:
        host, _, raw = value.partition(":")
        port = _port(raw, what)
    if not host or any(c.isspace() for c in host):
        raise ValidationError(what, f"{value!r} is not a host name")
    return host, port


def _port(raw: str, what: str) -> int:
    if not raw.isdigit() or not 0 < int(raw) < 65536:
        raise ValidationError(what, f"port {raw!r} is not a number from 1 to 65535")
    return int(raw)


def add_mailbox(crm: Crm, data: MailboxInput) -> MailboxView:
    """Check everything, keep the password in the secret store, then save the mailbox."""
    name = data.name.strip()
    if not name:
        raise ValidationError("name", "a mailbox needs a name, e.g. crm mail add sales ...")
    if data.security not in SECURITY:
        raise ValidationError("security", f"use one of {', '.join(SECURITY)}")
    imap_host, imap_port = split_host(data.imap, IMAP_PORTS[data.security], "imap")
    smtp_host, smtp_port = split_host(data.smtp, SMTP_PORTS[data.security], "smtp") if data.smtp else (None, None)
    if data.security == "none":
        for host in filter(None, (imap_host, smtp_host)):
            if not is_loopback(host):
                raise ValidationError(
                    "security",
                    f"--security none sends the password in clear text; it is allowed for loopback hosts only, not {host}",
                )
    ca_pem = read_ca_file(data.ca_file, data.security) if data.ca_file is not None else None
    if not data.login.strip():
        raise ValidationError("login", "give the mailbox login (usually its address)")
    if not data.password:
        raise ValidationError("password", "the password is empty; pipe it in: echo PASS | crm mail add ... --password-stdin")
    address = data.address or (data.login if "@" in data.login else "")
    if not address:
        raise ValidationError("address", "the login is not an e-mail address; give the mailbox's address with --address")
    address = normalize_email(address)
    pipeline_key = find_pipeline(crm, data.pipeline).key if data.pipeline else None
    store = _secrets()
    store.check()
    with crm.read() as session:
        me = session.get(User, crm.user_id)
        if data.corporate and (me is None or not me.is_admin):
            raise ValidationError("corporate", f"only an admin adds a corporate mailbox; {crm.user_name} is not one")
        owner = assignable_user(session, data.owner) if data.owner else me
        if owner is None:
            raise NotFoundError("No current user")
        if owner.id != crm.user_id and (me is None or not me.is_admin):
            raise ValidationError("owner", "only an admin adds a mailbox for someone else")
        if session.exec(select(Mailbox).where(Mailbox.name == name)).first() is not None:
            raise ValidationError("name", f"a mailbox named {name!r} exists; remove it first or choose another name")
    mailbox = Mailbox(
        name=name,
        address=address,
        imap_host=imap_host,
        imap_port=imap_port,
        smtp_host=smtp_host,
        smtp_port=smtp_port,
        login=data.login.strip(),
        security=data.security,
        ca_pem=ca_pem,
        corporate=data.corporate,
        owner_id=None if data.corporate and not data.owner else owner.id,
        pipeline_key=pipeline_key,
    )
    store.set(secret_key(mailbox.id), data.password)
    try:
        with crm.uow() as work:
            work.session.add(mailbox)
    except Exception:
        store.delete(secret_key(mailbox.id))
        raise
    return get_mailbox(crm, mailbox.id)


def read_ca_file(path: Path, security: str) -> str:
    """The PEM text of a CA file, checked to hold at least one certificate a TLS context accepts."""
    import ssl

    if security == "none":
        raise ValidationError("ca-file", "--ca-file is for TLS: use it with --security tls or starttls")
    try:
        text = path.read_text(encoding="ascii")
    except FileNotFoundError:
        raise ValidationError("ca-file", f"no file {path}") from None
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) else "not a PEM text file"
        raise ValidationError("ca-file", f"cannot read {path}: {reason}") from None
    try:
        if "-----BEGIN CERTIFICATE-----" not in text:
            raise ssl.SSLError("no certificate")
        ssl.create_default_context(cadata=text)
    except ssl.SSLError:
        raise ValidationError(
            "ca-file", f"{path} holds no PEM certificate (-----BEGIN CERTIFICATE-----); give the CA's certificate"
        ) from None
    return text


def _view(mailbox: Mailbox, owners: dict[str, str]) -> MailboxView:
    return MailboxView(
        mailbox.id,
        mailbox.name,
        mailbox.address,
        f"{mailbox.imap_host}:{mailbox.imap_port}",
        f"{mailbox.smtp_host}:{mailbox.smtp_port}" if mailbox.smtp_host else None,
        mailbox.login,
        mailbox.security,
        mailbox.corporate,
        owners.get(mailbox.owner_id or ""),
        mailbox.last_fetch_at,
        mailbox.last_error,
        bool(mailbox.ca_pem),
    )


def _owners(crm: Crm) -> dict[str, str]:
    with crm.read() as session:
        return {u.id: u.name for u in session.exec(select(User))}


def list_mailboxes(crm: Crm) -> list[MailboxView]:
    owners = _owners(crm)
    with crm.read() as session:
        return [_view(m, owners) for m in session.exec(select(Mailbox).order_by(Mailbox.name)) if not is_removed(m)]


def find_mailbox(crm: Crm, ref: str) -> Mailbox:
    with crm.read() as session:
        rows = [m for m in session.exec(select(Mailbox)) if not is_removed(m)]
    key = ref.strip().casefold()
    found = [m for m in rows if m.name.casefold() == key or m.id == ref or email_key(m.address) == key]
    if not found:
        names = ", ".join(m.name for m in rows) or "none yet (crm mail add)"
        raise NotFoundError(f"No mailbox {ref!r}. Mailboxes: {names}")
    return found[0]


def get_mailbox(crm: Crm, ref: str) -> MailboxView:
    return _view(find_mailbox(crm, ref), _owners(crm))


def mailboxes_for(crm: Crm, ref: str | None) -> list[Mailbox]:
    if ref:
        return [find_mailbox(crm, ref)]
    with crm.read() as session:
        return list(session.exec(select(Mailbox).order_by(Mailbox.name)))


def remove_mailbox(crm: Crm, ref: str) -> MailboxView:
    """Forget a mailbox and its password; its messages stay on the cards."""
    mailbox = find_mailbox(crm, ref)
    view = _view(mailbox, _owners(crm))
    with crm.read() as session:
        me = session.get(User, crm.user_id)
    if mailbox.owner_id != crm.user_id and (me is None or not me.is_admin):
        whose = view.owner or "the company"
        raise ValidationError("mailbox", f"{mailbox.name} belongs to {whose}; only they or an admin remove it")
    from sqlalchemy import delete, update

    from tui_crm.storage.mail_tables import MailMessage, MailOutbox

    with crm.uow() as work:
        work.session.exec(delete(MailFolder).where(col(MailFolder.mailbox_id) == mailbox.id))  # type: ignore[call-overload]
        work.session.exec(  # type: ignore[call-overload]
            update(MailOutbox)
            .where(col(MailOutbox.mailbox_id) == mailbox.id, col(MailOutbox.status) == "queued")
            .values(status="cancelled")
        )
        # messages keep their text; they only lose the mailbox they came from
        still = work.session.exec(select(MailMessage.id).where(MailMessage.mailbox_id == mailbox.id).limit(1)).first()
        still_out = work.session.exec(select(MailOutbox.id).where(MailOutbox.mailbox_id == mailbox.id).limit(1)).first()
        row = work.session.get(Mailbox, mailbox.id)
        if row is not None and still is None and still_out is None:
            work.session.delete(row)
        elif row is not None:
            row.name = f"{row.name} (removed {mailbox.id[:8]})"
            row.imap_host = ""
            work.session.add(row)
    _secrets().delete(secret_key(mailbox.id))
    return view


def is_removed(mailbox: Mailbox) -> bool:
    return mailbox.imap_host == ""


def server_address(mailbox: Mailbox, kind: str = "imap") -> ServerAddress:
    """Where and how to log in; the password from the secret store."""
    password = _secrets().get(secret_key(mailbox.id))
    if password is None:
        raise NotFoundError(
            f"No password for mailbox {mailbox.name} in the secret store; "
            "remove and add it again (crm mail add ... --password-stdin)"
        )
    if kind == "smtp":
        if not mailbox.smtp_host or mailbox.smtp_port is None:
            raise ValidationError("smtp", f"mailbox {mailbox.name} has no SMTP server; add it again with --smtp HOST[:PORT]")
        return ServerAddress(
            mailbox.smtp_host, mailbox.smtp_port, mailbox.security, mailbox.login, password, ca_pem=mailbox.ca_pem
        )
    return ServerAddress(mailbox.imap_host, mailbox.imap_port, mailbox.security, mailbox.login, password, ca_pem=mailbox.ca_pem)


def check_mailbox(crm: Crm, ref: str) -> dict[str, str]:
    """Log in to IMAP (and reach SMTP); returns the folders that will be read."""
    from tui_crm.mail.imap import ImapSession, probe

    mailbox = find_mailbox(crm, ref)
    with ImapSession(server_address(mailbox)) as session:
        folders = session.folders()
    result = {"inbox": folders["inbox"], "sent": folders.get("sent", "(none found)")}
    if mailbox.smtp_host and mailbox.smtp_port:
        probe(mailbox.smtp_host, mailbox.smtp_port)
        result["smtp"] = f"{mailbox.smtp_host}:{mailbox.smtp_port} reachable"
    return result
