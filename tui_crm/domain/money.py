"""Money as exact decimals: parse what managers type, format it for reading.

Budgets are typed in a hurry and in two languages: ``1 500 000``,
``1,500,000.50``, ``1,5 млн``, ``150k``, ``$12,500``. :func:`parse_money`
reads all of them into a :class:`~decimal.Decimal` rounded to kopecks/cents;
:func:`format_money` writes the amount back in a form :func:`parse_money`
reads again (round trip), RUB Russian-style and USD English-style.

Separator rules (shared with :func:`parse_decimal`):

- spaces, no-break/thin spaces, ``'`` and ``_`` between digits group thousands;
- if both ``,`` and ``.`` occur, the last one is the decimal separator;
- a separator that occurs several times groups thousands (``1.500.000``);
- a single ``,`` or ``.`` is the decimal separator, EXCEPT when it is
  followed by exactly three digits, preceded by 1-3 digits (not ``0``) and
  nothing else groups the number: ``1,500`` and ``1.500`` are one thousand
  five hundred (money never has three decimals), ``0,500`` and
  ``1 500,125`` are decimals. With a multiplier (``1,500 млн``) a single
  separator is always decimal.

Pure: no I/O, imports nothing outside ``tui_crm.domain``.
"""

from __future__ import annotations

import re
from decimal import ROUND_HALF_UP, Decimal, localcontext

from tui_crm.domain.errors import ValidationError
from tui_crm.domain.text import preview

__all__ = ["detect_currency", "format_money", "money_examples", "parse_decimal", "parse_money"]

CENT = Decimal("0.01")
MAX_AMOUNT = Decimal("1e15")
_MAX_INPUT = 80  # longer input is not an amount (and would make the regex slow)
_MONEY_EXAMPLES = "e.g. 1500000, 1 500 000,50, 1,500,000.50, 1.5m, 150k, 1,5 млн, 150 тыс ₽, $12,500"
# What a field of one currency accepts (no other currency's sign in the list).
_EXAMPLES_BY_CURRENCY = {
    "RUB": "e.g. 1500000, 1 500 000,50, 1,5 млн, 150 тыс, 150k, 1 500 000 ₽",
    "USD": "e.g. 12500, 12,500.50, 1.5m, 150k, $12,500",
}


def money_examples(currency: str | None = None) -> str:
    """The accepted forms to quote in an error, for a field of ``currency`` (any when None)."""
    if currency is None:
        return _MONEY_EXAMPLES
    return _EXAMPLES_BY_CURRENCY.get(currency.upper(), _MONEY_EXAMPLES.replace(", $12,500", "").replace(" ₽", ""))

_SPACES = re.compile(r"[\s\u00a0\u2007\u2009\u202f]+")
_GROUPERS = "'_’"

# currency markers, matched at the start or end of the input (case-folded)
_CURRENCY_WORDS: tuple[tuple[str, str], ...] = (
    (r"₽|руб(?:лей|ля|ль|\.)?|р\.?|rub|rur|roubles?|rubles?", "RUB"),
    (r"\$|usd|us\$|долл(?:ар(?:ов|а|ы)?|\.)?|dollars?", "USD"),
    (r"€|eur|euros?|евро", "EUR"),
)
_CURRENCY_ALT = "|".join(pattern for pattern, _ in _CURRENCY_WORDS)
_MULTIPLIERS: tuple[tuple[str, int], ...] = (
    (r"k|к|тыс(?:\.|яч[аи]?)?|thousand", 3),
    (r"m|mm|mln|млн\.?|миллион(?:а|ов)?|million", 6),
    (r"b|bn|млрд\.?|миллиард(?:а|ов)?|billion", 9),
)
_MULT_ALT = "|".join(pattern for pattern, _ in _MULTIPLIERS)
_MONEY_SHAPE = re.compile(
    rf"^(?:(?P<cur1>{_CURRENCY_ALT})\s*)?"
    r"(?P<sign>[-−–+])?\s*"
    rf"(?:(?P<cur2>{_CURRENCY_ALT})\s*)?"
    r"(?P<number>\d[\d\s.,'_’]*?)\s*"
    rf"(?P<mult>{_MULT_ALT})?\s*"
    rf"(?P<cur3>{_CURRENCY_ALT})?$"
)


def _currency_code(marker: str | None) -> str | None:
    """Map a matched currency marker to its ISO code."""
    if not marker:
        return None
    for pattern, code in _CURRENCY_WORDS:
        if re.fullmatch(pattern, marker):
            return code
    return None


def _multiplier_exponent(marker: str | None) -> int:
    """Map a matched multiplier word to its power of ten."""
    if not marker:
        return 0
    for pattern, exponent in _MULTIPLIERS:
        if re.fullmatch(pattern, marker):
            return exponent
    return 0


def _bad_number(field_name: str, raw: str, why: str, examples: str) -> ValidationError:
    """Build the error for an unreadable number, with what valid input looks like."""
    return ValidationError(field_name, f"«{preview(raw)}» {why}; {examples}")


def _number_to_decimal(number: str, field_name: str, raw: str, *, single_is_decimal: bool, examples: str) -> Decimal:
    """Apply the separator rules from the module docstring to a digit string."""
    text = _SPACES.sub(" ", number.strip())
    for grouper in _GROUPERS:
        text = text.replace(grouper, " ")
    if not re.fullmatch(r"\d[\d ,.]*", text) or not text[-1].isdigit():
        raise _bad_number(field_name, raw, "is not a number", examples)
    dot, comma = text.rfind("."), text.rfind(",")
    decimal_sep: str | None = None
    group_sep: str | None = None
    if dot >= 0 and comma >= 0:
        decimal_sep, group_sep = (".", ",") if dot > comma else (",", ".")
        if text.count(decimal_sep) > 1:
            raise _bad_number(field_name, raw, "has more than one decimal separator", examples)
    elif dot >= 0 or comma >= 0:
        sep = "." if dot >= 0 else ","
        if text.count(sep) > 1:
            group_sep = sep
        else:
            head, tail = text.split(sep)
            if not single_is_decimal and len(tail) == 3 and " " not in head and 1 <= len(head) <= 3 and not head.startswith("0"):
                group_sep = sep
            else:
                decimal_sep = sep
    if decimal_sep is not None:
        integer_part, fraction = text.rsplit(decimal_sep, 1)
        if not fraction.isdigit():
            raise _bad_number(field_name, raw, "has a misplaced decimal separator", examples)
    else:
        integer_part, fraction = text, ""
    groups = re.split(r"[ ,.]" if group_sep else " ", integer_part)
    if group_sep is None and ("," in integer_part or "." in integer_part):
        raise _bad_number(field_name, raw, "mixes separators in a way that cannot be read", examples)
    if len(groups) > 1 and (not 1 <= len(groups[0]) <= 3 or any(len(g) != 3 for g in groups[1:])):
        raise _bad_number(
            field_name,
            raw,
            "has digits grouped wrongly (groups of three are expected, like 1 500 000)",
            examples,
        )
    if not all(g.isdigit() for g in groups):
        raise _bad_number(field_name, raw, "is not a number", examples)
    digits = "".join(groups)
    with localcontext() as ctx:
        ctx.prec = 60
        return Decimal(f"{digits}.{fraction}" if fraction else digits)


def parse_decimal(raw: str, field_name: str = "number", *, allow_negative: bool = True) -> Decimal:
    """Parse a plain number (``1 000``, ``1,5``, ``-2.75``, ``1,000,000``) exactly.

    Shared by number custom fields and money so that both follow the same
    separator rules (see the module docstring). No currency, no multipliers.
    Raises ``ValidationError(field_name, ...)``.
    """
    examples = "e.g. 1000, 1 000, 1,5, 2.75"
    text = _SPACES.sub(" ", raw.strip()) if isinstance(raw, str) else ""
    if not text:
        raise ValidationError(field_name, f"the number is empty; {examples}")
    negative = False
    if text[0] in "-−–+":
        negative = text[0] != "+"
        text = text[1:].strip()
    if negative and not allow_negative:
        raise ValidationError(field_name, f"«{preview(raw)}» is negative; enter 0 or more, {examples}")
    value = _number_to_decimal(text, field_name, raw, single_is_decimal=False, examples=examples)
    return -value if negative else value


def detect_currency(raw: str) -> str | None:
    """Return the ISO code (RUB, USD, EUR) named in a money input, if any.

    ``parse_money`` ignores currency signs; callers that store an amount in
    a fixed currency use this to refuse ``$100`` typed into a RUB field.
    """
    text = _SPACES.sub(" ", raw.strip().casefold()) if isinstance(raw, str) else ""
    match = _MONEY_SHAPE.match(text) if len(text) <= _MAX_INPUT else None
    if not match:
        return None
    for group in ("cur1", "cur2", "cur3"):
        code = _currency_code(match.group(group))
        if code:
            return code
    return None


def parse_money(raw: str, field_name: str = "budget") -> Decimal:
    """Parse a non-negative amount as typed by a person; result quantized to 0.01.

    Accepts thousands grouping in RU and EN styles, decimal comma or point
    (see the module docstring for how ``1,500`` is read), multipliers
    (``k``/``тыс``, ``m``/``млн``, ``bn``/``млрд``) and a currency sign or word
    before or after (``₽``, ``руб``, ``р.``, ``$``, ``USD``, ``€``...). The
    currency is not checked here (use :func:`detect_currency`). Rounds half
    up to kopecks. Negatives, empty input, amounts of 10^15 or more and
    anything else raise ``ValidationError(field_name, ...)``.
    """
    text = _SPACES.sub(" ", raw.strip().casefold()) if isinstance(raw, str) else ""
    if not text:
        raise ValidationError(field_name, f"the amount is empty; {_MONEY_EXAMPLES}")
    if len(text) > _MAX_INPUT:
        raise ValidationError(field_name, f"«{preview(raw)}» is too long for an amount; {_MONEY_EXAMPLES}")
    match = _MONEY_SHAPE.match(text)
    if not match:
        raise ValidationError(field_name, f"«{preview(raw)}» is not an amount of money; {_MONEY_EXAMPLES}")
    currencies = {code for code in (_currency_code(match.group(g)) for g in ("cur1", "cur2", "cur3")) if code}
    if len(currencies) > 1 or sum(bool(match.group(g)) for g in ("cur1", "cur2", "cur3")) > 1:
        raise ValidationError(field_name, f"«{preview(raw)}» names the currency more than once; {_MONEY_EXAMPLES}")
    if match.group("sign") and match.group("sign") != "+":
        raise ValidationError(field_name, f"«{preview(raw)}» is negative; an amount must be 0 or more, {_MONEY_EXAMPLES}")
    exponent = _multiplier_exponent(match.group("mult"))
    value = _number_to_decimal(
        match.group("number"),
        field_name,
        raw,
        single_is_decimal=exponent > 0,
        examples=_MONEY_EXAMPLES,
    )
    with localcontext() as ctx:
        ctx.prec = 60
        value = value.scaleb(exponent)
        if value >= MAX_AMOUNT:
            raise ValidationError(field_name, f"«{preview(raw)}» is too large (10^15 or more); check the zeros")
        return value.quantize(CENT, rounding=ROUND_HALF_UP)


def _group(digits: str, separator: str) -> str:
    """Insert ``separator`` between groups of three digits from the right."""
    head = len(digits) % 3 or 3
    parts = [digits[:head]] + [digits[i : i + 3] for i in range(head, len(digits), 3)]
    return separator.join(parts)


def format_money(amount: Decimal | None, currency: str = "RUB") -> str:
    """Format an amount for reading: ``1 500 000 ₽``, ``$12,500``, ``€3,000.50``.

    Kopecks/cents are shown only when non-zero. RUB uses space grouping, a
    decimal comma and a trailing ``₽``; USD and EUR use comma grouping, a
    decimal point and a leading sign; other codes are written
    ``1 500 CNY``. ``None`` (unknown) is ``—``. The output is accepted by
    :func:`parse_money`, so a formatted value can be edited in place.
    """
    if amount is None:
        return "—"
    code = (currency or "RUB").upper()
    with localcontext() as ctx:
        ctx.prec = 60
        value = Decimal(amount).quantize(CENT, rounding=ROUND_HALF_UP)
    negative = value < 0
    integer, _, fraction = f"{abs(value):f}".partition(".")
    fraction = "" if fraction.strip("0") == "" else fraction
    sign = "-" if negative else ""
    if code in ("RUB", "RUR"):
        body = _group(integer, " ") + (f",{fraction}" if fraction else "")
        return f"{sign}{body} ₽"
    if code in ("USD", "EUR"):
        symbol = "$" if code == "USD" else "€"
        body = _group(integer, ",") + (f".{fraction}" if fraction else "")
        return f"{sign}{symbol}{body}"
    body = _group(integer, " ") + (f",{fraction}" if fraction else "")
    return f"{sign}{body} {code}"
