"""All-day tasks: amoCRM's form <-> tui-crm's.

amoCRM has no all-day flag: a task due at 23:59 (in the account's time
zone) is shown as «Весь день» (the API documentation of ``complete_till``:
"if the time 23:59 is given, the interfaces show 'all day' instead of a
time"). tui-crm keeps ``all_day`` and the day's local midnight as
``due_at``. So an all-day task goes out due at 23:59:59 of its day in the
account's zone, and any task amoCRM has due at 23:59 comes in as an
all-day task at local midnight of that day.
"""

from __future__ import annotations

from datetime import UTC, datetime, time, tzinfo

END_OF_DAY = time(23, 59, 59)


def _is_end_of_day(moment: datetime) -> bool:
    return moment.hour == 23 and moment.minute == 59


def decode_due(complete_till: int | None, account_tz: tzinfo, local_tz: tzinfo) -> tuple[int | None, bool]:
    """amoCRM's ``complete_till`` -> (``due_at``, ``all_day``)."""
    if complete_till is None:
        return None, False
    moment = datetime.fromtimestamp(int(complete_till), UTC).astimezone(account_tz)
    if not _is_end_of_day(moment):
        return int(complete_till), False
    midnight = datetime.combine(moment.date(), time(0, 0), local_tz)
    return int(midnight.timestamp()), True


def encode_due(due_at: int | None, all_day: bool, account_tz: tzinfo, local_tz: tzinfo) -> int | None:
    """(``due_at``, ``all_day``) -> amoCRM's ``complete_till``."""
    if due_at is None:
        return None
    if not all_day:
        return int(due_at)
    day = datetime.fromtimestamp(int(due_at), UTC).astimezone(local_tz).date()
    return int(datetime.combine(day, END_OF_DAY, account_tz).timestamp())


def normalize_due(due_at: int | None, all_day: bool, account_tz: tzinfo, local_tz: tzinfo) -> tuple[int | None, bool]:
    """The pair as it would come back from amoCRM (a timed task at 23:59 comes back all-day)."""
    return decode_due(encode_due(due_at, all_day, account_tz, local_tz), account_tz, local_tz)
