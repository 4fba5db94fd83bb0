"""What the hub broadcasts: a day as `FeedItem`s, from the synthetic market or from a
recorded day's `raw` table. Each item carries the envelope text ready for a `Broadcast`
frame and the key (Symbol, or IndexId for MI) that channel symbol lists filter on."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import orjson
import pyarrow.parquet as pq

from vnrec.calendar import HCM_TZ
from vnrec.emulator.market import SyntheticMarket
from vnrec.storage.layout import Layout
from vnrec.storage.verified import check_parts

_BATCH_ROWS = 8_192


@dataclass(frozen=True, slots=True)
class FeedItem:
    offset: float  # seconds after the day's first item, for --speed pacing
    data_type: str
    key: str
    text: str  # the envelope JSON text: the single argument of a Broadcast frame


class DaySource(Protocol):
    def items(self) -> Iterator[FeedItem]: ...


class SyntheticSource:
    """The synthetic market's day; iterating again yields the same items."""

    def __init__(self, market: SyntheticMarket) -> None:
        self.market = market

    def items(self) -> Iterator[FeedItem]:
        first: dt.datetime | None = None
        for event in self.market.events():
            first = first or event.time
            yield FeedItem(
                (event.time - first).total_seconds(),
                event.envelope["DataType"],
                event.key,
                orjson.dumps(event.envelope).decode(),
            )


def _key(data_type: str, content: Any) -> str:
    if not isinstance(content, dict):
        return ""
    names = ("IndexId", "IndexID") if data_type == "MI" else ("Symbol",)
    for name in names:
        value = content.get(name)
        if isinstance(value, str):
            return value
    return ""


def _content_seconds(content: Any) -> float | None:
    if not isinstance(content, dict):
        return None
    text = content.get("Time") or content.get("TradingTime")
    if not isinstance(text, str):
        return None
    try:
        moment = dt.time.fromisoformat(text)
    except ValueError:
        return None
    return moment.hour * 3600.0 + moment.minute * 60 + moment.second


class RecordedSource:
    """A recorded day's `raw` rows in seq order, paced by their receive times (or by the
    messages' own `Time` when the receive time is unknown)."""

    def __init__(self, root: Path, day: dt.date) -> None:
        self.layout = Layout(root)
        self.day = day
        self.state = self.layout.recorded_state(day)
        check_parts(self.layout.root, day, self.state.table_parts("raw"))

    def items(self) -> Iterator[FeedItem]:
        midnight = dt.datetime.combine(self.day, dt.time(0), HCM_TZ).timestamp()
        first: float | None = None
        previous = 0.0
        for part in self.state.table_parts("raw"):
            reader = pq.ParquetFile(part.path)
            columns = ["recv_ns", "data_type", "content"]
            for batch in reader.iter_batches(batch_size=_BATCH_ROWS, columns=columns):
                rows = batch.to_pydict()
                for recv_ns, data_type, text in zip(
                    rows["recv_ns"], rows["data_type"], rows["content"], strict=True
                ):
                    try:
                        content = orjson.loads(text)
                    except orjson.JSONDecodeError:
                        content = None
                    if recv_ns is not None:
                        moment: float | None = recv_ns / 1e9 - midnight
                    else:
                        moment = _content_seconds(content)
                    moment = previous if moment is None else max(moment, previous)
                    previous = moment
                    first = moment if first is None else first
                    envelope = {"DataType": data_type, "Content": text}
                    yield FeedItem(
                        moment - first,
                        data_type,
                        _key(data_type, content),
                        orjson.dumps(envelope).decode(),
                    )
