"""One source row checked into what would be written, or why it is not.

The policy decides what a bad value costs: ``strict`` rejects the row whole
(an invalid phone, e-mail, INN, date or amount), ``lenient`` drops that value
and says so in a warning. A phone with an extension (``доб. 12``,
``ext. 12``) is not invalid: the number is kept and the extension goes into
a note on the record, never silently away. A leading apostrophe (how Excel
is told "this is text") is not part of a phone. Text is stored literally:
a cell starting with ``=`` or holding Rich markup stays what it was.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta, tzinfo
from decimal import Decimal
from typing import Any

from tui_crm.domain.errors import ValidationError
from tui_crm.domain.fields import FieldDef, validate_value
from tui_crm.domain.money import parse_money
from tui_crm.domain.text import fold
from tui_crm.domain.validation import normalize_email, normalize_phone, validate_inn
from tui_crm.services.importing.reader import SourceRow

_EXTENSION = re.compile(
    r"^(?P<number>.*?)[\s,;]*(?:доб\.?|добавочный|ext\.?|extension|x|#)\s*(?P<ext>\d{1,8})\s*$", re.IGNORECASE
)
_NOT_DIGIT = re.compile(r"\D")
_PLAIN_PHONE = re.compile(r"^\s*\+?[\d\s()-]+$")
_DATE = re.compile(r"^(?P<d>\d{1,2})\.(?P<m>\d{1,2})\.(?P<y>\d{4})(?:[ T](?P<H>\d{1,2}):(?P<M>\d{2})(?::(?P<S>\d{2}))?)?$")


class RowRejected(Exception):
    """The row is not written; ``reason`` says why (one line)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass
class Party:
    """A contact or a company as the row has it, validated."""

    kind: str  # contact | company
    name: str
    phones: list[tuple[str, str]] = field(default_factory=list)  # (as typed, E.164)
    emails: list[tuple[str, str]] = field(default_factory=list)
    fields: dict[str, Any] = field(default_factory=dict)  # model columns (position, inn, web...)
    company: str | None = None  # a contact's company name
    responsible_id: str | None = None
    created_at: datetime | None = None
    tags: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    custom: dict[str, Any] = field(default_factory=dict)

    def keys(self) -> list[str]:
        """Keys that make two people (or companies) the same."""
        from tui_crm.domain.matching import company_name_key, email_key, phone_key

        if self.kind == "company":
            inn = self.fields.get("inn")
            return [f"inn:{inn}"] if inn else [f"cn:{company_name_key(self.name)}"]
        return [f"p:{phone_key(e)}" for _, e in self.phones] + [f"e:{email_key(e)}" for _, e in self.emails]


@dataclass
class DealItem:
    name: str
    pipeline: str  # as the file names it
    stage: str
    fields: dict[str, Any] = field(default_factory=dict)  # budget_rub, budget_usd, loss_reason, closed_at
    responsible_id: str | None = None
    created_at: datetime | None = None
    company: str | None = None
    company_inn: str | None = None
    contact: Party | None = None
    tags: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    custom: dict[str, Any] = field(default_factory=dict)
    external_id: str | None = None  # the file's «ID»: amoCRM's deal id, or ours in a file we exported


@dataclass
class Checked:
    row: SourceRow
    item: Party | DealItem | None = None
    warnings: list[str] = field(default_factory=list)
    reason: str | None = None  # set when rejected


@dataclass
class RowContext:
    """What checking needs from the store, looked up once per import."""

    policy: str  # strict | lenient
    region: str
    tz: tzinfo
    now: datetime
    users: Mapping[str, str]  # folded name or e-mail -> user id
    default_user: str
    custom_defs: Mapping[str, Mapping[str, FieldDef]]  # entity -> key -> def
    phone_cache: dict[str, str | ValidationError] = field(default_factory=dict)  # the second pass re-checks for free
    email_cache: dict[str, str | ValidationError] = field(default_factory=dict)
    prefix_valid: dict[str, bool] = field(default_factory=dict)  # RU mobile prefix -> valid (see _ru_mobile)


def parse_local_datetime(raw: str, tz: tzinfo) -> datetime:
    """amoCRM's ``DD.MM.YYYY HH:MM:SS`` (or ISO) in the account's zone, as UTC."""
    text = raw.strip()
    match = _DATE.match(text)
    try:
        if match:
            d, m, y, hh, mm, ss = match.groups()
            moment = datetime(int(y), int(m), int(d), int(hh or 0), int(mm or 0), int(ss or 0))
        else:
            moment = datetime.fromisoformat(text)
    except ValueError:
        raise ValidationError("date", f"«{text}» is not a date; expected DD.MM.YYYY HH:MM:SS") from None
    if moment.tzinfo is not None:
        return moment.astimezone(UTC)
    offset = _day_offset(tz, moment.date())
    if offset is None:  # the clocks change that day: ask the zone for this very moment
        return moment.replace(tzinfo=tz).astimezone(UTC)
    return (moment - offset).replace(tzinfo=UTC)


_DAY_OFFSETS: dict[tuple[tzinfo, date], timedelta | None] = {}


def _day_offset(tz: tzinfo, day: date) -> timedelta | None:
    """The zone's UTC offset all through ``day``, or None when it changes that
    day (an export's dates fall on few days: one zone lookup per day, not per cell)."""
    key = (tz, day)
    if key not in _DAY_OFFSETS:
        if len(_DAY_OFFSETS) > 20_000:
            _DAY_OFFSETS.clear()
        start = datetime(day.year, day.month, day.day, tzinfo=tz).utcoffset()
        end = datetime(day.year, day.month, day.day, 23, 59, 59, tzinfo=tz).utcoffset()
        _DAY_OFFSETS[key] = start if start == end else None
    return _DAY_OFFSETS[key]


def split_extension(raw: str) -> tuple[str, str | None]:
    """``+7 495 123-45-67 доб. 12`` -> (``+7 495 123-45-67``, ``12``)."""
    match = _EXTENSION.match(raw)
    if match and match.group("number").strip():
        return match.group("number").strip(), match.group("ext")
    return raw, None


def _cached(cache: dict[str, str | ValidationError], raw: str, normalize: Callable[[str], str]) -> str | ValidationError:
    """``normalize(raw)`` or its error, remembered: both passes see each value."""
    found = cache.get(raw)
    if found is None:
        try:
            found = normalize(raw)
        except ValidationError as exc:
            found = exc
        cache[raw] = found
    return found


_ATOM = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?"
_PLAIN_EMAIL = re.compile(rf"({_ATOM}(?:\.{_ATOM})*)@((?:{_LABEL}\.)+{_LABEL})")


def _plain_email(raw: str) -> str | None:
    """What ``normalize_email`` returns for a plain ASCII address, without its
    per-character checks (the common case, and each address is seen twice);
    anything else (IDN, odd characters, errors) is left to it."""
    text = raw.strip()
    match = _PLAIN_EMAIL.fullmatch(text)
    if match is None or len(match[1]) > 64 or len(text) > 254 or len(text) - text.rfind(".") < 3:
        return None
    return f"{match[1]}@{match[2].lower()}"


class _Checker:
    """Applies the policy to one row's values, collecting warnings."""

    def __init__(self, ctx: RowContext) -> None:
        self.ctx = ctx
        self.warnings: list[str] = []

    def bad(self, what: str, exc: ValidationError) -> None:
        if self.ctx.policy == "strict":
            raise RowRejected(f"invalid {what}: {exc.message}")
        self.warnings.append(f"dropped invalid {what}: {exc.message}")

    def value(self, what: str, raw: str, parse: Callable[[str], Any]) -> Any:
        if not raw.strip():
            return None
        try:
            return parse(raw)
        except ValidationError as exc:
            self.bad(what, exc)
            return None

    def phones(self, raws: list[str], notes: list[str]) -> list[tuple[str, str]]:
        result: list[tuple[str, str]] = []
        for raw in raws:
            typed = raw.strip().lstrip("'’").strip()
            if not typed:
                continue
            plain = _PLAIN_PHONE.match(typed) is not None  # digits and separators only: no extension to split off
            number, extension = (typed, None) if plain else split_extension(typed)
            e164 = (self._ru_mobile(number) if plain else None) or _cached(
                self.ctx.phone_cache, number, lambda n: normalize_phone(n, self.ctx.region)
            )
            if isinstance(e164, ValidationError):
                self.bad("phone", e164)
                continue
            if extension:
                notes.append(f"Добавочный номер к {e164}: {extension}")
                self.warnings.append(f"phone {typed}: extension {extension} kept in a note")
            if all(e != e164 for _, e in result):
                result.append((typed, e164))
        return result

    def _ru_mobile(self, number: str) -> str | None:
        """A Russian mobile number without calling phonenumbers for each one.

        phonenumbers decides a Russian mobile number's validity by its first
        six national digits (its metadata pattern is ``9…`` + four free
        digits), so the verdict for one number holds for every number with
        that prefix: it is asked once per prefix and remembered. Anything
        unusual (other shapes, regions, landlines) goes the normal way.
        """
        if self.ctx.region.upper() != "RU":  # the caller saw it is plain digits and separators
            return None
        digits = _NOT_DIGIT.sub("", number)
        if number.lstrip().startswith("+"):
            national = digits[1:] if len(digits) == 11 and digits[0] == "7" else ""
        elif len(digits) == 11 and digits[0] in "78":
            national = digits[1:]
        else:
            national = digits if len(digits) == 10 else ""
        if not national.startswith("9"):
            return None
        verdict = self.ctx.prefix_valid.get(national[:6])
        if verdict is None:
            try:
                verdict = normalize_phone(number, self.ctx.region) == "+7" + national
            except ValidationError:
                verdict = False
            self.ctx.prefix_valid[national[:6]] = verdict
        return "+7" + national if verdict else None

    def emails(self, raws: list[str]) -> list[tuple[str, str]]:
        result: list[tuple[str, str]] = []
        for raw in raws:
            normalized = _plain_email(raw) or _cached(self.ctx.email_cache, raw, normalize_email)
            if isinstance(normalized, ValidationError):
                self.bad("e-mail", normalized)
                continue
            if all(e != normalized for _, e in result):
                result.append((raw.strip(), normalized))
        return result

    def responsible(self, raw: str) -> str | None:
        if not raw.strip():
            return self.ctx.default_user
        found = self.ctx.users.get(fold(raw.strip()))
        if found is None:
            self.warnings.append(f"responsible «{raw.strip()}» is not a user here; assigned to the importing user")
            return self.ctx.default_user
        return found

    def custom(self, entity: str, row: SourceRow) -> dict[str, Any]:
        defs = self.ctx.custom_defs.get(entity, {})
        result: dict[str, Any] = {}
        for target, raw in row.values.items():
            if not target.startswith("custom."):
                continue
            key = target[len("custom.") :]
            if key not in defs:
                self.warnings.append(f"no {entity} field {key!r}; column ignored")
                continue
            value = self.value(
                defs[key].label, raw, lambda r, d=defs[key]: validate_value(d, r, phone_region=self.ctx.region, now=self.ctx.now)
            )
            if value is not None:
                result[key] = value
        return result


def _money_minor(raw: str) -> int:
    amount: Decimal = parse_money(raw)
    return int((amount * 100).to_integral_value())


def _birthday(raw: str, tz: tzinfo) -> date:
    return (
        parse_local_datetime(raw, tz).astimezone(tz).date() if _DATE.match(raw.strip()) else date.fromisoformat(raw.strip()[:10])
    )


def _party(check: _Checker, row: SourceRow, kind: str, prefix: str = "") -> Party:
    """A contact or company from the row's columns (``prefix``: "contact_" in a deals file)."""
    ctx = check.ctx
    notes = list(row.lists.get("note", [])) if not prefix else []
    name = row.get("contact" if prefix else "name").strip()
    phones = check.phones(row.lists.get(f"{prefix}phone", []), notes)
    emails = check.emails(row.lists.get(f"{prefix}email", []))
    fields: dict[str, Any] = {}
    if prefix:
        if row.get("contact_position"):
            fields["position"] = row.get("contact_position")
        return Party(kind="contact", name=name, phones=phones, emails=emails, fields=fields, notes=notes,
                     responsible_id=check.responsible(row.get("responsible")))  # fmt: skip
    if kind == "contact":
        for key in ("position", "department"):
            if row.get(key):
                fields[key] = row.get(key)
        birthday = check.value("birthday", row.get("birthday"), lambda r: _birthday(r, ctx.tz))
        if birthday:
            fields["birthday"] = birthday
    else:
        for key in ("web", "address"):
            if row.get(key):
                fields[key] = row.get(key)
        inn = check.value("INN", row.get("inn"), validate_inn)
        if inn:
            fields["inn"] = inn
    return Party(
        kind=kind,
        name=name,
        phones=phones,
        emails=emails,
        fields=fields,
        company=row.get("company") or None if kind == "contact" else None,
        responsible_id=check.responsible(row.get("responsible")),
        created_at=check.value("creation date", row.get("created_at"), lambda r: parse_local_datetime(r, ctx.tz)),
        tags=list(row.lists.get("tags", [])),
        notes=notes,
        custom=check.custom(kind, row),
    )


def check_row(ctx: RowContext, row: SourceRow) -> Checked:
    """Validate one row; a rejected row has ``reason`` set and no item."""
    if row.error:
        return Checked(row=row, reason=f"malformed row: {row.error}")
    check = _Checker(ctx)
    try:
        if row.kind == "deal":
            item: Party | DealItem = _deal(check, row)
        else:
            item = _party(check, row, row.kind)
            if not item.name:
                if item.kind == "contact" and (item.emails or item.phones):
                    item.name = (item.emails or item.phones)[0][0]
                    check.warnings.append("no name; named after its first e-mail or phone")
                else:
                    raise RowRejected(f"missing name (the {row.kind} has no «Наименование»)")
    except RowRejected as exc:
        return Checked(row=row, reason=exc.reason, warnings=check.warnings)
    return Checked(row=row, item=item, warnings=check.warnings)


def _deal(check: _Checker, row: SourceRow) -> DealItem:
    ctx = check.ctx
    missing = [label for target, label in (("name", "name"), ("pipeline", "pipeline"), ("stage", "stage")) if not row.get(target)]
    if missing:
        raise RowRejected(f"missing {', '.join(missing)}")
    fields: dict[str, Any] = {}
    for target in ("budget_rub", "budget_usd"):
        minor = check.value("budget", row.get(target), _money_minor)
        if minor is not None:
            fields[target] = minor
    if row.get("loss_reason"):
        fields["loss_reason"] = row.get("loss_reason")
    closed = check.value("closing date", row.get("closed_at"), lambda r: parse_local_datetime(r, ctx.tz))
    if closed:
        fields["closed_at"] = closed
    contact = (
        _party(check, row, "contact", prefix="contact_")
        if row.get("contact") or row.lists.get("contact_phone") or row.lists.get("contact_email")
        else None
    )
    if contact is not None and not contact.name:
        contact.name = (contact.emails or contact.phones)[0][0] if (contact.emails or contact.phones) else ""
    return DealItem(
        name=row.get("name"),
        pipeline=row.get("pipeline"),
        stage=row.get("stage"),
        fields=fields,
        responsible_id=check.responsible(row.get("responsible")),
        created_at=check.value("creation date", row.get("created_at"), lambda r: parse_local_datetime(r, ctx.tz)),
        company=row.get("company") or None,
        company_inn=check.value("INN", row.get("company_inn") or row.get("inn"), validate_inn),
        contact=contact if contact and contact.name else None,
        tags=list(row.lists.get("tags", [])),
        notes=list(row.lists.get("note", [])),
        custom=check.custom("deal", row),
        external_id=row.get("external_id").strip() or None,
    )


def person_keys(ctx: RowContext, row: SourceRow) -> list[str]:
    """The matching keys of the person a row holds (the first pass needs only these).

    Pass a lenient ``ctx`` (see ``lenient``): bad values are checked, and
    reported, in the second pass; a row that the second pass rejects whole only adds keys nobody
    else can match through, since it writes nothing.
    """
    from tui_crm.domain.matching import email_key
    from tui_crm.services.importing.bulk import digits_of

    if row.error or row.kind == "company":
        return []
    prefix = "contact_" if row.kind == "deal" else ""
    check = _Checker(ctx)
    phones = check.phones(row.lists.get(f"{prefix}phone", []), [])
    emails = check.emails(row.lists.get(f"{prefix}email", []))
    return [f"p:{digits_of(e)}" for _, e in phones] + [f"e:{email_key(e)}" for _, e in emails]


def lenient(ctx: RowContext) -> RowContext:
    """The same context with the lenient policy, sharing its caches."""
    from dataclasses import replace

    return replace(ctx, policy="lenient")
