"""SQL of the derived views: SPEC.md section 4 and the "Tracker and SQL semantics" of
docs/design.md, written independently of the Python trackers.

Counting in SQL: `max_tv` (the largest counted `TotalVol` of the symbol so far) equals the
running maximum of `TotalVol` over all earlier trade candidates of the symbol, because a
repeat never raises it. So one window (ROWS UNBOUNDED PRECEDING .. 1 PRECEDING, by seq)
decides every candidate, and one ASOF join finds each trade's book. DuckDB orders NaN above
every number, so NaN prices are turned into NULL before any comparison: a NaN is "unknown",
as it is in Python.
"""

from __future__ import annotations

from collections.abc import Sequence

import duckdb

from vnrec.results import CANDLE_INTERVALS
from vnrec.ssi.channels import SNAPSHOT_DATA_TYPE, TRADE_DATA_TYPES

# Candidate filters on the symbol column, with `{symbol}` standing for its reference.
ALL_SYMBOLS = "true"


def _known(column: str) -> str:
    return f"CASE WHEN isnan({column}) THEN NULL ELSE {column} END"


# Values are exact: a price in integer units of 1e-4 (rounded half up) times the volume, as
# HUGEINT, summed exactly whatever the number of threads (SPEC.md 7.1).
VALUE_UNITS = "CAST(round(t.price * 10000) AS HUGEINT) * t.volume"


def _exact_double(units: str) -> str:
    """The float64 nearest to `units` / 10000 (DuckDB casts a DECIMAL to the nearest
    double; dividing a double by 10000 would round twice)."""
    return f"CAST(CAST({units} AS DECIMAL(38, 0)) * CAST(0.0001 AS DECIMAL(5, 4)) AS DOUBLE)"


def _value_sum(condition: str) -> str:
    return _exact_double(f"coalesce(sum(value_units) FILTER (WHERE {condition}), 0)")


def _symbol_ids_cte(tables: tuple[str, ...], symbol_filter: str) -> str:
    """`symbol_ids`: per day, an exact integer id for every symbol of `tables`.

    The window and the ASOF join partition by (date, symbol_id) instead of (date, symbol):
    DuckDB sorts and compares two integer keys several times faster than a date and a
    text. Partitioning by date keeps a filter on `date` pushed down to the files."""
    union = " UNION ALL ".join(
        f'SELECT date, symbol FROM "{table}"'
        f" WHERE symbol IS NOT NULL AND ({symbol_filter.format(symbol='symbol')})"
        for table in tables
    )
    return f"""
symbol_ids AS (
    SELECT date, symbol, row_number() OVER (PARTITION BY date ORDER BY symbol) AS symbol_id
    FROM (SELECT DISTINCT date, symbol FROM ({union}))
)"""


def _outcome_ctes(symbol_filter: str, id_tables: tuple[str, ...]) -> str:
    """`symbol_ids`, then `outcomes`: every trade candidate with its `outcome` ('trade',
    'repeat' or 'update') and counted `volume`. `symbol_filter` (with `{symbol}` for the
    column) narrows the candidates before the window; the counting is per symbol, so
    narrowing by symbol is exact."""
    trade_types = ", ".join(f"'{t}'" for t in TRADE_DATA_TYPES)
    return f"""{_symbol_ids_cte(id_tables, symbol_filter)},
candidates AS (
    SELECT t.date, t.seq, t.event_ts, t.data_type, t.symbol, i.symbol_id,
           {_known("t.last_price")} AS price, t.last_vol, t.total_vol, t.trading_session,
           t.side
    FROM trades t
    JOIN symbol_ids i ON t.date = i.date AND t.symbol = i.symbol
    WHERE ({symbol_filter.format(symbol="t.symbol")})
      AND {_known("t.last_price")} > 0
      AND (t.data_type = '{SNAPSHOT_DATA_TYPE}'
           OR (t.data_type IN ({trade_types}) AND t.last_vol > 0))
),
ranked AS (
    SELECT *,
           greatest(coalesce(max(total_vol) OVER (
               PARTITION BY date, symbol_id ORDER BY seq
               ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), 0), 0) AS max_tv
    FROM candidates
),
outcomes AS (
    SELECT date, seq, event_ts, data_type, symbol, symbol_id, price, last_vol, total_vol,
           trading_session, side, max_tv,
           CASE
               WHEN data_type = '{SNAPSHOT_DATA_TYPE}' THEN
                   CASE WHEN total_vol > max_tv THEN 'trade' ELSE 'update' END
               WHEN total_vol > 0 AND total_vol <= max_tv THEN 'repeat'
               ELSE 'trade'
           END AS outcome,
           CASE
               WHEN data_type = '{SNAPSHOT_DATA_TYPE}' THEN
                   CASE WHEN total_vol > max_tv THEN total_vol - max_tv ELSE 0 END
               WHEN total_vol > 0 AND total_vol <= max_tv THEN 0
               ELSE last_vol
           END AS volume
    FROM ranked
)"""


TRADE_OUTCOMES_SQL = f"""
WITH {_outcome_ctes(ALL_SYMBOLS, ("trades",))}
SELECT * EXCLUDE (symbol_id) FROM outcomes
"""


# Trade outcomes with the book just before each: the latest quote of the symbol with a
# strictly smaller seq (an `X` row is in `quotes` too, with the same seq, and trades
# against the book before it). A symbol without quotes that day has no book, and neither
# has one whose latest quote came before the latest recording gap at or before the trade
# (SPEC.md 7.3: the quote state is empty after a gap; `gaps` holds their seqs).
def classified_sql(gaps: bool) -> str:
    """The classified outcomes; `gaps`: some day has recording gaps (without any, the
    join to `gaps` is left out: it costs a fifth of a day's stats)."""
    gap_join = "ASOF LEFT JOIN gaps g ON t.date = g.date AND t.seq >= g.seq" if gaps else ""
    since_gap = "b.seq >= coalesce(g.seq, 0)" if gaps else "b.seq IS NOT NULL"
    return f"""
WITH {_outcome_ctes(ALL_SYMBOLS, ("trades", "quotes"))},
book AS (
    SELECT q.date, i.symbol_id, q.seq,
           {_known("q.bid_price1")} AS bid1, {_known("q.ask_price1")} AS ask1
    FROM quotes q
    JOIN symbol_ids i ON q.date = i.date AND q.symbol = i.symbol
),
booked AS (
    SELECT t.*,
           CASE WHEN {since_gap} THEN b.bid1 END AS bid1,
           CASE WHEN {since_gap} THEN b.ask1 END AS ask1
    FROM outcomes t
    ASOF LEFT JOIN book b
    ON t.date = b.date AND t.symbol_id = b.symbol_id AND t.seq > b.seq
    {gap_join}
)
SELECT t.date, t.seq, t.event_ts, t.symbol, t.data_type, t.outcome, t.price, t.volume,
       {_exact_double(VALUE_UNITS)} AS value, {VALUE_UNITS} AS value_units,
       t.total_vol, t.side, t.trading_session,
       CASE t.trading_session WHEN 'ATO' THEN 'ato' WHEN 'ATC' THEN 'atc'
            ELSE 'continuous' END AS phase,
       t.bid1, t.ask1,
       CASE
           WHEN t.trading_session IN ('ATO', 'ATC') THEN 'neutral'
           WHEN t.ask1 > 0 AND t.price >= t.ask1 THEN 'buy'
           WHEN t.bid1 > 0 AND t.price <= t.bid1 THEN 'sell'
           ELSE 'neutral'
       END AS classification
FROM booked t
"""


SESSION_STATS_SQL = f"""
SELECT date, symbol,
       count(*) FILTER (WHERE outcome = 'trade') AS trades,
       CAST(coalesce(sum(volume) FILTER (WHERE outcome = 'trade'), 0) AS BIGINT) AS volume,
       {_value_sum("outcome = 'trade'")} AS value,
       CAST(coalesce(sum(volume) FILTER (WHERE outcome = 'trade' AND classification = 'buy'), 0)
            AS BIGINT) AS buy_volume,
       {_value_sum("outcome = 'trade' AND classification = 'buy'")} AS buy_value,
       CAST(coalesce(sum(volume) FILTER (WHERE outcome = 'trade' AND classification = 'sell'), 0)
            AS BIGINT) AS sell_volume,
       {_value_sum("outcome = 'trade' AND classification = 'sell'")} AS sell_value,
       CAST(coalesce(sum(volume) FILTER (
            WHERE outcome = 'trade' AND classification = 'neutral'), 0) AS BIGINT)
           AS neutral_volume,
       {_value_sum("outcome = 'trade' AND classification = 'neutral'")} AS neutral_value,
       CAST(coalesce(sum(volume) FILTER (WHERE outcome = 'trade' AND phase = 'ato'), 0)
            AS BIGINT) AS ato_volume,
       CAST(coalesce(sum(volume) FILTER (WHERE outcome = 'trade' AND phase = 'continuous'), 0)
            AS BIGINT) AS continuous_volume,
       CAST(coalesce(sum(volume) FILTER (WHERE outcome = 'trade' AND phase = 'atc'), 0)
            AS BIGINT) AS atc_volume,
       arg_min(price, seq) FILTER (WHERE outcome = 'trade') AS open,
       max(price) FILTER (WHERE outcome = 'trade') AS high,
       min(price) FILTER (WHERE outcome = 'trade') AS low,
       arg_max(price, seq) FILTER (WHERE outcome = 'trade') AS close,
       {_value_sum("outcome = 'trade'")}
           / CAST(sum(volume) FILTER (WHERE outcome = 'trade') AS DOUBLE) AS vwap,
       count(*) FILTER (WHERE outcome = 'repeat') AS duplicates,
       coalesce(any_value(u.unpriced), 0) AS unpriced
FROM _trade_outcomes_classified
LEFT JOIN (
    -- Trade messages with a volume but no usable price: never candidates (so their
    -- TotalVol raises no maximum), counted apart.
    SELECT date, symbol, count(*) AS unpriced
    FROM trades
    WHERE data_type IN ({", ".join(f"'{t}'" for t in TRADE_DATA_TYPES)})
      AND last_vol > 0 AND NOT coalesce({_known("last_price")} > 0, false)
    GROUP BY date, symbol
) u USING (date, symbol)
GROUP BY date, symbol
HAVING count(*) FILTER (WHERE outcome = 'trade') > 0
"""


def vn30_future_filter(prefixes: Sequence[str]) -> str:
    """Symbols in `vn30_contracts`; the cheap prefix test first lets DuckDB drop most rows
    while scanning, before the exact membership test (futures are a few % of trades)."""
    quick = " OR ".join(f"prefix({{symbol}}, '{p}')" for p in prefixes) or "false"
    return f"({quick}) AND {{symbol}} IN (SELECT symbol FROM vn30_contracts)"


def basis_sql(futures_prefixes: Sequence[str]) -> str:
    return f"""
WITH {_outcome_ctes(vn30_future_filter(futures_prefixes), ("trades",))}
SELECT t.date, t.symbol, t.seq, t.event_ts, t.price, i.index_value,
       t.price - i.index_value AS basis
FROM (SELECT date, symbol, seq, event_ts, price FROM outcomes WHERE outcome = 'trade') t
ASOF LEFT JOIN (
    SELECT date, seq, index_value
    FROM "index"
    WHERE index_id = 'VN30' AND {_known("index_value")} > 0
) i
ON t.date = i.date AND t.seq > i.seq
"""


FOREIGN_FLOW_SQL = """
SELECT date, symbol, buy_vol AS buy_volume, sell_vol AS sell_volume, buy_val AS buy_value,
       sell_val AS sell_value, buy_vol - sell_vol AS net_volume, buy_val - sell_val AS net_value,
       total_room, current_room, seq, event_ts
FROM "foreign"
WHERE symbol IS NOT NULL
QUALIFY row_number() OVER (PARTITION BY date, symbol ORDER BY seq DESC) = 1
"""

INDEX_LATEST_SQL = f"""
SELECT date, index_id, index_value AS value, prior_index_value AS prior_value, change,
       ratio_change, advances, declines, no_changes, total_qtty, total_value, seq, event_ts
FROM "index"
WHERE index_id IS NOT NULL AND {_known("index_value")} > 0
QUALIFY row_number() OVER (PARTITION BY date, index_id ORDER BY seq DESC) = 1
"""


def _bucket(seconds: int) -> str:
    # Intervals start on the local clock; UTC+7 is whole hours, so on the UTC clock too.
    return f"time_bucket(INTERVAL '{seconds} seconds', event_ts)"


def candles_sql(seconds: int) -> str:
    """SPEC.md 7.4: per symbol and interval, over the counted trades with an event time."""

    def side_volume(side: str) -> str:
        return (
            f"CAST(coalesce(sum(volume) FILTER (WHERE classification = '{side}'), 0)"
            f" AS BIGINT) AS {side}_volume"
        )

    return f"""
SELECT date, symbol, {_bucket(seconds)} AS start,
       arg_min(price, seq) AS open, max(price) AS high, min(price) AS low,
       arg_max(price, seq) AS close, CAST(sum(volume) AS BIGINT) AS volume,
       {_exact_double("sum(value_units)")} AS value,
       {side_volume("buy")}, {side_volume("sell")}, {side_volume("neutral")},
       count(*) AS trades
FROM classified_trades
WHERE event_ts IS NOT NULL AND symbol IS NOT NULL
GROUP BY date, symbol, start
"""


def index_candles_sql(seconds: int) -> str:
    """SPEC.md 7.4: per index id and interval, over the values > 0 with an event time."""
    return f"""
SELECT date, index_id, {_bucket(seconds)} AS start,
       arg_min(index_value, seq) AS open, max(index_value) AS high,
       min(index_value) AS low, arg_max(index_value, seq) AS close
FROM "index"
WHERE index_id IS NOT NULL AND event_ts IS NOT NULL AND {_known("index_value")} > 0
GROUP BY date, index_id, start
"""


CANDLE_VIEWS = {f"candles_{name}": seconds for name, seconds in CANDLE_INTERVALS.items()}
INDEX_CANDLE_VIEWS = {
    f"index_candles_{name}": seconds for name, seconds in CANDLE_INTERVALS.items()
}

# In creation order (a view needs the ones above it); names starting "_" are internal.
DERIVED_VIEW_NAMES: tuple[str, ...] = (
    "trade_outcomes",
    "_trade_outcomes_classified",
    "classified_trades",
    "session_stats",
    "basis",
    "foreign_flow",
    "index_latest",
    *CANDLE_VIEWS,
    *INDEX_CANDLE_VIEWS,
)


def derived_views(futures_prefixes: Sequence[str], gaps: bool = True) -> dict[str, str]:
    """The SQL of each derived view; `futures_prefixes` are the leading characters every
    VN30 futures symbol starts with (from `vn30_contracts`); `gaps`: the `gaps` table has
    rows."""
    views = {
        "trade_outcomes": TRADE_OUTCOMES_SQL,
        "_trade_outcomes_classified": classified_sql(gaps),
        "classified_trades": (
            "SELECT * EXCLUDE (outcome) FROM _trade_outcomes_classified WHERE outcome = 'trade'"
        ),
        "session_stats": SESSION_STATS_SQL,
        "basis": basis_sql(futures_prefixes),
        "foreign_flow": FOREIGN_FLOW_SQL,
        "index_latest": INDEX_LATEST_SQL,
        **{name: candles_sql(seconds) for name, seconds in CANDLE_VIEWS.items()},
        **{name: index_candles_sql(seconds) for name, seconds in INDEX_CANDLE_VIEWS.items()},
    }
    return {name: views[name] for name in DERIVED_VIEW_NAMES}


def register_derived(
    con: duckdb.DuckDBPyConnection, futures_prefixes: Sequence[str], gaps: bool
) -> None:
    for name, sql in derived_views(futures_prefixes, gaps).items():
        con.execute(f"CREATE OR REPLACE VIEW {name} AS {sql}")
