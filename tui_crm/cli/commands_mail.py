"""``crm mail``: mailboxes (add, list, remove, test), fetch, read, send, outbox."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer

from tui_crm.cli.commands_add import JsonOpt
from tui_crm.cli.output import clean, emit_json, say, table
from tui_crm.cli.state import state

mail = typer.Typer(help="Mailboxes (IMAP INBOX and Sent, SMTP), reading and sending mail.", no_args_is_help=True)
outbox = typer.Typer(help="Messages waiting to be sent: list, cancel, retry.", invoke_without_command=True)


@mail.command("add")
def mail_add(
    name: Annotated[str, typer.Argument(help="A short name for the mailbox (sales, anna).")],
    imap: Annotated[str, typer.Option("--imap", help="IMAP server HOST[:PORT].")],
    login: Annotated[str, typer.Option("--login", help="Login (usually the address).")],
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the password (or app password) from stdin.")
    ] = False,
    smtp: Annotated[str | None, typer.Option("--smtp", help="SMTP server HOST[:PORT], for sending.")] = None,
    security: Annotated[str, typer.Option("--security", help="tls, starttls or none (none: loopback only).")] = "tls",
    ca_file: Annotated[
        Path | None, typer.Option("--ca-file", help="Trust the CA in this PEM file (a server with its own certificate).")
    ] = None,
    corporate: Annotated[
        bool, typer.Option("--corporate", help="Shared mailbox (admin only); strangers' mail goes to Unsorted.")
    ] = False,
    owner: Annotated[str | None, typer.Option("--owner", help="Whose personal mailbox (default: you).")] = None,
    address: Annotated[str | None, typer.Option("--address", help="The mailbox's address, when the login is not one.")] = None,
    pipeline: Annotated[str | None, typer.Option("--pipeline", help="Pipeline whose Unsorted gets strangers' mail.")] = None,
    json_: JsonOpt = False,
) -> None:
    """Add a mailbox; the password goes to the system keyring, never to a file."""
    from tui_crm.domain.errors import ValidationError
    from tui_crm.services.mailboxes import MailboxInput, add_mailbox

    if not password_stdin:
        raise ValidationError("password", "pass the password on stdin: echo PASS | crm mail add ... --password-stdin")
    password = sys.stdin.readline().rstrip("\r\n")
    view = add_mailbox(
        state.crm(),
        MailboxInput(
            name=name, imap=imap, login=login, password=password, smtp=smtp, security=security,
            corporate=corporate, owner=owner, address=address, pipeline=pipeline, ca_file=ca_file,
        ),
    )
    if json_:
        emit_json(view)
        return
    kind = "corporate" if view.corporate else f"personal ({clean(view.owner)})"
    say(f"Mailbox «{clean(view.name)}» added: {clean(view.address)}, {kind}. Fetch with: crm mail fetch {clean(view.name)}")


@mail.command("list")
def mail_list(json_: JsonOpt = False) -> None:
    """Mailboxes with their last fetch."""
    from tui_crm.services.mailboxes import list_mailboxes

    rows = list_mailboxes(state.crm())
    if json_:
        emit_json(rows)
        return
    table(
        "Mailboxes",
        ["name", "address", "imap", "smtp", "security", "kind", "last fetch", "error"],
        [
            (m.name, m.address, m.imap, m.smtp, m.security + (" (own CA)" if m.own_ca else ""),
             "corporate" if m.corporate else f"personal: {m.owner}", m.last_fetch_at, m.last_error)
            for m in rows
        ],
    )


@mail.command("remove")
def mail_remove(name: Annotated[str, typer.Argument()]) -> None:
    """Forget a mailbox and its password (its messages stay on the cards)."""
    from tui_crm.services.mailboxes import remove_mailbox

    view = remove_mailbox(state.crm(), name)
    say(f"Mailbox «{clean(view.name)}» removed")


@mail.command("test")
def mail_test(name: Annotated[str, typer.Argument()], json_: JsonOpt = False) -> None:
    """Log in and show the folders that will be read."""
    from tui_crm.services.mailboxes import check_mailbox

    result = check_mailbox(state.crm(), name)
    if json_:
        emit_json(result)
        return
    smtp = f"; SMTP {clean(result['smtp'])}" if "smtp" in result else ""
    say(f"OK: INBOX «{clean(result['inbox'])}», Sent «{clean(result['sent'])}»{smtp}")


@contextmanager
def _progress(enabled: bool) -> Iterator[Callable[[str, int, int], None]]:
    if not enabled:
        yield lambda where, done, total: None
        return
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    tasks: dict[str, Any] = {}
    bars: list[Any] = []  # started on the first update: nothing new, no bar (and no blank line)

    def update(where: str, done: int, total: int) -> None:
        if not bars:
            bars.append(Progress(
                TextColumn("{task.description}", markup=False), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                console=Console(stderr=True, highlight=False),
            ))
            bars[0].start()
        if where not in tasks:
            tasks[where] = bars[0].add_task(clean(where), total=total)
        bars[0].update(tasks[where], completed=done, total=total)

    try:
        yield update
    finally:
        if bars:
            bars[0].stop()


@mail.command("fetch")
def mail_fetch(
    name: Annotated[str | None, typer.Argument(help="One mailbox (default: all).")] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")] = False,
    json_: JsonOpt = False,
) -> None:
    """Fetch new mail from INBOX and Sent (incremental; safe to interrupt and re-run)."""
    from tui_crm.services.mail_fetch import fetch_mail

    crm = state.crm()
    with _progress(not quiet and not json_) as progress:
        reports = fetch_mail(crm, name, progress=progress)
    from tui_crm.services.mail_send import flush_outbox

    sent = flush_outbox(crm, name)
    if json_:
        emit_json({"mailboxes": reports, "outbox_sent": sent})
        return
    for r in reports:
        line = f"{clean(r.mailbox)}: {r.new} new"
        if r.duplicates:
            line += f", {r.duplicates} already stored"
        if r.skipped:
            line += f", {r.skipped} unreadable skipped (see the log)"
        if r.unsorted or r.leads:
            line += f"; {r.unsorted} to Unsorted, {r.leads} leads"
        if r.error:
            line += f"; FAILED: {clean(r.error)}"
        say(line)
    if sent:
        say(f"Outbox: {sent} sent")
    if any(r.error for r in reports):
        from tui_crm.cli.exit_codes import REMOTE

        raise typer.Exit(REMOTE)


@mail.command("show")
def mail_show(ref: Annotated[str, typer.Argument(help="Message id (prefix).")], json_: JsonOpt = False) -> None:
    """One message as plain text, with its attachments."""
    from tui_crm.services.mail_messages import open_message

    view = open_message(state.crm(), ref)
    if json_:
        emit_json(view)
        return
    say(f"From:    {clean(view.from_name)} <{clean(view.from_addr)}>")
    say(f"To:      {clean(view.to)}")
    if view.cc:
        say(f"Cc:      {clean(view.cc)}")
    say(f"Date:    {clean(view.sent_at)}")
    say(f"Subject: {clean(view.subject)}")
    for a in view.attachments:
        say(f"Attachment {a.index + 1}: {clean(a.name)} ({a.size} bytes, {clean(a.mime)})")
    say("")
    from tui_crm.domain.text import safe_text

    print(safe_text(view.body or ""))


@mail.command("save")
def mail_save(
    ref: Annotated[str, typer.Argument(help="Message id (prefix).")],
    attachment: Annotated[int, typer.Argument(help="Attachment number (1, 2...).")],
    deal: Annotated[str | None, typer.Option("--deal")] = None,
    contact: Annotated[str | None, typer.Option("--contact")] = None,
) -> None:
    """Save an attachment into a deal's or contact's files."""
    from tui_crm.services.mail_messages import save_attachment

    entity_type, entity = _record(deal, contact)
    name = save_attachment(state.crm(), ref, attachment - 1, entity_type, entity)
    say(f"Saved «{clean(name)}» to the {entity_type}'s files")


def _record(deal: str | None, contact: str | None) -> tuple[str, str]:
    from tui_crm.domain.errors import ValidationError

    if bool(deal) == bool(contact):
        raise ValidationError("record", "give exactly one of --deal or --contact")
    return ("deal", deal) if deal else ("contact", contact)  # type: ignore[return-value]


@mail.command("send")
def mail_send(
    to: Annotated[list[str] | None, typer.Option("--to", help="Recipient (repeatable).")] = None,
    subject: Annotated[str | None, typer.Option("--subject")] = None,
    body: Annotated[str | None, typer.Option("--body")] = None,
    body_file: Annotated[Path | None, typer.Option("--body-file", help="Body from a file (- for stdin).")] = None,
    cc: Annotated[list[str] | None, typer.Option("--cc", help="Copy to (repeatable; several allowed).")] = None,
    attach: Annotated[list[Path] | None, typer.Option("--attach", help="File to attach (repeatable).")] = None,
    deal: Annotated[str | None, typer.Option("--deal", help="Put the message on this deal.")] = None,
    contact: Annotated[str | None, typer.Option("--contact", help="Put the message on this contact.")] = None,
    reply_to_message: Annotated[str | None, typer.Option("--reply-to-message", help="Reply to a stored message (id).")] = None,
    mailbox: Annotated[str | None, typer.Option("--mailbox", help="Send from this mailbox (default: yours).")] = None,
    json_: JsonOpt = False,
) -> None:
    """Send from your mailbox with your signature; queued in the outbox when offline."""
    from tui_crm.domain.errors import ValidationError
    from tui_crm.services.mail_send import OutgoingMail, send_mail

    if body is not None and body_file is not None:
        raise ValidationError("body", "give --body or --body-file, not both")
    if body_file is not None:
        if str(body_file) == "-":
            body = sys.stdin.read()
        elif not body_file.is_file():
            raise ValidationError("body-file", f"no file {body_file}")
        else:
            body = body_file.read_text(encoding="utf-8")
    entity_type, entity = (None, None)
    if deal or contact:
        entity_type, entity = _record(deal, contact)
    result = send_mail(
        state.crm(),
        OutgoingMail(
            to=to or [], cc=cc or [], subject=subject, body=body or "", attachments=attach or [],
            entity_type=entity_type, entity_ref=entity, reply_to=reply_to_message, mailbox=mailbox,
        ),
    )
    if json_:
        emit_json(result)
        return
    if result.status == "sent":
        say(f"Sent {result.outbox_id[:8]}")
    else:
        say(f"Queued {result.outbox_id[:8]} in the outbox ({clean(result.error)}); it goes with the next crm mail fetch")


@outbox.callback()
def outbox_list(ctx: typer.Context, all_: Annotated[bool, typer.Option("--all", help="Sent and cancelled too.")] = False,
                json_: JsonOpt = False) -> None:
    """Messages waiting to be sent."""
    if ctx.invoked_subcommand is not None:
        return
    from tui_crm.services.mail_send import list_outbox

    rows = list_outbox(state.crm(), include_done=all_)
    if json_:
        emit_json(rows)
        return
    table(
        "Outbox",
        ["id", "created", "mailbox", "to", "subject", "status", "attempts", "error"],
        [(o.id[:8], o.created_at, o.mailbox, o.to, o.subject, o.status, o.attempts, o.last_error) for o in rows],
    )


@outbox.command("cancel")
def outbox_cancel(ref: Annotated[str, typer.Argument()]) -> None:
    """Cancel a queued message."""
    from tui_crm.services.mail_send import cancel_outgoing

    view = cancel_outgoing(state.crm(), ref)
    say(f"Cancelled {view.id[:8]} «{clean(view.subject)}»")


@outbox.command("retry")
def outbox_retry(ref: Annotated[str, typer.Argument()]) -> None:
    """Send again a message whose fate is uncertain (the app stopped while sending it)."""
    from tui_crm.services.mail_send import retry_uncertain

    view = retry_uncertain(state.crm(), ref)
    say(f"{view.id[:8]}: {view.status}")


def register(app: typer.Typer) -> None:
    mail.add_typer(outbox, name="outbox")
    app.add_typer(mail, name="mail")
