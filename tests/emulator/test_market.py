"""The synthetic day: reproducible, and the market invariants the trackers rely on hold."""

from __future__ import annotations

import datetime as dt
import statistics
from collections import Counter, defaultdict
from typing import Any

import orjson
import pytest

from vnrec.calendar import listed_futures, session_at
from vnrec.emulator.market import MarketConfig, MarketEvent, SyntheticMarket
from vnrec.emulator.prices import PriceGrid
from vnrec.errors import BadInputError

from .conftest import DAY, small_market


def _content(event: MarketEvent) -> dict[str, Any]:
    content = orjson.loads(event.envelope["Content"])
    assert isinstance(content, dict)
    return content


def _num(value: Any) -> float:
    return float(value)


def _trades(events: list[MarketEvent]) -> list[dict[str, Any]]:
    return [_content(e) for e in events if e.envelope["DataType"] == "X-TRADE"]


def _time(content: dict[str, Any]) -> dt.time:
    return dt.time.fromisoformat(content.get("Time") or content["TradingTime"])


def test_same_seed_and_date_give_identical_bytes() -> None:
    """Two generations of one config are byte-identical; another seed differs."""
    first = [orjson.dumps(e) for e in SyntheticMarket(small_market()).envelopes()]
    second = [orjson.dumps(e) for e in SyntheticMarket(small_market()).envelopes()]
    other = [orjson.dumps(e) for e in SyntheticMarket(small_market(seed=8)).envelopes()]
    assert first == second
    assert first != other


def test_envelopes_have_the_wire_shape(day_events: list[MarketEvent]) -> None:
    """Every envelope is {DataType, Content} with Content a JSON object serialized as text."""
    for event in day_events:
        assert list(event.envelope) == ["DataType", "Content"]
        assert isinstance(event.envelope["Content"], str)
        assert isinstance(_content(event), dict)


def test_events_are_in_time_order_within_the_day(day_events: list[MarketEvent]) -> None:
    """Emission times never go backwards and stay within 08:45-15:00 of the day."""
    times = [e.time for e in day_events]
    assert times == sorted(times)
    assert times[0].time() >= dt.time(8, 45) and times[-1].time() <= dt.time(15, 0)
    assert {t.date() for t in times} == {DAY}


def test_non_trading_day_is_refused_unless_forced() -> None:
    """A holiday (Tet) raises BadInputError naming the day; force generates it anyway."""
    holiday = dt.date(2026, 2, 17)
    with pytest.raises(BadInputError, match="2026-02-17 is not a trading day"):
        SyntheticMarket(MarketConfig(holiday))
    forced = SyntheticMarket(MarketConfig(holiday, symbols=1, activity=0.01, force=True))
    assert forced.envelopes()


def test_total_vol_is_the_running_sum_of_last_vol(day_events: list[MarketEvent]) -> None:
    """Per symbol, each TotalVol increment equals LastVol and TotalVal sums price x volume."""
    totals: dict[str, tuple[float, float]] = defaultdict(lambda: (0.0, 0.0))
    for trade in _trades(day_events):
        volume, value = totals[trade["Symbol"]]
        volume += _num(trade["LastVol"])
        value += _num(trade["LastPrice"]) * _num(trade["LastVol"])
        assert _num(trade["TotalVol"]) == volume
        assert _num(trade["TotalVal"]) == pytest.approx(value, rel=1e-9)
        totals[trade["Symbol"]] = (volume, value)


def test_prices_are_on_tick_and_within_limits(
    day_market: SyntheticMarket, day_events: list[MarketEvent]
) -> None:
    """Trade and quote prices sit on their market's tick grid, inside floor and ceiling."""
    universe = day_market.universe
    limits: dict[str, tuple[float, float]] = {}
    checked = 0
    for event in day_events:
        content = _content(event)
        kind = event.envelope["DataType"]
        if kind not in ("X-TRADE", "X-QUOTE"):
            continue
        inst = universe.instrument(content["Symbol"])
        grid = PriceGrid(inst.exchange)
        if kind == "X-TRADE":
            limits[inst.symbol] = (_num(content["Floor"]), _num(content["Ceiling"]))
            prices = [_num(content["LastPrice"])]
            volume = int(_num(content["LastVol"]))
            assert volume > 0 and volume % inst.lot == 0
        else:
            prices = [_num(v) for k, v in content.items() if "Price" in k and _num(v) > 0]
        floor, ceiling = limits.get(inst.symbol, (0.0, float("inf")))
        for price in prices:
            assert grid.on_tick(round(price * grid.scale)), (inst.symbol, price)
            assert floor <= price <= ceiling
            checked += 1
    assert checked > 1000


def test_hose_limits_are_seven_percent() -> None:
    """HOSE ceiling and floor are the on-tick prices inside the reference price +/-7%."""
    grid = PriceGrid("HOSE")
    assert grid.limits(71_500) == (66_500, 76_500)
    assert grid.limits(10_000) == (9_300, 10_700)
    assert grid.limits(9_990) == (9_300, 10_650)
    assert PriceGrid("DERIVATIVES").limits(19_214) == (17_870, 20_558)


def test_auction_trades_happen_only_at_the_auction_matches(
    day_market: SyntheticMarket, day_events: list[MarketEvent]
) -> None:
    """ATO/ATC trades are the single matches at the end of the auctions; every other trade
    falls in continuous trading, and nothing trades at lunch."""
    universe = day_market.universe
    matches = {
        ("HOSE", "ATO"): dt.time(9, 15),
        ("DERIVATIVES", "ATO"): dt.time(9, 0),
        ("HOSE", "ATC"): dt.time(14, 45),
        ("HNX", "ATC"): dt.time(14, 45),
        ("DERIVATIVES", "ATC"): dt.time(14, 45),
    }
    per_auction: Counter[tuple[str, str]] = Counter()
    for trade in _trades(day_events):
        exchange = universe.instrument(trade["Symbol"]).exchange
        session, moment = trade["TradingSession"], _time(trade)
        if session in ("ATO", "ATC"):
            assert matches[(exchange, session)] == moment
            assert trade["Side"] is None
            per_auction[(trade["Symbol"], session)] += 1
        else:
            assert session == "LO"
            assert session_at(exchange, moment) == "LO", (exchange, moment)
            assert trade["Side"] in ("BU", "SD")
    assert per_auction and max(per_auction.values()) == 1
    assert {s for _, s in per_auction} == {"ATO", "ATC"}


def test_continuous_trades_hit_the_quoted_bid_or_ask(day_events: list[MarketEvent]) -> None:
    """A buyer-initiated trade is at ask1 and a seller-initiated one at bid1 of the last
    quote sent for the symbol; no trade comes before the symbol's first quote."""
    books: dict[str, dict[str, Any]] = {}
    continuous = 0
    for event in day_events:
        content = _content(event)
        kind = event.envelope["DataType"]
        if kind == "X-QUOTE":
            books[content["Symbol"]] = content
            bid, ask = _num(content["BidPrice1"]), _num(content["AskPrice1"])
            assert bid == 0 or ask == 0 or bid < ask
        elif kind == "X-TRADE" and content["TradingSession"] == "LO":
            book = books[content["Symbol"]]
            price = _num(content["LastPrice"])
            side = "AskPrice1" if content["Side"] == "BU" else "BidPrice1"
            assert price == _num(book[side])
            continuous += 1
    assert continuous > 500


def test_book_depth_is_three_on_hose_and_ten_elsewhere(
    day_market: SyntheticMarket, day_events: list[MarketEvent]
) -> None:
    """HOSE quotes carry 3 levels per side, HNX/UPCOM/derivatives 10."""
    depth: dict[str, int] = {}
    for event in day_events:
        if event.envelope["DataType"] == "X-QUOTE":
            content = _content(event)
            depth[content["Exchange"]] = sum(1 for k in content if k.startswith("BidPrice"))
    assert depth == {"HOSE": 3, "HNX": 10, "UPCOM": 10, "DERIVATIVES": 10}


def test_futures_are_the_four_listed_contracts(day_market: SyntheticMarket) -> None:
    """The futures are the day's four listed VN30 contracts in KRX form, none expired; the
    February 2026 contract's last trading day is the 13th (the 19th falls in Tet)."""
    futures = day_market.universe.futures
    assert [f.symbol for f in futures] == [c.symbol for c in listed_futures(DAY)]
    assert all(f.symbol.startswith("41I1G") for f in futures)
    assert futures[0].last_trading_day == dt.date(2026, 2, 13)
    assert all(f.last_trading_day is not None and f.last_trading_day >= DAY for f in futures)


def test_futures_track_vn30_with_a_small_basis(day_events: list[MarketEvent]) -> None:
    """Front-month trades stay within a few points of the latest VN30 value."""
    front = listed_futures(DAY)[0].symbol
    vn30: float | None = None
    gaps = []
    for event in day_events:
        content = _content(event)
        if event.envelope["DataType"] == "MI" and content.get("IndexId") == "VN30":
            vn30 = _num(content["IndexValue"])
        elif event.key == front and event.envelope["DataType"] == "X-TRADE" and vn30:
            gaps.append(abs(_num(content["LastPrice"]) - vn30))
    assert gaps and max(gaps) < 15.0


def test_indices_are_cap_weighted_from_the_sent_prices(
    day_market: SyntheticMarket, day_events: list[MarketEvent]
) -> None:
    """Each MI value equals prior x sum(shares x last trade price) / sum(shares x ref),
    using the last X-TRADE sent for each member before the MI message."""
    universe = day_market.universe
    last: dict[str, float] = {}
    checked = 0
    for event in day_events:
        content = _content(event)
        if event.envelope["DataType"] == "X-TRADE":
            last[content["Symbol"]] = _num(content["LastPrice"])
        elif event.envelope["DataType"] == "MI":
            spec = universe.index(event.key)
            members = [universe.instrument(s) for s in spec.members]
            current = sum(m.shares * last.get(m.symbol, m.ref) for m in members)
            base = sum(m.shares * m.ref for m in members)
            assert _num(content["IndexValue"]) == pytest.approx(
                spec.prior * current / base, abs=0.006
            )
            checked += 1
    assert checked > 100


def test_foreign_flow_is_cumulative_within_the_room(day_events: list[MarketEvent]) -> None:
    """R buy/sell volumes never decrease, the room stays in [0, TotalRoom], and both
    foreign field spellings appear."""
    seen: dict[str, tuple[float, float]] = {}
    spellings = set()
    for event in day_events:
        if event.envelope["DataType"] != "R":
            continue
        content = _content(event)
        prefix = "F" if "FBuyVol" in content else ""
        spellings.add(prefix)
        buy, sell = _num(content[f"{prefix}BuyVol"]), _num(content[f"{prefix}SellVol"])
        before = seen.get(content["Symbol"], (0.0, 0.0))
        assert buy >= before[0] and sell >= before[1]
        assert 0 <= _num(content["CurrentRoom"]) <= _num(content["TotalRoom"])
        seen[content["Symbol"]] = (buy, sell)
    assert spellings == {"", "F"}


def test_bars_sum_the_minute_trades(day_events: list[MarketEvent]) -> None:
    """Each 1-minute bar's volume equals the volume traded in that minute."""
    traded: Counter[tuple[str, str]] = Counter()
    bars: Counter[tuple[str, str]] = Counter()
    for event in day_events:
        content = _content(event)
        if event.envelope["DataType"] == "X-TRADE":
            minute = _time(content).strftime("%H:%M")
            traded[(content["Symbol"], minute)] += int(_num(content["LastVol"]))
        elif event.envelope["DataType"] == "B":
            bars[(content["Symbol"], _time(content).strftime("%H:%M"))] += int(content["Volume"])
    assert bars == traded


def test_status_messages_mark_every_phase_change(
    day_market: SyntheticMarket, day_events: list[MarketEvent]
) -> None:
    """Each symbol gets an F message per phase of its market, then C at the close."""
    sessions: dict[str, list[str]] = defaultdict(list)
    for event in day_events:
        if event.envelope["DataType"] == "F":
            sessions[event.key].append(_content(event)["TradingSession"])
    assert sessions["ACB"] == ["ATO", "LO", "BREAK", "LO", "ATC", "PT", "C"]
    front = listed_futures(DAY)[0].symbol
    assert sessions[front] == ["ATO", "LO", "BREAK", "LO", "ATC", "C"]


def test_quirks_of_real_captures_appear(day_events: list[MarketEvent]) -> None:
    """String numbers, "NaN", null Side/Isin, Rtype, TradingTime and IndexID all occur."""
    texts = [e.envelope["Content"] for e in day_events]
    joined = "\n".join(texts)
    for quirk in (
        '"AvgPrice":"NaN"',
        '"Isin":null',
        '"Side":null',
        '"Rtype"',
        '"TradingTime"',
        '"IndexID"',
        '"Nochanges"',
        '"LastVol":"',
        '"TradingSession":null',
    ):
        assert quirk in joined, quirk


def test_message_rate_bursts_at_the_open_and_close(day_events: list[MarketEvent]) -> None:
    """The opening match minute and the last continuous minutes carry far more messages
    than a typical minute; lunch carries none."""
    per_minute = Counter(e.time.strftime("%H:%M") for e in day_events)
    typical = statistics.median(per_minute.values())
    assert per_minute["09:15"] > 2.5 * typical
    closing = [per_minute[f"14:{minute}"] for minute in range(25, 30)]
    assert statistics.mean(closing) > 1.5 * typical
    assert "12:00" not in per_minute
