"""Sending over SMTP (smtplib): TLS, STARTTLS or plain on loopback, login when offered."""

from __future__ import annotations

import smtplib
import ssl

from tui_crm.mail.imap import ConnectionLost, MailError, ServerAddress, tls_context, untrusted


def send(address: ServerAddress, sender: str, recipients: list[str], raw: bytes) -> None:
    """Hand one message to the server; :class:`ConnectionLost` when it cannot be reached."""
    where = f"{address.host}:{address.port}"
    context = tls_context(address)
    try:
        if address.security == "tls":
            server: smtplib.SMTP = smtplib.SMTP_SSL(address.host, address.port, timeout=address.timeout, context=context)
        else:
            server = smtplib.SMTP(address.host, address.port, timeout=address.timeout)
    except ssl.SSLCertVerificationError as exc:
        raise untrusted("SMTP", address, exc) from None
    except (OSError, smtplib.SMTPException) as exc:
        raise ConnectionLost(f"Cannot connect to SMTP {where}: {exc}") from None
    try:
        server.ehlo()
        if address.security == "starttls":
            server.starttls(context=context)
            server.ehlo()
        if server.has_extn("auth"):
            server.login(address.login, address.password)
        refused = server.sendmail(sender, recipients, raw)
        if refused and len(refused) == len(recipients):
            raise MailError(f"SMTP {where} refused every recipient: {', '.join(refused)}")
    except ssl.SSLCertVerificationError as exc:
        raise untrusted("SMTP", address, exc) from None
    except smtplib.SMTPAuthenticationError:
        raise MailError(f"SMTP {where} refused the login {address.login!r}: check the login and password") from None
    except smtplib.SMTPRecipientsRefused as exc:
        raise MailError(f"SMTP {where} refused the recipients: {', '.join(exc.recipients)}") from None
    except (smtplib.SMTPServerDisconnected, OSError) as exc:
        raise ConnectionLost(f"SMTP {where}: connection lost: {exc}") from None
    except smtplib.SMTPException as exc:
        raise MailError(f"SMTP {where} refused the message: {exc}") from None
    finally:
        try:
            server.quit()
        except Exception:
            server.close()
