"""The replay operators that are loops over rows in seq order (`_ordered.c`). Symbol ids
(int32) index the per-symbol arrays, which the caller owns and sizes; an id outside them is
a ValueError."""

def previous_max(sym: object, values: object, maxima: object, previous: object) -> None:
    """For each row i in order: `previous[i] = maxima[sym[i]]`, then `maxima[sym[i]]`
    becomes the larger of it and `values[i]`. `sym` int32; the others int64."""

def book_before(
    trade_seq: object,
    trade_sym: object,
    quote_seq: object,
    quote_sym: object,
    quote_bid: object,
    quote_ask: object,
    book_seq: object,
    bid: object,
    ask: object,
    out_seq: object,
    out_bid: object,
    out_ask: object,
) -> None:
    """Each trade's book: the seq, bid and ask of its symbol's latest quote with a smaller
    seq, else what `book_seq`, `bid` and `ask` carry in for the symbol. Both tables in seq
    order; the quotes are applied to the carried books as the walk passes them, so that
    afterwards the books hold each symbol's latest quote. Seqs int64, symbols int32, prices
    float64."""

class Rolling:
    """Per symbol and gap epoch: the trades of the last spike window, their sums and the
    transition states, kept from one `run` to the next."""

    def __init__(
        self,
        spike_window: int,
        spike_min_trades: int,
        spike_factor: int,
        flow_window: int,
        flow_min_volume: int,
        flow_factor: int,
        buy_side: int,
        sell_side: int,
    ) -> None: ...
    def run(
        self,
        sym: object,
        epoch: object,
        ts: object,
        volume: object,
        side: object,
        continuous: object,
        price: object,
        ceiling: object,
        floor: object,
        flags: object,
        count: object,
        total: object,
        buy: object,
        sell: object,
    ) -> None:
        """Applies the rules to each trade i, in order. Inputs: `sym` (symbol id >= 0),
        `epoch` (gaps before it, >= 0), `ts` (event time, µs) and `volume` int64; `side`
        (the `buy_side` and `sell_side` codes) and `continuous` (0 or 1) uint8; `price`,
        `ceiling` and `floor` float64. Outputs, writable, one per trade: `flags` uint8
        (1 volume_spike, 2 ceiling_hit, 4 floor_hit, 8 imbalance), and int64 `count` and
        `total` (the trades of the spike window before it, and their volume), `buy` and
        `sell` (the imbalance window's volumes, it included). Every buffer holds as many
        items as `sym`."""

def add_totals(
    sym: object,
    side: object,
    session: object,
    volume: object,
    units: object,
    price: object,
    counts: object,
    values: object,
    prices: object,
    seen: object,
) -> None:
    """Adds counted trades, in seq order, to their symbols' session totals. Per trade: `sym`
    int32, `side` int8 (0 neutral, 1 buy, 2 sell), `session` int8 (0 continuous, 1 ATO,
    2 ATC), `volume` and `units` (price in 1e-4 units) int64, `price` float64. Per symbol
    of S: `counts` int64 S x 8 (trades, volume, buy, sell and neutral volume, continuous,
    ATO and ATC volume), `values` int64 S x 4 x 2 (value, buy, sell and neutral value in
    1e-4 units, each a 128-bit integer as low and high 64 bits), `prices` float64 S x 4
    (open, high, low, close) and `seen` uint8 S (1 once a trade was added)."""

class ForeignHistory:
    """Per symbol: its `R` messages' (event time, net value) points, in seq order, kept from
    one `run` to the next."""

    def __init__(self, window: int, min_net: float, factor: float) -> None: ...
    def run(
        self,
        sym: object,
        ts: object,
        net: object,
        usable: object,
        found: object,
        before: object,
    ) -> None:
        """Applies the foreign_acceleration rule to each message i, in order. Inputs: `sym`
        (symbol id >= 0) and `ts` (event time, µs) int64, `net` (buy minus sell value)
        float64, `usable` uint8 (0: the message has no time, symbol or values, and is
        passed over). Outputs, writable: `found` uint8 (1 where the rule fires) and
        `before` float64 (there: the net value of the symbol's latest earlier point at
        least `window` µs older; 0 elsewhere). Every buffer holds as many items as `sym`."""
