"""Custom field definitions as data, and the rules that turn input into values.

Pipelines' stage gates and the forms in the TUI are driven by these
definitions (loaded from TOML), not by code: a team adds "Сегмент" (select
A/B/C/D) or "Ссылка на оценку" (url) without a release. :func:`validate_value`
is the one place that turns what a person typed (CLI ``--set key=value``, a
form, a sync import) into the JSON-serialisable value that is stored, so the
CLI, the TUI and sync all accept and reject exactly the same things.

Stored value per type (what :func:`validate_value` returns):

============  =========================================================
text          ``str``, stripped, non-empty
number        ``int`` (no fractional part typed) or ``float``
money         ``str`` of a Decimal with two places (``"1500000.00"``)
select        ``str``, the option exactly as defined
multiselect   ``list[str]``, options as defined, in definition order
url           ``str``, ``https://...`` (see ``normalize_url``)
date          ``str``, ISO ``YYYY-MM-DD``
phone         ``str``, E.164 ``+79161234567``
email         ``str``, domain lower-cased
bool          ``bool``
============  =========================================================

Pure: no I/O, imports nothing outside ``tui_crm.domain``.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from enum import StrEnum

from tui_crm.domain.errors import ConfigError, ValidationError
from tui_crm.domain.money import CENT, detect_currency, format_money, money_examples, parse_decimal, parse_money
from tui_crm.domain.text import fold, preview, safe_text
from tui_crm.domain.validation import (
    format_phone,
    normalize_email,
    normalize_phone,
    normalize_url,
)
from tui_crm.domain.when import check_range, parse_when

__all__ = ["FieldDef", "FieldType", "format_value", "is_empty", "validate_value"]


class FieldType(StrEnum):
    """The kinds of custom field; the value is what the TOML and the DB store."""

    TEXT = "text"
    NUMBER = "number"
    MONEY = "money"
    SELECT = "select"
    MULTISELECT = "multiselect"
    URL = "url"
    DATE = "date"
    PHONE = "phone"
    EMAIL = "email"
    BOOL = "bool"


@dataclass(frozen=True)
class FieldDef:
    """One custom field: its key in storage, its label for people, its type.

    ``options`` lists the choices of a select/multiselect (required for
    them, ignored otherwise); ``entity`` is ``deal``, ``contact`` or
    ``company``; ``currency`` (ISO code, e.g. ``RUB``/``USD``) applies to
    money fields and defaults to RUB. ``type`` and ``options`` may be given
    as a string and a list (as read from TOML); they are coerced. A
    definition that cannot work raises ``ConfigError`` on construction.
    """

    key: str
    label: str
    type: FieldType
    options: tuple[str, ...] = ()
    entity: str = "deal"
    currency: str | None = None

    def __post_init__(self) -> None:
        """Coerce TOML-shaped input and reject definitions that cannot work."""
        try:
            object.__setattr__(self, "type", FieldType(self.type))
        except ValueError:
            allowed = ", ".join(t.value for t in FieldType)
            raise ConfigError(f"field «{self.key}»: unknown type «{self.type}»; use one of {allowed}") from None
        object.__setattr__(self, "options", tuple(str(o).strip() for o in self.options))
        if not self.key or not self.key.strip():
            raise ConfigError(f'field «{self.label}»: key is empty; use e.g. key = "segment"')
        if self.type in (FieldType.SELECT, FieldType.MULTISELECT):
            if not self.options or not all(self.options):
                raise ConfigError(
                    f'field «{self.key}»: a {self.type.value} needs a non-empty list of options, e.g. options = ["A", "B", "C"]'
                )
            folded = [fold(o) for o in self.options]
            if len(set(folded)) != len(folded):
                raise ConfigError(f"field «{self.key}»: options differ only by case or ё/е; make them distinct")
        if self.currency is not None:
            object.__setattr__(self, "currency", self.currency.strip().upper())


_TRUE = frozenset({"yes", "y", "true", "t", "1", "on", "да", "д", "+", "✓", "истина"})
_FALSE = frozenset({"no", "n", "false", "f", "0", "off", "нет", "н", "-", "✗", "ложь"})


def _fail(defn: FieldDef, message: str) -> ValidationError:
    """A ``ValidationError`` under the field's label (what the user sees)."""
    return ValidationError(defn.label, message)


def _relabel(defn: FieldDef, error: ValidationError) -> ValidationError:
    """Re-raise a validator's error under this field's label."""
    return ValidationError(defn.label, error.message)


def _as_text(defn: FieldDef, raw: object) -> str:
    """Input as a stripped string; numbers are accepted and written out."""
    if isinstance(raw, str):
        return raw.strip()
    if isinstance(raw, (int, float, Decimal)) and not isinstance(raw, bool):
        return str(raw)
    raise _fail(defn, f"expected text, got {type(raw).__name__}")


def _number(defn: FieldDef, raw: object) -> int | float:
    """Number field: int when no fraction was typed, float otherwise."""
    if isinstance(raw, bool):
        raise _fail(defn, "expected a number, got yes/no; e.g. 1000, 1 000, 1,5")
    if isinstance(raw, int):
        return raw
    if isinstance(raw, float):
        if not math.isfinite(raw):
            raise _fail(defn, "expected a finite number; e.g. 1000, 1 000, 1,5")
        return raw
    if isinstance(raw, Decimal):
        raw = str(raw)
    if not isinstance(raw, str):
        raise _fail(defn, f"expected a number, got {type(raw).__name__}")
    try:
        value = parse_decimal(raw, defn.label)
    except ValidationError as error:
        raise _relabel(defn, error) from None
    if value == value.to_integral_value() and value.as_tuple().exponent == 0:
        return int(value)
    result = float(value)
    if not math.isfinite(result):
        raise _fail(defn, f"«{preview(raw)}» is too large")
    return result


def _money(defn: FieldDef, raw: object) -> str:
    """Money field: exact decimal as a string; refuses another currency's sign."""
    currency = (defn.currency or "RUB").upper()
    if isinstance(raw, bool):
        raise _fail(defn, f"expected an amount, got yes/no; e.g. {format_money(Decimal(1500000), currency)}")
    if isinstance(raw, (int, Decimal)):
        raw = str(raw)
    if isinstance(raw, float):
        raw = repr(raw)
    if not isinstance(raw, str):
        raise _fail(defn, f"expected an amount of money, got {type(raw).__name__}")
    typed = detect_currency(raw)
    if typed and typed != currency and not (typed == "RUB" and currency == "RUR"):
        raise _fail(
            defn,
            f"«{preview(raw)}» is in {typed}, but this field holds {currency}; "
            f"enter the {currency} amount, e.g. {format_money(Decimal(1500000), currency)}",
        )
    try:
        return str(parse_money(raw, defn.label))
    except ValidationError as error:
        error.message = error.message.replace(money_examples(), money_examples(currency))
        raise _relabel(defn, error) from None


def _match_option(defn: FieldDef, item: str) -> str:
    """The canonical option matching ``item`` (case-, ё/е- and space-insensitive)."""
    wanted = fold(item)
    for option in defn.options:
        if fold(option) == wanted:
            return option
    choices = ", ".join(defn.options)
    raise _fail(defn, f"«{preview(item)}» is not an option; choose one of: {choices}")


def _select(defn: FieldDef, raw: object) -> str:
    """Select field: exactly one of the defined options."""
    if not isinstance(raw, str):
        raise _fail(defn, f"expected one of: {', '.join(defn.options)}")
    return _match_option(defn, raw)


def _multiselect(defn: FieldDef, raw: object) -> list[str]:
    """Multiselect: comma-separated string or a list; canonical options in definition order."""
    items: Iterable[object]
    if isinstance(raw, str):
        items = raw.split(",")
    elif isinstance(raw, (list, tuple, set, frozenset)):
        items = raw
    else:
        raise _fail(defn, f"expected options separated by commas, from: {', '.join(defn.options)}")
    chosen: set[str] = set()
    for item in items:
        if not isinstance(item, str):
            raise _fail(defn, f"expected option names, from: {', '.join(defn.options)}")
        if item.strip():
            chosen.add(_match_option(defn, item))
    if not chosen:
        raise _fail(defn, f"no option given; choose one or more of: {', '.join(defn.options)}")
    return [option for option in defn.options if option in chosen]


_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def _date(defn: FieldDef, raw: object, now: datetime | None) -> str:
    """Date field: ISO date from a date object, a date string or a word like ``tomorrow``."""
    if isinstance(raw, datetime):
        return raw.date().isoformat()
    if isinstance(raw, date):
        return raw.isoformat()
    if not isinstance(raw, str):
        raise _fail(defn, "expected a date, e.g. 2026-12-01, 01.12.2026 or tomorrow")
    text = raw.strip()
    if _ISO_DATE.match(text):
        try:
            day = date.fromisoformat(text)
        except ValueError:
            raise _fail(defn, f"«{preview(text)}» is not a real calendar date; e.g. 2026-12-01") from None
        return check_range(text, day, defn.label).isoformat()
    reference = now if now is not None else datetime.now().astimezone()
    try:
        due, _all_day = parse_when(text, reference)
    except ValidationError as exc:
        if "out of range" in exc.message:
            raise _fail(defn, exc.message) from None
        raise _fail(
            defn,
            f"«{preview(text)}» is not a date; e.g. 2026-12-01, 01.12.2026, 1 декабря, tomorrow, завтра, friday, +3d",
        ) from None
    return due.date().isoformat()


def _bool(defn: FieldDef, raw: object) -> bool:
    """Bool field from yes/no, да/нет, true/false, 1/0, on/off."""
    if isinstance(raw, bool):
        return raw
    if isinstance(raw, int) and raw in (0, 1):
        return bool(raw)
    if isinstance(raw, str):
        word = fold(raw)
        if word in _TRUE:
            return True
        if word in _FALSE:
            return False
    raise _fail(defn, f"«{preview(str(raw))}» is not yes/no; enter yes/no, да/нет, true/false or 1/0")


def validate_value(
    defn: FieldDef,
    raw: object,
    *,
    phone_region: str = "RU",
    now: datetime | None = None,
) -> object:
    """Turn user input into the stored, JSON-serialisable value of ``defn``.

    One function for the CLI, the TUI and sync, so that all of them accept
    the same inputs and store the same canonical form (table in the module
    docstring). Empty input (``None``, blank string, empty list) is an
    error: clearing a field is the caller's explicit choice (store
    ``None``), never the result of validating. ``now`` (timezone-aware)
    resolves words like ``tomorrow`` in date fields; it defaults to the
    local clock, so pass it wherever reproducibility matters.
    ``phone_region`` is the region for phones typed without ``+``.
    Raises ``ValidationError(defn.label, ...)``; for selects the message
    lists the allowed options.
    """
    if is_empty(raw):
        hint = f"; choose from: {', '.join(defn.options)}" if defn.options else ""
        raise _fail(defn, f"a value is required{hint}")
    kind = defn.type
    try:
        if kind is FieldType.TEXT:
            return _as_text(defn, raw)
        if kind is FieldType.NUMBER:
            return _number(defn, raw)
        if kind is FieldType.MONEY:
            return _money(defn, raw)
        if kind is FieldType.SELECT:
            return _select(defn, raw)
        if kind is FieldType.MULTISELECT:
            return _multiselect(defn, raw)
        if kind is FieldType.DATE:
            return _date(defn, raw, now)
        if kind is FieldType.BOOL:
            return _bool(defn, raw)
        if not isinstance(raw, str):
            raise _fail(defn, f"expected text, got {type(raw).__name__}")
        if kind is FieldType.URL:
            return normalize_url(raw)
        if kind is FieldType.PHONE:
            return normalize_phone(raw, phone_region)
        if kind is FieldType.EMAIL:
            return normalize_email(raw)
    except ValidationError as error:
        if error.field_name == defn.label:
            raise
        raise _relabel(defn, error) from None
    raise AssertionError(f"unhandled field type {kind!r}")  # pragma: no cover


def is_empty(value: object) -> bool:
    """True when a field counts as not filled in: ``None``, blank text, empty collection.

    Stage gates use this to decide which fields are missing. ``False``,
    ``0`` and ``Decimal("0")`` are NOT empty: "no" and zero are answers.
    """
    if value is None:
        return True
    if isinstance(value, str):
        return not value.strip()
    if isinstance(value, (list, tuple, set, frozenset, dict)):
        return len(value) == 0
    return False


def _format_number(value: object) -> str:
    """Number with space-separated thousands and a decimal point."""
    if isinstance(value, bool) or not isinstance(value, (int, float, Decimal)):
        return safe_text(str(value), keep_newlines=False)
    try:
        exact = Decimal(repr(value)) if isinstance(value, float) else Decimal(value)
    except InvalidOperation:
        return str(value)
    if not exact.is_finite():
        return str(value)
    sign = "-" if exact < 0 else ""
    integer, _, fraction = f"{abs(exact):f}".partition(".")
    head = len(integer) % 3 or 3
    groups = [integer[:head]] + [integer[i : i + 3] for i in range(head, len(integer), 3)]
    return sign + " ".join(groups) + (f".{fraction}" if fraction else "")


def format_value(defn: FieldDef, value: object) -> str:
    """Render a stored value for display; never raises.

    Empty values are ``—``; money uses ``format_money`` with the field's
    currency, phones are spaced (``+7 916 123-45-67``), bools are
    ``yes``/``no``, multiselects are comma-joined. All text passes through
    ``safe_text`` (values may come from sync). A value that does not fit the
    type (e.g. stored before the type changed) is shown as plain text.
    """
    if is_empty(value):
        return "—"
    kind = defn.type
    if kind is FieldType.BOOL and isinstance(value, bool):
        return "yes" if value else "no"
    if kind is FieldType.NUMBER:
        return _format_number(value)
    if kind is FieldType.MONEY:
        try:
            amount = Decimal(str(value)).quantize(CENT)
        except (InvalidOperation, ValueError):
            return safe_text(str(value), keep_newlines=False)
        return format_money(amount, defn.currency or "RUB")
    if kind is FieldType.MULTISELECT and isinstance(value, (list, tuple)):
        return safe_text(", ".join(str(v) for v in value), keep_newlines=False)
    if kind is FieldType.PHONE and isinstance(value, str):
        return safe_text(format_phone(value), keep_newlines=False)
    if kind is FieldType.TEXT:
        return safe_text(str(value))
    return safe_text(str(value), keep_newlines=False)
