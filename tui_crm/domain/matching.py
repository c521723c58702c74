"""Keys that decide "same person" and "same company".

The duplicate check, capture matching, merge, search, sync's first-connect
matching and the importer all compare records by these keys, so one rule
holds everywhere (the manual: check for an existing record before making a
new one):

- an e-mail matches case-insensitively (:func:`email_key`);
- a phone matches by its E.164 digits however it was typed (:func:`phone_key`),
  and a partial number typed in a search box by its last digits
  (:func:`phone_tail`);
- a company matches by a valid INN whatever its name, else by its name with
  legal forms, quotes, case and ё/е folded (:func:`company_name_key`):
  «ООО «Ромашка»», "ООО Ромашка", "Ромашка" and "Romashka LLC" style names
  differ only in what this key drops.

Pure: no I/O.
"""

from __future__ import annotations

import re

from tui_crm.domain.text import fold

__all__ = ["LEGAL_FORMS", "company_name_key", "email_key", "phone_key", "phone_tail"]

# Legal-form words as they are written in Russian and international names,
# folded (lower case, ё → е). Longest first so "ооо" never eats part of a word.
LEGAL_FORMS: tuple[str, ...] = (
    "общество с ограниченной ответственностью",
    "публичное акционерное общество",
    "непубличное акционерное общество",
    "закрытое акционерное общество",
    "открытое акционерное общество",
    "акционерное общество",
    "индивидуальный предприниматель",
    "ооо",
    "оао",
    "зао",
    "пао",
    "нао",
    "ао",
    "ип",
    "нко",
    "ано",
    "фгуп",
    "гуп",
    "муп",
    "llc",
    "l.l.c.",
    "ltd",
    "ltd.",
    "limited",
    "inc",
    "inc.",
    "incorporated",
    "corp",
    "corp.",
    "corporation",
    "gmbh",
    "ag",
    "plc",
    "co.",
    "jsc",
    "pjsc",
    "ojsc",
    "cjsc",
    "s.a.",
    "b.v.",
    "oy",
    "ab",
)
_QUOTES = re.compile(r"[\"'«»„“”‘’`]+")
_PUNCT = re.compile(r"[\s,.;:()\-–—/\\]+")


def email_key(email: str) -> str:
    """An e-mail folded for comparison: ``Olga@Elka.RU`` and ``olga@elka.ru`` are one address.

    Strictly the local part may be case-sensitive, but no mail provider a
    sales team writes to treats it so, and a duplicate that differs only in
    case is the commonest duplicate there is.
    """
    return email.strip().casefold()


def phone_key(e164: str) -> str:
    """The digits of a normalised phone (``+79161234567`` → ``79161234567``)."""
    return "".join(ch for ch in e164 if "0" <= ch <= "9")


def phone_tail(typed: str, length: int = 7) -> str | None:
    """The last ``length`` digits of what the user typed, when it has that many.

    People remember and copy the end of a number ("555-12-34"); matching on
    the tail finds a contact from any partial or differently-prefixed form.
    """
    digits = "".join(ch for ch in typed if ch.isdigit())
    return digits[-length:] if len(digits) >= length else None


def company_name_key(name: str) -> str:
    """A company name without legal form, quotes, case or ё/е differences.

    «ООО «Ромашка»» → ``ромашка``; "Romashka LLC" → ``romashka``. Returns
    the plain folded name when stripping would leave nothing (a company
    called just "АО").
    """
    folded = fold(_QUOTES.sub(" ", name))
    words = [w for w in _PUNCT.split(folded) if w]
    kept = [w for w in words if w not in _LEGAL_WORDS]
    text = " ".join(kept)
    for phrase in _LEGAL_PHRASES:
        text = re.sub(rf"(^|\s){re.escape(phrase)}(\s|$)", " ", text)
    text = " ".join(text.split())
    return text or " ".join(words)


_LEGAL_WORDS = frozenset(f.rstrip(".") for f in LEGAL_FORMS if " " not in f) | frozenset(f for f in LEGAL_FORMS if " " not in f)
_LEGAL_PHRASES = tuple(f for f in LEGAL_FORMS if " " in f)
