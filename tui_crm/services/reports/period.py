"""Report periods: named ones (``this-month``, ``last-quarter``…) or days.

A period is whole local days ``[start, end]`` in the user's time zone; SQL
compares the stored UTC text with the bounds ``[start 00:00, end+1 00:00)``
converted to UTC, written as SQLite holds them (``YYYY-MM-DD HH:MM:SS.ffffff``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo

from tui_crm.domain.errors import ValidationError

NAMED = ("this-month", "last-month", "this-quarter", "last-quarter", "this-year", "last-year", "all")
EARLIEST = date(2000, 1, 1)  # "all": nothing a CRM holds is older
YEARS = (1900, 2999)  # a day outside is a typo, and would overflow the time-zone arithmetic


@dataclass(frozen=True)
class Period:
    start: date
    end: date  # inclusive
    name: str  # the named period, or "custom"

    def bounds(self, tz: tzinfo) -> tuple[str, str]:
        """[start, end) in UTC as SQLite text, for ``WHERE at >= ? AND at < ?``."""
        return sql_time(local_midnight(self.start, tz)), sql_time(local_midnight(self.end + timedelta(days=1), tz))

    def days(self) -> list[date]:
        return [self.start + timedelta(days=n) for n in range((self.end - self.start).days + 1)]

    @property
    def label(self) -> str:
        return f"{self.start:%Y-%m-%d} … {self.end:%Y-%m-%d}"


def local_midnight(day: date, tz: tzinfo) -> datetime:
    return datetime.combine(day, time(0), tzinfo=tz)


def sql_time(moment: datetime) -> str:
    """A moment as SQLite stores UTCDateTime columns (so text comparison orders by time)."""
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")


def _quarter_start(day: date) -> date:
    return date(day.year, 3 * ((day.month - 1) // 3) + 1, 1)


def _month_end(day: date) -> date:
    following = date(day.year + day.month // 12, day.month % 12 + 1, 1)
    return following - timedelta(days=1)


def named_period(name: str, today: date) -> Period:
    month = date(today.year, today.month, 1)
    quarter = _quarter_start(today)
    if name == "this-month":
        return Period(month, _month_end(month), name)
    if name == "last-month":
        last = month - timedelta(days=1)
        return Period(date(last.year, last.month, 1), last, name)
    if name == "this-quarter":
        return Period(quarter, _month_end(date(quarter.year, quarter.month + 2, 1)), name)
    if name == "last-quarter":
        start = _quarter_start(quarter - timedelta(days=1))
        return Period(start, quarter - timedelta(days=1), name)
    if name == "this-year":
        return Period(date(today.year, 1, 1), date(today.year, 12, 31), name)
    if name == "last-year":
        return Period(date(today.year - 1, 1, 1), date(today.year - 1, 12, 31), name)
    if name == "all":
        return Period(EARLIEST, today, name)
    raise ValidationError("--period", f"{name!r} is not a period; use one of {', '.join(NAMED)}, or --from/--to YYYY-MM-DD")


_DAY = re.compile(r"^(\d{4})-(\d{1,2})-(\d{1,2})$|^(\d{1,2})\.(\d{1,2})\.(\d{4})$")


def parse_day(raw: str, option: str) -> date:
    """``2026-12-01`` or ``01.12.2026``."""
    match = _DAY.match(raw.strip())
    try:
        if match is None:
            raise ValueError
        y, m, d = (match[1], match[2], match[3]) if match[1] else (match[6], match[5], match[4])
        day = date(int(y), int(m), int(d))
    except ValueError:
        raise ValidationError(option, f"{raw!r} is not a date; use YYYY-MM-DD or DD.MM.YYYY, e.g. 2026-12-01") from None
    if not YEARS[0] <= day.year <= YEARS[1]:
        raise ValidationError(option, f"{raw!r} is out of range; use a year from {YEARS[0]} to {YEARS[1]}")
    return day


def resolve_period(today: date, name: str | None = None, start: str | None = None, end: str | None = None) -> Period:
    """The period a user asked for: ``--from/--to`` win over a name; default this month."""
    if start or end:
        if name:
            raise ValidationError("--period", "give either a period name or --from/--to, not both")
        first = parse_day(start, "--from") if start else EARLIEST
        last = parse_day(end, "--to") if end else today
        if last < first:
            raise ValidationError("--to", f"{last:%Y-%m-%d} is before --from {first:%Y-%m-%d}; swap them")
        return Period(first, last, "custom")
    return named_period((name or "this-month").strip().lower(), today)
