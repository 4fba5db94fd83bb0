"""Arrow schemas of the stored tables, one per table, in a stable column order.

Every table starts with `seq, recv_ns, event_ts` (raw: `seq, recv_ns, data_type, content`);
the trading day is the hive partition `date=YYYY-MM-DD` in the path, not a column in the
file, so that DuckDB, polars and Spark all read it the same way. `event_ts` is microsecond
UTC because Spark and Trino cannot read nanosecond Parquet timestamps.
"""

from __future__ import annotations

import pyarrow as pa

from vnrec.ssi.channels import CHANNELS, FieldKind

EVENT_TS_TYPE = pa.timestamp("us", tz="UTC")

ARROW_TYPE: dict[FieldKind, pa.DataType] = {
    "text": pa.string(),
    "price": pa.float64(),
    "value": pa.float64(),
    "volume": pa.int64(),
    "count": pa.int64(),
}

RAW_SCHEMA = pa.schema(
    [
        pa.field("seq", pa.int64(), nullable=False),
        pa.field("recv_ns", pa.int64()),
        pa.field("data_type", pa.string()),
        pa.field("content", pa.string()),
    ]
)

_COMMON = [
    pa.field("seq", pa.int64(), nullable=False),
    pa.field("recv_ns", pa.int64()),
    pa.field("event_ts", EVENT_TS_TYPE),
    pa.field("data_type", pa.string()),
]


def _table_schema(fields: list[pa.Field]) -> pa.Schema:
    return pa.schema(_COMMON + fields)


SCHEMAS: dict[str, pa.Schema] = {
    "raw": RAW_SCHEMA,
    **{
        channel.table: _table_schema(
            [pa.field(f.column, ARROW_TYPE[f.kind]) for f in channel.fields]
        )
        for channel in CHANNELS
    },
}
