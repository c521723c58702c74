"""Text helpers for Russian + English data: search keys, safe display, tokens.

SQLite's ``lower()`` and ``LIKE`` fold only ASCII, so every comparison,
sort and search key is built here in Python with :func:`fold`, which treats
Cyrillic as first-class (``"ЁЛКА"`` and ``"елка"`` are the same key).
:func:`safe_text` makes untrusted text (mail, web forms, sync imports)
harmless to print in a terminal.

Pure: no I/O, imports nothing outside ``tui_crm.domain``.
"""

from __future__ import annotations

import re
import unicodedata

__all__ = ["fold", "preview", "safe_text", "search_terms"]

_WHITESPACE = re.compile(r"\s+")


def fold(text: str) -> str:
    """Return the search/sort key of ``text``.

    NFKC (so full-width and compatibility forms match their plain letters),
    Unicode case folding (not ``lower()``: ``"Straße"`` and ``"STRASSE"``
    match), ``ё`` → ``е`` (Russians type both for the same word), and runs of
    whitespace collapsed to one space with the ends trimmed. Use it for both
    the stored key and the user's query so that they compare equal.
    """
    key = unicodedata.normalize("NFKC", text)
    # casefold can emit decomposed sequences; re-normalise so the key is stable
    key = unicodedata.normalize("NFKC", key.casefold())
    key = key.replace("ё", "е")
    return _WHITESPACE.sub(" ", key).strip()


# Escape sequences a terminal would interpret. String-type sequences (OSC,
# DCS, SOS, PM, APC) run up to BEL or ST (ESC \ or 0x9C); CSI takes
# parameter/intermediate bytes and one final byte; other escapes are ESC,
# optional intermediates and one final byte. 8-bit C1 forms are covered too.
_ESCAPE_SEQUENCE = re.compile(
    r"""
      (?:\x1b[\]PX^_]|[\x90\x98\x9d\x9e\x9f]) [^\x07\x1b\x9c]* (?:\x07|\x1b\\|\x9c)
    | (?:\x1b\[|\x9b) [\x30-\x3f]* [\x20-\x2f]* [\x40-\x7e]
    | \x1b [\x20-\x2f]* [\x30-\x7e]
    """,
    re.VERBOSE,
)
# Bidirectional embeddings/overrides/isolates can reorder what is shown
# ("Trojan Source"); they are invisible formatting, so dropping them is safe.
_BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


def safe_text(text: str, keep_newlines: bool = True) -> str:
    """Return ``text`` with everything a terminal would interpret removed.

    Untrusted text (an e-mail body, a web-form message, a field imported by
    sync) could otherwise move the cursor, change colours, set the window
    title or hide content. Removed: ANSI/VT escape sequences (CSI
    ``ESC [ ...``, OSC ``ESC ] ... BEL/ST``, DCS/APC/PM/SOS, two-byte
    escapes, their 8-bit C1 forms, and any lone ESC), all other C0/C1 control
    characters and DEL, bidi override characters and lone surrogates.

    Newlines: ``\\r\\n``, ``\\r``, U+2028 and U+2029 become ``\\n``. With
    ``keep_newlines=True`` (default) newlines and tabs are kept; with
    ``False`` each newline or tab becomes one space, for one-line cells.

    This does NOT escape Rich console markup (``[bold]``): callers must
    render the result with ``rich.text.Text`` (or Textual's ``Content``),
    never as a markup string.
    """
    cleaned = _ESCAPE_SEQUENCE.sub("", text)
    cleaned = cleaned.replace("\r\n", "\n")
    out: list[str] = []
    for ch in cleaned:
        code = ord(ch)
        if ch in "\r\u2028\u2029\n":
            out.append("\n" if keep_newlines else " ")
        elif ch == "\t":
            out.append("\t" if keep_newlines else " ")
        elif code < 0x20 or 0x7F <= code <= 0x9F:
            continue
        elif ch in _BIDI_CONTROLS or 0xD800 <= code <= 0xDFFF:
            continue
        else:
            out.append(ch)
    return "".join(out)


def preview(text: str, limit: int = 60) -> str:
    """Return ``text`` made safe, on one line, cut to ``limit`` characters.

    Used to quote a user's input inside an error message: the message must
    stay readable and must not carry escape sequences to the terminal.
    """
    one_line = safe_text(text, keep_newlines=False).strip()
    if len(one_line) > limit:
        return one_line[: max(limit - 1, 0)] + "…"
    return one_line


_TOKEN = re.compile(r"[^\W_]+")


def search_terms(text: str) -> list[str]:
    """Return the folded letter/digit tokens of ``text``, first occurrence order.

    Used to build full-text prefix queries: each token becomes ``"term"*``.
    Anything that is not a letter or digit separates tokens (as in SQLite
    FTS5's ``unicode61`` tokenizer), so ``"O'Brien, ООО «Ёлка»"`` gives
    ``["o", "brien", "ооо", "елка"]``. Duplicates are dropped.
    """
    seen: dict[str, None] = {}
    for token in _TOKEN.findall(fold(text)):
        seen.setdefault(token, None)
    return list(seen)
