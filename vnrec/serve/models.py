"""The API's contract (SPEC.md 7.6) as pydantic models: they validate what comes in (the
replay controls) and document what goes out in the OpenAPI schema at `/docs`. Responses
themselves are serialized once by vnrec's JSON writer, never validated row by row."""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

Row = dict[str, Any]


class Status(BaseModel):
    model_config = ConfigDict(extra="allow")

    mode: Literal["live", "replay"]
    date: dt.date | None = Field(description="The trading day shown.")
    state: Literal["waiting", "following", "playing", "paused", "finished", "failed"]
    events: int = Field(description="Messages of the day processed so far.")
    last_seq: int
    last_event_ts: dt.datetime | None
    lag_ms: int | None = Field(description="Live: wall clock minus the last receive time.")
    stale: bool = Field(description="Live: nothing received for 10 s (or nothing yet).")
    rate: float = Field(description="Messages processed per second, last 5 s.")
    gaps: list[Row] = Field(description="Recording gaps: seq, start, end, seconds, reason.")
    speed: float | None = None
    clock: dt.datetime | None = Field(None, description="Replay: the play clock (event time).")
    error: str | None = None


class Snapshot(BaseModel):
    """The replay object of SPEC.md section 5 for the events processed so far, and what the
    page draws beside it."""

    model_config = ConfigDict(extra="allow")

    date: dt.date
    events: int
    stats: list[Row]
    foreign: list[Row]
    index: list[Row]
    basis: list[Row]
    alerts: list[Row]
    candles: list[Row] = Field(description="1-minute candles per symbol (SPEC.md 7.4).")
    index_candles: list[Row]
    last_event_ts: dt.datetime | None
    lag_ms: int | None
    mode: Literal["live", "replay"]
    status: Status


class Days(BaseModel):
    days: list[dt.date] = Field(description="Recorded days of the data root, ascending.")
    serving: dt.date | None
    mode: Literal["live", "replay"]


class Push(BaseModel):
    """A WebSocket message on `/ws`."""

    channel: Literal["stats", "foreign", "index", "basis", "alerts", "status"]
    data: dict[str, Any]


class Control(BaseModel):
    """Replay mode: pause, resume, change speed, or jump to a local time of the day."""

    model_config = ConfigDict(extra="forbid")

    action: Literal["pause", "resume", "speed", "jump"]
    speed: float | None = Field(
        None, gt=0, allow_inf_nan=False, description="For `speed`: N x real time."
    )
    time: dt.time | None = Field(None, description="For `jump`: HH:MM[:SS], Asia/Ho_Chi_Minh.")
