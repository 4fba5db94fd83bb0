"""The trade alert rules of SPEC.md 7.5 as batch operators over a window's counted trades
(vnrec.trackers.alerts has the rules, their decisions and the per-trade reference).

The rolling windows (volume_spike, imbalance) and the transition states (previous trade at
its limit, previous imbalance) are kept per symbol and gap epoch (the trades between two
recording gaps) by `vnrec.replay._ordered`, a C loop over the trades in seq order: a
trade's windows depend on the trades before it of its symbol, which a column operation
can only find by sorting and searching (the numpy version this replaced spent ~400 ns a
trade doing that; the loop spends ~20-60). The foreign_acceleration rule is another such
loop over the `R` messages (in Python it cost ~2 us a message, a few percent of a replay
whose day has more `R` messages than the bench's 1 in 150). The loops flag the rare rows
that meet a rule; only those become alerts, which go through the shared de-duplication in
seq order with the basis rule's candidates. The basis rule is numpy on columns.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np
import numpy.typing as npt

from vnrec.calendar import DEFAULT_CALENDAR, TradingCalendar
from vnrec.replay._ordered import ForeignHistory, Rolling
from vnrec.trackers.alerts import (
    BASIS_FLIP,
    CEILING_HIT,
    FLOOR_HIT,
    FOREIGN_ACCELERATION,
    FOREIGN_FACTOR,
    FOREIGN_MIN_NET,
    FOREIGN_WINDOW_US,
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
)

if TYPE_CHECKING:
    import pyarrow as pa

I64 = npt.NDArray[np.int64]
F64 = npt.NDArray[np.float64]
_SIDE_BUY, _SIDE_SELL = 1, 2  # classification codes of the columnar day (SIDES)
# What vnrec.replay._ordered flags in a trade's bits.
_SPIKE, _CEILING, _FLOOR, _IMBALANCE = 1, 2, 4, 8

Cols = dict[str, np.ndarray]


def _take(cols: Cols, rows: np.ndarray) -> Cols:
    return {name: values[rows] for name, values in cols.items()}


class ForeignRows(NamedTuple):
    """`R` messages for the foreign rule, in seq order: seq, event time (µs), symbol id,
    net value (buy minus sell) and which are usable (time, symbol and both values known)."""

    seq: I64
    event_ts: I64
    sym: I64
    net: F64
    usable: npt.NDArray[np.bool_]

    @staticmethod
    def concat(parts: Sequence[ForeignRows]) -> ForeignRows:
        if len(parts) == 1:
            return parts[0]
        return ForeignRows(*(np.concatenate(columns) for columns in zip(*parts, strict=True)))


# Symbol ids of a text column's distinct values, one more entry for null (id -1 there).
SymbolIds = Callable[[list[Any]], I64]
# A window's `foreign` table as ForeignRows, its symbols numbered by the given SymbolIds.
ForeignReader = Callable[["pa.Table", SymbolIds], ForeignRows]


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
        self._foreign = ForeignHistory(
            window=FOREIGN_WINDOW_US, min_net=FOREIGN_MIN_NET, factor=FOREIGN_FACTOR
        )
        # The foreign rule's own symbol ids (the window loop's are not for this thread).
        self._foreign_ids: dict[str, int] = {}
        self._foreign_names: list[str] = []
        self.basis = BasisFlip(day, calendar)
        self._found: list[Alert] = []
        self._chunk = chunk
        self._pending: list[tuple[Cols | None, pa.Table | None]] = []
        self._pending_trades = 0
        self._names: Sequence[str | None] = ()
        self._gap_seqs = np.zeros(0, np.int64)
        self._worker: ThreadPoolExecutor | None = None  # started by the first chunk
        self._running: list[Future[None]] = []
        self._rolling = Rolling(
            spike_window=SPIKE_WINDOW_US,
            spike_min_trades=SPIKE_MIN_TRADES,
            spike_factor=SPIKE_FACTOR,
            flow_window=IMBALANCE_WINDOW_US,
            flow_min_volume=IMBALANCE_MIN_VOLUME,
            flow_factor=IMBALANCE_FACTOR,
            buy_side=_SIDE_BUY,
            sell_side=_SIDE_SELL,
        )
        self._named = np.zeros(0, np.bool_)  # per symbol id: has a name
        self._front = np.zeros(0, np.bool_)  # per symbol id: the day's front contract

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
        read = [
            self._read_foreign(table, self._symbol_ids)
            for _, table in pending
            if table is not None and table.num_rows
        ]
        foreign = ForeignRows.concat(read) if read else None
        # The windows go now, before the rules run: the task holds `pending` until it ends.
        pending.clear()
        del parts
        self._compute(trades, names, gap_seqs, foreign)

    def _symbol_ids(self, values: list[Any]) -> I64:
        ids = self._foreign_ids
        for name in values:
            if name is not None and name not in ids:
                ids[name] = len(self._foreign_names)
                self._foreign_names.append(name)
        return np.array([*(-1 if v is None else ids[v] for v in values), -1], np.int64)

    def _compute(
        self,
        trades: Cols | None,
        names: Sequence[str | None],
        gap_seqs: I64,
        foreign: ForeignRows | None,
    ) -> None:
        candidates = [] if foreign is None else self._foreign_rule(foreign)
        if trades is not None and len(trades["seq"]):
            self._note_names(names)
            usable = self._named[trades["sym"]] & trades["timed"]
            kept = trades if usable.all() else _take(trades, np.flatnonzero(usable))
            if len(kept["seq"]):
                candidates += self._trade_rules(kept, names, gap_seqs)
                candidates += self._basis_flips(kept, names)
        for alert in sorted(candidates, key=lambda a: (a.seq, a.kind)):
            if self._dedup.emit(alert):
                self._found.append(alert)

    def _foreign_rule(self, rows: ForeignRows) -> list[Alert]:
        found = np.empty(len(rows.seq), np.uint8)
        before = np.empty(len(rows.seq), np.float64)
        self._foreign.run(
            rows.sym, rows.event_ts, rows.net, rows.usable.view(np.uint8), found, before
        )
        return [
            Alert(
                int(rows.seq[i]),
                int(rows.event_ts[i]),
                FOREIGN_ACCELERATION,
                self._foreign_names[rows.sym[i]],
                float(rows.net[i]) - float(before[i]),
                FOREIGN_FACTOR * abs(float(before[i])),
            )
            for i in np.flatnonzero(found).tolist()
        ]

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
        # Not np.unique: its first plain call imports numpy.ma (~20 ms of the command's start).
        ordered = np.sort(cols["sym"][rows])
        first = np.ones(len(ordered), np.bool_)
        first[1:] = ordered[1:] != ordered[:-1]
        for sym in ordered[first].tolist():
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
        epoch = np.searchsorted(gap_seqs, cols["seq"], side="right").astype(np.int64, copy=False)
        size = len(epoch)
        flags = np.empty(size, np.uint8)
        count, total, buy, sell = (np.empty(size, np.int64) for _ in range(4))
        volume = np.ascontiguousarray(cols["volume"], np.int64)
        price, ceiling, floor = (
            np.ascontiguousarray(cols[name], np.float64) for name in ("price", "ceiling", "floor")
        )
        self._rolling.run(
            np.ascontiguousarray(cols["sym"], np.int64),
            epoch,
            np.ascontiguousarray(cols["event_ts"], np.int64),
            volume,
            np.ascontiguousarray(cols["side"]).view(np.uint8),
            (cols["session"] == 0).view(np.uint8),
            price,
            ceiling,
            floor,
            flags,
            count,
            total,
            buy,
            sell,
        )
        seqs, stamps, sym = cols["seq"], cols["event_ts"], cols["sym"]
        found: list[Alert] = []
        for i in np.flatnonzero(flags).tolist():
            common = (int(seqs[i]), int(stamps[i]))
            symbol = str(names[sym[i]])
            flag = int(flags[i])
            if flag & _SPIKE:
                found.append(
                    Alert(*common, VOLUME_SPIKE, symbol, float(volume[i]),
                          SPIKE_FACTOR * int(total[i]) / int(count[i]))
                )  # fmt: skip
            if flag & _CEILING:
                found.append(
                    Alert(*common, CEILING_HIT, symbol, float(price[i]), float(ceiling[i]))
                )
            if flag & _FLOOR:
                found.append(Alert(*common, FLOOR_HIT, symbol, float(price[i]), float(floor[i])))
            if flag & _IMBALANCE:
                ratio = None if sell[i] == 0 else int(buy[i]) / int(sell[i])
                found.append(Alert(*common, IMBALANCE, symbol, ratio, float(IMBALANCE_FACTOR)))
        return found
