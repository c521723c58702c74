"""Turn the bytes of an e-mail into plain data, whatever the sender did to them.

Mail is untrusted input from strangers: broken MIME, charsets that are
missing, unknown or declared wrongly (cp1251 sent as koi8-r, raw 8-bit
headers), encoded-word subjects, HTML-only bodies, no Date, escape sequences
and Rich markup in the text. :func:`parse_message` never raises on such
input: it decodes what it can, replaces what it cannot, and returns text that
can be stored (no lone surrogates). Escape sequences are kept as text here;
every display passes through ``safe_text``.

Headers are parsed with the ``compat32`` policy and decoded here: the modern
policy's header parser is several times slower, and a first fetch of ten
thousand messages is measured against a bare IMAP fetch.
"""

from __future__ import annotations

import email
import email.header
import email.utils
import hashlib
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.message import Message

SNIPPET_LENGTH = 160

# Order in which undeclared or wrongly declared text is tried. Single-byte
# Cyrillic charsets never fail to decode, so they are told apart by how the
# text looks (see _cyrillic_score).
_FALLBACKS = ("utf-8", "cp1251", "koi8-r")
_ALIASES = {"win-1251": "cp1251", "windows-1251": "cp1251", "x-cp1251": "cp1251", "koi8r": "koi8-r", "unknown-8bit": ""}
_MESSAGE_ID = re.compile(r"<[^<>\s]+>")


@dataclass
class Attachment:
    name: str
    size: int
    mime: str
    index: int  # position among the message's attachments (for saving it later)


@dataclass
class ParsedMessage:
    key: str  # Message-ID, or a digest of the bytes when there is none
    message_id: str | None
    subject: str
    from_name: str
    from_addr: str
    to: list[tuple[str, str]]
    cc: list[tuple[str, str]]
    date: datetime | None
    in_reply_to: str | None
    references: list[str]
    body: str
    html_only: bool
    attachments: list[Attachment] = field(default_factory=list)
    size: int = 0

    @property
    def snippet(self) -> str:
        return " ".join(self.body[: SNIPPET_LENGTH * 4].split())[:SNIPPET_LENGTH]

    @property
    def addresses(self) -> list[str]:
        """Every address in From, To and Cc (as written)."""
        return [a for a in [self.from_addr, *(addr for _, addr in self.to), *(addr for _, addr in self.cc)] if a]


def storable(text: str) -> str:
    """``text`` without lone surrogates or NULs, so SQLite and UTF-8 accept it."""
    if text.isascii() and "\x00" not in text:
        return text
    return text.encode("utf-8", "replace").decode("utf-8").replace("\x00", "")


def _charset(name: str | None) -> str | None:
    if not name:
        return None
    name = name.strip().strip('"').lower()
    name = _ALIASES.get(name, name)
    if not name:
        return None
    import codecs

    try:
        return codecs.lookup(name).name
    except LookupError:
        return None


def _cyrillic_score(text: str) -> int:
    """Lower-case Cyrillic letters minus upper-case ones.

    Russian prose is mostly lower case; cp1251 read as koi8-r (or the other
    way round) comes out mostly upper case, so the right reading scores higher.
    """
    score = 0
    for ch in text:
        if "а" <= ch <= "я" or ch == "ё":
            score += 1
        elif "А" <= ch <= "Я" or ch == "Ё":
            score -= 1
    return score


def decode_bytes(data: bytes, declared: str | None = None) -> str:
    """Text from bytes in a declared (maybe wrong, maybe missing) charset."""
    if data.isascii():
        return data.decode("ascii")
    charset = _charset(declared)
    candidates: list[tuple[int, int, str]] = []  # (score, preference, text)
    for preference, name in enumerate(dict.fromkeys([charset, *_FALLBACKS])):
        if name is None:
            continue
        try:
            text = data.decode(name)
        except (UnicodeDecodeError, LookupError):
            continue
        if name in ("utf-8", "utf_8"):
            return text  # valid UTF-8 is almost never an accident
        candidates.append((_cyrillic_score(text), -preference, text))
    if candidates:
        return max(candidates)[2]
    return data.decode(charset or "utf-8", "replace")


def decode_header(value: object) -> str:
    """A header as text: encoded words decoded, raw 8-bit bytes guessed, never an error."""
    if value is None:
        return ""
    if isinstance(value, email.header.Header):  # raw 8-bit bytes in a header (compat32 keeps them as unknown-8bit)
        try:
            chunks = email.header.decode_header(value)
        except Exception:
            chunks = [(str(value), None)]
        value = "".join(decode_bytes(c, cs) if isinstance(c, bytes) else c for c, cs in chunks)
    text = str(value)
    if text.isascii() and "=?" not in text:  # the common case: nothing to decode
        return " ".join(text.split())
    if any(0xDC80 <= ord(ch) <= 0xDCFF for ch in text):  # raw 8-bit header (surrogateescape)
        text = decode_bytes(text.encode("ascii", "surrogateescape"))
    if "=?" in text:
        try:
            parts = email.header.decode_header(text)
        except Exception:  # a malformed encoded word: keep the text as it came
            parts = [(text, None)]
        pieces = []
        for chunk, charset in parts:
            pieces.append(decode_bytes(chunk, charset) if isinstance(chunk, bytes) else chunk)
        # decode_header drops the whitespace between encoded words and plain text inconsistently
        text = "".join(pieces)
    return storable(" ".join(text.split()))


_SIMPLE_ADDRESS = re.compile(r"\s*(?:([^<>,]*?)\s*<([^<>@\s,]+@[^<>@\s,]+)>|([^<>@\s,]+@[^<>@\s,]+))\s*")


def _simple_addresses(values: list[str]) -> list[tuple[str, str]] | None:
    """``Name <a@b>, c@d`` parsed by one regex; None when the header needs the full parser."""
    found: list[tuple[str, str]] = []
    for value in values:
        if not isinstance(value, str) or any(c in value for c in '"()\\;[]') or not value.isascii():
            return None
        for part in value.split(","):
            if not part.strip():
                continue
            match = _SIMPLE_ADDRESS.fullmatch(part)
            if match is None:
                return None
            name, addr = (match.group(1) or "", match.group(2)) if match.group(2) else ("", match.group(3))
            found.append((decode_header(name) if "=?" in name else " ".join(name.split()), addr))
    return found


def _addresses(values: list[str]) -> list[tuple[str, str]]:
    simple = _simple_addresses(values)
    if simple is not None:
        return simple
    found: list[tuple[str, str]] = []
    try:
        pairs = email.utils.getaddresses(values)
    except Exception:
        return found
    for name, addr in pairs:
        addr = storable(addr.strip())
        if "@" in addr:
            found.append((decode_header(name), addr))
    return found


def _date(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        parsed = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if parsed is None:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    try:
        return parsed.astimezone(UTC)
    except (OverflowError, ValueError):
        return None


def html_to_text(html: str) -> str:
    """Readable plain text from an HTML body (html2text: links kept, no images)."""
    import html2text

    converter = html2text.HTML2Text()
    converter.ignore_images = True
    converter.body_width = 0
    converter.unicode_snob = True
    try:
        return converter.handle(html).strip()
    except Exception:  # html2text on pathological markup: fall back to stripping tags
        return re.sub(r"<[^>]*>", " ", html)


def _payload_text(part: Message) -> str:
    try:
        data = part.get_payload(decode=True)
    except Exception:
        data = None
    if data is None:
        raw = part.get_payload()
        return raw if isinstance(raw, str) else ""
    if not isinstance(data, bytes):
        return str(data)
    try:
        declared = part.get_content_charset()
    except Exception:  # a malformed Content-Type parameter
        declared = None
    return decode_bytes(data, declared)


def _filename(part: Message) -> str | None:
    try:
        name = part.get_filename()
    except Exception:
        name = None
    return decode_header(name) if name else None


def walk_parts(message: Message) -> tuple[str | None, str | None, list[tuple[Message, str]]]:
    """The first text/plain, the first text/html, and the attachments with their names."""
    plain: str | None = None
    html: str | None = None
    attachments: list[tuple[Message, str]] = []
    for part in message.walk():
        if part.is_multipart():
            continue
        ctype = part.get_content_type()
        disposition = (part.get("Content-Disposition") or "").split(";")[0].strip().lower()
        name = _filename(part)
        if disposition == "attachment" or (name and not ctype.startswith("text/")):
            attachments.append((part, name or f"attachment-{len(attachments) + 1}"))
        elif ctype == "text/plain" and plain is None:
            plain = _payload_text(part)
        elif ctype == "text/html" and html is None:
            html = _payload_text(part)
        elif name:
            attachments.append((part, name))
    return plain, html, attachments


def _ids(value: object) -> list[str]:
    return _MESSAGE_ID.findall(decode_header(value)) if value else []


def content_key(raw: bytes) -> str:
    """The identity of a message without a Message-ID: a digest of its bytes."""
    return "sha256:" + hashlib.sha256(raw).hexdigest()


_BLANK_LINE = re.compile(rb"\r?\n\r?\n")


def _message(raw: bytes) -> Message:
    """The parsed message; a single-part one has only its header parsed line by line.

    The body of a single-part message is attached as it is (the stdlib parser
    would push every body line through its state machine for the same
    result), so the common plain-text message costs a header parse.
    """
    found = _BLANK_LINE.search(raw)
    if found is None:
        return email.message_from_bytes(raw)
    from email.parser import BytesHeaderParser

    message = BytesHeaderParser().parsebytes(raw[: found.end()])
    if message.get_content_maintype() == "multipart" or message.defects:
        return email.message_from_bytes(raw)
    message.set_payload(raw[found.end() :].decode("ascii", "surrogateescape"))
    return message


def parse_message(raw: bytes) -> ParsedMessage:
    """Everything the CRM keeps of one message (never raises on bad mail)."""
    message = _message(raw)
    ids = _ids(message.get("Message-ID"))
    message_id = storable(ids[0]) if ids else None
    plain, html, parts = walk_parts(message)
    html_only = plain is None and html is not None
    body = plain if plain is not None else (html_to_text(html) if html is not None else "")
    attachments = []
    for index, (part, name) in enumerate(parts):
        try:
            payload = part.get_payload(decode=True)
            size = len(payload) if isinstance(payload, bytes) else 0
        except Exception:
            size = 0
        attachments.append(Attachment(storable(name), size, part.get_content_type(), index))
    from_pairs = _addresses(message.get_all("From") or [])
    from_name, from_addr = from_pairs[0] if from_pairs else ("", "")
    reply_ids = _ids(message.get("In-Reply-To"))
    return ParsedMessage(
        key=message_id or content_key(raw),
        message_id=message_id,
        subject=decode_header(message.get("Subject")),
        from_name=from_name,
        from_addr=from_addr,
        to=_addresses(message.get_all("To") or []),
        cc=_addresses(message.get_all("Cc") or []),
        date=_date(message.get("Date")),
        in_reply_to=reply_ids[0] if reply_ids else None,
        references=[storable(r) for r in _ids(message.get("References"))],
        body=storable(body.replace("\r\n", "\n")),
        html_only=html_only,
        attachments=attachments,
        size=len(raw),
    )


def parse_many(raws: list[bytes]) -> list[ParsedMessage | str]:
    """Parse a batch (in the fetch's parser process, or inline): each message, or the name of what it raised.

    Lives here, in a module that imports only the stdlib and html2text, so a
    parser process starts without loading the store.
    """
    out: list[ParsedMessage | str] = []
    for raw in raws:
        try:
            out.append(parse_message(raw))
        except Exception as exc:  # hostile mail: reported by the caller, the rest go on
            out.append(exc.__class__.__name__)
    return out


def attachment_bytes(raw: bytes, index: int) -> tuple[str, bytes]:
    """The name and content of one attachment of a stored message."""
    message = email.message_from_bytes(raw)
    _, _, parts = walk_parts(message)
    part, name = parts[index]
    payload = part.get_payload(decode=True)
    return storable(name), payload if isinstance(payload, bytes) else b""
