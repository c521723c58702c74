"""Exit codes of ``crm``, one per kind of failure a script may handle.

| code | meaning |
| ---- | ------- |
| 0 | done |
| 1 | an error not listed below: database busy, disk full, a file that cannot be opened, a bug (one line on stderr) |
| 2 | bad command line (unknown option, missing argument) |
| 3 | no record matches the id or name given (or the phone/e-mail to remove is not on it; or no database there) |
| 4 | several records match; use a longer id |
| 5 | a value is invalid (phone, email, INN, money, a date outside 1900-2199, non-UTF-8 text...) or not allowed; nothing saved;
|   | for ``crm import``: rows were rejected, the other rows saved, each rejected row in the report |
| 6 | a stage gate refused the move; stderr names the missing fields |
| 7 | a likely duplicate exists; use --enrich or --force |
| 8 | the settings or pipelines file is invalid, or the database is another program's or a newer tui-crm's |
| 9 | sync failed (remote unreachable, locked out, conflicts pending) or a mail server failed (unreachable, untrusted) |
| 130 | interrupted (ctrl+c) |
| 141 | the reader of the output left (`crm deals list | head -1`): quietly, as Unix tools do (128 + SIGPIPE) |
"""

from __future__ import annotations

OK = 0
ERROR = 1
USAGE = 2
NOT_FOUND = 3
AMBIGUOUS = 4
INVALID = 5
GATE_REFUSED = 6
DUPLICATE = 7
CONFIG = 8
SYNC = 9
INTERRUPTED = 130
READER_LEFT = 141  # 128 + SIGPIPE
REMOTE = SYNC  # a remote server failed: amoCRM or a mail server

HELP_EPILOG = (
    "Exit codes: 0 done, 1 error, 2 bad usage, 3 not found, 4 ambiguous, 5 invalid value or not allowed "
    "(e.g. a deactivated --user), "
    "6 stage gate refused, 7 duplicate exists, 8 bad config, 9 sync or mail server failed, "
    "130 interrupted, 141 output pipe closed."
)


def code_for(exc: BaseException) -> int:
    """The exit code for a service error (see the table above)."""
    from tui_crm.domain import errors

    table: list[tuple[type[BaseException], int]] = [
        (errors.GateRefused, GATE_REFUSED),
        (errors.ValidationError, INVALID),
        (errors.NotFoundError, NOT_FOUND),
        (errors.AmbiguousError, AMBIGUOUS),
        (errors.DuplicateFound, DUPLICATE),
        (errors.ConfigError, CONFIG),
    ]
    try:
        from tui_crm.sync.amocrm.errors import AmoError

        table.append((AmoError, SYNC))
        from tui_crm.sync.hub.errors import HubError

        table.append((HubError, SYNC))
    except ImportError:  # pragma: no cover - sync is part of the package
        pass
    from tui_crm.mail.imap import MailError

    table.append((MailError, REMOTE))
    for kind, code in table:
        if isinstance(exc, kind):
            return code
    return ERROR
