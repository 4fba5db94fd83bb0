"""The trade alert rules of SPEC.md 7.5 as batch operators over a window's counted trades
(vnrec.trackers.alerts has the rules, their decisions and the per-trade reference).

Per symbol and gap epoch (the trades between two recording gaps), trades are ordered by
seq and carry `clock`, the symbol's event-time high-water mark: non-decreasing, so the
rolling windows are ranges of that order, found by binary search on one key (the block
in the high bits, the clock in the low bits) and summed with prefix sums. What one window
hands the next is per symbol: the trades of the last 20 minutes of clock, the clock, and
the transition states (previous trade at its limit, previous imbalance). Candidates are
rare; they go through the shared de-duplication in seq order, with the foreign and basis
rules' candidates. Everything here is numpy on columns (polars' per-call overhead cost
more than the work on windows of tens of thousands of trades).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from vnrec.calendar import DEFAULT_CALENDAR, TradingCalendar
from vnrec.trackers.alerts import (
    BASIS_FLIP,
    CEILING_HIT,
    FLOOR_HIT,
    IMBALANCE,
    IMBALANCE_FACTOR,
    IMBALANCE_MIN_VOLUME,
    IMBALANCE_WINDOW_US,
    SPIKE_FACTOR,
    SPIKE_MIN_TRADES,
    SPIKE_WINDOW_US,
    VOLUME_SPIKE,
    Alert,
    BasisFlip,
    Deduper,
    ForeignAcceleration,
)

if TYPE_CHECKING:
    import pyarrow as pa

I64 = npt.NDArray[np.int64]
BLOCK_SHIFT = 40  # a window's clocks, in µs from its earliest, fit in 40 bits (12.7 days)
_SIDE_BUY, _SIDE_SELL = 1, 2  # classification codes of the columnar day (SIDES)


Cols = dict[str, np.ndarray]
# A key holds its block and clock in its bits: the tail carries keys and the summed columns.
_TAIL = ("key", "volume", "buy", "sell")
EPOCH_BITS = 16  # a block is a symbol id and an epoch (gaps so far) in 16 bits
CLOCK_BITS = 38  # a key's clock: µs from a day before the first, for up to 3 days


def _take(cols: Cols, rows: np.ndarray) -> Cols:
    return {name: values[rows] for name, values in cols.items()}


Foreign = list[tuple[int, int | None, str | None, float | None, float | None]]
# A window's `foreign` table as rows (seq, event_ts, symbol, buy_val, sell_val), seq order.
ForeignReader = Callable[["pa.Table"], Foreign]


class AlertsBook:
    """One day's alerts, fed the columnar day's windows in seq order.

    Windows are gathered until they hold `chunk` counted trades and then computed at once
    (`alerts` computes what is gathered): the per-call costs are then paid per chunk, not
    per window, whatever the window size. The rules are exact at any chunk size, so a
    replay's large chunks and a live recording's one batch at a time give the same. With
    chunks, they are computed on a thread of their own, beside the other trackers (numpy
    leaves the interpreter lock while it works); chunks still run one at a time, in order,
    and a failure is raised by `alerts`."""

    def __init__(
        self,
        day: dt.date,
        read_foreign: ForeignReader,
        calendar: TradingCalendar = DEFAULT_CALENDAR,
        chunk: int = 0,
    ) -> None:
        self._read_foreign = read_foreign
        self._dedup = Deduper()
        self._foreign = ForeignAcceleration()
        self.basis = BasisFlip(day, calendar)
        self._found: list[Alert] = []
        self._chunk = chunk
        self._pending: list[tuple[Cols | None, pa.Table | None]] = []
        self._pending_trades = 0
        self._names: Sequence[str | None] = ()
        self._gap_seqs = np.zeros(0, np.int64)
        self._worker: ThreadPoolExecutor | None = None  # started by the first chunk
        self._running: list[Future[None]] = []
        # Per symbol id: the latest epoch seen (-1: none) and, in it, the clock and the
        # transition states; arrays that grow with the ids.
        self._epoch = np.full(0, -1, np.int64)
        self._clock = np.zeros(0, np.int64)
        self._at_ceiling = np.zeros(0, np.bool_)
        self._at_floor = np.zeros(0, np.bool_)
        self._imbalanced = np.zeros(0, np.bool_)
        self._named = np.zeros(0, np.bool_)  # per symbol id: has a name
        self._front = np.zeros(0, np.bool_)  # per symbol id: the day's front contract
        self._tail: Cols = {name: np.zeros(0, np.int64) for name in _TAIL}
        self._base: int | None = None  # clocks in keys count from here

    @property
    def alerts(self) -> list[Alert]:
        """Every alert so far, in the order emitted. The chunks' thread ends here (a later
        chunk starts another): a finished replay leaves no thread behind."""
        self.flush()
        running, self._running = self._running, []
        worker, self._worker = self._worker, None
        try:
            for future in running:
                future.result()
        finally:
            if worker is not None:
                worker.shutdown(wait=True)
        return self._found

    def feed(
        self,
        trades: Cols | None,
        names: Sequence[str | None],
        gap_seqs: I64,
        foreign: pa.Table | None,
    ) -> None:
        """A window: its counted trades (columns `seq, sym, price, volume, side, session,
        event_ts, timed, ceiling, floor, basis`, seq order; `timed`: has an event time),
        the names of the symbol ids, the day's gap seqs so far, and its `foreign` rows
        (read by `read_foreign` on the chunks' thread, off the window loop)."""
        self._pending.append((trades, foreign))
        self._pending_trades += 0 if trades is None else len(trades["seq"])
        self._names = names
        self._gap_seqs = gap_seqs
        if self._pending_trades >= self._chunk:
            self.flush()

    def flush(self) -> None:
        """Compute what was gathered."""
        if not self._pending:
            return
        pending, self._pending, self._pending_trades = self._pending, [], 0
        names = tuple(self._names)
        if self._chunk <= 0:
            self._gathered(pending, names, self._gap_seqs)
        else:
            if self._worker is None:
                self._worker = ThreadPoolExecutor(1, "vnrec-alerts")
            self._running.append(
                self._worker.submit(self._gathered, pending, names, self._gap_seqs)
            )

    def _gathered(
        self,
        pending: list[tuple[Cols | None, pa.Table | None]],
        names: Sequence[str | None],
        gap_seqs: I64,
    ) -> None:
        """The windows gathered as one chunk (joined here, on the chunks' thread)."""
        parts = [trades for trades, _ in pending if trades is not None and len(trades["seq"])]
        trades = (
            None
            if not parts
            else parts[0]
            if len(parts) == 1
            else {name: np.concatenate([p[name] for p in parts]) for name in parts[0]}
        )
        foreign = [
            row for _, table in pending if table is not None for row in self._read_foreign(table)
        ]
        # The windows go now, before the rules run: the task holds `pending` until it ends.
        pending.clear()
        del parts
        self._compute(trades, names, gap_seqs, foreign)

    def _compute(
        self, trades: Cols | None, names: Sequence[str | None], gap_seqs: I64, foreign: Foreign
    ) -> None:
        candidates: list[Alert] = []
        for seq, event_ts, symbol, buy_val, sell_val in foreign:
            found = self._foreign.on_foreign(seq, event_ts, symbol, buy_val, sell_val)
            if found is not None:
                candidates.append(found)
        if trades is not None and len(trades["seq"]):
            self._grow(len(names))
            self._note_names(names)
            usable = self._named[trades["sym"]] & trades["timed"]
            kept = trades if usable.all() else _take(trades, np.flatnonzero(usable))
            if len(kept["seq"]):
                candidates += self._trade_rules(kept, names, gap_seqs)
                candidates += self._basis_flips(kept, names)
        for alert in sorted(candidates, key=lambda a: (a.seq, a.kind)):
            if self._dedup.emit(alert):
                self._found.append(alert)

    def _note_names(self, names: Sequence[str | None]) -> None:
        """Which symbol ids have a name and are the day's front contract (new ids only)."""
        known = len(self._named)
        if known == len(names):
            return
        fresh = names[known:]
        named = np.array([n is not None for n in fresh], np.bool_)
        front = np.array([self.basis.is_front(n) for n in fresh], np.bool_)
        self._named = np.concatenate([self._named, named])
        self._front = np.concatenate([self._front, front])

    def _basis_flips(self, cols: Cols, names: Sequence[str | None]) -> list[Alert]:
        """basis_flip over the front contract's trades: only those with a non-zero basis
        move the sign."""
        basis = cols["basis"]
        with np.errstate(invalid="ignore"):
            signed = self._front[cols["sym"]] & (basis != 0) & ~np.isnan(basis)
        rows = np.flatnonzero(signed)
        found: list[Alert] = []
        for sym in np.unique(cols["sym"][rows]).tolist():
            mine = rows[cols["sym"][rows] == sym]
            found += self._flips(
                str(names[sym]), cols["seq"][mine], cols["event_ts"][mine], basis[mine]
            )
        return found

    def _flips(self, symbol: str, seqs: I64, stamps: I64, bases: np.ndarray) -> list[Alert]:
        """basis_flip over one front contract's trades with a non-zero basis, in seq order.
        Only the flips become objects (a contract trades thousands of times a day and flips
        a few dozen)."""
        sign = np.where(bases > 0, 1.0, -1.0)
        previous = np.empty_like(sign)
        previous[1:] = sign[:-1]
        last = self.basis.last_sign(symbol)
        previous[0] = sign[0] if last is None else last
        self.basis.set_last_sign(symbol, float(sign[-1]))
        return [
            Alert(int(seqs[i]), int(stamps[i]), BASIS_FLIP, symbol, float(bases[i]), 0.0)
            for i in np.flatnonzero(sign != previous).tolist()
        ]

    def _trade_rules(self, cols: Cols, names: Sequence[str | None], gap_seqs: I64) -> list[Alert]:
        sym = cols["sym"].astype(np.int64)
        epoch = np.searchsorted(gap_seqs, cols["seq"], side="right").astype(np.int64, copy=False)
        if int(epoch.max()) >= 1 << EPOCH_BITS:
            raise ValueError(f"more than {(1 << EPOCH_BITS) - 1} recording gaps in a day")
        # Rows by (symbol, epoch), seq order kept inside: a stable sort on one integer.
        block = (sym << EPOCH_BITS) | epoch
        order = _stable_order(sym, epoch, block)
        side = cols["side"][order]
        volume = cols["volume"][order].astype(np.int64, copy=False)
        window: Cols = {
            "block": block[order],
            "seq": cols["seq"][order].astype(np.int64, copy=False),
            "ts": cols["event_ts"][order].astype(np.int64, copy=False),
            "volume": volume,
            "buy": np.where(side == _SIDE_BUY, volume, 0),
            "sell": np.where(side == _SIDE_SELL, volume, 0),
        }
        sym, epoch = sym[order], epoch[order]
        first = np.ones(len(sym), np.bool_)
        first[1:] = window["block"][1:] != window["block"][:-1]
        carried = self._carried(sym, epoch)
        window["clock"] = np.maximum(_block_cummax(window["ts"], first), carried["clock"])
        window["key"] = self._keys(window["block"], window["clock"])
        # The rolling sums over the tail and the window merged (sorted by key; the tail's
        # rows first on equal keys: they are earlier in seq). `at`: each window row's place.
        merged, at = _merged(self._tail, window)
        keys, here = merged["key"], window["key"]
        volume_sum, buy_sum, sell_sum = (_prefix(merged[n]) for n in ("volume", "buy", "sell"))
        lo = np.searchsorted(keys, here - SPIKE_WINDOW_US, side="right")
        hi = _run_starts(keys)[at]  # earlier clocks only: where the row's key first appears
        count = hi - lo
        total = volume_sum[hi] - volume_sum[lo]
        # The imbalance flow runs up to the row itself, included.
        flow_lo = np.searchsorted(keys, here - IMBALANCE_WINDOW_US, side="right")
        buy = buy_sum[at + 1] - buy_sum[flow_lo]
        sell = sell_sum[at + 1] - sell_sum[flow_lo]
        self._tail = _recent(merged)

        price = cols["price"][order]
        ceiling = cols["ceiling"][order]
        floor = cols["floor"][order]
        with np.errstate(invalid="ignore"):
            at_ceiling = (ceiling > 0) & (price >= ceiling)
            at_floor = (floor > 0) & (price <= floor)
        prev_ceiling = np.where(first, carried["at_ceiling"], np.roll(at_ceiling, 1))
        prev_floor = np.where(first, carried["at_floor"], np.roll(at_floor, 1))
        continuous = cols["session"][order] == 0
        imbalanced = (buy + sell >= IMBALANCE_MIN_VOLUME) & (
            (buy >= IMBALANCE_FACTOR * sell) | (sell >= IMBALANCE_FACTOR * buy)
        )
        prev_imbalanced = _previous_where(imbalanced, continuous, first, carried["imbalanced"])
        spike = (count >= SPIKE_MIN_TRADES) & (volume * count >= SPIKE_FACTOR * total)
        self._remember(sym, epoch, window["clock"], at_ceiling, at_floor, imbalanced, continuous)

        seqs, stamps = window["seq"], window["ts"]
        found: list[Alert] = []
        for i in np.flatnonzero(spike):
            found.append(
                Alert(
                    int(seqs[i]), int(stamps[i]), VOLUME_SPIKE, str(names[sym[i]]),
                    float(volume[i]), SPIKE_FACTOR * int(total[i]) / int(count[i]),
                )
            )  # fmt: skip
        for i in np.flatnonzero(at_ceiling & ~prev_ceiling):
            found.append(
                Alert(int(seqs[i]), int(stamps[i]), CEILING_HIT, str(names[sym[i]]),
                      float(price[i]), float(ceiling[i]))
            )  # fmt: skip
        for i in np.flatnonzero(at_floor & ~prev_floor):
            found.append(
                Alert(int(seqs[i]), int(stamps[i]), FLOOR_HIT, str(names[sym[i]]),
                      float(price[i]), float(floor[i]))
            )  # fmt: skip
        for i in np.flatnonzero(continuous & imbalanced & ~prev_imbalanced):
            ratio = None if sell[i] == 0 else int(buy[i]) / int(sell[i])
            found.append(
                Alert(int(seqs[i]), int(stamps[i]), IMBALANCE, str(names[sym[i]]),
                      ratio, float(IMBALANCE_FACTOR))
            )  # fmt: skip
        return found

    def _keys(self, block: I64, clock: I64) -> I64:
        """Keys comparable across windows: the block in the high bits, the clock (from a
        base a day before the first one seen) in the low ones; a clock range of a block is a
        key range."""
        if self._base is None:
            self._base = int(clock.min()) - 86_400_000_000
        offset = clock - self._base
        if int(offset.min()) < SPIKE_WINDOW_US or int(offset.max()) >= 1 << CLOCK_BITS:
            raise ValueError("the day's event times span more than two days")
        keys: I64 = (block << CLOCK_BITS) | offset
        return keys

    def _grow(self, size: int) -> None:
        if size <= len(self._epoch):
            return
        grown = max(size, 2 * len(self._epoch), 64)
        extra = grown - len(self._epoch)
        self._epoch = np.concatenate([self._epoch, np.full(extra, -1, np.int64)])
        self._clock = np.concatenate([self._clock, np.zeros(extra, np.int64)])
        self._at_ceiling = np.concatenate([self._at_ceiling, np.zeros(extra, np.bool_)])
        self._at_floor = np.concatenate([self._at_floor, np.zeros(extra, np.bool_)])
        self._imbalanced = np.concatenate([self._imbalanced, np.zeros(extra, np.bool_)])

    def _carried(self, sym: I64, epoch: I64) -> dict[str, np.ndarray]:
        """Per window row: the state its (symbol, epoch) block brings in (nothing for a
        block the day has not seen)."""
        same = self._epoch[sym] == epoch
        return {
            "clock": np.where(same, self._clock[sym], np.iinfo(np.int64).min),
            "at_ceiling": same & self._at_ceiling[sym],
            "at_floor": same & self._at_floor[sym],
            "imbalanced": same & self._imbalanced[sym],
        }

    def _remember(
        self,
        sym: I64,
        epoch: I64,
        clock: I64,
        at_ceiling: np.ndarray,
        at_floor: np.ndarray,
        imbalanced: np.ndarray,
        continuous: np.ndarray,
    ) -> None:
        """The state each symbol's last row (of its latest epoch) leaves for the next
        window; the imbalance state is that of its last continuous row, if any."""
        last = np.ones(len(sym), np.bool_)
        last[:-1] = sym[:-1] != sym[1:]  # rows are by (sym, epoch, seq)
        rows = np.flatnonzero(last)
        ids = sym[rows]
        moved = self._epoch[ids] != epoch[rows]
        self._imbalanced[ids[moved]] = False
        self._epoch[ids] = epoch[rows]
        self._clock[ids] = clock[rows]
        self._at_ceiling[ids] = at_ceiling[rows]
        self._at_floor[ids] = at_floor[rows]
        # The last continuous row of each symbol's latest epoch, where there is one.
        top = epoch == self._epoch[sym]
        chosen = np.flatnonzero(continuous & top)
        if len(chosen):
            latest = np.full(len(self._epoch), -1, np.int64)
            np.maximum.at(latest, sym[chosen], chosen)
            have = np.flatnonzero(latest >= 0)
            self._imbalanced[have] = imbalanced[latest[have]]


def _stable_order(sym: I64, epoch: I64, block: I64) -> np.ndarray:
    """The stable order of `block`: a radix sort of 16-bit keys when the symbol ids and
    epochs fit (linear time), else a merge sort."""
    top_sym, top_epoch = int(sym.max()), int(epoch.max())
    if top_sym < 1 << 12 and top_epoch < 1 << 4:
        return np.argsort(((sym << 4) | epoch).astype(np.uint16), kind="stable")
    return np.argsort(block, kind="stable")


def _block_cummax(values: I64, first: np.ndarray) -> I64:
    """The running maximum of `values` within each block (rows grouped by block)."""
    block = np.cumsum(first).astype(np.int64, copy=False)
    low = values - int(values.min())
    if int(low.max()) >= 1 << BLOCK_SHIFT:
        raise ValueError("a window's event times span more than 12 days")
    running = np.maximum.accumulate((block << BLOCK_SHIFT) | low)
    result: I64 = (running & ((1 << BLOCK_SHIFT) - 1)) + int(values.min())
    return result


def _prefix(values: np.ndarray) -> I64:
    out = np.zeros(len(values) + 1, np.int64)
    np.cumsum(values, out=out[1:])
    return out


def _previous_where(
    values: np.ndarray, where: np.ndarray, first: np.ndarray, carried: np.ndarray
) -> np.ndarray:
    """For each row, `values` at its block's previous row where `where` holds (`carried`,
    the state the block brought in, before the block's first such row)."""
    positions = np.arange(len(values))
    block_start = _starts(first)
    marked = np.where(where, positions, -1)
    previous = np.full(len(values), -1, np.int64)
    if len(values) > 1:
        previous[1:] = np.maximum.accumulate(marked)[:-1]
    inside = previous >= block_start
    return np.where(inside, values[np.maximum(previous, 0)], carried)


def _starts(first: np.ndarray) -> I64:
    """For each row, the position of its run's first row (`first` marks where runs begin;
    the first row must be marked)."""
    starts: I64 = np.maximum.accumulate(np.where(first, np.arange(len(first)), 0))
    return starts


def _run_starts(keys: I64) -> I64:
    """For each position of sorted `keys`, the first position holding the same key (what
    `searchsorted(keys, keys, "left")` gives, in linear time)."""
    fresh = np.ones(len(keys), np.bool_)
    fresh[1:] = keys[1:] != keys[:-1]
    return _starts(fresh)


def _merged(tail: Cols, window: Cols) -> tuple[Cols, I64]:
    """The tail's and the window's rows in one key order, without sorting: each window row
    goes after the tail rows of keys up to its own; and where each window row went."""
    size = len(tail["key"]) + len(window["key"])
    at: I64 = np.searchsorted(tail["key"], window["key"], side="right") + np.arange(
        len(window["key"])
    )
    from_tail = np.ones(size, np.bool_)
    from_tail[at] = False
    both: Cols = {}
    for name in _TAIL:
        merged = np.empty(size, np.int64)
        merged[at] = window[name]
        merged[from_tail] = tail[name]
        both[name] = merged
    return both, at


def _recent(rows: Cols) -> Cols:
    """The rows later windows may still need: within the last 20 minutes of clock of each
    symbol's latest block (`rows` sorted by key)."""
    keys = rows["key"]
    size = len(keys)
    if not size:
        return rows
    block = keys >> CLOCK_BITS
    clock = keys & ((1 << CLOCK_BITS) - 1)
    sym = block >> EPOCH_BITS
    last = np.ones(size, np.bool_)
    last[:-1] = sym[:-1] != sym[1:]
    # Each symbol's last row has its latest block and, in it, its largest clock.
    run = np.cumsum(np.concatenate([[True], last[:-1]])) - 1
    ends = np.flatnonzero(last)
    keep = (block == block[ends][run]) & (clock > clock[ends][run] - SPIKE_WINDOW_US)
    return rows if keep.all() else _take(rows, np.flatnonzero(keep))
