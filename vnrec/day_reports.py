"""One day's report as a unit of work (vnrec.work): the rows `vnrec stats`, `candles` and
`alerts` print for a day, computed where the work runs (this process, or a worker of a
cluster with its own copy of the day). Outside `vnrec.analytics`, whose package loads
DuckDB: a day answered from its stored results loads neither DuckDB nor polars."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from vnrec.defaults import DUCKDB_THREADS
from vnrec.work import DayWork

Rows = list[dict[str, Any]]


@dataclass(frozen=True)
class StatsDay(DayWork):
    """Session stats per symbol: the stored ones of a compacted day (while its parts are
    those they were computed from), else DuckDB over the parts."""

    label: ClassVar[str] = "stats"

    symbol: str | None = None
    threads: int = DUCKDB_THREADS

    def run(self) -> Rows:
        from vnrec.storage.layout import Layout
        from vnrec.storage.stats_cache import cached_stats

        layout = Layout(self.root)
        layout.recorded_state(self.day)
        rows = cached_stats(layout, self.day)
        if rows is None:
            from vnrec.analytics.connection import read_views
            from vnrec.analytics.reports import session_stats

            day, symbol = self.day, self.symbol
            return read_views(
                self.root,
                lambda con: session_stats(con, day, symbol),
                days=[day],
                threads=self.threads,
            )
        return [row for row in rows if self.symbol is None or row["symbol"] == self.symbol]


@dataclass(frozen=True)
class CandlesDay(DayWork):
    """OHLCV candles with the active buy / sell / neutral split, or index candles."""

    label: ClassVar[str] = "candles"

    interval: str = "1m"
    symbol: str | None = None
    index: bool = False
    threads: int = DUCKDB_THREADS

    def run(self) -> Rows:
        from vnrec.analytics.connection import read_views
        from vnrec.analytics.reports import candles, index_candles
        from vnrec.storage.layout import Layout

        Layout(self.root).recorded_state(self.day)
        ask = index_candles if self.index else candles
        day, interval, symbol = self.day, self.interval, self.symbol
        return read_views(
            self.root, lambda con: ask(con, day, interval, symbol), days=[day], threads=self.threads
        )


@dataclass(frozen=True)
class AlertsDay(DayWork):
    """The day's alerts: the stored ones of a compacted day, else a replay's."""

    label: ClassVar[str] = "alerts"

    kind: str | None = None
    symbol: str | None = None

    def run(self) -> Rows:
        from vnrec.storage.alerts_cache import fresh_alerts
        from vnrec.storage.layout import Layout

        layout = Layout(self.root)
        layout.recorded_state(self.day)
        stored = fresh_alerts(layout, self.day)
        if stored is not None:
            import pyarrow.parquet as pq

            rows: Rows = pq.read_table(stored).to_pylist()
        else:
            from vnrec.replay.engine import replay

            rows = replay(self.day, data=self.root).alerts
        return [
            row
            for row in rows
            if (self.kind is None or row["kind"] == self.kind)
            and (self.symbol is None or row["symbol"] == self.symbol)
        ]
