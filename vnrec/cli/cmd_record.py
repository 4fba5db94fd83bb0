"""`vnrec record`: the live recorder."""

from __future__ import annotations

import datetime as dt
import logging
import signal
import sys
import time
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Annotated

import typer

from vnrec.calendar import HCM_TZ, warn_if_unlisted

if TYPE_CHECKING:  # imported where used: `vnrec --help` stays fast
    from vnrec.recorder.service import Recorder
from vnrec.cli.options import DataOption, parse_day, remote_url, resolve_data_root
from vnrec.cli.output import OutputFormat, default_format
from vnrec.defaults import RECORD_CHANNELS
from vnrec.errors import BadInputError, VnrecError

log = logging.getLogger("vnrec")


def record_command(
    data: DataOption = None,
    channels: Annotated[
        str, typer.Option("--channels", help="SSI channel string to subscribe.")
    ] = RECORD_CHANNELS,
    until: Annotated[
        str | None, typer.Option("--until", help="Stop at this local time (HH:MM).")
    ] = None,
    duration: Annotated[
        float | None, typer.Option("--duration", help="Stop after this many seconds.")
    ] = None,
    wait: Annotated[
        bool, typer.Option("--wait", help="Sleep until the next trading session.")
    ] = False,
    force: Annotated[
        bool, typer.Option("--force", help="Record now, whatever the calendar says.")
    ] = False,
    compact: Annotated[
        bool | None,
        typer.Option(
            "--compact/--no-compact",
            help="Compact the day at stop (default: when the session is over).",
        ),
    ] = None,
    consumer_id: Annotated[
        str | None, typer.Option("--consumer-id", help="Default: $SSI_CONSUMER_ID.")
    ] = None,
    url: Annotated[str | None, typer.Option("--url", help="Default: $SSI_URL.")] = None,
    stream_url: Annotated[
        str | None, typer.Option("--stream-url", help="Default: $SSI_STREAM_URL.")
    ] = None,
    commit_interval: Annotated[
        float, typer.Option("--commit-interval", help="Journal fsync interval, seconds.")
    ] = 0.2,
    stall_timeout: Annotated[
        float, typer.Option("--stall-timeout", help="Reconnect after this long without a frame.")
    ] = 30.0,
    track: Annotated[
        bool,
        typer.Option("--track", help="Also run the trackers live; print their summary at stop."),
    ] = False,
    fmt: Annotated[
        OutputFormat | None,
        typer.Option("--format", "-f", help="--track summary: table or json."),
    ] = None,
    push_to: Annotated[
        str | None,
        typer.Option(
            "--push-to",
            help="At stop, compact and push the recorded days to s3://bucket/prefix.",
        ),
    ] = None,
    extra_holidays: Annotated[
        list[str] | None,
        typer.Option(
            "--holiday",
            help="A day the exchanges close (YYYY-MM-DD), kept in the data root; repeatable.",
        ),
    ] = None,
) -> None:
    """Record the SSI stream to Parquet: journal first, crash-safe, reconnecting."""
    from vnrec.cli.cmd_replay import render_results
    from vnrec.cli.settings import ssi_settings
    from vnrec.recorder.schedule import NoSession, plan_recording
    from vnrec.recorder.service import Recorder, RecorderConfig
    from vnrec.recorder.status import StatusReporter
    from vnrec.recorder.tracking import LiveTracking
    from vnrec.replay.filters import parse_hhmm
    from vnrec.ssi.client import SsiClient
    from vnrec.ssi.secrets import Redactor, install_redaction
    from vnrec.storage.closures import add_closures, calendar_for, closures_path
    from vnrec.storage.layout import Layout

    redactor = Redactor()
    install_redaction(redactor)
    settings = ssi_settings(consumer_id=consumer_id, url=url, stream_url=stream_url)
    redactor.add(settings.consumer_secret.get_secret_value())
    root = resolve_data_root(data)
    if push_to is not None:
        push_to = _check_push_target(push_to, compact)
        compact = True
    closures = frozenset(parse_day(day) for day in extra_holidays or [])
    if closures:
        # Kept in the data root so that replay and SQL of the days stored there agree.
        for day in sorted(add_closures(root, closures)):
            print(f"{day}: closure added to {closures_path(root)}", file=sys.stderr)
    calendar = calendar_for(root)
    warn_if_unlisted(dt.datetime.now(HCM_TZ).year)
    plan = plan_recording(
        dt.datetime.now(dt.UTC),
        calendar,
        until=parse_hhmm(until) if until else None,
        duration=duration,
        wait=wait,
        force=force,
    )
    if isinstance(plan, NoSession):
        print(plan.message, file=sys.stderr)
        raise typer.Exit(0)
    delay = (plan.start - dt.datetime.now(dt.UTC)).total_seconds()
    if delay > 0:
        print(
            f"waiting until {plan.start.astimezone(HCM_TZ):%Y-%m-%d %H:%M} (Asia/Ho_Chi_Minh)",
            file=sys.stderr,
        )
        time.sleep(delay)
    config = RecorderConfig(
        stop_at=plan.stop,
        channels=channels,
        commit_interval=commit_interval,
        stall_timeout=stall_timeout,
        compact_at_stop=plan.full_session if compact is None else compact,
    )
    layout = Layout(root)
    tracking = LiveTracking(root) if track else None
    recorder = Recorder(layout, config, SsiClient(settings, redactor), live=tracking)
    install_signal_handlers(recorder)
    status = StatusReporter(recorder, sys.stderr, interactive=sys.stderr.isatty())
    log.info("recording until %s into %s", plan.stop.astimezone(HCM_TZ), layout.root)
    status.start()
    try:
        summary = recorder.run()
    finally:
        status.stop()
    print(summary.line(), file=sys.stderr)
    if not summary.subscribed:
        raise VnrecError(
            "recorded nothing: the stream was never open"
            + (f" (last: {recorder.last_failure})" if recorder.last_failure else "")
        )
    if tracking is not None:
        render_results([r.to_dict() for r in tracking.results()], fmt or default_format())
    if push_to is not None:
        _push_recorded(push_to, root, sorted(summary.seq_ranges))


def _check_push_target(push_to: str, compact: bool | None) -> str:
    """The --push-to URL, checked before recording starts. A malformed one is refused; a
    store that cannot be reached now (one short try) is a warning, not a refusal: the
    recording matters more, and the push at stop tries again."""
    from vnrec.remote.s3 import ObjectStore, S3Location

    url = remote_url(push_to)
    if url is None:
        raise BadInputError(f"--push-to {push_to}: expected s3://bucket/prefix")
    try:
        S3Location.parse(url)
    except VnrecError as exc:
        raise BadInputError(f"--push-to {exc}") from None
    if compact is False:
        raise BadInputError("--push-to pushes compacted days: drop --no-compact")
    try:
        ObjectStore.connect(url, quick=True)
    except VnrecError as exc:
        log.warning("--push-to: %s; recording anyway, the push at stop tries again", exc)
    return url


def _push_recorded(url: str, root: Path, days: list[dt.date]) -> None:
    """Push the days this run recorded (compacted at stop). A failure leaves them on local
    disk, whole, and says how to push them later."""
    from vnrec.cli.interrupts import interrupt_on_signal
    from vnrec.remote.push import push_day
    from vnrec.remote.s3 import ObjectStore

    # The recorder has stopped: a signal now interrupts the push (which leaves the remote
    # history as it was), not a flush.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, interrupt_on_signal)
    later = f"(later: vnrec push --to {url} --all --data {root})"
    try:
        # One short try first: a store that does not answer now is for `vnrec push` later,
        # not minutes of retries at the close.
        ObjectStore.connect(url, quick=True)
        store = ObjectStore.connect(url)
        for day in days:
            print(push_day(store, root, day).line(), file=sys.stderr)
    except VnrecError as exc:
        raise VnrecError(f"recorded and kept in {root}, not pushed: {exc} {later}") from None
    except KeyboardInterrupt:
        raise VnrecError(f"recorded and kept in {root}, push interrupted {later}") from None


def install_signal_handlers(recorder: Recorder) -> None:
    """SIGINT/SIGTERM ask the recorder to stop; a second one during the stop is ignored so
    that it cannot interrupt a half-written flush."""

    def handle(signum: int, _frame: FrameType | None) -> None:
        name = signal.Signals(signum).name
        if recorder.stopping:
            print(f"{name} ignored: already stopping, flushing the journal", file=sys.stderr)
            return
        print(f"{name}: stopping (flush, convert, summary)...", file=sys.stderr)
        recorder.request_stop(name)

    signal.signal(signal.SIGINT, handle)
    signal.signal(signal.SIGTERM, handle)


def register(app: typer.Typer) -> None:
    app.command("record")(record_command)
