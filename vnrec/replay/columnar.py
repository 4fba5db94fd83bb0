"""The built-in trackers of SPEC.md section 4 as batch operators over normalized tables.

`ColumnarDay.feed(window)` takes every table's rows for one range of seqs (all rows with a
seq above the previous window's and up to some horizon: a replay's Parquet batches, or a
recorder's committed micro-batch) and updates the day's state with a few array operations
per window instead of a Python call per event. What one window hands the next is small and
per symbol: the largest counted `TotalVol` and the best bid/ask. Per-window partial results
(session totals, repeats, counted futures trades) and the day's foreign and index rows (a
few percent of its messages) are combined once, when results are asked for.

How each per-event rule (vnrec.trackers, the reference these operators are tested against)
becomes a column operation:

- counting: `max_tv` before a trade is the running maximum of `TotalVol` over the symbol's
  earlier *eligible* trade messages (priced, and a snapshot or `LastVol > 0`), since a
  repeat never raises it: a cumulative max per symbol, shifted by one row, from the value
  carried in;
- classification: the book before a trade is the symbol's latest quote with a smaller seq
  (an as-of join by symbol on seq, exact matches excluded: an `X`'s own book part comes
  after its trade part), else the one carried in;

  both are one loop over the rows in seq order (vnrec.replay._ordered), which as column
  operations meant a sort and a search per window;
- session stats: sums per symbol of the reported trades, in the same kind of loop; values
  are exact 128-bit integers of 1e-4 price units, divided once at the end in Python so that
  each float is the one nearest the exact sum, as in the per-event trackers;
- basis: an as-of search of the reported futures trades in the VN30 values on seq;
- foreign and index: the latest row per symbol / index before the report window's end;
  a foreign re-baseline is a figure below the last known value of that figure (numpy over
  the day's rows, once).

Symbols are small integer ids (text is read from Parquet as dictionaries, and each distinct
symbol is looked up once per batch), so grouping and joining never compare strings; a
missing symbol has an id of its own, as `None` is a key of its own in the per-event
trackers.

polars is imported only where a frame of counted trades is built (candles, kept trades,
trade sinks): a replay without them does not load it, and makes no polars call per window
(each is a query of its own, ~0.7 ms). Where polars compares, it orders NaN above every
number, while Python's and numpy's comparisons with NaN are false: a polars comparison
that may meet a NaN excludes it explicitly.

The intraday foreign flow and index series (`--out`) come from the per-event trackers, fed
the day's foreign and index rows when `series()` is asked for.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from vnrec.calendar import DEFAULT_CALENDAR, TradingCalendar, front_contract, parse_futures_symbol
from vnrec.errors import VnrecError
from vnrec.events import ForeignEvent, Gap, IndexEvent
from vnrec.replay._ordered import add_totals, book_before, previous_max
from vnrec.replay.alerts import AlertsBook, ForeignRows, SymbolIds
from vnrec.replay.columns import FOREIGN_COLUMNS, FOREIGN_FIGURES, INDEX_COLUMNS
from vnrec.replay.convert import to_events
from vnrec.results import advance_ratio, with_basis_extras
from vnrec.ssi.channels import SNAPSHOT_DATA_TYPE
from vnrec.trackers.alerts import alert_rows
from vnrec.trackers.basis import VN30
from vnrec.trackers.foreign import ForeignTracker
from vnrec.trackers.index import IndexTracker
from vnrec.trackers.trades import VALUE_SCALE
from vnrec.trackers.window import WHOLE_DAY, ReportWindow

if TYPE_CHECKING:
    import polars as pl

    from vnrec.replay.candles import CandleBook

Ids = npt.NDArray[np.int32]
SESSION_CODES = {"ATO": 1, "ATC": 2}  # every other session (or none) is continuous: 0
PHASES = ("continuous", "ato", "atc")
SIDES = ("neutral", "buy", "sell")
# Per-trade values above this many units lose exactness in an Int64 -> float64 division.
EXACT_FLOAT_UNITS = 2**53

_VOLUME_SUMS = ("volume", "buy_volume", "sell_volume", "neutral_volume")
_PHASE_SUMS = ("continuous_volume", "ato_volume", "atc_volume")
_VALUE_SUMS = ("value", "buy_value", "sell_value", "neutral_value")

TradesSink = Callable[[pa.Table], None]


INT64_MAX = 2**63 - 1
# Below this, a float sum of a window's volumes cannot hide an int64 overflow (its error is
# far under a factor of two); at or above it, the symbol's sum is checked exactly.
_VOLUME_EXACT_FROM = 2.0**62


class VolumeOverflowError(VnrecError):
    """A symbol's counted volume for the day is more than int64 can sum."""


class WindowOrderError(VnrecError):
    """A window holds a seq not above every seq of the windows fed before it."""


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


def _indices(rows: npt.NDArray[np.intp]) -> pa.Array:
    """Row numbers as an Arrow array, for take(). Not pa.array(rows) nor take(rows): given a
    numpy array, pyarrow checks it for a masked one, which imports numpy.ma (~20 ms of the
    command's start)."""
    rows = np.ascontiguousarray(rows, np.int64)
    return pa.Array.from_buffers(pa.int64(), len(rows), [None, pa.py_buffer(rows)])


def _numbers(column: pa.ChunkedArray, fill: float | int, dtype: Any) -> np.ndarray:
    if column.null_count:
        column = pc.fill_null(column, fill)
    return np.asarray(column.to_numpy(), dtype=dtype)


def _micros(table: pa.Table) -> pa.ChunkedArray:
    """`event_ts` as integer UTC microseconds, null where missing."""
    column = table.column("event_ts")
    if pa.types.is_timestamp(column.type):
        column = column.cast(pa.timestamp("us", tz="UTC")).cast(pa.int64())
    return column


class _Stamps(NamedTuple):
    """Event times in UTC microseconds (`value`, 0 where unknown) and which are known.

    Numpy rather than a polars Series: each polars Series operation is a query of its own
    (~0.7 ms), which at a few per window was a fifth of a replay's time."""

    value: npt.NDArray[np.int64]
    known: npt.NDArray[np.bool_]

    @staticmethod
    def of(table: pa.Table) -> _Stamps:
        column = _micros(table)
        if not column.null_count:
            return _Stamps(np.asarray(column.to_numpy(), np.int64), np.ones(len(column), np.bool_))
        known = np.asarray(column.is_valid().to_numpy(), np.bool_)
        return _Stamps(_numbers(column, 0, np.int64), known)

    def take(self, rows: npt.NDArray[np.intp]) -> _Stamps:
        return _Stamps(self.value[rows], self.known[rows])

    def arrow(self) -> pa.Array:
        """As integers, null where unknown."""
        return pa.array(self.value, pa.int64(), mask=~self.known)

    def series(self) -> pl.Series:
        """As a polars Series named `event_ts`, null where unknown."""
        import polars as pl

        return pl.Series("event_ts", self.arrow(), pl.Int64)

    def before_end(self, window: ReportWindow) -> npt.NDArray[np.bool_]:
        """Which rows are part of the state as it stood at the window's end:
        ReportWindow.before_end, row by row."""
        if not window.bounded:
            return np.ones(len(self.value), np.bool_)
        if window.end_ts is None:
            return self.known
        return self.known & (self.value < window.end_ts)

    def within(self, window: ReportWindow) -> npt.NDArray[np.bool_]:
        """Which times are in the report window (an unknown time is in none but the whole
        day's): ReportWindow.contains, row by row."""
        inside = self.before_end(window)
        if window.start_ts is None:
            return inside
        return inside & (self.value >= window.start_ts)


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
    columns of `--out`'s trades file (vnrec.replay.outputs.TRADES_SCHEMA); `keep_series`
    keeps what `series()` needs."""

    def __init__(
        self,
        day: dt.date,
        *,
        calendar: TradingCalendar = DEFAULT_CALENDAR,
        window: ReportWindow = WHOLE_DAY,
        keep_series: bool = True,
        trade_sinks: Sequence[TradesSink] = (),
        gaps: Sequence[Gap] = (),
        keep_trades: bool = False,
        candles: bool = False,
        alerts: bool = True,
        alert_chunk: int = 0,
    ) -> None:
        self.day = day
        self.window = window
        self._calendar = calendar
        self._keep_series = keep_series
        self._trade_sinks = tuple(trade_sinks)
        # Symbol ids: index into `_names`; per-id state in arrays that grow with the ids.
        self._ids: dict[str | None, int] = {}
        self._names: list[str | None] = []
        self._vn30_future = np.zeros(0, np.bool_)  # per id: a VN30 futures contract
        self._max_tv = np.zeros(0, np.int64)
        self._book_seq = np.zeros(0, np.int64)  # seq of the symbol's book; 0: none
        self._bid1 = np.zeros(0, np.float64)
        self._ask1 = np.zeros(0, np.float64)
        self._gap_seqs = np.array(sorted(g.seq for g in gaps), np.int64)
        # The latest VN30 value > 0 fed so far (seq 0: none yet), for the basis of a trade.
        self._vn30_seq = 0
        self._vn30_value = math.nan
        self._keep_trades = keep_trades
        self._window_trades: pl.DataFrame | None = None
        self._candles: CandleBook | None = None
        if candles:
            from vnrec.replay.candles import CandleBook

            self._candles = CandleBook()
        self._alerts = AlertsBook(day, _foreign_rows, calendar, alert_chunk) if alerts else None
        self._alert_trades: dict[str, np.ndarray] | None = None
        # The session totals are sums per symbol id; the foreign and index rows (a few
        # percent of a day) are kept as they are and read once results are asked for.
        self._totals = _SessionTotals()
        self._duplicates = np.zeros(0, np.int64)
        self._unpriced = np.zeros(0, np.int64)
        # Per id, the day's counted volume (exact): int64 sums of it must not wrap.
        self._volume_sums = np.zeros(0, np.int64)
        self._futures: list[_Futures] = []  # reported counted trades of VN30 futures
        self._contracts: set[int] = set()
        self._foreign: list[pa.Table] = []
        self._index: list[pa.Table] = []
        self._finished: _Finished | None = None
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
        if new >= len(self._max_tv):
            size = max(64, 2 * new)
            self._max_tv = np.resize(self._max_tv, size)
            self._max_tv[new:] = 0
            self._book_seq = np.resize(self._book_seq, size)
            self._book_seq[new:] = 0
            self._bid1 = np.resize(self._bid1, size)
            self._ask1 = np.resize(self._ask1, size)
            self._vn30_future = np.resize(self._vn30_future, size)
            self._totals.grow(size)
        self._vn30_future[new] = contract is not None and contract.underlying == VN30
        return new

    def _symbol_ids(self, table: pa.Table) -> Ids:
        column = _missing_column(table, "symbol", pa.string())
        ids = _mapped(
            column, lambda values: np.array([*map(self._id, values), self._id(None)], np.int32)
        )
        return np.asarray(ids, np.int32)

    def _names_of(self, ids: Ids) -> pa.Array:
        names = np.array(self._names, dtype=object)
        return pa.array(names[ids], pa.string())

    # -- feeding ----------------------------------------------------------------------

    def add_gap(self, gap: Gap) -> None:
        """A recording gap found while feeding live: the books before `gap.seq` are stale
        for the trades from it on. It must come before any row of that seq is fed."""
        if gap.seq <= self.last_seq:
            raise WindowOrderError(f"gap at seq {gap.seq} given after seq {self.last_seq}")
        self._gap_seqs = np.append(self._gap_seqs, np.int64(gap.seq))

    def feed(self, window: Mapping[str, pa.Table]) -> None:
        """Process one window: per table (normalized tables, and `raw` rows of DataTypes
        vnrec does not model), the rows of one seq range, each table in seq order."""
        self._count_messages(window)
        self._finished = None
        self._window_trades = None
        self._alert_trades = None
        vn30 = self._vn30_rows(window.get("index"))
        trades = window.get("trades")
        if trades is not None and not trades.num_rows:
            trades = None
        quotes = window.get("quotes")
        if quotes is not None and not quotes.num_rows:
            quotes = None
        # Ids in the order symbols first appear in quotes, then trades (as before the books
        # were one loop): names and per-symbol arrays follow that order.
        quote_ids = np.zeros(0, np.int32) if quotes is None else self._symbol_ids(quotes)
        ids = np.zeros(0, np.int32) if trades is None else self._symbol_ids(trades)
        books = self._books(trades, ids, quotes, quote_ids)
        if trades is not None:
            self._on_trades(trades, ids, books, vn30)
        if self._alerts is not None:
            self._alerts.feed(
                self._alert_trades, self._names, self._gap_seqs, window.get("foreign")
            )
        if len(vn30[0]):
            self._vn30_seq, self._vn30_value = int(vn30[0][-1]), float(vn30[1][-1])
        for name, kept, columns in (
            ("index", self._index, INDEX_COLUMNS),
            ("foreign", self._foreign, FOREIGN_COLUMNS),
        ):
            table = window.get(name)
            if table is not None and table.num_rows:
                kept.append(table.select(_present(table, columns)))

    def fed_all(self) -> None:
        """No window follows (a replay's end): the alert rules start on what they gathered
        now, on their thread, while the other results are computed (results stay right
        without it; more windows may still be fed)."""
        if self._alerts is not None:
            self._alerts.flush()

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

    def _vn30_rows(
        self, index: pa.Table | None
    ) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float64]]:
        """The window's VN30 values > 0 and their seqs."""
        if index is None or not index.num_rows or "index_value" not in index.schema.names:
            return np.zeros(0, np.int64), np.zeros(0, np.float64)
        is_vn30 = _mapped(
            _missing_column(index, "index_id", pa.string()),
            lambda values: np.array([*(v == VN30 for v in values), False]),
        )
        value = _numbers(index.column("index_value"), np.nan, np.float64)
        rows = np.flatnonzero(is_vn30 & (value > 0))
        seqs = np.asarray(index.column("seq").to_numpy(), np.int64)
        return seqs[rows], value[rows]

    def counted_trades(self) -> pl.DataFrame | None:
        """Every counted trade of the last window fed, reported or not (with `keep_trades`):
        `seq, event_ts, sym, price, volume, value, side, phase, wire_side, basis`, in seq
        order; `symbol_names()` names the `sym` ids."""
        return self._window_trades

    def symbol_names(self) -> list[str | None]:
        return self._names

    def _on_trades(
        self,
        trades: pa.Table,
        ids: Ids,
        books: _Books,
        vn30: tuple[npt.NDArray[np.int64], npt.NDArray[np.float64]],
    ) -> None:
        price = _numbers(_missing_column(trades, "last_price", pa.float64()), np.nan, np.float64)
        last_vol = _numbers(_missing_column(trades, "last_vol", pa.int64()), 0, np.int64)
        tv = _numbers(_missing_column(trades, "total_vol", pa.int64()), 0, np.int64)
        snapshot = _mapped(
            _missing_column(trades, "data_type", pa.string()),
            lambda values: np.array([*(v == SNAPSHOT_DATA_TYPE for v in values), False]),
        )
        priced = price > 0  # numpy, unlike polars, compares NaN as false
        eligible_tv = np.where(priced & (snapshot | (last_vol > 0)), np.maximum(tv, 0), 0)
        prev = np.empty(len(ids), np.int64)
        previous_max(ids, eligible_tv, self._max_tv, prev)
        trade = priced & ~snapshot & (last_vol > 0)
        repeat = trade & (tv > 0) & (tv <= prev)
        volume = np.where(trade & ~repeat, last_vol, 0)
        volume = np.where(priced & snapshot & (tv > prev), tv - prev, volume)
        times = _Stamps.of(trades)
        reported = times.within(self.window)
        self._count_flags(ids, repeat & reported, ~priced & ~snapshot & (last_vol > 0) & reported)
        counted = volume > 0
        if not counted.any():
            return
        self._check_volume_sums(ids, volume, int(trades.column("seq")[trades.num_rows - 1].as_py()))
        session = _mapped(
            _missing_column(trades, "trading_session", pa.string()),
            lambda values: np.array([*(SESSION_CODES.get(v, 0) for v in values), 0], np.int8),
        )
        rows = np.flatnonzero(counted)
        seqs = np.asarray(trades.column("seq").to_numpy(), np.int64)[rows]
        sym, price, volume, session = ids[rows], price[rows], volume[rows], session[rows]
        side, bid1, ask1 = self._classify(seqs, price, session, books.take(rows))
        counted_rows = _Counted(
            seqs, sym, price, volume, session, times.take(rows), bid1, ask1, side
        )
        # The polars frame only for what needs one (the others work on the arrays).
        needs_frame = self._keep_trades or self._candles is not None or bool(self._trade_sinks)
        classified = counted_rows.frame() if needs_frame else None
        # Each counted trade's basis, for the kept trades and the alerts alike.
        basis = (
            self._basis_of(sym, seqs, price, vn30)
            if self._keep_trades or self._alerts is not None
            else None
        )
        if self._keep_trades and classified is not None and basis is not None:
            self._window_trades = self._with_basis(classified, trades, rows, basis)
        if self._alerts is not None and basis is not None:
            stamps = counted_rows.event_ts
            self._alert_trades = {
                "seq": seqs,
                "sym": sym,
                "price": price,
                "volume": volume,
                "side": side,
                "session": session,
                "event_ts": stamps.value,
                "timed": stamps.known,
                "ceiling": _limit(trades, "ceiling")[rows],
                "floor": _limit(trades, "floor")[rows],
                "basis": basis,
            }
        if self.window.bounded:
            kept = reported[rows]
            if not kept.any():
                return
            counted_rows = counted_rows.take(np.flatnonzero(kept))
            if classified is not None:
                import polars as pl

                classified = classified.filter(pl.Series(kept))
        self._totals.add(counted_rows)
        self._keep_futures(counted_rows)
        if self._candles is not None and classified is not None:
            self._candles.add(classified)
        if self._trade_sinks and classified is not None:
            table = self._counted_table(classified, trades)
            for sink in self._trade_sinks:
                sink(table)

    def _check_volume_sums(self, ids: Ids, volume: npt.NDArray[np.int64], seq: int) -> None:
        """Refuse a day on which a symbol's counted volume passes what int64 holds: its
        sums (stats, candles, alerts) would wrap into wrong numbers. Volumes are >= 0."""
        size, known = len(self._names), len(self._volume_sums)
        if known < size:
            self._volume_sums = np.resize(self._volume_sums, size)
            self._volume_sums[known:] = 0
        estimate = self._volume_sums + np.bincount(ids, weights=volume, minlength=size)[:size]
        for sym in np.flatnonzero(estimate >= _VOLUME_EXACT_FROM).tolist():
            exact = int(self._volume_sums[sym]) + sum(volume[ids == sym].tolist())
            if exact > INT64_MAX:
                raise VolumeOverflowError(
                    f"{self.day}: the counted volume of {self._names[sym]} passes"
                    f" {INT64_MAX:,} (int64) by seq {seq}; its sums would be wrong"
                )
        np.add.at(self._volume_sums, ids, volume)  # every sum fits: checked above

    def _with_basis(
        self,
        classified: pl.DataFrame,
        trades: pa.Table,
        rows: npt.NDArray[np.intp],
        basis: npt.NDArray[np.float64],
    ) -> pl.DataFrame:
        """The counted trades as `counted_trades()` gives them."""
        import polars as pl

        wire_side = _missing_column(trades, "side", pa.string()).take(pa.array(rows))
        if pa.types.is_dictionary(wire_side.type):
            wire_side = wire_side.cast(pa.string())
        units = classified.get_column("units")
        return classified.select(
            "seq",
            "event_ts",
            "sym",
            "price",
            "volume",
            pl.Series("value", _unit_values(units)),
            pl.Series(
                "side", np.array(SIDES, dtype=object)[classified["side"].to_numpy()], pl.String
            ),
            pl.Series(
                "phase", np.array(PHASES, dtype=object)[classified["session"].to_numpy()], pl.String
            ),
            pl.Series("wire_side", wire_side, pl.String),
            pl.Series("basis", basis).fill_nan(None),
        )

    def _count_flags(
        self, ids: Ids, repeats: npt.NDArray[np.bool_], unpriced: npt.NDArray[np.bool_]
    ) -> None:
        size = len(self._names)
        if repeats.any():
            self._duplicates = _grown(self._duplicates, size)
            self._duplicates[:size] += np.bincount(ids[repeats], minlength=size)
        if unpriced.any():
            self._unpriced = _grown(self._unpriced, size)
            self._unpriced[:size] += np.bincount(ids[unpriced], minlength=size)

    def _books(
        self, trades: pa.Table | None, ids: Ids, quotes: pa.Table | None, quote_ids: Ids
    ) -> _Books:
        """Each trade's book before it (seq, bid1, ask1; seq 0: none yet), the window's quotes
        applied to the books carried to the next window. A missing price is NaN, as in the
        per-event book (NaN is never > 0)."""
        if quotes is not None:
            quote_seq = np.asarray(quotes.column("seq").to_numpy(), np.int64)
            bid = _numbers(_missing_column(quotes, "bid_price1", pa.float64()), np.nan, np.float64)
            ask = _numbers(_missing_column(quotes, "ask_price1", pa.float64()), np.nan, np.float64)
        else:
            quote_seq, bid, ask = np.zeros(0, np.int64), np.zeros(0), np.zeros(0)
        trade_seq = (
            np.zeros(0, np.int64)
            if trades is None
            else np.asarray(trades.column("seq").to_numpy(), np.int64)
        )
        books = _Books(
            np.empty(len(ids), np.int64), np.empty(len(ids), np.float64), np.empty(len(ids))
        )
        book_before(
            trade_seq, ids, quote_seq, quote_ids, bid, ask,
            self._book_seq, self._bid1, self._ask1, books.seq, books.bid1, books.ask1,
        )  # fmt: skip
        return books

    def _classify(
        self,
        seqs: npt.NDArray[np.int64],
        price: npt.NDArray[np.float64],
        session: npt.NDArray[np.int8],
        books: _Books,
    ) -> tuple[npt.NDArray[np.int8], npt.NDArray[np.float64], npt.NDArray[np.float64]]:
        """Each counted trade's classification (a code into SIDES) and its book's bid1 and
        ask1 (0.0 before any quote or when the book is from before a gap)."""
        book_seq, bid1, ask1 = books
        stale = book_seq == 0
        if len(self._gap_seqs):
            # A book from before the trade's latest gap is no book (SPEC.md 7.3).
            gap = np.searchsorted(self._gap_seqs, seqs, side="right") - 1
            gap_seq = np.where(gap >= 0, self._gap_seqs[np.maximum(gap, 0)], 0)
            stale |= book_seq < gap_seq
        bid1 = np.where(stale, 0.0, bid1)
        ask1 = np.where(stale, 0.0, ask1)
        auction = session != 0
        buy = ~auction & (ask1 > 0) & (price >= ask1)  # numpy: NaN compares false
        sell = ~auction & ~buy & (bid1 > 0) & (price <= bid1)
        side = buy.view(np.int8) + 2 * sell.view(np.int8)  # 0 neutral, 1 buy, 2 sell
        return side, bid1, ask1

    def _keep_futures(self, counted: _Counted) -> None:
        future = self._vn30_future[counted.sym]
        if future.any():
            rows = np.flatnonzero(future)
            # Not np.unique: numpy 2 imports numpy.ma (~20 ms) on its first plain call.
            self._contracts.update(counted.sym[rows].tolist())
            self._futures.append(
                _Futures(
                    counted.seq[rows], counted.event_ts.take(rows), counted.sym[rows],
                    counted.price[rows],
                )
            )  # fmt: skip

    def _basis_of(
        self,
        syms: Ids,
        all_seqs: npt.NDArray[np.int64],
        all_prices: npt.NDArray[np.float64],
        vn30: tuple[npt.NDArray[np.int64], npt.NDArray[np.float64]],
    ) -> npt.NDArray[np.float64]:
        """Each counted trade's basis (NaN: not a VN30 future, or no VN30 value yet)."""
        basis = np.full(len(syms), np.nan)
        rows = np.flatnonzero(self._vn30_future[syms])  # a few trades of a day's million
        if len(rows):
            seqs = all_seqs[rows]
            price = all_prices[rows]
            # The VN30 value before each trade: the window's latest with a smaller seq, else
            # the one carried in (NaN before the day's first).
            vn30_seqs, vn30_values = vn30
            before = np.searchsorted(vn30_seqs, seqs, side="left") - 1
            known = np.concatenate([[self._vn30_value], vn30_values])[before + 1]
            basis[rows] = price - known  # NaN where no VN30 value is known yet
        return basis

    def alert_rows(self) -> list[dict[str, Any]]:
        """The alerts of SPEC.md 7.5 in the report window, by seq then kind."""
        if self._alerts is None:
            return []
        contains = self.window.contains
        return alert_rows([a for a in self._alerts.alerts if contains(a.event_ts)])

    def _counted_table(self, classified: pl.DataFrame, trades: pa.Table) -> pa.Table:
        value = _unit_values(classified.get_column("units"))
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
                "symbol": self._names_of(classified.get_column("sym").to_numpy()),
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

    def stats_rows(self) -> list[dict[str, Any]]:
        """The session stats of SPEC.md section 4, one object per symbol, sorted by symbol."""
        duplicates_of = _grown(self._duplicates, len(self._names))
        unpriced_of = _grown(self._unpriced, len(self._names))
        by_symbol = {self._names[sym]: sym for sym in self._totals.traded()}
        rows = []
        for symbol in sorted(s for s in by_symbol if s is not None):
            sym = by_symbol[symbol]
            t = self._totals.row(sym)
            value = t["value"] / VALUE_SCALE  # int / int: the float nearest the exact sum
            duplicates, unpriced = int(duplicates_of[sym]), int(unpriced_of[sym])
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

    def _finish(self) -> _Finished:
        if self._finished is None:
            self._finished = _Finished(self)
        return self._finished

    def basis_rows(self) -> list[dict[str, Any]]:
        """One object per VN30 futures contract with a reported counted trade (sorted)."""
        points = self._finish().basis_summary
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
        return [with_basis_extras(row) for row in rows]

    def foreign_rows(self) -> list[dict[str, Any]]:
        """One object per symbol (sorted) from its latest `R` message, keys as FOREIGN_KEYS."""
        by_symbol = self._finish().foreign_latest
        rows = []
        for symbol in sorted(by_symbol):
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
        return self._finish().rebaselined

    def index_rows(self) -> list[dict[str, Any]]:
        """One object per index id (sorted) from its latest `MI` with a value > 0."""
        by_id = self._finish().index_latest
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
                    "advance_ratio": advance_ratio(e.get("advances"), e.get("declines")),
                }
            )
        return rows

    def candles(self, interval: str = "1m") -> list[dict[str, Any]]:
        """The reported trades' candles (SPEC.md 7.4; needs `candles=True`)."""
        if self._candles is None:
            raise VnrecError("candles were not kept (candles=False)")
        return self._candles.rows(interval, self._names)

    def index_candles(self, interval: str = "1m") -> list[dict[str, Any]]:
        """Candles of the index values > 0 in the report window (SPEC.md 7.4)."""
        import polars as pl

        from vnrec.replay.candles import index_candles

        found = self._finish().index
        if found is None:
            return index_candles(None, interval)
        index, stamps = found
        rows = np.flatnonzero(stamps.within(self.window))
        frame = pl.from_arrow(index.take(rows))
        assert isinstance(frame, pl.DataFrame)
        frame = frame.with_columns(pl.col("index_id").cast(pl.String), stamps.take(rows).series())
        return index_candles(frame, interval)

    def summary(self) -> dict[str, list[dict[str, Any]]]:
        """The `stats`, `foreign`, `index` and `basis` lists of the replay result."""
        return {
            "stats": self.stats_rows(),
            "foreign": self.foreign_rows(),
            "index": self.index_rows(),
            "basis": self.basis_rows(),
            "alerts": self.alert_rows(),
        }

    def basis_series(self) -> pa.Table:
        """Every basis point of the reported trades, in seq order."""
        points = self._finish().basis_points
        return pa.table(
            {
                "seq": pa.array(points.seq, pa.int64()),
                "event_ts": points.event_ts.arrow().cast(pa.timestamp("us", tz="UTC")),
                "symbol": self._names_of(points.sym),
                "price": pa.array(points.price, pa.float64()),
                "index_value": pa.array(points.index_value, pa.float64()),
                "basis": pa.array(points.basis, pa.float64()),
            }
        )

    def series(self) -> dict[str, Any]:
        """The intraday series of the report window (with `keep_series`): basis points of
        the reported trades (an Arrow table), and the foreign flow and index points, from
        the per-event trackers fed the day's foreign and index rows."""
        if not self._keep_series:
            raise VnrecError("the series were not kept (keep_series=False)")
        foreign, index = ForeignTracker(keep_series=True), IndexTracker(keep_series=True)
        before_end = self.window.before_end
        feeds: list[tuple[list[pa.Table], str, Callable[[Any], object]]] = [
            (self._foreign, "foreign", foreign.on_foreign),
            (self._index, "index", index.on_index),
        ]
        for tables, name, handler in feeds:
            for table in tables:
                for batch in table.to_batches():
                    for event in to_events(name, batch).events:
                        assert isinstance(event, ForeignEvent | IndexEvent)
                        if before_end(event.event_ts):
                            handler(event)
        contains = self.window.contains
        return {
            "basis": self.basis_series(),
            "foreign": [p for p in foreign.series if contains(p.event_ts)],
            "index": [p for p in index.series if contains(p.event_ts)],
        }


class _Finished:
    """What is computed once from the whole day's foreign, index and futures rows."""

    def __init__(self, day: ColumnarDay) -> None:
        self.foreign_latest: dict[str, dict[str, Any]] = {}
        self.rebaselined: dict[str, int] = {}
        foreign = _concatenated(day._foreign)
        if foreign is not None:
            self._foreign(day, foreign)
        self.index_latest: dict[str, dict[str, Any]] = {}
        self.index: tuple[pa.Table, _Stamps] | None = None  # seq, index_id, index_value
        vn30_seq, vn30_value = np.zeros(0, np.int64), np.zeros(0, np.float64)
        index = _concatenated(day._index)
        if index is not None and {"index_id", "index_value"} <= set(index.schema.names):
            stamps = _Stamps.of(index)
            self.index = index.select(["seq", "index_id", "index_value"]), stamps
            index_ids = index.column("index_id")
            value = _floats(index.column("index_value"))
            usable = np.asarray(index_ids.is_valid().to_numpy(), np.bool_) & (value > 0)
            rows = np.flatnonzero(usable & stamps.before_end(day.window))
            keys = _codes(index_ids)
            latest = index.take(_indices(rows[_last_of_each(keys[rows])]))
            latest = latest.drop_columns(["event_ts"])
            self.index_latest = {row["index_id"]: row for row in latest.to_pylist()}
            is_vn30 = _mapped(index_ids, lambda ids: np.array([*(i == VN30 for i in ids), False]))
            vn30 = np.flatnonzero(usable & is_vn30)
            vn30_seq = np.asarray(index.column("seq").to_numpy(), np.int64)[vn30]
            vn30_value = value[vn30]
        self.basis_points = _basis_points(day, vn30_seq, vn30_value)
        self.basis_summary = self.basis_points.summary()

    def _foreign(self, day: ColumnarDay, foreign: pa.Table) -> None:
        names = day._names
        stamps = _Stamps.of(foreign)
        rows = np.flatnonzero(stamps.before_end(day.window))
        syms = day._symbol_ids(foreign)[rows]
        latest = _last_of_each(syms)
        for sym, row in zip(
            syms[latest].tolist(),
            foreign.take(_indices(rows[latest])).drop_columns(["event_ts"]).to_pylist(),
            strict=True,
        ):
            if names[sym] is not None:
                self.foreign_latest[names[sym]] = row
        figures = [
            _floats(foreign.column(name))[rows]
            for name in FOREIGN_FIGURES
            if name in foreign.schema.names
        ]
        named: dict[str, int] = {}
        for sym, count in _rebaselines(syms, figures).items():
            symbol = names[sym]
            if symbol is not None:
                named[symbol] = count
        self.rebaselined = {symbol: named[symbol] for symbol in sorted(named)}


class _BasisPoints(NamedTuple):
    """The reported trades of VN30 futures with a VN30 value before them, in seq order."""

    seq: npt.NDArray[np.int64]
    event_ts: _Stamps
    sym: Ids
    price: npt.NDArray[np.float64]
    index_value: npt.NDArray[np.float64]
    basis: npt.NDArray[np.float64]

    def summary(self) -> dict[int, dict[str, Any]]:
        """Per contract id: its points, lowest and highest basis, and its last point."""
        found: dict[int, dict[str, Any]] = {}
        for sym in dict.fromkeys(self.sym.tolist()):  # in order of first point
            mine = np.flatnonzero(self.sym == sym)
            last = int(mine[-1])
            found[sym] = {
                "points": len(mine),
                "min_basis": float(self.basis[mine].min()),
                "max_basis": float(self.basis[mine].max()),
                "last_price": float(self.price[last]),
                "last_index": float(self.index_value[last]),
                "last_basis": float(self.basis[last]),
            }
        return found


def _basis_points(
    day: ColumnarDay, vn30_seq: npt.NDArray[np.int64], vn30_value: npt.NDArray[np.float64]
) -> _BasisPoints:
    """Each reported futures trade with the latest VN30 value at or before its seq (an as-of
    join on seq); trades before the day's first VN30 value have no point."""
    if len(day._futures) > 1:
        day._futures[:] = [_Futures.concat(day._futures)]
    futures = (
        day._futures[0]
        if day._futures
        else _Futures(
            np.zeros(0, np.int64),
            _Stamps(np.zeros(0, np.int64), np.zeros(0, np.bool_)),
            np.zeros(0, np.int32),
            np.zeros(0, np.float64),
        )
    )
    before = np.searchsorted(vn30_seq, futures.seq, side="right") - 1
    rows = np.flatnonzero(before >= 0)
    index_value = vn30_value[before[rows]]
    price = futures.price[rows]
    return _BasisPoints(
        futures.seq[rows],
        futures.event_ts.take(rows),
        futures.sym[rows],
        price,
        index_value,
        price - index_value,
    )


class _Counted(NamedTuple):
    """A window's counted trades, in seq order (`side` a code into SIDES, `session` into
    PHASES; `event_ts` in µs, null where unknown)."""

    seq: npt.NDArray[np.int64]
    sym: Ids
    price: npt.NDArray[np.float64]
    volume: npt.NDArray[np.int64]
    session: npt.NDArray[np.int8]
    event_ts: _Stamps
    bid1: npt.NDArray[np.float64]
    ask1: npt.NDArray[np.float64]
    side: npt.NDArray[np.int8]

    def take(self, rows: npt.NDArray[np.intp]) -> _Counted:
        return _Counted(
            self.seq[rows],
            self.sym[rows],
            self.price[rows],
            self.volume[rows],
            self.session[rows],
            self.event_ts.take(rows),
            self.bid1[rows],
            self.ask1[rows],
            self.side[rows],
        )

    def frame(self) -> pl.DataFrame:
        """As the candles, `counted_trades()` and the trade sinks read them, with exact
        value units."""
        import polars as pl

        return pl.DataFrame(
            {
                "seq": self.seq,
                "sym": self.sym,
                "price": self.price,
                "volume": self.volume,
                "session": self.session,
                "event_ts": self.event_ts.series(),
                "bid1": self.bid1,
                "ask1": self.ask1,
                "side": self.side,
            }
        ).with_columns(_value_units(self.price, self.volume))


_COUNTS = ("trades", *_VOLUME_SUMS, *_PHASE_SUMS)
_PRICES = ("open", "high", "low", "close")


class _Futures(NamedTuple):
    """Counted trades of VN30 futures contracts, for the basis."""

    seq: npt.NDArray[np.int64]
    event_ts: _Stamps
    sym: Ids
    price: npt.NDArray[np.float64]

    @staticmethod
    def concat(parts: Sequence[_Futures]) -> _Futures:
        return _Futures(
            np.concatenate([p.seq for p in parts]),
            _Stamps(
                np.concatenate([p.event_ts.value for p in parts]),
                np.concatenate([p.event_ts.known for p in parts]),
            ),
            np.concatenate([p.sym for p in parts]),
            np.concatenate([p.price for p in parts]),
        )


class _SessionTotals:
    """Per symbol id, the session stats' sums and prices so far (vnrec.replay._ordered's
    `add_totals`): arrays that grow with the ids."""

    def __init__(self) -> None:
        self.counts = np.zeros((0, len(_COUNTS)), np.int64)
        self.values = np.zeros((0, len(_VALUE_SUMS), 2), np.int64)  # int128 as low, high
        self.prices = np.zeros((0, len(_PRICES)), np.float64)
        self.seen = np.zeros(0, np.uint8)

    def grow(self, size: int) -> None:
        extra = size - len(self.seen)
        if extra > 0:
            self.counts = np.concatenate([self.counts, np.zeros((extra, len(_COUNTS)), np.int64)])
            self.values = np.concatenate(
                [self.values, np.zeros((extra, len(_VALUE_SUMS), 2), np.int64)]
            )
            self.prices = np.concatenate([self.prices, np.zeros((extra, len(_PRICES)))])
            self.seen = np.concatenate([self.seen, np.zeros(extra, np.uint8)])

    def add(self, counted: _Counted) -> None:
        add_totals(
            counted.sym, counted.side, counted.session, counted.volume,
            _units(counted.price), counted.price,
            self.counts, self.values, self.prices, self.seen,
        )  # fmt: skip

    def traded(self) -> list[int]:
        """The ids with a trade added."""
        ids: list[int] = np.flatnonzero(self.seen).tolist()
        return ids

    def row(self, sym: int) -> dict[str, Any]:
        row: dict[str, Any] = dict(zip(_COUNTS, self.counts[sym].tolist(), strict=True))
        for name, (low, high) in zip(_VALUE_SUMS, self.values[sym].tolist(), strict=True):
            row[name] = (high << 64) | (low & 0xFFFF_FFFF_FFFF_FFFF)
        row.update(zip(_PRICES, self.prices[sym].tolist(), strict=True))
        return row


class _Books(NamedTuple):
    """Per trade row: the seq of its book (0: none), its best bid and ask."""

    seq: npt.NDArray[np.int64]
    bid1: npt.NDArray[np.float64]
    ask1: npt.NDArray[np.float64]

    def take(self, rows: npt.NDArray[np.intp]) -> _Books:
        return _Books(self.seq[rows], self.bid1[rows], self.ask1[rows])


def _units(price: npt.NDArray[np.float64]) -> npt.NDArray[np.int64]:
    """Prices in units of 1 / VALUE_SCALE, rounded half up (`int(price * 10000 + 0.5)`)."""
    units: npt.NDArray[np.int64] = np.floor(price * VALUE_SCALE + 0.5).astype(np.int64)
    return units


def _value_units(price: npt.NDArray[np.float64], volume: npt.NDArray[np.int64]) -> pl.Series:
    """price x volume in exact integer units of 1 / VALUE_SCALE, the price rounded half up
    to a unit as the per-event trackers do (`int(price * 10000 + 0.5)`)."""
    import polars as pl

    units = _units(price)
    if len(units) and int(units.max()) * int(volume.max()) >= 1 << 63:
        exact = [int(u) * int(v) for u, v in zip(units.tolist(), volume.tolist(), strict=True)]
        return pl.Series("units", exact, dtype=pl.Int128)
    return pl.Series("units", units * volume).cast(pl.Int128)


def _limit(trades: pa.Table, name: str) -> npt.NDArray[np.float64]:
    """A price limit column (Ceiling, Floor) with NaN where it is missing."""
    return _numbers(_missing_column(trades, name, pa.float64()), np.nan, np.float64)


def _foreign_rows(table: pa.Table, symbol_ids: SymbolIds) -> ForeignRows:
    """A window's `R` messages for the alerts, their symbols numbered by `symbol_ids`."""
    names = table.schema.names
    seq = np.asarray(table.column("seq").to_numpy(), np.int64)
    stamps = _Stamps.of(table)
    sym = (
        _mapped(table.column("symbol"), symbol_ids)
        if "symbol" in names
        else np.full(len(seq), -1, np.int64)
    )
    buy, sell = (
        _floats(table.column(name)) if name in names else np.full(len(seq), np.nan)
        for name in ("buy_val", "sell_val")
    )
    with np.errstate(invalid="ignore", over="ignore"):  # inf - inf: NaN, as in Python
        net = buy - sell
    usable = stamps.known & (sym >= 0) & ~np.isnan(buy) & ~np.isnan(sell)
    return ForeignRows(seq, stamps.value, sym, net, usable)


def _unit_values(units: pl.Series) -> npt.NDArray[np.float64]:
    """Exact value units as the nearest floats."""
    import polars as pl

    if units.max() >= EXACT_FLOAT_UNITS:  # type: ignore[operator]
        return np.array([u / VALUE_SCALE for u in units.to_list()], np.float64)
    # numpy divides exactly rounded; polars may multiply by the reciprocal instead.
    values: npt.NDArray[np.float64] = units.cast(pl.Int64).to_numpy().astype(np.float64)
    return values / VALUE_SCALE


def _plain_text(table: pa.Table) -> pa.Table:
    """`table` with its dictionary columns decoded."""
    for index, field in enumerate(table.schema):
        if pa.types.is_dictionary(field.type):
            table = table.set_column(
                index, field.name, table.column(index).cast(field.type.value_type)
            )
    return table


def _grown(counts: npt.NDArray[np.int64], size: int) -> npt.NDArray[np.int64]:
    """`counts` with zeros appended up to `size` entries."""
    if len(counts) >= size:
        return counts
    return np.concatenate([counts, np.zeros(size - len(counts), np.int64)])


def _rebaselines(syms: Ids, figures: Sequence[npt.NDArray[np.float64]]) -> dict[int, int]:
    """Per symbol id, the messages with a figure below the symbol's last known value of that
    figure (0 before any; NaN: not known), as vnrec.trackers.foreign counts them."""
    order = np.argsort(syms, kind="stable")  # each symbol's rows together, in seq order
    grouped = syms[order]
    positions = np.arange(len(grouped))
    first = np.ones(len(grouped), np.bool_)
    first[1:] = grouped[1:] != grouped[:-1]
    group_start = np.maximum.accumulate(np.where(first, positions, 0))
    down = np.zeros(len(grouped), np.bool_)
    for figure in figures:
        values = figure[order]
        known = ~np.isnan(values)
        last_known = np.maximum.accumulate(np.where(known, positions, -1))
        before = np.concatenate([[-1], last_known[:-1]])  # the last known row before each
        before = np.where(before >= group_start, before, -1)  # ... of the same symbol
        previous = np.where(before >= 0, values[np.maximum(before, 0)], 0.0)
        down |= known & (values < previous)
    ids, counts = np.unique(grouped[down], return_counts=True)
    return dict(zip(ids.tolist(), counts.tolist(), strict=True))


def _last_of_each(keys: npt.NDArray[Any]) -> npt.NDArray[np.intp]:
    """The position of each distinct key's last row."""
    _, first_from_end = np.unique(keys[::-1], return_index=True)
    last: npt.NDArray[np.intp] = len(keys) - 1 - first_from_end
    return last


def _codes(column: pa.ChunkedArray) -> npt.NDArray[np.int64]:
    """A code per row of a text column, the same for the same text in every chunk (each
    chunk has a dictionary of its own); null has a code of its own."""
    codes: dict[str | None, int] = {}

    def lookup(values: list[Any]) -> npt.NDArray[np.int64]:
        return np.array([codes.setdefault(v, len(codes)) for v in [*values, None]], np.int64)

    return _mapped(column, lookup)


def _floats(column: pa.ChunkedArray) -> npt.NDArray[np.float64]:
    """A numeric column as floats, NaN where missing (an integer past 2**53 rounds)."""
    return _numbers(pc.cast(column, pa.float64(), safe=False), np.nan, np.float64)


def _concatenated(tables: list[pa.Table]) -> pa.Table | None:
    """The tables as one, with plain text: Parquet windows carry text as dictionaries, a
    recorder's micro-batches as plain strings. Kept concatenated for the next ask (a live
    view asks after more windows)."""
    if not tables:
        return None
    table = pa.concat_tables([_plain_text(t) for t in tables], promote_options="permissive")
    tables[:] = [table]
    return table


def _net(buy: Any, sell: Any) -> Any:
    return None if buy is None or sell is None else buy - sell
