"""The built-in trackers of SPEC.md section 4 as batch operators over normalized tables.

`ColumnarDay.feed(window)` takes every table's rows for one range of seqs (all rows with a
seq above the previous window's and up to some horizon: a replay's Parquet batches, or a
recorder's committed micro-batch) and updates the day's state with a few array operations
per window instead of a Python call per event. What one window hands the next is small and
per symbol: the largest counted `TotalVol`, the best bid/ask, the latest VN30 value, the
foreign baselines. Per-window partial results (session totals, repeats, basis, latest
foreign and index rows) are combined once, when results are asked for.

How each per-event rule (vnrec.trackers, the reference these operators are tested against)
becomes a column operation:

- counting: `max_tv` before a trade is the running maximum of `TotalVol` over the symbol's
  earlier *eligible* trade messages (priced, and a snapshot or `LastVol > 0`), since a
  repeat never raises it: a cumulative max per symbol, shifted by one row, floored by the
  value carried in;
- classification: the book before a trade is the symbol's latest quote with a smaller seq
  (an as-of join by symbol on seq, exact matches excluded: an `X`'s own book part comes
  after its trade part);
- session stats: a group-by of the reported trades; values are exact integers of 1e-4 price
  units (Int128), divided once at the end in Python so that each float is the one nearest
  the exact sum, as in the per-event trackers;
- basis: an as-of join of the reported futures trades to the VN30 values on seq;
- foreign and index: the latest row per symbol / index before the report window's end;
  a foreign re-baseline is a figure below the last known value of that figure.

Symbols are small integer ids (text is read from Parquet as dictionaries, and each distinct
symbol is looked up once per batch), so grouping and joining never compare strings; a
missing symbol has an id of its own, as `None` is a key of its own in the per-event
trackers. polars orders NaN above every number, while Python's comparisons with NaN are
false: every comparison that may meet a NaN excludes it explicitly.

The intraday foreign flow and index series (`--out`) come from the per-event trackers,
fed the foreign and index rows only when `keep_series` asks for them.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt
import polars as pl
import pyarrow as pa
import pyarrow.compute as pc

from vnrec.calendar import DEFAULT_CALENDAR, TradingCalendar, front_contract, parse_futures_symbol
from vnrec.errors import VnrecError
from vnrec.events import ForeignEvent, IndexEvent
from vnrec.replay.convert import to_events
from vnrec.trackers.basis import VN30
from vnrec.trackers.foreign import ForeignTracker
from vnrec.trackers.index import IndexTracker
from vnrec.trackers.trades import VALUE_SCALE
from vnrec.trackers.window import WHOLE_DAY, ReportWindow

Ids = npt.NDArray[np.int32]
SNAPSHOT = "X"
SESSION_CODES = {"ATO": 1, "ATC": 2}  # every other session (or none) is continuous: 0
PHASES = ("continuous", "ato", "atc")
SIDES = ("neutral", "buy", "sell")
# Per-trade values above this many units lose exactness in an Int64 -> float64 division.
EXACT_FLOAT_UNITS = 2**53

TRADE_COLUMNS = (
    "seq",
    "event_ts",
    "data_type",
    "symbol",
    "last_price",
    "last_vol",
    "total_vol",
    "trading_session",
    "side",
)
QUOTE_COLUMNS = ("seq", "symbol", "bid_price1", "ask_price1")
FOREIGN_FIGURES = ("buy_vol", "sell_vol", "buy_val", "sell_val")
FOREIGN_COLUMNS = (
    "seq",
    "recv_ns",
    "event_ts",
    "symbol",
    *FOREIGN_FIGURES,
    "total_room",
    "current_room",
)
INDEX_FIELDS = (
    "index_value",
    "prior_index_value",
    "change",
    "ratio_change",
    "advances",
    "declines",
    "no_changes",
    "total_qtty",
    "total_value",
)
INDEX_COLUMNS = ("seq", "recv_ns", "event_ts", "index_id", *INDEX_FIELDS, "trading_session")
# What the columnar trackers read of each table; the other tables only count as messages.
ENGINE_COLUMNS: dict[str, tuple[str, ...]] = {
    "trades": TRADE_COLUMNS,
    "quotes": QUOTE_COLUMNS,
    "foreign": FOREIGN_COLUMNS,
    "index": INDEX_COLUMNS,
    "bars": ("seq",),
    "status": ("seq",),
    "oddlot": ("seq",),
    "raw": ("seq", "data_type"),
}
# The counted trades as `--out` writes them (vnrec.replay.outputs.TRADES_SCHEMA).
COUNTED_COLUMNS = (
    "seq",
    "event_ts",
    "symbol",
    "price",
    "volume",
    "value",
    "side",
    "phase",
    "bid1",
    "ask1",
    "wire_side",
)
BASIS_COLUMNS = ("seq", "event_ts", "symbol", "price", "index_value", "basis")
_VOLUME_SUMS = ("volume", "buy_volume", "sell_volume", "neutral_volume")
_PHASE_SUMS = ("continuous_volume", "ato_volume", "atc_volume")
_VALUE_SUMS = ("value", "buy_value", "sell_value", "neutral_value")

TradesSink = Callable[[pa.Table], None]


class WindowOrderError(VnrecError):
    """A window holds a seq not above every seq of the windows fed before it."""


def _positive(column: str) -> pl.Expr:
    """`column > 0` as Python compares: false for NaN (polars orders NaN above numbers)."""
    return pl.col(column).is_not_nan() & (pl.col(column) > 0)


def _window_expr(window: ReportWindow, column: str = "event_ts") -> pl.Expr:
    if not window.bounded:
        return pl.lit(True)
    expr = pl.col(column).is_not_null()
    if window.start_ts is not None:
        expr &= pl.col(column) >= window.start_ts
    if window.end_ts is not None:
        expr &= pl.col(column) < window.end_ts
    return expr.fill_null(False)


def _before_end_expr(window: ReportWindow, column: str = "event_ts") -> pl.Expr:
    if not window.bounded:
        return pl.lit(True)
    if window.end_ts is None:
        return pl.col(column).is_not_null()
    return (pl.col(column) < window.end_ts).fill_null(False)


def _mapped(column: pa.ChunkedArray, lookup: Callable[[list[Any]], np.ndarray]) -> np.ndarray:
    """`lookup` applied to each distinct value of a text column, spread to every row.

    `lookup(values)` returns one entry per value plus one for null. Dictionary columns (as
    read from Parquet) are mapped through their dictionaries; plain text is encoded first."""
    parts = []
    for chunk in column.chunks:
        encoded = chunk if pa.types.is_dictionary(chunk.type) else pc.dictionary_encode(chunk)
        table = lookup(encoded.dictionary.to_pylist())
        indices = encoded.indices
        if indices.null_count:
            indices = pc.fill_null(indices, len(table) - 1)
        parts.append(table[indices.to_numpy(zero_copy_only=False)])
    if not parts:
        return lookup([])[:0]
    return parts[0] if len(parts) == 1 else np.concatenate(parts)


def _numbers(column: pa.ChunkedArray, fill: float | int, dtype: Any) -> np.ndarray:
    if column.null_count:
        column = pc.fill_null(column, fill)
    return np.asarray(column.to_numpy(), dtype=dtype)


def _times(table: pa.Table) -> pl.Series:
    """`event_ts` as integer UTC microseconds, null where missing."""
    column = table.column("event_ts")
    if pa.types.is_timestamp(column.type):
        column = column.cast(pa.timestamp("us", tz="UTC")).cast(pa.int64())
    series = pl.from_arrow(column)
    assert isinstance(series, pl.Series)
    return series.alias("event_ts")


def _missing_column(table: pa.Table, name: str, arrow_type: pa.DataType) -> pa.ChunkedArray:
    if name in table.schema.names:
        return table.column(name)
    return pa.chunked_array([pa.nulls(table.num_rows, arrow_type)])


def _present(table: pa.Table, columns: Sequence[str]) -> list[str]:
    names = set(table.schema.names)
    return [c for c in columns if c in names]


class ColumnarDay:
    """One trading day's built-in trackers, fed windows of normalized tables in seq order.

    `window` selects what is reported while every row updates the state (SPEC.md 7.2);
    `trade_sinks` receive each window's reported counted trades as an Arrow table with the
    columns of `COUNTED_COLUMNS`; `keep_series` keeps the basis, foreign flow and index
    series for `series()`."""

    def __init__(
        self,
        day: dt.date,
        *,
        calendar: TradingCalendar = DEFAULT_CALENDAR,
        window: ReportWindow = WHOLE_DAY,
        keep_series: bool = True,
        trade_sinks: Sequence[TradesSink] = (),
    ) -> None:
        self.day = day
        self.window = window
        self._calendar = calendar
        self._keep_series = keep_series
        self._trade_sinks = tuple(trade_sinks)
        self._in_window = _window_expr(window)
        self._before_end = _before_end_expr(window)
        # Symbol ids: index into `_names`; per-id state in arrays that grow with the ids.
        self._ids: dict[str | None, int] = {}
        self._names: list[str | None] = []
        self._vn30_future: list[bool] = []
        self._max_tv = np.zeros(0, np.int64)
        self._quoted = np.zeros(0, np.bool_)
        self._bid1 = np.zeros(0, np.float64)
        self._ask1 = np.zeros(0, np.float64)
        self._vn30: float | None = None
        self._foreign_baseline: pl.DataFrame | None = None
        # Per-window partial results, combined when results are asked for.
        self._totals: list[pl.DataFrame] = []
        self._repeats: list[pl.DataFrame] = []
        self._basis: list[pl.DataFrame] = []
        self._contracts: set[int] = set()
        self._foreign_latest: list[pl.DataFrame] = []
        self._rebaselines: list[pl.DataFrame] = []
        self._index_latest: list[pl.DataFrame] = []
        self._foreign_series = ForeignTracker(keep_series=True) if keep_series else None
        self._index_series = IndexTracker(keep_series=True) if keep_series else None
        self.events = 0
        self.last_seq = 0

    # -- symbols ----------------------------------------------------------------------

    def _id(self, symbol: str | None) -> int:
        known = self._ids.get(symbol)
        if known is not None:
            return known
        new = self._ids[symbol] = len(self._names)
        self._names.append(symbol)
        contract = None if symbol is None else parse_futures_symbol(symbol)
        self._vn30_future.append(contract is not None and contract.underlying == VN30)
        if new >= len(self._max_tv):
            size = max(64, 2 * new)
            self._max_tv = np.resize(self._max_tv, size)
            self._max_tv[new:] = 0
            self._quoted = np.resize(self._quoted, size)
            self._quoted[new:] = False
            self._bid1 = np.resize(self._bid1, size)
            self._ask1 = np.resize(self._ask1, size)
        return new

    def _symbol_ids(self, table: pa.Table) -> Ids:
        column = _missing_column(table, "symbol", pa.string())
        ids = _mapped(
            column, lambda values: np.array([*map(self._id, values), self._id(None)], np.int32)
        )
        return np.asarray(ids, np.int32)

    def _names_of(self, ids: pl.Series) -> pa.Array:
        names = np.array(self._names, dtype=object)
        return pa.array(names[ids.to_numpy()], pa.string())

    # -- feeding ----------------------------------------------------------------------

    def feed(self, window: Mapping[str, pa.Table]) -> None:
        """Process one window: per table (normalized tables, and `raw` rows of DataTypes
        vnrec does not model), the rows of one seq range, each table in seq order."""
        self._count_messages(window)
        index = window.get("index")
        vn30 = self._vn30_rows(index) if index is not None and index.num_rows else None
        trades = window.get("trades")
        quotes = window.get("quotes")
        quote_frame = self._quote_frame(quotes) if quotes is not None and quotes.num_rows else None
        if trades is not None and trades.num_rows:
            self._on_trades(trades, quote_frame, vn30)
        if quote_frame is not None:
            self._remember_book(quote_frame)
        if vn30 is not None and vn30.height:
            self._vn30 = float(vn30.get_column("index_value")[-1])
        if index is not None and index.num_rows:
            self._on_index(index)
        foreign = window.get("foreign")
        if foreign is not None and foreign.num_rows:
            self._on_foreign(foreign)

    def _count_messages(self, window: Mapping[str, pa.Table]) -> None:
        """Distinct seqs (an `X` is one message in two tables), and the order check."""
        arrays = [
            np.asarray(t.column("seq").to_numpy(), np.int64) for t in window.values() if t.num_rows
        ]
        if not arrays:
            return
        low = min(int(a[0]) for a in arrays)
        high = max(int(a[-1]) for a in arrays)
        if low <= self.last_seq:
            raise WindowOrderError(f"seq {low} fed after seq {self.last_seq}")
        if len(arrays) == 1:
            self.events += len(arrays[0])
        else:
            seen = np.zeros(high - low + 1, dtype=np.bool_)
            for seqs in arrays:
                seen[seqs - low] = True
            self.events += int(np.count_nonzero(seen))
        self.last_seq = high

    def _trade_frame(self, trades: pa.Table) -> pl.DataFrame:
        ids = self._symbol_ids(trades)
        data_type = _missing_column(trades, "data_type", pa.string())
        session = _missing_column(trades, "trading_session", pa.string())
        return pl.DataFrame(
            {
                "seq": np.asarray(trades.column("seq").to_numpy(), np.int64),
                "sym": ids,
                "price": _numbers(
                    _missing_column(trades, "last_price", pa.float64()), np.nan, np.float64
                ),
                "last_vol": _numbers(_missing_column(trades, "last_vol", pa.int64()), 0, np.int64),
                "tv": _numbers(_missing_column(trades, "total_vol", pa.int64()), 0, np.int64),
                "snapshot": _mapped(
                    data_type, lambda values: np.array([*(v == SNAPSHOT for v in values), False])
                ),
                "session": _mapped(
                    session,
                    lambda values: np.array(
                        [*(SESSION_CODES.get(v, 0) for v in values), 0], np.int8
                    ),
                ),
                "state_max": self._max_tv[ids],
            }
        ).with_columns(_times(trades))

    def _on_trades(
        self, trades: pa.Table, quotes: pl.DataFrame | None, vn30: pl.DataFrame | None
    ) -> None:
        priced = _positive("price")
        snapshot = pl.col("snapshot")
        tv, prev, last_vol = pl.col("tv"), pl.col("prev_max"), pl.col("last_vol")
        repeat = priced & ~snapshot & (last_vol > 0) & (tv > 0) & (tv <= prev)
        frame = (
            self._trade_frame(trades)
            .lazy()
            .with_columns(
                eligible_tv=pl.when(priced & (snapshot | (last_vol > 0)))
                .then(tv.clip(0))
                .otherwise(0)
            )
            .with_columns(
                prev_max=pl.max_horizontal(
                    "state_max",
                    pl.col("eligible_tv").cum_max().shift(1, fill_value=0).over("sym"),
                )
            )
            .with_columns(
                volume=pl.when(~priced)
                .then(0)
                .when(snapshot)
                .then(pl.when(tv > prev).then(tv - prev).otherwise(0))
                .when((last_vol <= 0) | repeat)
                .then(0)
                .otherwise(last_vol),
                repeat=repeat,
                unpriced=~priced & ~snapshot & (last_vol > 0),
                reported=self._in_window,
            )
            .collect()
        )
        maxima = frame.group_by("sym").agg(pl.col("eligible_tv").max())
        ids = maxima.get_column("sym").to_numpy()
        self._max_tv[ids] = np.maximum(
            self._max_tv[ids], maxima.get_column("eligible_tv").to_numpy()
        )
        flagged = frame.filter((pl.col("repeat") | pl.col("unpriced")) & pl.col("reported"))
        if flagged.height:
            self._repeats.append(
                flagged.group_by("sym").agg(
                    duplicates=pl.col("repeat").sum().cast(pl.Int64),
                    unpriced=pl.col("unpriced").sum().cast(pl.Int64),
                )
            )
        counted = frame.filter((pl.col("volume") > 0) & pl.col("reported"))
        if counted.height == 0:
            return
        classified = self._classify(counted, quotes)
        self._add_totals(classified)
        self._on_futures(classified, vn30)
        if self._trade_sinks:
            table = self._counted_table(classified, trades)
            for sink in self._trade_sinks:
                sink(table)

    def _quote_frame(self, quotes: pa.Table) -> pl.DataFrame:
        # A missing price is NaN, as in the per-event book: after the as-of join a null
        # then means "no quote yet", and only that becomes 0.0.
        return pl.DataFrame(
            {
                "seq": np.asarray(quotes.column("seq").to_numpy(), np.int64),
                "sym": self._symbol_ids(quotes),
                "bid1": _numbers(
                    _missing_column(quotes, "bid_price1", pa.float64()), np.nan, np.float64
                ),
                "ask1": _numbers(
                    _missing_column(quotes, "ask_price1", pa.float64()), np.nan, np.float64
                ),
            }
        )

    def _carried_book(self) -> pl.DataFrame:
        """The book before this window, as rows at seq 0 (before any row of it)."""
        ids = np.flatnonzero(self._quoted[: len(self._names)]).astype(np.int32)
        return pl.DataFrame(
            {
                "seq": np.zeros(len(ids), np.int64),
                "sym": ids,
                "bid1": self._bid1[ids],
                "ask1": self._ask1[ids],
            }
        )

    def _classify(self, counted: pl.DataFrame, quotes: pl.DataFrame | None) -> pl.DataFrame:
        """Each counted trade with the book before it (bid1/ask1 0.0 before any quote),
        its classification and phase (as codes into SIDES / PHASES) and exact value units."""
        book = self._carried_book()
        if quotes is not None:
            book = pl.concat([book, quotes])
        price, session = pl.col("price"), pl.col("session")
        side = (
            pl.when(session != 0)
            .then(0)
            .when(_positive("ask1") & (price >= pl.col("ask1")))
            .then(1)
            .when(_positive("bid1") & (price <= pl.col("bid1")))
            .then(2)
            .otherwise(0)
            .cast(pl.Int8)
        )
        # int(price * 10000 + 0.5) of the per-event trackers: the price rounded half up.
        units = ((price * VALUE_SCALE) + 0.5).floor().cast(pl.Int64).cast(pl.Int128) * pl.col(
            "volume"
        ).cast(pl.Int128)
        return (
            counted.lazy()
            .join_asof(
                book.lazy(),
                on="seq",
                by="sym",
                strategy="backward",
                allow_exact_matches=False,
                check_sortedness=False,
            )
            .with_columns(pl.col("bid1").fill_null(0.0), pl.col("ask1").fill_null(0.0))
            .with_columns(side=side, units=units)
            .collect()
        )

    def _remember_book(self, quotes: pl.DataFrame) -> None:
        latest = quotes.group_by("sym").agg(pl.col("bid1").last(), pl.col("ask1").last())
        ids = latest.get_column("sym").to_numpy()
        self._quoted[ids] = True
        self._bid1[ids] = latest.get_column("bid1").to_numpy()
        self._ask1[ids] = latest.get_column("ask1").to_numpy()

    def _add_totals(self, classified: pl.DataFrame) -> None:
        volume, units = pl.col("volume"), pl.col("units")
        side, session = pl.col("side"), pl.col("session")

        def part(expr: pl.Expr, mask: pl.Expr, zero: Any = 0) -> pl.Expr:
            return pl.when(mask).then(expr).otherwise(zero).sum()

        zero_units = pl.lit(0, pl.Int128)
        self._totals.append(
            classified.group_by("sym", maintain_order=True).agg(
                trades=pl.len().cast(pl.Int64),
                volume=volume.sum(),
                buy_volume=part(volume, side == 1),
                sell_volume=part(volume, side == 2),
                neutral_volume=part(volume, side == 0),
                continuous_volume=part(volume, session == 0),
                ato_volume=part(volume, session == 1),
                atc_volume=part(volume, session == 2),
                value=units.sum(),
                buy_value=part(units, side == 1, zero_units),
                sell_value=part(units, side == 2, zero_units),
                neutral_value=part(units, side == 0, zero_units),
                open=pl.col("price").first(),
                high=pl.col("price").max(),
                low=pl.col("price").min(),
                close=pl.col("price").last(),
            )
        )

    def _vn30_rows(self, index: pa.Table) -> pl.DataFrame:
        """(seq, index_value) of the window's VN30 values > 0."""
        frame = pl.DataFrame(
            {
                "seq": np.asarray(index.column("seq").to_numpy(), np.int64),
                "vn30": _mapped(
                    _missing_column(index, "index_id", pa.string()),
                    lambda values: np.array([*(v == VN30 for v in values), False]),
                ),
                "index_value": _numbers(
                    _missing_column(index, "index_value", pa.float64()), np.nan, np.float64
                ),
            }
        )
        return frame.filter(pl.col("vn30") & _positive("index_value")).drop("vn30")

    def _on_futures(self, classified: pl.DataFrame, vn30: pl.DataFrame | None) -> None:
        futures = [
            i for i in classified.get_column("sym").unique().to_list() if self._vn30_future[i]
        ]
        if not futures:
            return
        self._contracts.update(futures)
        trades = classified.filter(pl.col("sym").is_in(futures)).select(
            "seq", "event_ts", "sym", "price"
        )
        values = []
        if self._vn30 is not None:
            values.append(pl.DataFrame({"seq": [0], "index_value": [self._vn30]}))
        if vn30 is not None:
            values.append(vn30)
        if not values:
            return
        points = (
            trades.join_asof(
                pl.concat(values), on="seq", strategy="backward", check_sortedness=False
            )
            .filter(pl.col("index_value").is_not_null())
            .with_columns(basis=pl.col("price") - pl.col("index_value"))
        )
        if points.height:
            self._basis.append(points)

    def _on_index(self, index: pa.Table) -> None:
        frame = pl.from_arrow(index.select(_present(index, INDEX_COLUMNS)))
        assert isinstance(frame, pl.DataFrame)
        frame = frame.with_columns(_times(index))
        if "index_id" in frame.columns and "index_value" in frame.columns:
            usable = frame.filter(
                pl.col("index_id").is_not_null()
                & _positive("index_value").fill_null(False)
                & self._before_end
            )
            if usable.height:
                self._index_latest.append(
                    usable.with_columns(pl.col("index_id").cast(pl.String)).unique(
                        "index_id", keep="last", maintain_order=True
                    )
                )
        if self._index_series is not None:
            self._feed_per_event(index, "index", INDEX_COLUMNS, self._index_series.on_index)

    def _on_foreign(self, foreign: pa.Table) -> None:
        frame = pl.DataFrame(
            {"seq": foreign.column("seq").to_numpy(), "sym": self._symbol_ids(foreign)}
        )
        columns = {}
        for name in (*FOREIGN_FIGURES, "total_room", "current_room"):
            arrow_type = pa.int64() if name.endswith(("vol", "room")) else pa.float64()
            series = pl.from_arrow(_missing_column(foreign, name, arrow_type))
            assert isinstance(series, pl.Series)
            columns[name] = series.alias(name)
        frame = frame.with_columns(_times(foreign), *columns.values())
        before_end = frame.filter(self._before_end)
        if before_end.height:
            self._foreign_latest.append(before_end.unique("sym", keep="last", maintain_order=True))
            self._count_rebaselines(before_end)
        if self._foreign_series is not None:
            self._feed_per_event(
                foreign, "foreign", FOREIGN_COLUMNS, self._foreign_series.on_foreign
            )

    def _count_rebaselines(self, frame: pl.DataFrame) -> None:
        """A message re-baselines when a figure is below the symbol's last known value of
        it (0 before any): vnrec.trackers.foreign."""
        known = {
            name: pl.when(pl.col(name).is_not_null() & pl.col(name).cast(pl.Float64).is_not_nan())
            .then(pl.col(name).cast(pl.Float64))
            .otherwise(None)
            for name in FOREIGN_FIGURES
        }
        figures = frame.select("sym", **known)
        if self._foreign_baseline is not None:
            figures = pl.concat(
                [
                    self._foreign_baseline.with_columns(carried=True),
                    figures.with_columns(carried=False),
                ]
            )
        else:
            figures = figures.with_columns(carried=False)
        before = {
            f"{name}_before": pl.col(name).forward_fill().shift(1).over("sym").fill_null(0.0)
            for name in FOREIGN_FIGURES
        }
        checked = figures.with_columns(**before)
        down = pl.any_horizontal(
            *((pl.col(n) < pl.col(f"{n}_before")).fill_null(False) for n in FOREIGN_FIGURES)
        )
        counts = checked.filter(~pl.col("carried") & down).group_by("sym").agg(rebaselines=pl.len())
        if counts.height:
            self._rebaselines.append(counts)
        self._foreign_baseline = (
            figures.group_by("sym", maintain_order=True)
            .agg(*(pl.col(n).drop_nulls().last() for n in FOREIGN_FIGURES))
            .select("sym", *FOREIGN_FIGURES)
        )

    def _feed_per_event(
        self, table: pa.Table, name: str, columns: Sequence[str], handler: Callable[[Any], Any]
    ) -> None:
        before_end = self.window.before_end
        for batch in table.select(_present(table, columns)).to_batches():
            for event in to_events(name, batch).events:
                assert isinstance(event, ForeignEvent | IndexEvent)
                if before_end(event.event_ts):
                    handler(event)

    def _counted_table(self, classified: pl.DataFrame, trades: pa.Table) -> pa.Table:
        units = classified.get_column("units")
        if units.max() >= EXACT_FLOAT_UNITS:  # type: ignore[operator]
            value = np.array([u / VALUE_SCALE for u in units.to_list()], np.float64)
        else:
            # numpy divides exactly rounded; polars may multiply by the reciprocal instead.
            value = units.cast(pl.Int64).to_numpy().astype(np.float64) / VALUE_SCALE
        seqs = classified.get_column("seq").to_numpy()
        rows = np.searchsorted(np.asarray(trades.column("seq").to_numpy(), np.int64), seqs)
        wire_side = _missing_column(trades, "side", pa.string()).take(pa.array(rows))
        if pa.types.is_dictionary(wire_side.type):
            wire_side = wire_side.cast(pa.string())
        sides = np.array(SIDES, dtype=object)[classified.get_column("side").to_numpy()]
        phases = np.array(PHASES, dtype=object)[classified.get_column("session").to_numpy()]
        return pa.table(
            {
                "seq": pa.array(seqs, pa.int64()),
                "event_ts": classified.get_column("event_ts")
                .to_arrow()
                .cast(pa.int64())
                .cast(pa.timestamp("us", tz="UTC")),
                "symbol": self._names_of(classified.get_column("sym")),
                "price": classified.get_column("price").to_arrow(),
                "volume": classified.get_column("volume").to_arrow(),
                "value": pa.array(value, pa.float64()),
                "side": pa.array(sides, pa.string()),
                "phase": pa.array(phases, pa.string()),
                "bid1": classified.get_column("bid1").to_arrow(),
                "ask1": classified.get_column("ask1").to_arrow(),
                "wire_side": wire_side,
            }
        )

    # -- results ----------------------------------------------------------------------

    def _combined_totals(self) -> pl.DataFrame | None:
        if not self._totals:
            return None
        return (
            pl.concat(self._totals)
            .group_by("sym", maintain_order=True)
            .agg(
                pl.col("trades", *_VOLUME_SUMS, *_PHASE_SUMS, *_VALUE_SUMS).sum(),
                pl.col("open").first(),
                pl.col("high").max(),
                pl.col("low").min(),
                pl.col("close").last(),
            )
        )

    def stats_rows(self) -> list[dict[str, Any]]:
        """The session stats of SPEC.md section 4, one object per symbol, sorted by symbol."""
        totals = self._combined_totals()
        if totals is None:
            return []
        repeats: dict[int, tuple[int, int]] = {}
        if self._repeats:
            merged = pl.concat(self._repeats).group_by("sym").agg(pl.all().sum())
            for sym, duplicates, unpriced in merged.iter_rows():
                repeats[sym] = (duplicates, unpriced)
        by_symbol = {self._names[row["sym"]]: row for row in totals.iter_rows(named=True)}
        rows = []
        for symbol in sorted(s for s in by_symbol if s is not None):
            t = by_symbol[symbol]
            value = t["value"] / VALUE_SCALE  # int / int: the float nearest the exact sum
            duplicates, unpriced = repeats.get(t["sym"], (0, 0))
            rows.append(
                {
                    "symbol": symbol,
                    "trades": t["trades"],
                    "volume": t["volume"],
                    "value": value,
                    "buy_volume": t["buy_volume"],
                    "buy_value": t["buy_value"] / VALUE_SCALE,
                    "sell_volume": t["sell_volume"],
                    "sell_value": t["sell_value"] / VALUE_SCALE,
                    "neutral_volume": t["neutral_volume"],
                    "neutral_value": t["neutral_value"] / VALUE_SCALE,
                    "ato_volume": t["ato_volume"],
                    "continuous_volume": t["continuous_volume"],
                    "atc_volume": t["atc_volume"],
                    "open": t["open"],
                    "high": t["high"],
                    "low": t["low"],
                    "close": t["close"],
                    "vwap": value / t["volume"],
                    "duplicates": duplicates,
                    "unpriced": unpriced,
                }
            )
        return rows

    def basis_rows(self) -> list[dict[str, Any]]:
        """One object per VN30 futures contract with a reported counted trade (sorted)."""
        points: dict[int, dict[str, Any]] = {}
        if self._basis:
            summary = (
                pl.concat(self._basis)
                .group_by("sym", maintain_order=True)
                .agg(
                    points=pl.len(),
                    min_basis=pl.col("basis").min(),
                    max_basis=pl.col("basis").max(),
                    last_price=pl.col("price").last(),
                    last_index=pl.col("index_value").last(),
                    last_basis=pl.col("basis").last(),
                )
            )
            points = {row["sym"]: row for row in summary.iter_rows(named=True)}
        names = {self._names[i]: i for i in self._contracts}
        symbols = sorted(s for s in names if s is not None)
        front = front_contract(symbols, self.day, self._calendar)
        rows = []
        for symbol in symbols:
            found = points.get(names[symbol])
            rows.append(
                {
                    "symbol": symbol,
                    "points": 0 if found is None else found["points"],
                    "last_price": None if found is None else found["last_price"],
                    "last_index": None if found is None else found["last_index"],
                    "last_basis": None if found is None else found["last_basis"],
                    "min_basis": None if found is None else found["min_basis"],
                    "max_basis": None if found is None else found["max_basis"],
                    "front": symbol == front,
                }
            )
        return rows

    def foreign_rows(self) -> list[dict[str, Any]]:
        """One object per symbol (sorted) from its latest `R` message, keys as FOREIGN_KEYS."""
        if not self._foreign_latest:
            return []
        latest = pl.concat(self._foreign_latest).unique("sym", keep="last", maintain_order=True)
        by_symbol = {self._names[row["sym"]]: row for row in latest.iter_rows(named=True)}
        rows = []
        for symbol in sorted(s for s in by_symbol if s is not None):
            e = by_symbol[symbol]
            rows.append(
                {
                    "symbol": symbol,
                    "buy_volume": e["buy_vol"],
                    "sell_volume": e["sell_vol"],
                    "buy_value": e["buy_val"],
                    "sell_value": e["sell_val"],
                    "net_volume": _net(e["buy_vol"], e["sell_vol"]),
                    "net_value": _net(e["buy_val"], e["sell_val"]),
                    "total_room": e["total_room"],
                    "current_room": e["current_room"],
                }
            )
        return rows

    def rebaselined(self) -> dict[str, int]:
        """Symbols (sorted) with at least one re-baselined foreign message, and how many."""
        if not self._rebaselines:
            return {}
        merged = pl.concat(self._rebaselines).group_by("sym").agg(pl.col("rebaselines").sum())
        counts = {self._names[sym]: int(n) for sym, n in merged.iter_rows()}
        return {s: counts[s] for s in sorted(c for c in counts if c is not None)}

    def index_rows(self) -> list[dict[str, Any]]:
        """One object per index id (sorted) from its latest `MI` with a value > 0."""
        if not self._index_latest:
            return []
        latest = pl.concat(self._index_latest, how="diagonal_relaxed").unique(
            "index_id", keep="last", maintain_order=True
        )
        by_id = {row["index_id"]: row for row in latest.iter_rows(named=True)}
        rows = []
        for index_id in sorted(by_id):
            e = by_id[index_id]
            rows.append(
                {
                    "index_id": index_id,
                    "value": e["index_value"],
                    "prior_value": e.get("prior_index_value"),
                    "change": e.get("change"),
                    "ratio_change": e.get("ratio_change"),
                    "advances": e.get("advances"),
                    "declines": e.get("declines"),
                    "no_changes": e.get("no_changes"),
                    "total_qtty": e.get("total_qtty"),
                    "total_value": e.get("total_value"),
                }
            )
        return rows

    def summary(self) -> dict[str, list[dict[str, Any]]]:
        """The `stats`, `foreign`, `index` and `basis` lists of the replay result."""
        return {
            "stats": self.stats_rows(),
            "foreign": self.foreign_rows(),
            "index": self.index_rows(),
            "basis": self.basis_rows(),
        }

    def basis_series(self) -> pa.Table:
        """Every basis point of the reported trades, in seq order."""
        if not self._basis:
            return pa.table(
                {
                    "seq": pa.array([], pa.int64()),
                    "event_ts": pa.array([], pa.timestamp("us", tz="UTC")),
                    "symbol": pa.array([], pa.string()),
                    "price": pa.array([], pa.float64()),
                    "index_value": pa.array([], pa.float64()),
                    "basis": pa.array([], pa.float64()),
                }
            )
        points = pl.concat(self._basis)
        return pa.table(
            {
                "seq": points.get_column("seq").to_arrow(),
                "event_ts": points.get_column("event_ts")
                .to_arrow()
                .cast(pa.int64())
                .cast(pa.timestamp("us", tz="UTC")),
                "symbol": self._names_of(points.get_column("sym")),
                "price": points.get_column("price").to_arrow(),
                "index_value": points.get_column("index_value").to_arrow(),
                "basis": points.get_column("basis").to_arrow(),
            }
        )

    def series(self) -> dict[str, Any]:
        """The intraday series of the report window (with `keep_series`): basis points of
        the reported trades (an Arrow table), and the foreign flow and index points."""
        if self._foreign_series is None or self._index_series is None:
            raise VnrecError("the series were not kept (keep_series=False)")
        contains = self.window.contains
        return {
            "basis": self.basis_series(),
            "foreign": [p for p in self._foreign_series.series if contains(p.event_ts)],
            "index": [p for p in self._index_series.series if contains(p.event_ts)],
        }


def _net(buy: Any, sell: Any) -> Any:
    return None if buy is None or sell is None else buy - sell
