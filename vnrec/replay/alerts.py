"""The trade alert rules of SPEC.md 7.5 as batch operators over a window's counted trades
(vnrec.trackers.alerts has the rules, their decisions and the per-trade reference).

Per symbol and gap epoch (the trades between two recording gaps), trades are ordered by
seq and carry `clock`, the symbol's event-time high-water mark: non-decreasing, so the
rolling windows are ranges of that order, found by binary search on one key (the block
in the high bits, the clock in the low bits) and summed with prefix sums. What one window
hands the next is per symbol: the trades of the last 20 minutes of clock, the clock, and
the transition states (previous trade at its limit, previous imbalance). Candidates are
rare; they go through the shared de-duplication in seq order, with the foreign and basis
rules' candidates.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt
import polars as pl

from vnrec.calendar import DEFAULT_CALENDAR, TradingCalendar
from vnrec.trackers.alerts import (
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

I64 = npt.NDArray[np.int64]
BLOCK_SHIFT = 40  # a window's clocks, in µs from its earliest, fit in 40 bits (12.7 days)
_SIDE_BUY, _SIDE_SELL = 1, 2  # classification codes of the columnar day (SIDES)


class AlertsBook:
    """One day's alerts, fed the columnar day's windows in seq order."""

    def __init__(self, day: dt.date, calendar: TradingCalendar = DEFAULT_CALENDAR) -> None:
        self._dedup = Deduper()
        self._foreign = ForeignAcceleration()
        self.basis = BasisFlip(day, calendar)
        self.alerts: list[Alert] = []
        # Per symbol id: the latest epoch seen (-1: none) and, in it, the clock and the
        # transition states; arrays that grow with the ids.
        self._epoch = np.full(0, -1, np.int64)
        self._clock = np.zeros(0, np.int64)
        self._at_ceiling = np.zeros(0, np.bool_)
        self._at_floor = np.zeros(0, np.bool_)
        self._imbalanced = np.zeros(0, np.bool_)
        self._tail = pl.DataFrame(
            schema={
                "sym": pl.Int32,
                "epoch": pl.Int64,
                "seq": pl.Int64,
                "clock": pl.Int64,
                "volume": pl.Int64,
                "buy": pl.Int64,
                "sell": pl.Int64,
            }
        )

    def feed(
        self,
        trades: pl.DataFrame | None,
        names: Sequence[str | None],
        gap_seqs: I64,
        foreign: list[tuple[int, int | None, str | None, float | None, float | None]],
    ) -> None:
        """A window: its counted trades (`seq, sym, price, volume, side, session, event_ts,
        ceiling, floor, basis`, seq order), the day's gap seqs, and its `R` messages
        (seq, event_ts, symbol, buy_val, sell_val), in seq order."""
        candidates: list[Alert] = []
        for seq, event_ts, symbol, buy_val, sell_val in foreign:
            found = self._foreign.on_foreign(seq, event_ts, symbol, buy_val, sell_val)
            if found is not None:
                candidates.append(found)
        if trades is not None and trades.height:
            named_ids = np.array([n is not None for n in names], np.bool_)
            has_name = named_ids[trades.get_column("sym").to_numpy()]
            named = trades.filter(pl.Series(has_name) & pl.col("event_ts").is_not_null())
            if named.height:
                candidates += self._trade_rules(named, names, gap_seqs)
                candidates += self._basis_flips(named, names)
        for alert in sorted(candidates, key=lambda a: (a.seq, a.kind)):
            if self._dedup.emit(alert):
                self.alerts.append(alert)

    def _basis_flips(self, trades: pl.DataFrame, names: Sequence[str | None]) -> list[Alert]:
        front = np.array([self.basis.is_front(n) for n in names], np.bool_)
        rows = trades.filter(pl.Series(front[trades.get_column("sym").to_numpy()]))
        found = []
        for seq, event_ts, sym, basis in rows.select("seq", "event_ts", "sym", "basis").iter_rows():
            name = names[sym]
            assert name is not None
            alert = self.basis.on_basis(seq, event_ts, name, basis)
            if alert is not None:
                found.append(alert)
        return found

    def _trade_rules(
        self, trades: pl.DataFrame, names: Sequence[str | None], gap_seqs: I64
    ) -> list[Alert]:
        seq = trades.get_column("seq").to_numpy()
        sym = trades.get_column("sym").to_numpy().astype(np.int32)
        epoch = np.searchsorted(gap_seqs, seq, side="right").astype(np.int64)
        side = trades.get_column("side").to_numpy()
        volume = trades.get_column("volume").to_numpy().astype(np.int64)
        window = pl.DataFrame(
            {
                "sym": sym,
                "epoch": epoch,
                "seq": seq,
                "ts": trades.get_column("event_ts").to_numpy().astype(np.int64),
                "volume": volume,
                "buy": np.where(side == _SIDE_BUY, volume, 0),
                "sell": np.where(side == _SIDE_SELL, volume, 0),
                "price": trades.get_column("price").to_numpy(),
                "continuous": trades.get_column("session").to_numpy() == 0,
                "ceiling": trades.get_column("ceiling").fill_null(np.nan).to_numpy(),
                "floor": trades.get_column("floor").fill_null(np.nan).to_numpy(),
                "row": np.arange(len(seq), dtype=np.int64),
            }
        ).sort("sym", "epoch", "seq", maintain_order=True)
        carried = self._carried(window)
        window = window.with_columns(
            clock=pl.max_horizontal(
                pl.col("ts").cum_max().over("sym", "epoch"), pl.Series(carried["clock"])
            )
        )
        combined = pl.concat(
            [
                self._tail.with_columns(is_new=pl.lit(False)),
                window.select(self._tail.columns).with_columns(is_new=pl.lit(True)),
            ]
        ).sort("sym", "epoch", "seq", maintain_order=True)
        key = _keys(combined)
        volumes = _prefix(combined.get_column("volume").to_numpy())
        buys = _prefix(combined.get_column("buy").to_numpy())
        sells = _prefix(combined.get_column("sell").to_numpy())
        at = np.flatnonzero(combined.get_column("is_new").to_numpy())
        here = key[at]
        lo = np.searchsorted(key, here - SPIKE_WINDOW_US, side="right")
        hi = np.searchsorted(key, here, side="left")
        count = hi - lo
        total = volumes[hi] - volumes[lo]
        lo5 = np.searchsorted(key, here - IMBALANCE_WINDOW_US, side="right")
        buy = buys[at + 1] - buys[lo5]
        sell = sells[at + 1] - sells[lo5]
        self._tail = _tail(combined.drop("is_new"))

        # Back in window order (sym, epoch, seq): `at` follows that order too.
        price = window.get_column("price").to_numpy()
        vol = window.get_column("volume").to_numpy()
        ceiling = window.get_column("ceiling").to_numpy()
        floor = window.get_column("floor").to_numpy()
        at_ceiling = (ceiling > 0) & (price >= ceiling)
        at_floor = (floor > 0) & (price <= floor)
        first = carried["first"]
        prev_ceiling = np.where(first, carried["at_ceiling"], np.roll(at_ceiling, 1))
        prev_floor = np.where(first, carried["at_floor"], np.roll(at_floor, 1))
        continuous = window.get_column("continuous").to_numpy()
        imbalanced = (buy + sell >= IMBALANCE_MIN_VOLUME) & (
            (buy >= IMBALANCE_FACTOR * sell) | (sell >= IMBALANCE_FACTOR * buy)
        )
        prev_imbalanced = _previous_where(imbalanced, continuous, first, carried["imbalanced"])
        spike = (count >= SPIKE_MIN_TRADES) & (vol * count >= SPIKE_FACTOR * total)
        self._remember(window, at_ceiling, at_floor, imbalanced, continuous)

        seqs = window.get_column("seq").to_numpy()
        stamps = window.get_column("ts").to_numpy()
        syms = window.get_column("sym").to_numpy()
        found: list[Alert] = []
        for i in np.flatnonzero(spike):
            found.append(
                Alert(
                    int(seqs[i]), int(stamps[i]), VOLUME_SPIKE, str(names[syms[i]]),
                    float(vol[i]), SPIKE_FACTOR * int(total[i]) / int(count[i]),
                )
            )  # fmt: skip
        for i in np.flatnonzero(at_ceiling & ~prev_ceiling):
            found.append(
                Alert(int(seqs[i]), int(stamps[i]), CEILING_HIT, str(names[syms[i]]),
                      float(price[i]), float(ceiling[i]))
            )  # fmt: skip
        for i in np.flatnonzero(at_floor & ~prev_floor):
            found.append(
                Alert(int(seqs[i]), int(stamps[i]), FLOOR_HIT, str(names[syms[i]]),
                      float(price[i]), float(floor[i]))
            )  # fmt: skip
        for i in np.flatnonzero(continuous & imbalanced & ~prev_imbalanced):
            ratio = None if sell[i] == 0 else int(buy[i]) / int(sell[i])
            found.append(
                Alert(int(seqs[i]), int(stamps[i]), IMBALANCE, str(names[syms[i]]),
                      ratio, float(IMBALANCE_FACTOR))
            )  # fmt: skip
        return found

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

    def _carried(self, window: pl.DataFrame) -> dict[str, np.ndarray]:
        """Per window row: the state its (symbol, epoch) block brings in (nothing for a
        block the day has not seen), and whether it is its block's first row."""
        sym = window.get_column("sym").to_numpy()
        epoch = window.get_column("epoch").to_numpy()
        self._grow(int(sym.max()) + 1)
        first = np.ones(len(sym), np.bool_)
        first[1:] = (sym[1:] != sym[:-1]) | (epoch[1:] != epoch[:-1])
        same = self._epoch[sym] == epoch
        return {
            "first": first,
            "clock": np.where(same, self._clock[sym], np.iinfo(np.int64).min),
            "at_ceiling": same & self._at_ceiling[sym],
            "at_floor": same & self._at_floor[sym],
            "imbalanced": same & self._imbalanced[sym],
        }

    def _remember(
        self,
        window: pl.DataFrame,
        at_ceiling: np.ndarray,
        at_floor: np.ndarray,
        imbalanced: np.ndarray,
        continuous: np.ndarray,
    ) -> None:
        """The state each symbol's last row (of its latest epoch) leaves for the next
        window; the imbalance state is that of its last continuous row, if any."""
        sym = window.get_column("sym").to_numpy()
        epoch = window.get_column("epoch").to_numpy()
        clock = window.get_column("clock").to_numpy()
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


def _keys(rows: pl.DataFrame) -> I64:
    """One non-decreasing key per row (rows by symbol, epoch, seq): the block's number in
    the high bits, the clock in the low ones, so that a clock range of a block is a key
    range."""
    sym = rows.get_column("sym").to_numpy()
    epoch = rows.get_column("epoch").to_numpy()
    clock = rows.get_column("clock").to_numpy()
    starts = np.ones(len(sym), np.int64)
    starts[1:] = (sym[1:] != sym[:-1]) | (epoch[1:] != epoch[:-1])
    block = np.cumsum(starts)
    # A margin below the earliest clock keeps `clock - 20 min` inside its block.
    offset = clock - (int(clock.min()) - 2 * SPIKE_WINDOW_US)
    if int(offset.max()) >= 1 << BLOCK_SHIFT:
        raise ValueError("a window's event times span more than 12 days")
    keys: I64 = (block << BLOCK_SHIFT) + offset
    return keys


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
    block_start = np.maximum.accumulate(np.where(first, positions, 0))
    marked = np.where(where, positions, -1)
    previous = np.full(len(values), -1, np.int64)
    if len(values) > 1:
        previous[1:] = np.maximum.accumulate(marked)[:-1]
    inside = previous >= block_start
    return np.where(inside, values[np.maximum(previous, 0)], carried)


def _tail(combined: pl.DataFrame) -> pl.DataFrame:
    """The rows later windows may still need: within the last 20 minutes of clock of the
    latest epoch of each symbol."""
    latest = combined.with_columns(
        top_epoch=pl.col("epoch").max().over("sym"),
        top_clock=pl.col("clock").max().over("sym", "epoch"),
    )
    return latest.filter(
        (pl.col("epoch") == pl.col("top_epoch"))
        & (pl.col("clock") > pl.col("top_clock") - SPIKE_WINDOW_US)
    ).drop("top_epoch", "top_clock")
