"""EventBridge schedule expressions: rate() periods and AWS's six-field cron, checked against a minute scan."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from emulator.events.schedule import Cron, ScheduleError, parse_schedule

START = datetime(2026, 1, 1, 0, 0, tzinfo=UTC)  # a Thursday


def fires(expression: str, count: int, after: datetime = START) -> list[str]:
    schedule = parse_schedule(expression)
    out = []
    for _ in range(count):
        upcoming = schedule.next_fire(after, START)
        assert upcoming is not None
        out.append(upcoming.strftime("%Y-%m-%d %a %H:%M"))
        after = upcoming
    return out


def test_rate_fires_every_period_from_the_anchor() -> None:
    assert fires("rate(15 minutes)", 3) == ["2026-01-01 Thu 00:15", "2026-01-01 Thu 00:30", "2026-01-01 Thu 00:45"]
    assert fires("rate(1 day)", 2) == ["2026-01-02 Fri 00:00", "2026-01-03 Sat 00:00"]
    rate = parse_schedule("rate(2 hours)")
    assert rate.next_fire(START + timedelta(hours=3, minutes=1), START) == START + timedelta(hours=4)
    assert rate.next_fire(START + timedelta(hours=4), START) == START + timedelta(hours=6)


@pytest.mark.parametrize(("expression", "expected"), [
    ("cron(0 12 * * ? *)", ["2026-01-01 Thu 12:00", "2026-01-02 Fri 12:00"]),
    ("cron(0/15 * * * ? *)", ["2026-01-01 Thu 00:15", "2026-01-01 Thu 00:30"]),
    ("cron(*/20 9 * * ? *)", ["2026-01-01 Thu 09:00", "2026-01-01 Thu 09:20", "2026-01-01 Thu 09:40",
                              "2026-01-02 Fri 09:00"]),
    ("cron(0 18 ? * MON-FRI *)", ["2026-01-01 Thu 18:00", "2026-01-02 Fri 18:00", "2026-01-05 Mon 18:00"]),
    ("cron(0 8 1 * ? *)", ["2026-01-01 Thu 08:00", "2026-02-01 Sun 08:00"]),
    ("cron(15 10 ? * 6L 2026-2027)", ["2026-01-30 Fri 10:15", "2026-02-27 Fri 10:15"]),
    ("cron(0 10 ? * 2#1 *)", ["2026-01-05 Mon 10:00", "2026-02-02 Mon 10:00"]),
    ("cron(0 0 L * ? *)", ["2026-01-31 Sat 00:00", "2026-02-28 Sat 00:00"]),
    ("cron(0 9 LW * ? *)", ["2026-01-30 Fri 09:00", "2026-02-27 Fri 09:00"]),
    ("cron(0 9 1W * ? *)", ["2026-01-01 Thu 09:00", "2026-02-02 Mon 09:00", "2026-03-02 Mon 09:00"]),
    ("cron(0 9 17W * ? *)", ["2026-01-16 Fri 09:00", "2026-02-17 Tue 09:00"]),
    ("cron(0 0 1 JAN,JUL ? *)", ["2026-07-01 Wed 00:00", "2027-01-01 Fri 00:00"]),
    ("cron(30 6 ? * L *)", ["2026-01-03 Sat 06:30", "2026-01-10 Sat 06:30"]),
    ("cron(0 0 29 2 ? *)", ["2028-02-29 Tue 00:00", "2032-02-29 Sun 00:00"]),
])
def test_cron_examples(expression: str, expected: list[str]) -> None:
    assert fires(expression, len(expected)) == expected


def test_a_cron_with_no_fire_left_gives_none() -> None:
    assert parse_schedule("cron(0 0 30 2 ? *)").next_fire(START) is None
    assert parse_schedule("cron(0 0 1 1 ? 2020)").next_fire(START) is None


@pytest.mark.parametrize(("expression", "problem"), [
    ("rate(1 minutes)", "singular"),
    ("rate(5 minute)", "plural"),
    ("rate(0 minutes)", "positive"),
    ("rate(5 weeks)", "minute(s), hour(s) or day(s)"),
    ("cron(0 12 * * * *)", "exactly one of Day-of-month and Day-of-week"),
    ("cron(0 12 ? * ? *)", "exactly one of Day-of-month and Day-of-week"),
    ("cron(0 12 * * ?)", "six fields"),
    ("cron(60 12 * * ? *)", "outside 0-59"),
    ("cron(0 12 ? * FUNDAY *)", "not a number or a name"),
    ("cron(0 12 ? * 2#6 *)", "#1 to #5"),
    ("cron(0 12 * * ? 1969)", "outside 1970-2199"),
    ("cron(0 20-10 * * ? *)", "runs backwards"),
    ("cron(0/0 * * * ? *)", "positive number"),
    ("every 5 minutes", "is not rate"),
])
def test_refused_expressions_say_why(expression: str, problem: str) -> None:
    with pytest.raises(ScheduleError, match=problem.replace("(", r"\(").replace(")", r"\)")):
        parse_schedule(expression)


def _scan(cron: Cron, after: datetime, limit: timedelta) -> datetime | None:
    """The first matching minute after `after`, by trying every minute: the reference for next_fire."""
    moment = after.replace(second=0, microsecond=0) + timedelta(minutes=1)
    while moment - after <= limit:
        if (moment.minute in cron.minutes and moment.hour in cron.hours and moment.month in cron.months
                and moment.year in cron.years and cron.day_matches(moment.date())):
            return moment
        moment += timedelta(minutes=1)
    return None


@given(st.sets(st.integers(0, 59), min_size=1, max_size=3), st.sets(st.integers(0, 23), min_size=1, max_size=3),
       st.sets(st.integers(1, 7), min_size=1, max_size=3), st.integers(0, 400 * 24 * 60))
def test_next_fire_is_the_first_matching_minute(minutes: set[int], hours: set[int], days: set[int],
                                                offset: int) -> None:
    expression = f"cron({','.join(map(str, minutes))} {','.join(map(str, hours))} ? * {','.join(map(str, days))} *)"
    cron = parse_schedule(expression)
    assert isinstance(cron, Cron)
    after = START + timedelta(minutes=offset, seconds=offset % 60)
    expected = _scan(cron, after, timedelta(days=8))
    assert expected is not None and cron.next_fire(after) == expected
    aws_weekday = (expected.weekday() + 1) % 7 + 1  # 1 = SUN ... 7 = SAT
    assert aws_weekday in days and expected.hour in hours and expected.minute in minutes
