"""`vnrec record`: one SSI stream per process, every message stamped and journaled first.

Threads: the websocket thread of ssi-fc-data runs `_on_broadcast` (parse the envelope and
queue it: no I/O, no lock); the group-commit thread files, stamps, writes and fsyncs the
journal; the converter thread turns closed segments into committed Parquet parts; the main
thread supervises the connection (closed or stalled socket, backoff, resubscribe) and the
schedule, and stops the recording, with the cause, when any other thread fails.
"""

from __future__ import annotations

import datetime as dt
import logging
import random
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

import orjson

from vnrec.analytics.precompute import derive_day_results
from vnrec.defaults import RECORD_CHANNELS
from vnrec.errors import AuthError, VnrecError
from vnrec.events import to_event_ts
from vnrec.recorder.backoff import Backoff
from vnrec.recorder.committer import GroupCommitter
from vnrec.recorder.connections import DAY_EVENT, ConnectionLog, finalize_leftovers
from vnrec.recorder.converter import BackgroundConverter, LiveSink
from vnrec.recorder.days import DayJournals, JournalSettings, Rejected
from vnrec.replay.stored import derive_day_alerts
from vnrec.ssi.client import ConnectError, StreamHandle, TokenRejectedError
from vnrec.ssi.envelope import EnvelopeError, envelope_from_mapping
from vnrec.storage.compact import compact_day
from vnrec.storage.components import store_components
from vnrec.storage.day import RecoveryReport, open_day
from vnrec.storage.gaps import ConnectionEvent
from vnrec.storage.journal import journal_days
from vnrec.storage.layout import Layout
from vnrec.storage.locks import RecorderLock
from vnrec.storage.segments import ConversionStats

log = logging.getLogger(__name__)

DEFAULT_CHANNELS = RECORD_CHANNELS


class StreamSource(Protocol):
    """What the recorder needs from an SSI client (`vnrec.ssi.client.SsiClient`)."""

    def renew_token(self) -> None: ...

    def index_components(self, index_id: str) -> list[str]: ...

    def open_stream(
        self,
        channels: str,
        *,
        on_broadcast: Callable[[str], None],
        on_hub_error: Callable[[str], None],
        on_frame: Callable[[], None],
        on_open: Callable[[], None],
        on_close: Callable[[], None],
        on_malformed: Callable[[str, str], None],
    ) -> StreamHandle: ...


@dataclass(frozen=True)
class RecorderConfig:
    stop_at: dt.datetime
    channels: str = DEFAULT_CHANNELS
    commit_interval: float = 0.2
    segment_seconds: float = 5.0
    segment_bytes: int = 64 * 1024 * 1024
    stall_timeout: float = 30.0
    backoff_base: float = 0.5
    backoff_cap: float = 30.0
    compact_at_stop: bool = False
    seed: int | None = None
    # Indices whose members are fetched at start and kept per recorded day.
    components: tuple[str, ...] = ("VN30",)


@dataclass
class Clock:
    """The recorder's view of time, injected so tests can drive it."""

    now: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC)
    monotonic: Callable[[], float] = time.monotonic
    time_ns: Callable[[], int] = time.time_ns


@dataclass
class RecordingSummary:
    seq_ranges: dict[dt.date, tuple[int, int]]  # per day: first and last seq recorded
    messages: int
    per_type: dict[str, int]
    malformed: int
    reconnects: int
    gaps: int
    bytes: int
    stop_reason: str
    conversion: ConversionStats = field(default_factory=ConversionStats)
    subscribed: bool = False  # the stream was ever open: no message then means a quiet feed

    def line(self) -> str:
        types = ", ".join(f"{k} {v:,}" for k, v in sorted(self.per_type.items())) or "none"
        days = ", ".join(
            f"{day} seq {first}-{last}" for day, (first, last) in sorted(self.seq_ranges.items())
        )
        return (
            f"recorded {self.messages:,} messages ({types}); {days or 'no data'};"
            f" {self.reconnects} reconnects, {self.gaps} gaps, {self.malformed} malformed,"
            f" {self.bytes / 1e6:,.1f} MB journaled; stopped: {self.stop_reason}"
        )


class Recorder:
    def __init__(
        self,
        layout: Layout,
        config: RecorderConfig,
        source: StreamSource,
        *,
        clock: Clock | None = None,
        live: LiveSink | None = None,
    ) -> None:
        self.layout = layout
        self.config = config
        self.source = source
        self.clock = clock or Clock()
        self._stop = threading.Event()
        self.stop_reason = ""
        self.per_type: Counter[str] = Counter()
        self.malformed = 0
        self.reconnects = 0
        self.gaps = 0
        self.last_frame = 0.0
        self.last_content = ""
        self._closed_generation = -1
        self._generation = 0
        self._subscribed = threading.Event()
        # Held while a stream opens and its `connect` row is logged: the stream's callbacks
        # start on the websocket thread before open_stream() returns, and their `subscribe`
        # row must not come first. Reentrant, for a source that calls back synchronously.
        self._opening = threading.RLock()
        self._ever_subscribed = False
        self.last_failure = ""  # why the last connection attempt failed, for the summary
        self._callback_error: BaseException | None = None
        self.run_id = f"{self.clock.time_ns()}"
        self._live = live
        self.converter = BackgroundConverter(live)
        self.journals = DayJournals(
            layout,
            JournalSettings(config.segment_bytes, config.segment_seconds),
            self.run_id,
            on_segment_closed=self.converter.submit,
            on_day_opened=lambda writer: self._day_opened(writer.day),
            monotonic=self.clock.monotonic,
        )
        self._connections: ConnectionLog | None = None
        self._handle: StreamHandle | None = None
        self._components: dict[str, tuple[int, list[str]]] = {}  # index -> (fetched, members)

    # -- control --------------------------------------------------------------------------

    def request_stop(self, reason: str) -> None:
        if not self._stop.is_set():
            self.stop_reason = reason
            self._stop.set()

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    @property
    def events(self) -> list[tuple[str, str]]:
        """The connection events of this run so far, as (event, reason)."""
        return list(self._connections.events) if self._connections is not None else []

    # -- the run --------------------------------------------------------------------------

    def run(self) -> RecordingSummary:
        """Record until the stop time or `request_stop`. A second recorder on the same root
        fails here, before it reads anything of the first one's."""
        with RecorderLock(self.layout.root):
            return self._run()

    def _run(self) -> RecordingSummary:
        self.converter.stats = self._recover()
        committer = GroupCommitter(self.journals.commit, self.config.commit_interval)
        self._connections = ConnectionLog(self.layout.root, self.run_id)
        self.converter.start()
        committer.start()
        self._event("start", f"channels {self.config.channels}")
        self._fetch_components()
        try:
            try:
                self._supervise(committer)
            finally:
                self._shutdown(committer)
            seq_ranges = self.journals.seq_ranges()
            summary = RecordingSummary(
                seq_ranges,
                sum(last - first + 1 for first, last in seq_ranges.values()),
                dict(self.per_type),
                self.malformed,
                self.reconnects,
                self.gaps,
                self.journals.bytes_written,
                self.stop_reason,
                self.converter.stats,
                self._ever_subscribed,
            )
        finally:
            self.journals.release()
        if self.config.compact_at_stop:
            for day in sorted(seq_ranges):
                compact_day(self.layout, day)
                self._derive_results(day)
        return summary

    def _derive_results(self, day: dt.date) -> None:
        """The compacted day's stats, basis and alerts; the recording is complete without
        them (the commands then compute on the fly), so a failure is a warning, not the
        run's failure."""
        try:
            derive_day_results(self.layout, day)
            derive_day_alerts(self.layout, day)
        except VnrecError as exc:
            log.warning(
                "%s: stats, basis and alerts not stored (the commands compute them): %s", day, exc
            )

    def _recover(self) -> ConversionStats:
        """Convert what earlier runs journaled but did not convert (any day), first."""
        stats = ConversionStats()
        for day in journal_days(self.layout.root):
            report = RecoveryReport(day, conversion=stats)
            open_day(self.layout, day, report=report).close()
        if stats.segments:
            log.info(
                "recovered %d journal segments: %d rows converted, %d already committed",
                stats.segments,
                stats.rows,
                stats.skipped,
            )
        for path in finalize_leftovers(self.layout.root):
            log.info("recovered connection log %s", path)
        return stats

    def _supervise(self, committer: GroupCommitter) -> None:
        backoff = Backoff(
            base=self.config.backoff_base,
            cap=self.config.backoff_cap,
            rng=random.Random(self.config.seed),
        )
        connected_before = False
        token_renewed = False
        while not self._stop.is_set():
            handle = self._handle
            if self.clock.now() >= self.config.stop_at:
                self.request_stop("scheduled stop")
                break
            self._raise_worker_failure(committer)
            if handle is None:
                try:
                    self._handle = self._connect()
                except TokenRejectedError:
                    if token_renewed:
                        raise AuthError(
                            "the stream refused a freshly issued access token; check the"
                            " consumer's market-data permissions"
                        ) from None
                    token_renewed = True
                    self._event("token_rejected", "renewing the access token once")
                    self.source.renew_token()
                    continue
                except ConnectError as exc:
                    self.last_failure = str(exc)
                    self._event("connect_failed", str(exc))
                    self._pause(backoff)
                    continue
                if connected_before:
                    self.reconnects += 1
                    self._event("reconnect", f"attempt {backoff.attempt}")
                connected_before = True
                continue
            if self._closed_generation == self._generation:
                self._event("disconnect", "socket closed by the server or the network")
                self._drop(handle, backoff)
                continue
            silent = self.clock.monotonic() - self.last_frame
            if silent > self.config.stall_timeout:
                self._event("stall", f"no frame (not even a keep-alive) for {silent:.1f} s")
                self._drop(handle, backoff)
                continue
            if self._subscribed.is_set() and silent < self.config.stall_timeout / 2:
                backoff.reset()
                token_renewed = False
            self._stop.wait(0.05)

    def _close_stream(self) -> None:
        handle, self._handle = self._handle, None
        if handle is not None:
            handle.close()
            self._event("disconnect", self.stop_reason or "error")

    def _worker_failures(self, committer: GroupCommitter) -> list[str]:
        """What the other threads failed at, first things first."""
        return [
            f"{what}: {error}"
            for what, error in (
                ("the journal cannot be written", committer.error),
                ("converting the journal failed", self.converter.error),
                ("the stream callback failed", self._callback_error),
            )
            if error is not None
        ]

    def _raise_worker_failure(self, committer: GroupCommitter) -> None:
        """A failed thread stops the recording (the shutdown then flushes what it can)."""
        failures = self._worker_failures(committer)
        if failures:
            self.request_stop("a worker failed")
            raise VnrecError(failures[0])

    def _connect(self) -> StreamHandle:
        self._generation += 1
        generation = self._generation
        self._subscribed.clear()
        with self._opening:
            handle = self.source.open_stream(
                self.config.channels,
                on_broadcast=self._on_broadcast,
                on_hub_error=self._on_hub_error,
                on_frame=self._on_frame,
                on_open=lambda: self._on_open(generation),
                on_close=lambda: self._on_close(generation),
                on_malformed=lambda raw, reason: self._reject(raw, self.clock.time_ns(), reason),
            )
            self.last_frame = self.clock.monotonic()
            self._event("connect", self.config.channels)
        return handle

    def _drop(self, handle: StreamHandle, backoff: Backoff) -> None:
        self._handle = None
        handle.close()
        self.gaps += 1
        self._pause(backoff)

    def _pause(self, backoff: Backoff) -> None:
        delay = backoff.next_delay()
        self._event("backoff", f"waiting {delay:.2f} s before reconnecting")
        self._stop.wait(delay)

    # -- callbacks (websocket thread) -----------------------------------------------------

    def _on_frame(self) -> None:
        self.last_frame = self.clock.monotonic()

    def _on_open(self, generation: int) -> None:
        if generation == self._generation:
            self._subscribed.set()
            self._ever_subscribed = True
            with self._opening:
                self._event("subscribe", self.config.channels)

    def _on_close(self, generation: int) -> None:
        self._closed_generation = generation

    def _on_hub_error(self, message: str) -> None:
        log.error("SSI hub error: %s", message)
        self._event("hub_error", message)

    def _on_broadcast(self, argument: Any) -> None:
        recv_ns = self.clock.time_ns()
        try:
            try:
                obj = orjson.loads(argument) if isinstance(argument, str | bytes) else argument
                envelope = envelope_from_mapping(obj)
            except (orjson.JSONDecodeError, EnvelopeError) as exc:
                self._reject(argument, recv_ns, str(exc))
                return
            self.journals.receive(envelope.data_type, envelope.content, recv_ns)
            self.per_type[envelope.data_type] += 1
            self.last_content = envelope.content
        except Exception as exc:  # noqa: BLE001 - raised into ssi-fc-data it would look like a close
            # Contained here and handed to the supervisor, which stops the recording: a bug
            # on this path could lose messages, so it must not be retried in silence.
            self._callback_error = exc
            self.request_stop("the stream callback failed")

    def _reject(self, argument: Any, recv_ns: int, reason: str) -> None:
        """A frame that is not an SSI envelope has no seq: it is kept in the rejects file."""
        self.malformed += 1
        text = argument if isinstance(argument, str) else repr(argument)
        self.journals.reject(Rejected(recv_ns, reason, text))
        log.warning("malformed frame kept aside: %s", reason)

    # -- helpers --------------------------------------------------------------------------

    def _fetch_components(self) -> None:
        """The members of the configured indices, for the days this run records. Not
        having them is no reason not to record: a failure is logged and recording goes on
        (and a refused credential is reported by the stream's own first attempt)."""
        for index_id in self.config.components:
            try:
                members = self.source.index_components(index_id)
            except VnrecError as exc:
                log.warning("the members of %s are not recorded: %s", index_id, exc)
                self._event("components_failed", f"{index_id}: {exc}")
                continue
            self._components[index_id] = (self.clock.time_ns(), members)

    def _day_opened(self, day: dt.date) -> None:
        self._event(DAY_EVENT, day.isoformat())
        for index_id, (fetched_ns, members) in sorted(self._components.items()):
            try:
                path = store_components(self.layout.root, day, index_id, members, fetched_ns)
            except (OSError, VnrecError) as exc:
                log.warning("%s members of %s not stored: %s", index_id, day, exc)
                continue
            log.info("%s: %d members of %s in %s", day, len(members), index_id, path)

    def _event(self, event: str, reason: str) -> None:
        messages = self.journals.last_seq()
        now = self.clock.now()
        if self._connections is not None:
            self._connections.record(now, event, reason, messages)
        if self._live is not None:
            # The microseconds the connections file keeps, exactly.
            ts_ns = to_event_ts(now) * 1_000
            self._live.on_connection(ConnectionEvent(self.run_id, ts_ns, event, reason))
        log.info("%s: %s (%d messages so far)", event, reason, messages)

    def _shutdown(self, committer: GroupCommitter) -> None:
        """Stop every worker and flush what can be flushed, each step whatever the earlier
        ones did; then report the first failure (the journal keeps what was not
        converted, for the next start)."""
        failures: list[str] = []
        steps: list[tuple[str, Callable[[], object]]] = [
            ("closing the stream", self._close_stream),
            ("stopping the group commit", committer.stop),
            ("flushing the journal", self.journals.close),
            ("converting the journal", self.converter.stop),
            ("logging the stop", lambda: self._event("stop", self.stop_reason or "error")),
        ]
        if self._connections is not None:
            steps.append(("closing the connection log", self._connections.close))
        for what, step in steps:
            try:
                step()
            except Exception as exc:  # noqa: BLE001 - every step runs; the first is reported
                log.error("%s failed: %s", what, exc)
                failures.append(f"{what} failed: {exc}")
        causes = self._worker_failures(committer)
        failures = causes + failures
        if failures:
            raise VnrecError(
                f"{failures[0]}; what was journaled is kept and converted on the next start"
            )
