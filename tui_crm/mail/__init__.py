"""Mail: IMAP intake (INBOX and Sent), SMTP sending, parsing hostile mail.

This package speaks the protocols and parses bytes; it never touches the
store. ``services/mail.py`` stores what it returns (like ``sync/`` behind
``services/sync.py``).
"""
