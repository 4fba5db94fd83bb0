"""Market closures the user added, kept in the data root (`<root>/calendar.json`), so that
recording, replay (futures expiry, front contract) and SQL (`vn30_contracts`) use the same
trading calendar for the days stored there."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import orjson

from vnrec.calendar import TradingCalendar
from vnrec.errors import BadInputError, StorageError
from vnrec.storage.files import atomic_file

CALENDAR_FILE = "calendar.json"


def closures_path(root: Path) -> Path:
    return root / CALENDAR_FILE


def read_closures(root: Path) -> frozenset[dt.date]:
    path = closures_path(root)
    try:
        data = orjson.loads(path.read_bytes())
        return frozenset(dt.date.fromisoformat(day) for day in data["closures"])
    except FileNotFoundError:
        return frozenset()
    except OSError as exc:
        raise StorageError(f"cannot read {path}: {exc.strerror}") from exc
    except (orjson.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
        raise StorageError(f'{path} is not {{"closures": ["YYYY-MM-DD", ...]}}: {exc}') from exc


def write_closures(root: Path, closures: frozenset[dt.date]) -> None:
    with atomic_file(closures_path(root)) as sink:
        body = {"closures": sorted(day.isoformat() for day in closures)}
        sink.write(orjson.dumps(body, option=orjson.OPT_INDENT_2) + b"\n")


def calendar_for(root: Path, extra: frozenset[dt.date] = frozenset()) -> TradingCalendar:
    """The trading calendar of a data root: market holidays plus its closures (plus
    `extra`)."""
    return TradingCalendar(read_closures(root) | extra)


def add_closures(root: Path, days: frozenset[dt.date]) -> frozenset[dt.date]:
    """Record closures in the data root; returns the ones that were new."""
    known = read_closures(root)
    new = days - known
    if new:
        write_closures(root, known | new)
    return new


def remove_closures(root: Path, days: frozenset[dt.date]) -> frozenset[dt.date]:
    known = read_closures(root)
    missing = days - known
    if missing:
        listed = ", ".join(sorted(d.isoformat() for d in missing))
        raise BadInputError(f"not a closure of {root}: {listed} (market holidays stay)")
    write_closures(root, known - days)
    return days
