"""Due dates typed by people, in English and Russian, and working-day offsets.

A manager on a call types ``завтра в 10:00``, ``+3d`` or ``friday 14:30``;
:func:`parse_when` turns that into a timezone-aware datetime plus an
"all day" flag, relative to an explicit ``now`` (never the system clock,
so results are reproducible and testable). :func:`add_working_days` gives
automatic tasks their "due in N working days".

Rules callers rely on:

- a date without a time is all-day: midnight of that date, ``all_day=True``;
- a time of day or a relative offset (``+2h``, ``через 3 дня``, ``next week``)
  gives ``all_day=False``; day/week/month offsets keep ``now``'s wall-clock
  time (or the time given: ``+3d 10:00``), hour/minute offsets are elapsed
  time (correct across DST changes);
- weekday names mean the next such day, never today, unless a time is
  given that is still ahead today (``пятница 15:00`` typed on Friday at
  13:37 is today at 15:00); ``01.12`` and ``1 декабря`` mean the next such
  date, today included; a time alone (``15:00``) means today if still
  ahead, else tomorrow; ``вчера``/``yesterday`` is the day before today
  (callers decide whether a past due is allowed: :func:`check_not_past`);
- a reschedule passes the task's own time of day (``keep_time``) or its
  all-day flag (``keep_all_day``): ``+3d`` then keeps them instead of
  ``now``'s wall-clock time;
- ``now`` must be timezone-aware (use ``zoneinfo``); results are in its zone.

Automatic tasks get their due moment from :func:`auto_due` on a
:class:`WorkCalendar` (the production calendar: weekends, official holidays
and transferred working days; the services fill it from the ``holidays``
library) at the working hour the pipelines file sets.

Pure: no I/O, no clock, imports nothing outside ``tui_crm.domain``.
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from tui_crm.domain.errors import ValidationError
from tui_crm.domain.text import fold, preview

__all__ = [
    "EARLIEST",
    "LATEST",
    "PastDue",
    "WorkCalendar",
    "add_working_days",
    "auto_due",
    "check_not_past",
    "check_range",
    "parse_when",
]

# Dates outside this range are typing mistakes (0001-01-01, 9999-12-31) and
# some of them cannot even be converted between time zones.
EARLIEST, LATEST = date(1900, 1, 1), date(2199, 12, 31)

_EXAMPLES = (
    "try: today, tomorrow 10:00, завтра в 10:00, послезавтра, +3d, +2h, +30m, +1w, "
    "через 3 дня, in 2 hours, friday 14:30, в пятницу, next week, "
    "2026-12-01 15:00, 01.12.2026, 01.12, 1 декабря"
)

_TIME = re.compile(
    r"(?:^|\s)(?:(?P<prep>в|во|at|@)\s*)?"
    r"(?P<h>\d{1,2})(?::(?P<m>\d{2}))?\s*(?P<ampm>[ap])?(?(ampm)\.?m\.?)$"
)

_UNITS: dict[str, str] = {}
for _unit, _words in {
    "minutes": "m min mins minute minutes м мин минута минуту минуты минут",
    "hours": "h hr hrs hour hours ч час часа часов",
    "days": "d day days д дн день дня дней",
    "weeks": "w wk wks week weeks н нед неделя неделю недели недель",
    "months": "mo mos month months мес месяц месяца месяцев",
}.items():
    for _word in _words.split():
        _UNITS[_word] = _unit

_NUMBER_WORDS: dict[str, int] = {
    "a": 1, "an": 1, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5,
    "six": 6, "seven": 7, "eight": 8, "nine": 9, "ten": 10,
    "один": 1, "одна": 1, "одну": 1, "два": 2, "две": 2, "пару": 2, "пара": 2,
    "три": 3, "четыре": 4, "пять": 5, "шесть": 6, "семь": 7, "восемь": 8,
    "девять": 9, "десять": 10,
}  # fmt: skip

_RELATIVE = re.compile(
    r"^(?:(?P<plus>\+)\s*|(?P<word>in|через)\s+)?"
    r"(?:(?P<n>\d+|[a-zа-я]+)\s*)??"
    r"(?P<unit>[a-zа-я]+)$"
)

_NAMED_OFFSETS: dict[str, tuple[int, str]] = {
    "next week": (1, "weeks"),
    "на следующей неделе": (1, "weeks"),
    "next month": (1, "months"),
    "в следующем месяце": (1, "months"),
    "через полчаса": (30, "minutes"),
    "in half an hour": (30, "minutes"),
}

_NAMED_DAYS: dict[str, int] = {
    "yesterday": -1,
    "вчера": -1,
    "позавчера": -2,
    "today": 0,
    "сегодня": 0,
    "tomorrow": 1,
    "завтра": 1,
    "послезавтра": 2,
    "day after tomorrow": 2,
    "the day after tomorrow": 2,
}

_WEEKDAYS: dict[str, int] = {}
for _index, _words in enumerate(
    (
        "monday mon понедельник пн пнд",
        "tuesday tue tues вторник вт",
        "wednesday wed среда среду ср",
        "thursday thu thur thurs четверг чт",
        "friday fri пятница пятницу пт",
        "saturday sat суббота субботу сб",
        "sunday sun воскресенье вс вск",
    )
):
    for _word in _words.split():
        _WEEKDAYS[_word] = _index

_MONTH_NAMES: tuple[tuple[str, ...], ...] = (
    ("january", "январь", "января"),
    ("february", "февраль", "февраля"),
    ("march", "март", "марта"),
    ("april", "апрель", "апреля"),
    ("may", "май", "мая"),
    ("june", "июнь", "июня"),
    ("july", "июль", "июля"),
    ("august", "август", "августа"),
    ("september", "сентябрь", "сентября"),
    ("october", "октябрь", "октября"),
    ("november", "ноябрь", "ноября"),
    ("december", "декабрь", "декабря"),
)

_ISO_DATE = re.compile(r"^(?P<y>\d{4})-(?P<mo>\d{1,2})-(?P<d>\d{1,2})$")
_DOTTED_DATE = re.compile(r"^(?P<d>\d{1,2})\.(?P<mo>\d{1,2})(?:\.(?P<y>\d{4}|\d{2}))?$")
_DAY_MONTH = re.compile(r"^(?P<d>\d{1,2})\s+(?P<month>[a-zа-я]+)\.?(?:\s+(?P<y>\d{4}))?(?:\s*(?:г|года))?$")
_MONTH_DAY = re.compile(r"^(?P<month>[a-z]+)\.?\s+(?P<d>\d{1,2})(?:st|nd|rd|th)?(?:,?\s+(?P<y>\d{4}))?$")
_WEEKDAY = re.compile(r"^(?:(?:в|во|on|next|this)\s+)?(?P<name>[a-zа-я]+)$")


def _error(raw: str, why: str = "") -> ValidationError:
    """Build the ``due`` error: what could not be read and the accepted forms."""
    reason = why or "is not a date or time I can read"
    return ValidationError("due", f"«{preview(raw)}» {reason}; {_EXAMPLES}")


def check_range(raw: str, day: date, field: str = "due") -> date:
    """``day`` if it lies between :data:`EARLIEST` and :data:`LATEST`, else a ``field`` error."""
    if not EARLIEST <= day <= LATEST:
        raise ValidationError(field, f"«{preview(raw)}» is out of range; use a date from {EARLIEST} to {LATEST}")
    return day


def _month_number(word: str) -> int | None:
    """Month 1-12 for an English or Russian month name or 3+ letter prefix."""
    if len(word) < 3:
        return None
    for number, names in enumerate(_MONTH_NAMES, start=1):
        if any(name.startswith(word) for name in names):
            return number
    return None


def _localize(day: date, at: time, tz: object) -> datetime:
    """Wall-clock ``day`` + ``at`` in ``tz``, moved forward if it falls in a DST gap."""
    naive = datetime.combine(day, at)
    aware = naive.replace(tzinfo=tz)  # type: ignore[arg-type]
    return aware.astimezone(UTC).astimezone(aware.tzinfo)


def _add_months(day: date, months: int) -> date:
    """Same day ``months`` later, clamped to the month's last day (31 Jan + 1 → 28/29 Feb)."""
    index = day.year * 12 + day.month - 1 + months
    year, month = divmod(index, 12)
    last = calendar.monthrange(year, month + 1)[1]
    return date(year, month + 1, min(day.day, last))


def _make_date(raw: str, year: int, month: int, day: int) -> date:
    """A calendar date, or a ``due`` error naming the impossible date."""
    try:
        made = date(year, month, day)
    except ValueError:
        raise _error(raw, f"is not a real calendar date ({day:02d}.{month:02d}.{year})") from None
    return check_range(raw, made)


def _next_date(raw: str, today: date, month: int, day: int) -> date:
    """The next ``day.month`` on or after ``today`` (29.02 waits for a leap year)."""
    if not 1 <= month <= 12 or not 1 <= day <= 31:
        raise _error(raw, f"is not a real calendar date ({day:02d}.{month:02d})")
    for year in range(today.year, today.year + 9):
        try:
            candidate = date(year, month, day)
        except ValueError:
            continue
        if candidate >= today:
            return candidate
    raise _error(raw, f"is not a real calendar date ({day:02d}.{month:02d})")


def _split_time(text: str, raw: str) -> tuple[str, time | None]:
    """Split a trailing time of day off ``text``; return (date part, time or None)."""
    match = _TIME.search(text)
    if not match or not (match.group("m") or match.group("ampm") or match.group("prep")):
        return text, None
    hour, minute = int(match.group("h")), int(match.group("m") or 0)
    if match.group("ampm"):
        if not 1 <= hour <= 12:
            raise _error(raw, "has an hour outside 1-12 before am/pm")
        hour = hour % 12 + (12 if match.group("ampm") == "p" else 0)
    if hour > 23 or minute > 59:
        raise _error(raw, "has a time that does not exist (hours 0-23, minutes 0-59)")
    return text[: match.start()].strip(), time(hour, minute)


def _relative(raw: str, now: datetime, amount: int, unit: str, at: time | None, keep: _Keep) -> tuple[datetime, bool]:
    """Apply an offset: elapsed time for minutes/hours, calendar days otherwise
    (at the time given, else the kept time of day or all-day flag, else ``now``'s time)."""
    tz = now.tzinfo
    try:
        if unit in ("minutes", "hours"):
            if at is not None:
                raise _error(raw, "combines an offset in hours/minutes with a time of day")
            delta = timedelta(minutes=amount) if unit == "minutes" else timedelta(hours=amount)
            return (now.astimezone(UTC) + delta).astimezone(tz), False
        if unit == "months":
            target = _add_months(now.date(), amount)
        else:
            target = now.date() + timedelta(days=amount * (7 if unit == "weeks" else 1))
    except (OverflowError, ValueError):
        raise _error(raw, "is too far in the future") from None
    check_range(raw, target)
    if at is None and keep.all_day:
        return _localize(target, time(0, 0), tz), True
    return _localize(target, at or keep.time or now.timetz().replace(tzinfo=None), tz), False


@dataclass(frozen=True)
class _Keep:
    """What a day offset keeps from the task being rescheduled."""

    time: time | None = None
    all_day: bool = False


def _parse_relative(text: str, raw: str, now: datetime, at: time | None, keep: _Keep) -> tuple[datetime, bool] | None:
    """Offsets such as ``+3d``, ``3 days``, ``in 2 hours``, ``через неделю``, ``next week``."""
    if text in _NAMED_OFFSETS:
        amount, unit = _NAMED_OFFSETS[text]
        return _relative(raw, now, amount, unit, at, keep)
    match = _RELATIVE.match(text)
    if not match or match.group("unit") not in _UNITS:
        return None
    number = match.group("n")
    if number is None:
        # "через неделю", "in week": a bare unit needs the word prefix
        if not match.group("word"):
            return None
        amount = 1
    elif number.isdigit():
        amount = int(number)
    elif number in _NUMBER_WORDS and match.group("word"):
        amount = _NUMBER_WORDS[number]
    else:
        return None
    if amount > 100_000:
        raise _error(raw, "is too far in the future")
    return _relative(raw, now, amount, _UNITS[match.group("unit")], at, keep)


def _parse_day(text: str, raw: str, today: date, today_ok: bool = False) -> date | None:
    """A calendar day from a named day, date, day+month or weekday; None if no match.

    ``today_ok``: a weekday naming today means today (a time still ahead was given)."""
    if text in _NAMED_DAYS:
        return today + timedelta(days=_NAMED_DAYS[text])
    if match := _ISO_DATE.match(text):
        return _make_date(raw, int(match["y"]), int(match["mo"]), int(match["d"]))
    if match := _DOTTED_DATE.match(text):
        if match["y"] is None:
            return _next_date(raw, today, int(match["mo"]), int(match["d"]))
        year = int(match["y"]) + (2000 if len(match["y"]) == 2 else 0)
        return _make_date(raw, year, int(match["mo"]), int(match["d"]))
    for pattern in (_DAY_MONTH, _MONTH_DAY):
        if (match := pattern.match(text)) and (month := _month_number(match["month"])):
            if match["y"] is None:
                return _next_date(raw, today, month, int(match["d"]))
            return _make_date(raw, int(match["y"]), month, int(match["d"]))
    if (match := _WEEKDAY.match(text)) and match["name"] in _WEEKDAYS:
        ahead = (_WEEKDAYS[match["name"]] - today.weekday()) % 7 or (0 if today_ok else 7)
        return today + timedelta(days=ahead)
    return None


def parse_when(
    raw: str, now: datetime, *, keep_time: time | None = None, keep_all_day: bool = False
) -> tuple[datetime, bool]:
    """Parse a due date typed in English or Russian, relative to ``now``.

    ``keep_time`` / ``keep_all_day``: a reschedule passes the task's time of
    day or all-day flag, which a day/week/month offset without a time keeps.

    Returns ``(due, all_day)``: ``due`` is timezone-aware in ``now``'s zone;
    ``all_day`` is True when only a date was given (``due`` is then that
    date's midnight). See the module docstring for the exact rules. Raises
    ``ValidationError("due", ...)`` listing accepted forms for anything else,
    and ``ValueError`` if ``now`` is naive (a programming error).
    """
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError("parse_when needs a timezone-aware 'now'")
    text = fold(raw) if isinstance(raw, str) else ""
    text = text.rstrip(".,!;").strip()
    text = re.sub(r"(\d)t(\d)", r"\1 \2", text)  # 2026-12-01T15:00
    if not text:
        raise _error("", "is empty: enter a date or time")
    if len(text) > 80:
        raise _error(raw, "is too long for a date")
    if text in ("now", "сейчас"):
        return now, False
    date_part, at = _split_time(text, raw)
    relative = _parse_relative(date_part, raw, now, at, _Keep(keep_time, keep_all_day))
    if relative is not None:
        return relative
    today = now.date()
    if not date_part:
        if at is None:
            raise _error(raw)
        due = _localize(today, at, now.tzinfo)
        if due <= now:
            due = _localize(today + timedelta(days=1), at, now.tzinfo)
        return due, False
    day = _parse_day(date_part, raw, today, today_ok=at is not None and _localize(today, at, now.tzinfo) > now)
    if day is None:
        raise _error(raw)
    if at is None:
        return _localize(day, time(0, 0), now.tzinfo), True
    return _localize(day, at, now.tzinfo), False


def add_working_days(start: datetime, days: int) -> datetime:
    """Return ``start`` moved by ``days`` working days (Mon-Fri), same wall-clock time.

    Automatic tasks are "due in 1 working day": created on Friday, due on
    Monday. Weekend starts count from the next Monday (Saturday + 1 →
    Monday). ``days=0`` returns ``start``; negative values go back.
    Public holidays are not known here (no calendar data in the domain).
    """
    if days == 0:
        return start
    step = 1 if days > 0 else -1
    remaining = abs(days)
    current = start.date()
    if current.weekday() < 5:
        # from a weekday, every 5 working days are exactly one calendar week
        weeks, remaining = divmod(remaining, 5)
        current += timedelta(days=7 * weeks * step)
    while remaining:
        current += timedelta(days=step)
        if current.weekday() < 5:
            remaining -= 1
    if start.tzinfo is None:
        return datetime.combine(current, start.time())
    return _localize(current, start.timetz().replace(tzinfo=None), start.tzinfo)


class PastDue(ValidationError):
    """A due moment that has already passed: refused unless the user confirms
    (``--past`` on the command line, a yes/no question in the TUI)."""

    def __init__(self, raw: str, due: datetime, all_day: bool) -> None:
        shown = f"{due:%d.%m.%Y}" if all_day else f"{due:%d.%m.%Y %H:%M}"
        super().__init__("due", f"«{preview(raw)}» is {shown}, in the past; give a later date, or add --past to set it anyway")
        self.due = due
        self.all_day = all_day


def check_not_past(raw: str, due: datetime, all_day: bool, now: datetime) -> None:
    """Raise :class:`PastDue` when ``due`` has passed: an all-day due before
    today, a timed one more than a minute before ``now`` (``now`` itself and
    ``+0m`` are fine)."""
    past = due.date() < now.date() if all_day else due < now - timedelta(minutes=1)
    if past:
        raise PastDue(raw, due, all_day)


@dataclass(frozen=True)
class WorkCalendar:
    """Which days are working days: Monday to Friday except ``days_off``
    (official holidays and the days off they were transferred to), plus
    ``workdays`` (weekend days made working by a transfer).

    The default (both empty) knows only weekends. The services fill it from
    the ``holidays`` library (``services.calendar``): a production calendar
    is data the government publishes each year, not something to hand-type.
    """

    days_off: frozenset[date] = frozenset()
    workdays: frozenset[date] = frozenset()

    def is_working_day(self, day: date) -> bool:
        if day in self.workdays:
            return True
        return day.weekday() < 5 and day not in self.days_off

    def next_working_day(self, day: date) -> date:
        """``day`` itself when it is a working day, else the first one after it."""
        for _ in range(366):
            if self.is_working_day(day):
                return day
            day += timedelta(days=1)
        raise ValueError("no working day within a year")  # a calendar without working days: a programming error

    def add_working_days(self, day: date, count: int) -> date:
        """The ``count``-th working day after ``day`` (``day`` itself never
        counts, so Saturday + 1 is Monday); ``count=0`` is the next working
        day on or after ``day``."""
        if count <= 0:
            return self.next_working_day(day)
        while count:
            day += timedelta(days=1)
            if self.is_working_day(day):
                count -= 1
        return day


def auto_due(now: datetime, amount: int, working_days: bool, calendar: WorkCalendar, at: time) -> datetime:
    """When an automatic task created at ``now`` is due.

    ``+Nwd`` (``working_days``): the N-th working day after today;
    ``+Nd``: N calendar days after today, moved on to the next working day
    when that is a weekend or a holiday (a follow-up due on 03.01 waits for
    the first working day after the New Year holidays). Either way it is
    due at the working hour ``at`` in ``now``'s zone, never at the minute
    the deal happened to move.
    """
    today = now.date()
    day = calendar.add_working_days(today, amount) if working_days else calendar.next_working_day(today + timedelta(days=amount))
    return _localize(day, at, now.tzinfo)
