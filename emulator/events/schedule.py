"""EventBridge schedule expressions: `rate(value unit)` and AWS's six-field `cron(...)`, in UTC.

    rate(1 minute) rate(5 minutes) rate(1 hour) rate(12 hours) rate(1 day) rate(7 days)
    cron(Minutes Hours Day-of-month Month Day-of-week Year)

Cron fields take `,` lists, `-` ranges, `*` and `/` steps; Day-of-month also `?`, `L` (last day),
`NW` (the weekday nearest day N, within the month) and `LW`; Day-of-week (1-7 = SUN-SAT, or the
names) also `?`, `L` (Saturday), `NL` (the month's last weekday N) and `N#k` (its k-th weekday N).
One of Day-of-month and Day-of-week must be `?`. A rate schedule fires every period after the
moment the rule started (`anchor`); a cron schedule at every matching minute.
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

_RATE = re.compile(r"rate\(\s*(\d+)\s+([a-z]+)\s*\)")
_CRON = re.compile(r"cron\((.*)\)", re.DOTALL)
_UNITS = {"minute": 60, "hour": 3600, "day": 86400}
_MONTHS = {name.upper(): i for i, name in enumerate(calendar.month_abbr) if name}
_DAYS = {name: i for i, name in enumerate(("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"), start=1)}
_LAST_YEAR = 2199
DayTest = Callable[[date], bool]


class ScheduleError(ValueError):
    """A schedule expression EventBridge would refuse (ValidationException)."""


def _aws_weekday(day: date) -> int:
    """1 = Sunday ... 7 = Saturday, as cron's Day-of-week counts."""
    return (day.weekday() + 1) % 7 + 1


def _number(text: str, lo: int, hi: int, names: dict[str, int], field: str) -> int:
    value = names.get(text.upper()) if names else None
    if value is None:
        if not text.isdigit():
            raise ScheduleError(f"cron {field}: '{text}' is not a number{' or a name' if names else ''}")
        value = int(text)
    if not lo <= value <= hi:
        raise ScheduleError(f"cron {field}: {value} is outside {lo}-{hi}")
    return value


def _values(text: str, lo: int, hi: int, field: str, names: dict[str, int] | None = None) -> set[int]:
    """A field's `,` / `-` / `*` / `/` syntax as the set of values it selects."""
    out: set[int] = set()
    for part in text.split(","):
        base, slash, step_text = part.partition("/")
        step = 1
        if slash:
            if not step_text.isdigit() or int(step_text) == 0:
                raise ScheduleError(f"cron {field}: the step in '{part}' must be a positive number")
            step = int(step_text)
        if base == "*":
            first, last = lo, hi
        elif "-" in base:
            start, _, end = base.partition("-")
            first, last = _number(start, lo, hi, names or {}, field), _number(end, lo, hi, names or {}, field)
            if first > last:
                raise ScheduleError(f"cron {field}: the range '{base}' runs backwards")
        else:
            first = _number(base, lo, hi, names or {}, field)
            last = hi if slash else first
        out.update(range(first, last + 1, step))
    return out


def _nearest_weekday(day: date) -> date:
    """`W`: the weekday nearest `day` without leaving its month."""
    if day.weekday() == 5:  # Saturday: Friday before, unless that is last month
        return day - timedelta(days=1) if day.day > 1 else day + timedelta(days=2)
    if day.weekday() == 6:
        last = calendar.monthrange(day.year, day.month)[1]
        return day + timedelta(days=1) if day.day < last else day - timedelta(days=2)
    return day


def _day_of_month(text: str) -> DayTest:
    if text in ("L", "LW"):
        def last(day: date) -> bool:
            end = date(day.year, day.month, calendar.monthrange(day.year, day.month)[1])
            return day == (_nearest_weekday(end) if text == "LW" else end)
        return last
    if text.endswith("W"):
        target = _number(text[:-1], 1, 31, {}, "Day-of-month")

        def weekday(day: date) -> bool:
            days = calendar.monthrange(day.year, day.month)[1]
            return target <= days and day == _nearest_weekday(date(day.year, day.month, target))
        return weekday
    days = _values(text, 1, 31, "Day-of-month")
    return lambda day: day.day in days


def _day_of_week(text: str) -> DayTest:
    if text == "L":
        return lambda day: _aws_weekday(day) == 7
    if text.endswith("L"):
        weekday = _number(text[:-1], 1, 7, _DAYS, "Day-of-week")
        return lambda day: _aws_weekday(day) == weekday and day.day + 7 > calendar.monthrange(day.year, day.month)[1]
    if "#" in text:
        name, _, nth = text.partition("#")
        weekday = _number(name, 1, 7, _DAYS, "Day-of-week")
        if nth not in ("1", "2", "3", "4", "5"):
            raise ScheduleError(f"cron Day-of-week: '#{nth}' must be #1 to #5")
        return lambda day: _aws_weekday(day) == weekday and (day.day - 1) // 7 + 1 == int(nth)
    days = _values(text, 1, 7, "Day-of-week", _DAYS)
    return lambda day: _aws_weekday(day) in days


@dataclass(frozen=True)
class Rate:
    period: timedelta

    def next_fire(self, after: datetime, anchor: datetime) -> datetime | None:
        """The first `anchor + k·period` (k ≥ 1) later than `after`."""
        periods = max(1, int((after - anchor) / self.period) + 1)
        fire = anchor + periods * self.period
        return fire if fire > after else fire + self.period


@dataclass(frozen=True)
class Cron:
    minutes: tuple[int, ...]
    hours: tuple[int, ...]
    months: frozenset[int]
    years: frozenset[int]
    day_matches: DayTest

    def next_fire(self, after: datetime, anchor: datetime | None = None) -> datetime | None:
        """The first matching minute later than `after` (UTC), or None when none is left before 2200."""
        after = after.astimezone(UTC)
        start = after.replace(second=0, microsecond=0) + timedelta(minutes=1)
        day = start.date()
        while day.year <= _LAST_YEAR:
            if day.year not in self.years:
                day = date(day.year + 1, 1, 1)
                continue
            if day.month not in self.months:
                day = date(day.year + (day.month == 12), day.month % 12 + 1, 1)
                continue
            if self.day_matches(day):
                floor = (start.hour, start.minute) if day == start.date() else (0, 0)
                for hour in self.hours:
                    for minute in self.minutes:
                        if (hour, minute) >= floor:
                            return datetime(day.year, day.month, day.day, hour, minute, tzinfo=UTC)
            day += timedelta(days=1)
        return None


Schedule = Rate | Cron


def _parse_rate(value: str, unit: str) -> Rate:
    number = int(value)
    base = unit.removesuffix("s")
    if base not in _UNITS:
        raise ScheduleError(f"rate unit '{unit}' must be minute(s), hour(s) or day(s)")
    if number < 1:
        raise ScheduleError("rate value must be a positive number")
    if (number == 1) != (unit == base):
        raise ScheduleError(f"rate({value} {unit}): the unit is singular for 1 and plural otherwise "
                            f"(rate({value} {base if number == 1 else base + 's'}))")
    return Rate(timedelta(seconds=number * _UNITS[base]))


def _parse_cron(body: str) -> Cron:
    fields = body.split()
    if len(fields) != 6:
        raise ScheduleError(f"cron takes six fields (Minutes Hours Day-of-month Month Day-of-week Year), "
                            f"got {len(fields)}")
    minutes, hours, dom, month, dow, year = fields
    if (dom == "?") == (dow == "?"):
        raise ScheduleError("cron: exactly one of Day-of-month and Day-of-week must be '?'")
    day_matches = _day_of_week(dow) if dom == "?" else _day_of_month(dom)
    return Cron(tuple(sorted(_values(minutes, 0, 59, "Minutes"))), tuple(sorted(_values(hours, 0, 23, "Hours"))),
                frozenset(_values(month, 1, 12, "Month", _MONTHS)), frozenset(_values(year, 1970, _LAST_YEAR, "Year")),
                day_matches)


def parse_schedule(expression: str) -> Schedule:
    """A Rate or Cron from its expression; ScheduleError saying what is wrong."""
    if not isinstance(expression, str):
        raise ScheduleError("a schedule expression must be a string such as rate(5 minutes) or cron(0 12 * * ? *)")
    text = expression.strip()
    if (rate := _RATE.fullmatch(text)) is not None:
        return _parse_rate(rate.group(1), rate.group(2))
    if (cron := _CRON.fullmatch(text)) is not None:
        return _parse_cron(cron.group(1))
    raise ScheduleError(f"'{expression}' is not rate(value unit) or cron(six fields)")
