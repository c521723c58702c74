"""The production calendar automatic tasks are due on (``domain.when.WorkCalendar``).

Its data comes from the maintained ``holidays`` library (weekends, official
holidays, the days off they are transferred to, and the Saturdays made
working days), never from a hand-typed list. Importing the library and
building a country costs ~75 ms, more than a whole ``crm add lead`` may
spend, so the result is kept in the ``setting`` table for the years around
today and rebuilt only when a new year is needed or the copy is a month
old (a government publishes next year's calendar in the autumn; a newer
``holidays`` release then brings it in).
"""

from __future__ import annotations

import json
from datetime import date, timedelta

from sqlmodel import Session

from tui_crm.domain.errors import ConfigError
from tui_crm.domain.when import WorkCalendar
from tui_crm.storage.settings import get_setting, put_setting

REFRESH_AFTER = timedelta(days=30)
_memo: dict[str, tuple[dict[str, object], WorkCalendar]] = {}  # by country: the same for every store


def _setting_key(country: str) -> str:
    return f"calendar.{country}"


def build_calendar(country: str, years: range) -> tuple[list[date], list[date]]:
    """(weekdays off, weekend days worked) of ``country`` over ``years``, from ``holidays``."""
    import holidays

    try:
        calendar = holidays.country_holidays(country, years=list(years))
    except NotImplementedError:
        raise ConfigError(
            f"pipelines file: [auto_tasks] calendar {country!r} is not a country the holidays library knows; use e.g. \"RU\""
        ) from None
    # Every entry of a country's public calendar is a day off; the weekend days a
    # transfer made working are listed apart. (Asking is_working_day() day by day
    # costs ~2 s for five years; reading the two sets costs milliseconds.)
    days_off = sorted(d for d in calendar if d.weekday() < 5)
    worked = sorted(d for d in calendar.weekend_workdays if years.start <= d.year < years.stop)
    return days_off, worked


def work_calendar(session: Session, country: str, today: date) -> WorkCalendar:
    """The calendar covering last year to three years ahead, from the stored
    copy when it is fresh; otherwise rebuilt and stored through ``session``
    (a caller's write transaction commits it; a read-only one just drops it)."""
    key = _setting_key(country)
    memo = _memo.get(country)
    if memo is not None and _fresh(memo[0], today):
        return memo[1]
    kept = get_setting(session, key)
    stored: dict[str, object] = json.loads(kept) if kept is not None else {}
    if not _fresh(stored, today):
        years = range(today.year - 1, today.year + 4)
        days_off, worked = build_calendar(country, years)
        stored = {
            "built": today.isoformat(),
            "first_year": years.start,
            "last_year": years.stop - 1,
            "days_off": [d.isoformat() for d in days_off],
            "workdays": [d.isoformat() for d in worked],
        }
        put_setting(session, key, json.dumps(stored))
    calendar = WorkCalendar(
        days_off=frozenset(date.fromisoformat(str(d)) for d in stored["days_off"]),  # type: ignore[attr-defined]
        workdays=frozenset(date.fromisoformat(str(d)) for d in stored["workdays"]),  # type: ignore[attr-defined]
    )
    _memo[country] = (stored, calendar)
    return calendar


def _fresh(stored: dict[str, object], today: date) -> bool:
    """The stored copy covers this year and the next two and is under a month old."""
    if not stored:
        return False
    built = date.fromisoformat(str(stored["built"]))
    first, last = int(stored["first_year"]), int(stored["last_year"])  # type: ignore[call-overload]
    return first <= today.year and today.year + 2 <= last and timedelta(0) <= today - built < REFRESH_AFTER
