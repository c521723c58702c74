"""Normalisation and validation of contact data: phones, e-mails, INN, URLs.

Every function takes what a person typed (or what a sync adapter imported) and
returns the one canonical form the store keeps, so that duplicates are found
by plain equality: ``+79161234567`` whether it was typed as
``8 (916) 123-45-67`` or ``+7 916 123 45 67``. Anything that cannot be
normalised raises :class:`~tui_crm.domain.errors.ValidationError` with a
message that says what is wrong and what a valid value looks like.

Pure: no I/O, imports nothing outside ``tui_crm.domain``.
"""

from __future__ import annotations

import ipaddress
import re
import unicodedata
from urllib.parse import SplitResult, urlsplit, urlunsplit

from tui_crm.domain.errors import ValidationError
from tui_crm.domain.text import preview

__all__ = [
    "format_phone",
    "inn_check_digits",
    "normalize_email",
    "normalize_phone",
    "normalize_url",
    "phone_digits",
    "validate_inn",
]

_PHONE_EXAMPLES = "e.g. +7 916 123-45-67, 8 (916) 123-45-67 or +1 415 555 2671"


def normalize_phone(raw: str, region: str = "RU") -> str:
    """Return the phone number in E.164 form (``+79161234567``).

    One canonical form makes duplicate detection and search by phone a plain
    string comparison. ``region`` (ISO 3166 code) is used only for numbers
    typed without a ``+`` country code: with ``RU``, ``8 (916) 123-45-67``,
    ``9161234567`` and ``79161234567`` all mean ``+79161234567``.

    Extensions (``доб. 123``, ``ext. 12``) are *rejected*, not dropped: E.164
    has no place for them and silently losing them would lose the way to
    reach the person. The message tells the user to keep the extension in a
    note. Numbers with letters (vanity numbers) are rejected too.
    """
    import phonenumbers  # lazy: 15 ms that capture without --phone need not pay

    text = raw.strip() if isinstance(raw, str) else ""
    if text.lower().startswith("tel:"):
        text = text[4:].strip()
    if not text:
        raise ValidationError("phone", f"phone number is empty; enter a number, {_PHONE_EXAMPLES}")
    try:
        number = phonenumbers.parse(text, region.upper())
    except phonenumbers.NumberParseException:
        raise ValidationError("phone", f"«{preview(raw)}» is not a phone number; enter digits, {_PHONE_EXAMPLES}") from None
    if number.extension:
        raise ValidationError(
            "phone",
            f"«{preview(raw)}» has an extension ({preview(number.extension)}); enter the number "
            "without it (e.g. +7 495 123-45-67) and keep the extension in a note",
        )
    if any(ch.isalpha() for ch in text):
        raise ValidationError("phone", f"«{preview(raw)}» contains letters; enter digits only, {_PHONE_EXAMPLES}")
    if not phonenumbers.is_valid_number(number):
        raise ValidationError(
            "phone",
            f"«{preview(raw)}» is not a valid phone number (wrong length or code); {_PHONE_EXAMPLES}",
        )
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def format_phone(e164: str) -> str:
    """Return a stored E.164 number in readable international form.

    ``+79161234567`` → ``+7 916 123-45-67``. For display only; falls back to
    the input unchanged when it does not parse, so a bad stored value never
    breaks a screen.
    """
    import phonenumbers  # lazy: 15 ms that capture without --phone need not pay

    try:
        number = phonenumbers.parse(e164, None)
    except phonenumbers.NumberParseException:
        return e164
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.INTERNATIONAL)


def phone_digits(e164: str) -> str:
    """Return only the ASCII digits of a phone number (``79161234567``).

    The search index stores phones as digit strings so that a prefix query
    typed without ``+`` or separators (``7916``) finds the number.
    """
    return "".join(ch for ch in e164 if "0" <= ch <= "9")


_EMAIL_EXAMPLE = "e.g. ivan.petrov@example.com or info@почта.рф"
_LOCAL_FORBIDDEN = set('<>()[]\\,;:"')
_DOMAIN_LABEL = re.compile(r"^[^\W_](?:[\w-]*[^\W_])?$")


def normalize_email(raw: str) -> str:
    """Return the e-mail address trimmed, with its domain lower-cased.

    Domains are case-insensitive, so lower-casing them lets duplicates be
    found by equality; the local part is kept as typed because, strictly,
    it may be case-sensitive. International (IDN) domains such as
    ``почта.рф`` are accepted and kept in Unicode (NFC), not punycode.

    The check is deliberately a sanity check (one ``@``, non-empty local
    part, a domain with a dot, no spaces), not full RFC 5322.
    """
    text = unicodedata.normalize("NFC", raw.strip()) if isinstance(raw, str) else ""
    if text.lower().startswith("mailto:"):
        text = text[7:].strip()
    if not text:
        raise ValidationError("email", f"e-mail is empty; enter an address, {_EMAIL_EXAMPLE}")
    if any(ch.isspace() or unicodedata.category(ch) == "Cc" for ch in text):
        raise ValidationError("email", f"«{preview(text)}» contains spaces; an address has none, {_EMAIL_EXAMPLE}")
    if text.count("@") != 1:
        raise ValidationError("email", f"«{preview(text)}» must contain exactly one «@»; {_EMAIL_EXAMPLE}")
    local, domain = text.split("@")
    if not local:
        raise ValidationError("email", f"«{preview(text)}» has nothing before «@»; {_EMAIL_EXAMPLE}")
    if (
        len(local) > 64
        or local.startswith(".")
        or local.endswith(".")
        or ".." in local
        or any(ch in _LOCAL_FORBIDDEN for ch in local)
    ):
        raise ValidationError(
            "email",
            f"«{preview(text)}»: the part before «@» has a misplaced dot or a character "
            f"such as <>(),;: that an address cannot have; {_EMAIL_EXAMPLE}",
        )
    domain = domain.lower()
    labels = domain.split(".")
    if len(labels) < 2 or not all(labels):
        raise ValidationError(
            "email",
            f"«{preview(text)}»: the domain after «@» needs a dot and no empty parts (like example.com); {_EMAIL_EXAMPLE}",
        )
    if not all(_DOMAIN_LABEL.match(label) for label in labels) or len(labels[-1]) < 2:
        raise ValidationError(
            "email",
            f"«{preview(text)}»: the domain «{preview(domain)}» may hold only letters, digits and inner "
            f"hyphens, with a top-level part of 2+ letters; {_EMAIL_EXAMPLE}",
        )
    if len(local) + 1 + len(domain) > 254:
        raise ValidationError("email", f"«{preview(text)}» is longer than 254 characters")
    return f"{local}@{domain}"


_INN10_WEIGHTS = (2, 4, 10, 3, 5, 9, 4, 6, 8)
_INN12_WEIGHTS_1 = (7, 2, 4, 10, 3, 5, 9, 4, 6, 8)
_INN12_WEIGHTS_2 = (3, 7, 2, 4, 10, 3, 5, 9, 4, 6, 8)
_INN_EXAMPLE = "e.g. 7707083893 (company, 10 digits) or 500100732259 (individual, 12 digits)"


def _inn_check_digit(digits: str, weights: tuple[int, ...]) -> int:
    """Check digit of the official INN algorithm: weighted sum mod 11 mod 10."""
    return sum(int(d) * w for d, w in zip(digits, weights, strict=True)) % 11 % 10


def inn_check_digits(prefix: str) -> str:
    """Return the check digit(s) that complete an INN prefix.

    A 9-digit prefix gets one check digit (10-digit company INN); a 10-digit
    prefix gets two (12-digit individual INN). Exposed so tests and data
    generators build valid INNs with the same code that validates them.
    """
    if len(prefix) == 9 and prefix.isascii() and prefix.isdigit():
        return str(_inn_check_digit(prefix, _INN10_WEIGHTS))
    if len(prefix) == 10 and prefix.isascii() and prefix.isdigit():
        first = str(_inn_check_digit(prefix, _INN12_WEIGHTS_1))
        return first + str(_inn_check_digit(prefix + first, _INN12_WEIGHTS_2))
    raise ValueError("an INN prefix must be 9 or 10 ASCII digits")


def validate_inn(raw: str) -> str:
    """Return a Russian INN as a bare digit string, after checking its checksum.

    10 digits for a legal entity, 12 for an individual (sole trader). Spaces
    (and other whitespace) are removed first, so ``7707 083 893`` is fine.
    The checksum catches most typos, which matters because the INN is the
    strongest key for finding duplicate companies. Wrong length, non-digits
    and a bad checksum each get their own message.
    """
    text = "".join(raw.split()) if isinstance(raw, str) else ""
    if not text:
        raise ValidationError("inn", f"INN is empty; {_INN_EXAMPLE}")
    if not all("0" <= ch <= "9" for ch in text):
        raise ValidationError("inn", f"INN «{preview(text)}» must contain digits only; {_INN_EXAMPLE}")
    if len(text) not in (10, 12):
        raise ValidationError(
            "inn",
            f"INN «{preview(text)}» has {len(text)} digits; it must have 10 (company) or 12 (individual), {_INN_EXAMPLE}",
        )
    if len(text) == 10:
        ok = int(text[9]) == _inn_check_digit(text[:9], _INN10_WEIGHTS)
    else:
        ok = int(text[10]) == _inn_check_digit(text[:10], _INN12_WEIGHTS_1) and int(text[11]) == _inn_check_digit(
            text[:11], _INN12_WEIGHTS_2
        )
    if not ok:
        raise ValidationError(
            "inn",
            f"INN «{preview(text)}» fails its checksum, so a digit is probably mistyped; "
            f"check it against the company's documents ({_INN_EXAMPLE})",
        )
    return text


_URL_EXAMPLE = "e.g. https://example.com/page or example.com/page"
_SCHEME_PREFIX = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*):(?!\d)")
_HOST_LABEL = re.compile(r"^[\w](?:[\w-]*[\w])?$")


def _check_host(host: str, text: str) -> None:
    """Raise unless ``host`` is localhost, an IP address or a dotted name."""
    if host == "localhost":
        return
    try:
        ipaddress.ip_address(host)
    except ValueError:
        pass
    else:
        return
    labels = host.removesuffix(".").split(".")
    if len(labels) < 2 or not all(_HOST_LABEL.match(label) for label in labels):
        raise ValidationError(
            "url",
            f"«{preview(text)}» needs a host name with a dot (like example.com) or localhost; {_URL_EXAMPLE}",
        )


def normalize_url(raw: str) -> str:
    """Return a web link as an absolute ``http``/``https`` URL.

    ``example.com/x`` becomes ``https://example.com/x`` (people paste links
    without a scheme all the time). Only http and https are accepted, so a
    stored link can be opened safely: ``javascript:``, ``file:``, ``data:``
    and the like are rejected. The scheme and host are lower-cased; path,
    query and fragment are kept as typed. Links with ``user:password@`` are
    rejected so that credentials do not end up in the CRM.
    """
    text = raw.strip() if isinstance(raw, str) else ""
    if not text:
        raise ValidationError("url", f"link is empty; {_URL_EXAMPLE}")
    if any(ch.isspace() or unicodedata.category(ch) in ("Cc", "Cf") for ch in text):
        raise ValidationError("url", f"«{preview(text)}» contains spaces or invisible characters; {_URL_EXAMPLE}")
    if "://" not in text:
        match = _SCHEME_PREFIX.match(text)
        if match:
            raise ValidationError(
                "url",
                f"«{preview(text)}»: links of type «{preview(match.group(1))}:» are not allowed, only "
                f"http and https; {_URL_EXAMPLE}",
            )
        if text.startswith("//"):
            text = "https:" + text
        else:
            text = "https://" + text
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError:
        raise ValidationError("url", f"«{preview(raw)}» is not a valid link (bad host or port); {_URL_EXAMPLE}") from None
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        raise ValidationError(
            "url",
            f"«{preview(raw)}»: only http and https links are allowed, not «{preview(scheme)}»; {_URL_EXAMPLE}",
        )
    if "@" in parts.netloc:
        raise ValidationError(
            "url",
            f"«{preview(raw)}» contains a user name or password before «@»; remove it, {_URL_EXAMPLE}",
        )
    host = (parts.hostname or "").lower()
    if not host:
        raise ValidationError("url", f"«{preview(raw)}» has no host name; {_URL_EXAMPLE}")
    _check_host(host, raw)
    netloc_host = f"[{host}]" if ":" in host else host
    netloc = netloc_host if port is None else f"{netloc_host}:{port}"
    return urlunsplit(SplitResult(scheme, netloc, parts.path, parts.query, parts.fragment))
