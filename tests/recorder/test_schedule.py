"""When `vnrec record` records: calendar, session window, --until, --duration, --wait, --force."""

from __future__ import annotations

import datetime as dt
import random

import pytest

from vnrec.calendar import DEFAULT_CALENDAR, HCM_TZ
from vnrec.errors import BadInputError
from vnrec.recorder.backoff import Backoff
from vnrec.recorder.schedule import NoSession, Plan, plan_recording


def hcm(y: int, m: int, d: int, hh: int, mm: int) -> dt.datetime:
    return dt.datetime(y, m, d, hh, mm, tzinfo=HCM_TZ)


def test_trading_day_morning_records_until_1505() -> None:
    """Started at 08:40 on a trading day: record now until 15:05 and compact after."""
    plan = plan_recording(hcm(2026, 11, 5, 8, 40), DEFAULT_CALENDAR)
    assert isinstance(plan, Plan)
    assert plan.start == hcm(2026, 11, 5, 8, 40) and plan.stop == hcm(2026, 11, 5, 15, 5)
    assert plan.full_session and plan.day == dt.date(2026, 11, 5)


def test_early_morning_says_when_the_session_starts_unless_waiting() -> None:
    """Before 08:30: a message naming the start time; with --wait, a plan starting then."""
    early = hcm(2026, 11, 5, 6, 0)
    refused = plan_recording(early, DEFAULT_CALENDAR)
    assert isinstance(refused, NoSession) and "08:30" in refused.message
    plan = plan_recording(early, DEFAULT_CALENDAR, wait=True)
    assert isinstance(plan, Plan) and plan.start == hcm(2026, 11, 5, 8, 30)


def test_holiday_and_evening_point_to_the_next_session() -> None:
    """On Tet or after the close, the next trading day is named; --wait plans it."""
    tet = plan_recording(hcm(2026, 2, 17, 10, 0), DEFAULT_CALENDAR)
    assert isinstance(tet, NoSession)
    assert "2026-02-17 is not a trading day" in tet.message and "2026-02-23" in tet.message
    evening = plan_recording(hcm(2026, 11, 20, 16, 0), DEFAULT_CALENDAR, wait=True)
    assert isinstance(evening, Plan) and evening.day == dt.date(2026, 11, 23)


def test_until_and_duration_bound_the_stop() -> None:
    """--until and --duration stop earlier than 15:05 and do not count as a full session."""
    until = plan_recording(hcm(2026, 11, 5, 9, 0), DEFAULT_CALENDAR, until=dt.time(11, 30))
    assert isinstance(until, Plan) and until.stop == hcm(2026, 11, 5, 11, 30)
    assert not until.full_session
    both = plan_recording(
        hcm(2026, 11, 5, 9, 0), DEFAULT_CALENDAR, until=dt.time(11, 30), duration=60
    )
    assert isinstance(both, Plan) and both.stop == hcm(2026, 11, 5, 9, 1)


def test_force_records_now_whatever_the_calendar() -> None:
    """--force --duration on a Sunday night records for exactly that long."""
    now = hcm(2026, 11, 22, 23, 0)
    plan = plan_recording(now, DEFAULT_CALENDAR, force=True, duration=30)
    assert isinstance(plan, Plan) and plan.start == now
    assert plan.stop == now + dt.timedelta(seconds=30) and not plan.full_session


def test_backoff_grows_exponentially_with_jitter_and_resets() -> None:
    """Delays stay under base*2^n capped, vary with jitter, and restart after reset."""
    backoff = Backoff(base=0.5, cap=8.0, rng=random.Random(1))
    delays = [backoff.next_delay() for _ in range(8)]
    ceilings = [min(8.0, 0.5 * 2**n) for n in range(8)]
    assert all(0 <= d <= c for d, c in zip(delays, ceilings, strict=True))
    assert len(set(delays)) == len(delays)
    backoff.reset()
    assert backoff.next_delay() <= 0.5


def test_a_stop_that_is_already_past_is_refused() -> None:
    """--force after 15:05 without --duration, or an --until already past, would record
    nothing: one line saying what to give instead."""
    evening = hcm(2026, 11, 5, 16, 20)
    with pytest.raises(BadInputError, match=r"it is 16:20, after 15:05 .* give --duration"):
        plan_recording(evening, DEFAULT_CALENDAR, force=True)
    with pytest.raises(BadInputError, match="it is 16:20, after --until 10:00"):
        plan_recording(evening, DEFAULT_CALENDAR, force=True, until=dt.time(10, 0))
    morning = hcm(2026, 11, 5, 9, 30)
    with pytest.raises(BadInputError, match="--until 09:00 is not after the start"):
        plan_recording(morning, DEFAULT_CALENDAR, until=dt.time(9, 0))
    plan = plan_recording(evening, DEFAULT_CALENDAR, force=True, duration=60)
    assert isinstance(plan, Plan) and plan.stop == evening + dt.timedelta(seconds=60)
