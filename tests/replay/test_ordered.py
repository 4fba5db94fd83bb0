"""The C loops of the alert rules (vnrec.replay._ordered) against the rules written out by
brute force, trade by trade from all the trades before it (the foreign rule: against its
per-message reference), over random days cut into random calls; and their refusals of
malformed input."""

from __future__ import annotations

import itertools
import random

import numpy as np
import pytest

from vnrec.replay._ordered import ForeignHistory, Rolling, add_totals, book_before, previous_max
from vnrec.trackers.alerts import (
    FOREIGN_FACTOR,
    FOREIGN_MIN_NET,
    FOREIGN_WINDOW_US,
    ForeignAcceleration,
)

SPIKE_W, SPIKE_MIN, SPIKE_F = 1_200, 4, 3
FLOW_W, FLOW_MIN, FLOW_F = 300, 1_000, 3
BUY, SELL = 1, 2
INPUTS = ("sym", "epoch", "ts", "volume", "side", "continuous", "price", "ceiling", "floor")


def _rolling() -> Rolling:
    return Rolling(
        spike_window=SPIKE_W,
        spike_min_trades=SPIKE_MIN,
        spike_factor=SPIKE_F,
        flow_window=FLOW_W,
        flow_min_volume=FLOW_MIN,
        flow_factor=FLOW_F,
        buy_side=BUY,
        sell_side=SELL,
    )


def _day(rng: random.Random, size: int) -> dict[str, np.ndarray]:
    """Trades of a few symbols; times mostly forward, now and then back or equal; gaps."""
    rows: dict[str, list[object]] = {name: [] for name in INPUTS}
    now, epoch = 10_000, 0
    for _ in range(size):
        now += rng.choice((0, 0, 1, 3, 10, 60))
        if rng.random() < 0.01:  # a pause longer than the difference of the windows
            now += rng.randrange(SPIKE_W - FLOW_W, 2 * SPIKE_W)
        if rng.random() < 0.003:
            epoch += 1
        limit = rng.choice((107.0, float("nan"), 0.0))
        rows["sym"].append(rng.randrange(5))
        rows["epoch"].append(epoch)
        rows["ts"].append(now - rng.choice((0, 0, 0, 0, 0, 50, 400)))
        rows["volume"].append(rng.choice((10, 100, 500, 2_000, 9_000)))
        rows["side"].append(rng.choice((0, BUY, BUY, SELL)))
        rows["continuous"].append(int(rng.random() < 0.9))
        rows["price"].append(rng.choice((93.0, 100.0, 107.0, float("nan"))))
        rows["ceiling"].append(limit)
        rows["floor"].append(rng.choice((93.0, float("nan"))))
    kinds = {"side": np.uint8, "continuous": np.uint8, "price": np.float64}
    kinds |= {"ceiling": np.float64, "floor": np.float64}
    return {name: np.array(values, kinds.get(name, np.int64)) for name, values in rows.items()}


def _brute_force(day: dict[str, np.ndarray]) -> dict[str, list[int]]:
    """Each rule from its definition (SPEC.md 7.5, docs/design.md "Alerts"), over every
    earlier trade of the same symbol and epoch."""
    out: dict[str, list[int]] = {k: [] for k in ("flags", "count", "total", "buy", "sell")}
    clocks: list[int] = []
    for i in range(len(day["sym"])):
        block = [
            j
            for j in range(i)
            if day["sym"][j] == day["sym"][i] and day["epoch"][j] == day["epoch"][i]
        ]
        t = max([clocks[j] for j in block] + [int(day["ts"][i])])
        clocks.append(t)
        volume = int(day["volume"][i])
        spike = [j for j in block if t - SPIKE_W < clocks[j] < t]
        count, total = len(spike), sum(int(day["volume"][j]) for j in spike)
        flags = int(count >= SPIKE_MIN and volume * count >= SPIKE_F * total)

        def at_limit(j: int) -> tuple[bool, bool]:
            price, ceiling, floor = day["price"][j], day["ceiling"][j], day["floor"][j]
            return bool(ceiling > 0 and price >= ceiling), bool(floor > 0 and price <= floor)

        before = at_limit(block[-1]) if block else (False, False)
        now = at_limit(i)
        flags |= 2 * int(now[0] and not before[0]) | 4 * int(now[1] and not before[1])

        flow = [j for j in [*block, i] if clocks[j] > t - FLOW_W]
        buy = sum(int(day["volume"][j]) for j in flow if day["side"][j] == BUY)
        sell = sum(int(day["volume"][j]) for j in flow if day["side"][j] == SELL)

        def imbalanced(b: int, s: int) -> bool:
            return b + s >= FLOW_MIN and (b >= FLOW_F * s or s >= FLOW_F * b)

        if day["continuous"][i]:
            earlier = [j for j in block if day["continuous"][j]]
            was = bool(earlier) and out["flags"][earlier[-1]] & 16 != 0
            if imbalanced(buy, sell):
                flags |= 16 | (8 if not was else 0)  # 16: imbalanced now (the test's own mark)
        elif block and out["flags"][block[-1]] & 16:
            flags |= 16  # the state carries through non-continuous trades
        for name, value in zip(out, (flags, count, total, buy, sell), strict=True):
            out[name].append(value)
    out["flags"] = [f & 15 for f in out["flags"]]
    return out


def _run(rolling: Rolling, day: dict[str, np.ndarray], cuts: list[int]) -> dict[str, list[int]]:
    size = len(day["sym"])
    flags = np.empty(size, np.uint8)
    sums = {name: np.empty(size, np.int64) for name in ("count", "total", "buy", "sell")}
    edges = [0, *sorted(cuts), size]
    for lo, hi in itertools.pairwise(edges):
        part = [day[name][lo:hi] for name in INPUTS]
        outputs = [flags[lo:hi], *(values[lo:hi] for values in sums.values())]
        rolling.run(*part, *outputs)
    return {"flags": flags.tolist()} | {name: values.tolist() for name, values in sums.items()}


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_the_loop_is_the_rules_in_any_cut(seed: int) -> None:
    rng = random.Random(seed)
    day = _day(rng, 1_500)
    expected = _brute_force(day)
    assert {f & m for f in expected["flags"] for m in (1, 2, 4, 8)} == {0, 1, 2, 4, 8}
    size = len(day["sym"])
    for cuts in ([], list(range(1, size)), rng.sample(range(1, size), 40)):
        assert _run(_rolling(), day, cuts) == expected


def test_a_pause_between_the_windows_lengths_keeps_the_flow_windows_trades() -> None:
    """After a pause longer than the difference of the windows, this trade's spike head is
    past the flow head the previous trade left: making room must not drop the trades between
    them (it once did, and the flow window then read memory before its buffer)."""
    size = 17
    day = {name: np.zeros(size, np.int64) for name in ("sym", "epoch", "volume")}
    day["volume"][:] = 100
    day["ts"] = np.array([*range(16), SPIKE_W + 10], np.int64)
    day["side"] = np.full(size, BUY, np.uint8)
    day["continuous"] = np.ones(size, np.uint8)
    for name in ("price", "ceiling", "floor"):
        day[name] = np.full(size, np.nan)
    got = _run(_rolling(), day, [])
    assert got == _brute_force(day)
    assert got["buy"][-1] == 100 and got["sell"][-1] == 0


def test_malformed_input_is_refused() -> None:
    day = _day(random.Random(0), 10)
    outputs = [np.empty(10, np.uint8), *(np.empty(10, np.int64) for _ in range(4))]
    rolling = _rolling()
    short = dict(day, price=day["price"][:9])
    with pytest.raises(ValueError, match="price: 72 bytes, expected 80"):
        rolling.run(*(short[name] for name in INPUTS), *outputs)
    negative = dict(day, sym=np.full(10, -1, np.int64))
    with pytest.raises(ValueError, match="symbol id -1 out of range"):
        rolling.run(*(negative[name] for name in INPUTS), *outputs)
    frozen = np.empty(10, np.uint8)
    frozen.flags.writeable = False
    with pytest.raises((BufferError, ValueError)):
        rolling.run(*(day[name] for name in INPUTS), frozen, *outputs[1:])
    with pytest.raises(ValueError, match="windows"):
        Rolling(
            spike_window=10, spike_min_trades=1, spike_factor=1, flow_window=20,
            flow_min_volume=1, flow_factor=1, buy_side=1, sell_side=2,
        )  # fmt: skip


def _cuts(rng: random.Random, size: int) -> list[list[int]]:
    return [[], list(range(1, size)), sorted(rng.sample(range(1, size), 30))]


@pytest.mark.parametrize("seed", [1, 2])
def test_previous_max_is_the_largest_earlier_value_of_the_symbol(seed: int) -> None:
    rng = random.Random(seed)
    sym = np.array([rng.randrange(4) for _ in range(500)], np.int32)
    values = np.array([rng.choice((0, 5, 10, 2**62, rng.randrange(100))) for _ in sym], np.int64)
    expected = [max([0, *(values[j] for j in range(i) if sym[j] == sym[i])]) for i in range(500)]
    for cuts in _cuts(rng, 500):
        maxima, previous = np.zeros(4, np.int64), np.empty(500, np.int64)
        edges = [0, *cuts, 500]
        for lo, hi in itertools.pairwise(edges):
            previous_max(sym[lo:hi], values[lo:hi], maxima, previous[lo:hi])
        assert previous.tolist() == expected
        assert maxima.tolist() == [max([0, *values[sym == s].tolist()]) for s in range(4)]


@pytest.mark.parametrize("seed", [1, 2])
def test_a_trades_book_is_its_symbols_latest_quote_before_it(seed: int) -> None:
    """An `X` message's trade and book parts share a seq: the trade sees the book before."""
    rng = random.Random(seed)
    trades: list[tuple[int, int]] = []
    quotes: list[tuple[int, int, float, float]] = []
    for seq in range(1, 800):
        roll, symbol = rng.random(), rng.randrange(5)
        if roll < 0.4 or roll > 0.9:
            trades.append((seq, symbol))
        if roll > 0.4:
            quotes.append((seq, symbol, rng.choice((99.0, float("nan"))), float(seq)))
    expected = []
    for seq, symbol in trades:
        before = [q for q in quotes if q[1] == symbol and q[0] < seq]
        expected.append((before[-1][0], before[-1][2], before[-1][3]) if before else (0, 0.0, 0.0))
    t_seq = np.array([t[0] for t in trades], np.int64)
    t_sym = np.array([t[1] for t in trades], np.int32)
    q_seq = np.array([q[0] for q in quotes], np.int64)
    q_sym = np.array([q[1] for q in quotes], np.int32)
    q_bid = np.array([q[2] for q in quotes])
    q_ask = np.array([q[3] for q in quotes])
    for cuts in _cuts(rng, 800):
        book_seq, bid, ask = np.zeros(5, np.int64), np.zeros(5), np.zeros(5)
        out = [np.empty(len(trades), np.int64), np.empty(len(trades)), np.empty(len(trades))]
        edges = [0, *cuts, 800]
        for lo, hi in itertools.pairwise(edges):  # windows of seqs (lo, hi]
            t = (lo < t_seq) & (t_seq <= hi)
            q = (lo < q_seq) & (q_seq <= hi)
            parts = [np.empty(int(t.sum()), a.dtype) for a in out]
            book_before(
                t_seq[t], t_sym[t], q_seq[q], q_sym[q], q_bid[q], q_ask[q], book_seq, bid, ask,
                *parts,
            )  # fmt: skip
            for whole, part in zip(out, parts, strict=True):
                whole[t] = part
        got = list(zip(out[0].tolist(), out[1].tolist(), out[2].tolist(), strict=True))
        assert np.array_equal(np.array(got), np.array(expected), equal_nan=True)
        for symbol in range(5):
            last = [q for q in quotes if q[1] == symbol][-1]
            assert (book_seq[symbol], ask[symbol]) == (last[0], last[3])


def test_the_loops_refuse_an_id_outside_the_arrays() -> None:
    ids = np.array([0, 3], np.int32)
    with pytest.raises(ValueError, match="symbol id 3 out of range \\(3 symbols\\)"):
        previous_max(ids, np.zeros(2, np.int64), np.zeros(3, np.int64), np.empty(2, np.int64))
    with pytest.raises(ValueError, match="values: 8 bytes, expected 16"):
        previous_max(ids, np.zeros(1, np.int64), np.zeros(4, np.int64), np.empty(2, np.int64))
    seqs, prices = np.array([1, 2], np.int64), np.zeros(2)
    with pytest.raises(ValueError, match="symbol id -1 out of range"):
        book_before(
            seqs, np.array([0, 1], np.int32), seqs, np.array([-1, 0], np.int32), prices,
            prices, np.zeros(3, np.int64), np.zeros(3), np.zeros(3), np.empty(2, np.int64),
            np.empty(2), np.empty(2),
        )  # fmt: skip


def _totals(symbols: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    return (
        np.zeros((symbols, 8), np.int64),
        np.zeros((symbols, 4, 2), np.int64),
        np.zeros((symbols, 4)),
        np.zeros(symbols, np.uint8),
    )


@pytest.mark.parametrize("seed", [1, 2])
def test_session_totals_are_the_sums_and_prices_of_each_symbols_trades(seed: int) -> None:
    """Values past 64 bits stay exact; first/last follow the rows' order, not the price."""
    rng = random.Random(seed)
    size = 600
    sym = np.array([rng.randrange(4) for _ in range(size)], np.int32)  # id 4 never trades
    side = np.array([rng.choice((0, 1, 2)) for _ in range(size)], np.int8)
    session = np.array([rng.choice((0, 0, 1, 2, 3)) for _ in range(size)], np.int8)
    volume = np.array([rng.choice((100, 2**40, 7)) for _ in range(size)], np.int64)
    units = np.array([rng.choice((1_000, 2**40, 12_345)) for _ in range(size)], np.int64)
    price = np.array([rng.choice((9.5, 10.0, 11.25)) for _ in range(size)])
    for cuts in _cuts(rng, size):
        counts, values, prices, seen = _totals(5)
        for lo, hi in itertools.pairwise([0, *cuts, size]):
            add_totals(
                sym[lo:hi], side[lo:hi], session[lo:hi], volume[lo:hi], units[lo:hi],
                price[lo:hi], counts, values, prices, seen,
            )  # fmt: skip
        assert seen.tolist() == [1, 1, 1, 1, 0]
        for s in range(4):
            mine = [i for i in range(size) if sym[i] == s]

            def volume_where(rows: list[int]) -> int:
                return sum(int(volume[i]) for i in rows)

            def value_where(rows: list[int]) -> int:
                return sum(int(volume[i]) * int(units[i]) for i in rows)

            by_side = [[i for i in mine if side[i] == code] for code in (1, 2, 0)]
            by_phase = [[i for i in mine if session[i] == code] for code in (0, 1, 2)]
            assert counts[s].tolist() == [
                len(mine), volume_where(mine), *map(volume_where, by_side),
                *map(volume_where, by_phase),
            ]  # fmt: skip
            exact = [(hi << 64) | (lo & (2**64 - 1)) for lo, hi in values[s].tolist()]
            assert exact == [value_where(mine), *map(value_where, by_side)]
            assert max(exact) >= 2**64
            first, last = price[mine[0]], price[mine[-1]]
            assert prices[s].tolist() == [first, price[mine].max(), price[mine].min(), last]


def test_session_totals_refuse_arrays_of_the_wrong_shape() -> None:
    one = [np.zeros(1, np.int32), np.zeros(1, np.int8), np.zeros(1, np.int8)]
    one += [np.ones(1, np.int64), np.ones(1, np.int64), np.ones(1)]
    counts, values, prices, seen = _totals(2)
    with pytest.raises(ValueError, match="per-symbol arrays of 3 symbols"):
        add_totals(*one, counts, values, prices, np.zeros(3, np.uint8))
    with pytest.raises(ValueError, match="symbol id 2 out of range"):
        add_totals(np.array([2], np.int32), *one[1:], counts, values, prices, seen)
    assert not counts.any() and not seen.any()


def test_buffers_of_the_wrong_item_type_or_alignment_are_refused() -> None:
    """The loops read buffers as C arrays: a float column where ints are read, a 4-byte
    one where 8 are, or a misaligned view would be misread, so each is refused by name."""
    sym, maxima, previous = np.zeros(2, np.int32), np.zeros(1, np.int64), np.empty(2, np.int64)
    with pytest.raises(TypeError, match=r"values: items of format 'd' \(8 bytes\), expected i8"):
        previous_max(sym, np.zeros(2), maxima, previous)
    with pytest.raises(TypeError, match=r"sym: items of format '[lq]' \(8 bytes\), expected i4"):
        previous_max(np.zeros(2, np.int64), np.zeros(2, np.int64), maxima, previous)
    misaligned = np.zeros(17, np.uint8)[1:].view(np.int64)
    with pytest.raises(ValueError, match="values: buffer not aligned to its 8-byte items"):
        previous_max(sym, misaligned, maxima, previous)
    with pytest.raises((BufferError, ValueError), match="contiguous"):
        previous_max(sym, np.zeros(4, np.int64)[::2], maxima, previous)
    assert not maxima.any()


def test_a_rolling_is_set_up_once() -> None:
    rolling = _rolling()
    with pytest.raises(RuntimeError, match="already initialized"):
        rolling.__init__(  # type: ignore[misc]
            spike_window=-5, spike_min_trades=1, spike_factor=1, flow_window=1,
            flow_min_volume=1, flow_factor=1, buy_side=1, sell_side=2,
        )  # fmt: skip
    day = _day(random.Random(4), 300)
    assert _run(rolling, day, []) == _brute_force(day)
    bare = Rolling.__new__(Rolling)
    outputs = [np.empty(1, np.uint8), *(np.empty(1, np.int64) for _ in range(4))]
    with pytest.raises(RuntimeError, match="not initialized"):
        bare.run(*(day[name][:1] for name in INPUTS), *outputs)


# seq, event time (µs), symbol, buy value, sell value: ForeignAcceleration.on_foreign's
ForeignRow = tuple[int, int | None, str | None, float | None, float | None]
VALUES = (0.0, 5e8, 1e9, 1.3e9, 1.2999e9, 2e9, -2e9, 7e9, float("nan"), float("inf"), None)


def _foreign_history() -> ForeignHistory:
    return ForeignHistory(window=FOREIGN_WINDOW_US, min_net=FOREIGN_MIN_NET, factor=FOREIGN_FACTOR)


def _foreign_day(rng: random.Random, size: int) -> list[ForeignRow]:
    """`R` messages of a few symbols: times mostly forward, now and then back or equal;
    missing times, symbols and values, NaN and infinities; nets around the thresholds."""
    minute = 60_000_000
    now = 9 * 60 * minute
    rows = []
    for seq in range(1, size + 1):
        now += rng.choice((0, minute // 2, minute, 2 * minute, 5 * minute))
        when = now - rng.choice((0, 0, 0, 0, minute, 6 * minute))
        rows.append((
            seq,
            None if rng.random() < 0.03 else when,
            None if rng.random() < 0.03 else rng.choice(("AAA", "BBB", "CCC")),
            rng.choice(VALUES),
            rng.choice(VALUES),
        ))  # fmt: skip
    return rows


def _foreign_run(
    history: ForeignHistory,
    rows: list[ForeignRow],
    cuts: list[int],
) -> list[tuple[int, float, float]]:
    ids = {"AAA": 0, "BBB": 1, "CCC": 2}
    sym = np.array([-1 if r[2] is None else ids[r[2]] for r in rows], np.int64)
    ts = np.array([0 if r[1] is None else r[1] for r in rows], np.int64)
    buy, sell = (np.array([np.nan if r[k] is None else r[k] for r in rows]) for k in (3, 4))
    with np.errstate(invalid="ignore"):
        net = buy - sell
    usable = np.array([r[1] is not None for r in rows]) & (sym >= 0)
    usable &= ~np.isnan(buy) & ~np.isnan(sell)
    found, before = np.empty(len(rows), np.uint8), np.empty(len(rows))
    for lo, hi in itertools.pairwise([0, *cuts, len(rows)]):
        history.run(
            sym[lo:hi], ts[lo:hi], net[lo:hi], usable[lo:hi].view(np.uint8),
            found[lo:hi], before[lo:hi],
        )  # fmt: skip
    return [
        (i + 1, float(net[i]) - float(before[i]), FOREIGN_FACTOR * abs(float(before[i])))
        for i in np.flatnonzero(found).tolist()
    ]


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_the_foreign_loop_is_the_reference_in_any_cut(seed: int) -> None:
    rng = random.Random(seed)
    rows = _foreign_day(rng, 1_500)
    reference = ForeignAcceleration()
    alerts = [reference.on_foreign(*row) for row in rows]
    expected = [(a.seq, a.value, a.threshold) for a in alerts if a is not None]
    assert len(expected) > 20
    for cuts in _cuts(rng, len(rows)):
        assert _foreign_run(_foreign_history(), rows, cuts) == expected


def test_a_time_below_the_window_has_no_earlier_point() -> None:
    """ts - window below the int64 range: no point is that old (not one at INT64_MIN)."""
    low = np.iinfo(np.int64).min
    history = _foreign_history()
    found, before = np.empty(2, np.uint8), np.empty(2)
    history.run(
        np.zeros(2, np.int64), np.array([low, low + 1], np.int64), np.array([2e9, 9e9]),
        np.ones(2, np.uint8), found, before,
    )  # fmt: skip
    assert found.tolist() == [0, 0]


def test_the_foreign_loop_refuses_malformed_input() -> None:
    history = _foreign_history()
    one = [np.zeros(1, np.int64), np.zeros(1, np.int64), np.zeros(1), np.ones(1, np.uint8)]
    outputs = [np.empty(1, np.uint8), np.empty(1)]
    with pytest.raises(ValueError, match="symbol id -1 out of range"):
        history.run(np.full(1, -1, np.int64), *one[1:], *outputs)
    with pytest.raises(ValueError, match="net: 16 bytes, expected 8"):
        history.run(*one[:2], np.zeros(2), one[3], *outputs)
    with pytest.raises(TypeError, match="usable: items of format"):
        history.run(*one[:3], np.ones(1, np.int64), *outputs)
    with pytest.raises(RuntimeError, match="already initialized"):
        history.__init__(window=1, min_net=0.0, factor=0.0)  # type: ignore[misc]
    with pytest.raises(ValueError, match="window must be positive"):
        ForeignHistory(window=0, min_net=0.0, factor=0.0)
    bare = ForeignHistory.__new__(ForeignHistory)
    with pytest.raises(RuntimeError, match="not initialized"):
        bare.run(*one, *outputs)


def test_an_output_sharing_memory_with_another_buffer_is_refused() -> None:
    """A loop writing into memory it also reads would read back its own writes (ids it never
    checked): found over usable, before over sym, previous over values are each refused."""
    history = _foreign_history()
    base = np.zeros(4, np.uint8)
    rows = [np.zeros(3, np.int64), np.zeros(3, np.int64), np.zeros(3)]
    with pytest.raises(ValueError, match="found: shares memory with usable"):
        history.run(*rows, base[:3], base[1:], np.zeros(3))
    words = np.zeros(4, np.int64)
    with pytest.raises(ValueError, match="before: shares memory with sym"):
        history.run(
            words[:3], *rows[1:], np.ones(3, np.uint8), np.empty(3, np.uint8),
            words[1:].view(np.float64),
        )  # fmt: skip
    values = np.zeros(3, np.int64)
    with pytest.raises(ValueError, match="previous: shares memory with values"):
        previous_max(np.zeros(3, np.int32), values, np.zeros(1, np.int64), values)
    assert not base.any() and not words.any()
