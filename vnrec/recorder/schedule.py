"""When a recording starts and stops: the trading calendar, `--until`, `--duration`,
`--wait` and `--force`, decided from an injected "now" so it can be tested at any hour."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from vnrec.calendar import HCM_TZ, TradingCalendar
from vnrec.errors import BadInputError

SESSION_START = dt.time(8, 30)  # 15 minutes before the derivatives ATO opens at 08:45
SESSION_STOP = dt.time(15, 5)  # after the put-through window closes at 15:00


@dataclass(frozen=True)
class Plan:
    """Record from `start` (now, or later with --wait) until `stop`, filing under `day`."""

    day: dt.date
    start: dt.datetime
    stop: dt.datetime
    full_session: bool  # stops at the scheduled end of the day: compact when done


@dataclass(frozen=True)
class NoSession:
    """Nothing to record now; `message` says why and when the next session starts."""

    message: str


def _at(day: dt.date, time_of_day: dt.time) -> dt.datetime:
    return dt.datetime.combine(day, time_of_day, HCM_TZ)


def plan_recording(
    now: dt.datetime,
    calendar: TradingCalendar,
    *,
    until: dt.time | None = None,
    duration: float | None = None,
    wait: bool = False,
    force: bool = False,
) -> Plan | NoSession:
    local = now.astimezone(HCM_TZ)
    today = local.date()
    if force:
        stop = _stop(local, today, until, duration)
        if stop <= local:
            raise BadInputError(
                f"nothing to record: it is {local:%H:%M}, after"
                + (f" --until {until:%H:%M}" if until is not None else f" {SESSION_STOP:%H:%M}")
                + " (Asia/Ho_Chi_Minh); give --duration SECONDS or a later --until"
            )
        return Plan(today, local, stop, full_session=False)
    if calendar.is_trading_day(today) and local < _at(today, SESSION_STOP):
        start = max(local, _at(today, SESSION_START))
        if until is not None and _at(today, until) <= start:
            raise BadInputError(
                f"--until {until:%H:%M} is not after the start ({start:%H:%M},"
                " Asia/Ho_Chi_Minh): nothing would be recorded"
            )
        if start > local and not wait:
            return NoSession(
                f"{today} is a trading day; the session starts at"
                f" {SESSION_START:%H:%M} (Asia/Ho_Chi_Minh). Run again then, or pass --wait."
            )
        stop = _stop(start, today, until, duration)
        return Plan(today, start, stop, full_session=until is None and duration is None)
    next_day = calendar.next_trading_day(today)
    reason = (
        f"{today} is not a trading day"
        if not calendar.is_trading_day(today)
        else f"today's session ended at {SESSION_STOP:%H:%M}"
    )
    if not wait:
        return NoSession(
            f"{reason}; the next session starts {next_day} at {SESSION_START:%H:%M}"
            " (Asia/Ho_Chi_Minh). Pass --wait to sleep until then, or --force to record now."
        )
    start = _at(next_day, SESSION_START)
    stop = _stop(start, next_day, until, duration)
    return Plan(next_day, start, stop, full_session=until is None and duration is None)


def _stop(
    start: dt.datetime, day: dt.date, until: dt.time | None, duration: float | None
) -> dt.datetime:
    candidates = []
    if until is not None:
        candidates.append(_at(day, until))
    if duration is not None:
        candidates.append(start + dt.timedelta(seconds=duration))
    if not candidates:
        candidates.append(_at(day, SESSION_STOP))
    return min(candidates)
