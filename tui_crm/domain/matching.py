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
import unicodedata

from tui_crm.domain.text import fold

__all__ = [
    "LEGAL_FORMS",
    "PHONE_TAIL",
    "company_name_key",
    "email_key",
    "without_legal_forms",
    "phone_index_terms",
    "phone_key",
    "phone_query_terms",
    "phone_tail",
]

PHONE_TAIL = 7
"""Digits of a number people remember and copy on their own ("555-12-34")."""

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
    return unicodedata.normalize("NFC", email.strip()).casefold()


def phone_key(e164: str) -> str:
    """The digits of a normalised phone (``+79161234567`` → ``79161234567``)."""
    return "".join(ch for ch in e164 if "0" <= ch <= "9")


def phone_tail(typed: str, length: int = PHONE_TAIL) -> str | None:
    """The last ``length`` digits of what the user typed, when it has that many.

    People remember and copy the end of a number ("555-12-34"); matching on
    the tail finds a contact from any partial or differently-prefixed form.
    """
    digits = "".join(ch for ch in typed if ch.isdigit())
    return digits[-length:] if len(digits) >= length else None


def phone_index_terms(e164: str) -> list[str]:
    """The digit strings a stored phone is indexed under, for prefix search.

    The whole number with its country code (``79165551234``: typed as
    ``+7 916…``), the last ten digits (``9165551234``: the national number,
    typed after a trunk ``8`` or without any prefix) and the last seven (the
    subscriber number, ``5551234``: what people copy from a signature).
    :func:`phone_query_terms` turns what a user types into prefixes of these.
    """
    digits = phone_key(e164)
    terms = [digits]
    for length in (10, PHONE_TAIL):
        if len(digits) > length and digits[-length:] not in terms:
            terms.append(digits[-length:])
    return terms


_PHONE_CHARS = frozenset("0123456789+-() \u00a0\t")  # no dots: 01.12.2026 is a date
_TRUNK_PREFIXES = "08"  # Russian ``8 916…``, and the ``0`` most other countries dial first


def phone_query_terms(typed: str, min_digits: int = 3) -> list[str] | None:
    """Digit prefixes that find a phone however it was typed or copied.

    ``None`` when ``typed`` does not look like (part of) a phone number:
    anything but digits, ``+ - ( )`` and spaces, or fewer than
    ``min_digits`` digits. Otherwise the digits joined (``916 555`` →
    ``916555``), plus the last ten digits of a longer number and the digits
    without a leading trunk ``8``/``0`` (``8 916 555`` → ``916555``). Each
    term is meant as a prefix of :func:`phone_index_terms`: whichever way the
    number was written, one of them is.
    """
    if not typed.strip() or any(ch not in _PHONE_CHARS for ch in typed):
        return None
    digits = phone_key(typed)
    if len(digits) < min_digits:
        return None
    terms = [digits]
    if len(digits) > 10:
        terms.append(digits[-10:])
    if digits[0] in _TRUNK_PREFIXES and len(digits) > min_digits:
        terms.append(digits[1:])
    return list(dict.fromkeys(terms))


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


def without_legal_forms(words: list[str]) -> list[str]:
    """Folded ``words`` of a query without the legal-form words (``ооо``,
    ``llc``...), unless that would leave none: «ООО Ромашка» typed into a
    search box finds the company saved as «Ромашка»."""
    kept = [w for w in words if w not in _LEGAL_WORDS]
    return kept or words

