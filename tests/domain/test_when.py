"""Tests for due-date parsing and working days (tui_crm.domain.when)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tui_crm.domain.errors import ValidationError
from tui_crm.domain.when import add_working_days, parse_when

MSK = ZoneInfo("Europe/Moscow")
NOW = datetime(2026, 11, 26, 15, 0, tzinfo=MSK)  # Thursday


def at(y: int, mo: int, d: int, h: int = 0, mi: int = 0) -> datetime:
    return datetime(y, mo, d, h, mi, tzinfo=MSK)


def test_now_is_a_thursday() -> None:
    assert NOW.weekday() == 3


@pytest.mark.parametrize(
    ("raw", "due", "all_day"),
    [
        ("today", at(2026, 11, 26), True),
        ("вчера", at(2026, 11, 25), True),
        ("yesterday 9:00", at(2026, 11, 25, 9), False),
        ("четверг 16:00", at(2026, 11, 26, 16), False),  # a weekday later today is today
        ("thursday 14:00", at(2026, 12, 3, 14), False),  # already past today: next week
        ("Сегодня", at(2026, 11, 26), True),
        ("tomorrow", at(2026, 11, 27), True),
        ("Tomorrow 10:00", at(2026, 11, 27, 10), False),
        ("tomorrow at 9:30", at(2026, 11, 27, 9, 30), False),
        ("завтра", at(2026, 11, 27), True),
        ("завтра в 10:00", at(2026, 11, 27, 10), False),
        ("завтра в 10", at(2026, 11, 27, 10), False),
        ("послезавтра", at(2026, 11, 28), True),
        ("today 18:00", at(2026, 11, 26, 18), False),
        ("+3d", at(2026, 11, 29, 15), False),
        ("+2h", at(2026, 11, 26, 17), False),
        ("+30m", at(2026, 11, 26, 15, 30), False),
        ("+1w", at(2026, 12, 3, 15), False),
        ("+ 3 d", at(2026, 11, 29, 15), False),
        ("3d", at(2026, 11, 29, 15), False),
        ("+3d 10:00", at(2026, 11, 29, 10), False),
        ("через 3 дня", at(2026, 11, 29, 15), False),
        ("через два дня", at(2026, 11, 28, 15), False),
        ("через 2 часа", at(2026, 11, 26, 17), False),
        ("через час", at(2026, 11, 26, 16), False),
        ("через 15 минут", at(2026, 11, 26, 15, 15), False),
        ("через полчаса", at(2026, 11, 26, 15, 30), False),
        ("через неделю", at(2026, 12, 3, 15), False),
        ("через месяц", at(2026, 12, 26, 15), False),
        ("in 3 days", at(2026, 11, 29, 15), False),
        ("in two hours", at(2026, 11, 26, 17), False),
        ("in an hour", at(2026, 11, 26, 16), False),
        ("in a week", at(2026, 12, 3, 15), False),
        ("next week", at(2026, 12, 3, 15), False),
        ("на следующей неделе", at(2026, 12, 3, 15), False),
        ("2026-12-01", at(2026, 12, 1), True),
        ("2026-12-01 15:00", at(2026, 12, 1, 15), False),
        ("2026-12-01T15:00", at(2026, 12, 1, 15), False),
        ("01.12.2026", at(2026, 12, 1), True),
        ("1.12.2026", at(2026, 12, 1), True),
        ("01.12.26", at(2026, 12, 1), True),
        ("01.12.2026 15:00", at(2026, 12, 1, 15), False),
        ("01.12", at(2026, 12, 1), True),
        ("26.11", at(2026, 11, 26), True),  # the next occurrence may be today
        ("25.11", at(2027, 11, 25), True),
        ("29.02", at(2028, 2, 29), True),
        ("1 декабря", at(2026, 12, 1), True),
        ("5 марта в 10:00", at(2027, 3, 5, 10), False),
        ("15 января 2027", at(2027, 1, 15), True),
        ("dec 5", at(2026, 12, 5), True),
        ("December 5th, 2027", at(2027, 12, 5), True),
        ("5 dec", at(2026, 12, 5), True),
        ("monday", at(2026, 11, 30), True),
        ("mon", at(2026, 11, 30), True),
        ("пн", at(2026, 11, 30), True),
        ("понедельник", at(2026, 11, 30), True),
        ("в пятницу", at(2026, 11, 27), True),
        ("пятница", at(2026, 11, 27), True),
        ("friday", at(2026, 11, 27), True),
        ("friday 14:30", at(2026, 11, 27, 14, 30), False),
        ("в пятницу в 14:30", at(2026, 11, 27, 14, 30), False),
        ("во вторник", at(2026, 12, 1), True),
        ("в среду", at(2026, 12, 2), True),
        ("в воскресенье", at(2026, 11, 29), True),
        ("sat", at(2026, 11, 28), True),
        ("thursday", at(2026, 12, 3), True),  # never today
        ("чт", at(2026, 12, 3), True),
        ("next friday", at(2026, 11, 27), True),
        ("16:00", at(2026, 11, 26, 16), False),  # time alone: today if ahead
        ("10:00", at(2026, 11, 27, 10), False),  # ... else tomorrow
        ("15:00", at(2026, 11, 27, 15), False),  # now is not ahead
        ("в 10", at(2026, 11, 27, 10), False),
        ("3pm", at(2026, 11, 27, 15), False),
        ("friday 9am", at(2026, 11, 27, 9), False),
        ("tomorrow 12am", at(2026, 11, 27, 0), False),
        ("tomorrow 12 p.m.", at(2026, 11, 27, 12), False),
        ("  ЗАВТРА   В 10:00  ", at(2026, 11, 27, 10), False),
        ("завтра.", at(2026, 11, 27), True),
        ("now", NOW, False),
    ],
)
def test_parse_when(raw: str, due: datetime, all_day: bool) -> None:
    result, flag = parse_when(raw, NOW)
    assert (result, flag) == (due, all_day)
    assert result.tzinfo is MSK


@pytest.mark.parametrize(
    ("raw", "fragment"),
    [
        ("", "empty"),
        ("   ", "empty"),
        ("xyz", "not a date or time"),
        ("someday", "not a date or time"),
        ("завтра 10", "not a date or time"),
        ("31.02.2026", "not a real calendar date"),
        ("2026-13-01", "not a real calendar date"),
        ("32.01", "not a real calendar date"),
        ("25:00", "does not exist"),
        ("tomorrow 10:75", "does not exist"),
        ("13pm", "outside 1-12"),
        ("+2h 10:00", "combines"),
        ("+99999999d", "too far"),
        ("через много дней", "not a date or time"),
        ("12/01/2026", "not a date or time"),
    ],
)
def test_parse_when_rejects(raw: str, fragment: str) -> None:
    with pytest.raises(ValidationError, match=fragment) as info:
        parse_when(raw, NOW)
    assert info.value.field_name == "due"
    assert "завтра в 10:00" in info.value.message  # always shows examples


def test_naive_now_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        parse_when("today", datetime(2026, 11, 26, 15, 0))


def test_result_keeps_nows_zone_for_fixed_offsets() -> None:
    plus3 = timezone(timedelta(hours=3))
    due, all_day = parse_when("завтра в 10:00", NOW.astimezone(plus3))
    assert due == datetime(2026, 11, 27, 10, tzinfo=plus3)
    assert due.tzinfo is plus3 and not all_day


BERLIN = ZoneInfo("Europe/Berlin")


def test_hour_offsets_are_elapsed_time_across_dst() -> None:
    before = datetime(2026, 3, 29, 1, 30, tzinfo=BERLIN)  # clocks jump 02:00 -> 03:00
    due, _ = parse_when("+1h", before)
    assert due == datetime(2026, 3, 29, 3, 30, tzinfo=BERLIN)
    assert due.astimezone(UTC) - before.astimezone(UTC) == timedelta(hours=1)


def test_day_offsets_keep_wall_clock_across_dst() -> None:
    before = datetime(2026, 3, 28, 10, 0, tzinfo=BERLIN)
    due, _ = parse_when("+1d", before)
    assert (due.hour, due.minute, due.day) == (10, 0, 29)
    assert due.utcoffset() == timedelta(hours=2)


def test_time_in_dst_gap_moves_forward() -> None:
    due, _ = parse_when("2026-03-29 02:30", datetime(2026, 3, 1, tzinfo=BERLIN))
    assert due == datetime(2026, 3, 29, 3, 30, tzinfo=BERLIN)


# Moscow has had no DST since 2014, so wall-clock times below always exist
NOWS = st.datetimes(min_value=datetime(2015, 1, 1), max_value=datetime(2090, 1, 1))

WEEKDAY_WORDS = [
    ("monday", "mon", "понедельник", "пн"),
    ("tuesday", "tue", "вторник", "вт"),
    ("wednesday", "wed", "среду", "ср"),
    ("thursday", "thu", "четверг", "чт"),
    ("friday", "fri", "пятницу", "пт"),
    ("saturday", "sat", "субботу", "сб"),
    ("sunday", "sun", "воскресенье", "вс"),
]


@given(
    NOWS,
    st.integers(0, 6),
    st.integers(0, 3),
)
def test_weekday_is_always_within_the_next_seven_days(naive_now: datetime, weekday: int, form: int) -> None:
    now = naive_now.replace(tzinfo=MSK)
    due, all_day = parse_when(WEEKDAY_WORDS[weekday][form], now)
    assert all_day
    assert due.weekday() == weekday
    assert 1 <= (due.date() - now.date()).days <= 7
    assert (due.hour, due.minute) == (0, 0)


@given(
    NOWS,
    st.dates(min_value=date(2000, 1, 1), max_value=date(2099, 12, 31)),
)
def test_explicit_dates_in_all_formats_agree(naive_now: datetime, day: date) -> None:
    now = naive_now.replace(tzinfo=MSK)
    iso, _ = parse_when(day.isoformat(), now)
    dotted, _ = parse_when(day.strftime("%d.%m.%Y"), now)
    assert iso == dotted == datetime(day.year, day.month, day.day, tzinfo=MSK)


@given(
    NOWS,
    st.integers(0, 500),
)
def test_relative_days_keep_time_and_count_days(naive_now: datetime, days: int) -> None:
    now = naive_now.replace(tzinfo=MSK, microsecond=0)
    for text in (f"+{days}d", f"через {days} дней", f"in {days} days"):
        due, all_day = parse_when(text, now)
        assert not all_day
        assert (due.date() - now.date()).days == days
        assert due.time() == now.time()


# --- working days --------------------------------------------------------------


@pytest.mark.parametrize(
    ("start", "days", "expected"),
    [
        (at(2026, 11, 26, 15), 1, at(2026, 11, 27, 15)),  # Thu -> Fri
        (at(2026, 11, 27, 15), 1, at(2026, 11, 30, 15)),  # Fri -> Mon
        (at(2026, 11, 28, 9), 1, at(2026, 11, 30, 9)),  # Sat -> Mon
        (at(2026, 11, 29, 9), 1, at(2026, 11, 30, 9)),  # Sun -> Mon
        (at(2026, 11, 26, 15), 3, at(2026, 12, 1, 15)),  # Thu -> Tue
        (at(2026, 11, 26, 15), 5, at(2026, 12, 3, 15)),  # one week
        (at(2026, 11, 26, 15), 0, at(2026, 11, 26, 15)),
        (at(2026, 11, 30, 15), -1, at(2026, 11, 27, 15)),  # Mon -> Fri
    ],
)
def test_add_working_days(start: datetime, days: int, expected: datetime) -> None:
    assert add_working_days(start, days) == expected


def _naive_working_days(start: date, days: int) -> date:
    step = 1 if days > 0 else -1
    current, remaining = start, abs(days)
    while remaining:
        current += timedelta(days=step)
        if current.weekday() < 5:
            remaining -= 1
    return current


@given(
    NOWS,
    st.integers(-300, 300),
)
def test_add_working_days_matches_day_by_day_count(naive_start: datetime, days: int) -> None:
    start = naive_start.replace(tzinfo=MSK, microsecond=0)
    result = add_working_days(start, days)
    assert result.date() == _naive_working_days(start.date(), days)
    assert result.time() == start.time()
    if days:
        assert result.weekday() < 5


def test_add_working_days_accepts_naive_datetimes() -> None:
    assert add_working_days(datetime(2026, 11, 27, 9), 1) == datetime(2026, 11, 30, 9)


def test_auto_due_on_the_production_calendar() -> None:
    from datetime import time

    from tui_crm.domain.when import WorkCalendar, auto_due

    new_year = WorkCalendar(days_off=frozenset(date(2027, 1, d) for d in range(1, 9)) | {date(2026, 12, 31)},
                            workdays=frozenset({date(2027, 1, 9)}))  # fmt: skip
    ten = time(10, 0)
    assert auto_due(at(2026, 12, 4, 13, 37), 30, False, new_year, ten) == at(2027, 1, 9, 10)  # a worked Saturday
    assert auto_due(at(2026, 12, 30, 16, 45), 1, True, new_year, ten) == at(2027, 1, 9, 10)
    assert auto_due(at(2026, 12, 30, 16, 45), 1, True, WorkCalendar(), ten) == at(2026, 12, 31, 10)
