"""Object storage as a data root, against a real S3 server (SeaweedFS on loopback): push two
days, read them back with replay, stats, query, ls and verify from s3:// and get the local
answers; an interrupted push is invisible and the next one completes it; a wrong
credential is one line; days on a local Dask cluster mirror their own day from the store."""

from __future__ import annotations

import datetime as dt
import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import boto3
import orjson
import pytest

from tests.remote.seaweed import BUCKET, SECRET_KEY, S3Server, seaweed
from vnrec.emulator.market import MarketConfig, SyntheticMarket
from vnrec.storage.importer import Importer
from vnrec.storage.layout import Layout

pytestmark = pytest.mark.slow

DAYS = (dt.date(2026, 2, 5), dt.date(2026, 2, 6))
LATE_DAY = dt.date(2026, 2, 9)
VOLUMES_SQL = (
    "SELECT date, symbol, sum(last_vol) AS v FROM trades WHERE date <= '2026-02-06'"
    " GROUP BY 1, 2 ORDER BY 1, 2"
)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3Server]:
    with seaweed(tmp_path_factory.mktemp("seaweed")) as running:
        yield running


def _import_day(root: Path, day: dt.date, symbols: int = 3) -> None:
    envelopes = SyntheticMarket(MarketConfig(day, symbols=symbols, activity=0.05, seed=day.day))
    with Importer(Layout(root), batch_lines=2_000) as importer:
        importer.import_lines((orjson.dumps(e) for e in envelopes.envelopes()), str(day))
        importer.commit()


def _vnrec(
    env: dict[str, str], *args: str, check: bool = True
) -> subprocess.CompletedProcess[bytes]:
    result = subprocess.run(
        [sys.executable, "-m", "vnrec.cli.main", *args],
        env={**os.environ, **env},
        capture_output=True,
        timeout=300,
        check=False,
    )
    if check:
        assert result.returncode == 0, result.stderr.decode()[-2000:]
    return result


@pytest.fixture(scope="module")
def local(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("local") / "data"
    for day in (*DAYS, LATE_DAY):
        _import_day(root, day)
        _vnrec({}, "compact", "--data", str(root), "--date", day.isoformat())
    return root


def _remote_env(server: S3Server, tmp_path: Path) -> dict[str, str]:
    return {**server.env(), "VNREC_CACHE": str(tmp_path / "cache")}


def test_pushed_days_read_back_as_the_local_ones(
    server: S3Server, local: Path, tmp_path: Path
) -> None:
    env = _remote_env(server, tmp_path)
    url = f"s3://{BUCKET}/history"
    for day in DAYS:
        pushed = _vnrec(env, "push", "--to", url, "--date", day.isoformat(), "--data", str(local))
        assert f"{day}: pushed " in pushed.stderr.decode()
    again = _vnrec(env, "push", "--to", url, "--date", DAYS[0].isoformat(), "--data", str(local))
    assert "already pushed" in again.stderr.decode()

    for args in (
        ("replay", "--date", DAYS[1].isoformat(), "--format", "json"),
        ("stats", "--date", DAYS[0].isoformat(), "--format", "json"),
        ("candles", "--date", DAYS[1].isoformat(), "--interval", "5m", "--format", "json"),
        ("alerts", "--date", DAYS[1].isoformat(), "--format", "json"),
        ("foreign", "--date", DAYS[0].isoformat(), "--format", "json"),
        ("basis", "--from", DAYS[0].isoformat(), "--to", DAYS[1].isoformat(), "--format", "json"),
        ("query", VOLUMES_SQL, "--format", "json"),
    ):  # fmt: skip
        remote = _vnrec(env, *args, "--data", url)
        expected = _vnrec({}, *args, "--data", str(local))
        assert remote.stdout == expected.stdout, args
    listed = orjson.loads(_vnrec(env, "ls", "--data", url, "--format", "json").stdout)
    assert sorted({row["date"] for row in listed}) == [d.isoformat() for d in DAYS]
    verified = _vnrec(env, "verify", "--date", DAYS[1].isoformat(), "--data", url)
    assert verified.returncode == 0
    # Only what a day needs was fetched for a one-day command.
    fresh = {**env, "VNREC_CACHE": str(tmp_path / "fresh")}
    _vnrec(fresh, "stats", "--date", DAYS[0].isoformat(), "--data", url, "--format", "json")
    mirrored = {p.name for p in (tmp_path / "fresh").rglob("date=*") if p.is_dir()}
    assert mirrored and all(DAYS[0].isoformat() in name for name in mirrored)


def test_an_interrupted_push_is_invisible_and_the_next_completes_it(
    server: S3Server, local: Path, tmp_path: Path
) -> None:
    env = _remote_env(server, tmp_path)
    url = f"s3://{BUCKET}/interrupted"
    argv = [sys.executable, "-m", "vnrec.cli.main", "push", "--to", url, "--data", str(local),
            "--date", LATE_DAY.isoformat()]  # fmt: skip
    client = boto3.client("s3", endpoint_url=server.endpoint, **_keys(server))
    rng = random.Random(7)
    for attempt in range(3):
        proc = subprocess.Popen(argv, env={**os.environ, **env}, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 120
        while proc.poll() is None and not _listed(client, "interrupted/"):
            assert time.monotonic() < deadline, "the push uploaded nothing in 120 s"
            time.sleep(0.005)
        time.sleep(rng.uniform(0, 0.05))  # then a random moment: every one must be safe
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        listed = orjson.loads(_vnrec(env, "ls", "--data", url, "--format", "json").stdout)
        visible = LATE_DAY.isoformat() in {row["date"] for row in listed}
        logged = _has(client, f"interrupted/_commits/date={LATE_DAY.isoformat()}.log")
        assert visible == logged, attempt
        if visible:  # the push had finished: what is visible is whole
            break
    completed = _vnrec(env, "push", "--to", url, "--date", LATE_DAY.isoformat(),
                       "--data", str(local))  # fmt: skip
    assert "pushed" in completed.stderr.decode()
    remote = _vnrec(env, "replay", "--date", LATE_DAY.isoformat(), "--format", "json",
                    "--data", url)  # fmt: skip
    expected = _vnrec({}, "replay", "--date", LATE_DAY.isoformat(), "--format", "json",
                      "--data", str(local))  # fmt: skip
    assert remote.stdout == expected.stdout


def test_objects_a_push_left_without_a_log_are_invisible(
    server: S3Server, local: Path, tmp_path: Path
) -> None:
    """The state a push killed before its last PUT leaves, made on purpose."""
    env = _remote_env(server, tmp_path)
    client = boto3.client("s3", endpoint_url=server.endpoint, **_keys(server))
    day = LATE_DAY.isoformat()
    for path in (local / "trades" / f"date={day}").glob("*.parquet"):
        client.upload_file(str(path), BUCKET, f"partial/trades/date={day}/{path.name}")
    url = f"s3://{BUCKET}/partial"
    result = _vnrec(env, "replay", "--date", day, "--data", url, check=False)
    assert result.returncode == 1
    assert f"no recorded data for {day}" in result.stderr.decode()
    _vnrec(env, "push", "--to", url, "--date", day, "--data", str(local))
    assert _vnrec(env, "replay", "--date", day, "--format", "json", "--data", url).stdout


def test_mistakes_are_one_line_and_the_secret_is_never_shown(
    server: S3Server, local: Path, tmp_path: Path
) -> None:
    wrong = {**server.env(secret="not-the-secret"), "VNREC_CACHE": str(tmp_path / "c")}
    ssi = {"SSI_CONSUMER_ID": "id", "SSI_CONSUMER_SECRET": "secret-0123456789"}
    record = ("record", "--force", "--duration", "60", "--data", str(tmp_path / "r"))
    cases = [
        (ssi, (*record, "--push-to", "s3:///x"), "--push-to no bucket in 's3:///x'"),
        (ssi, (*record, "--push-to", "s3://Bad_Bucket/x"), "'Bad_Bucket' is not a bucket name"),
        (wrong, ("stats", "--date", DAYS[0].isoformat(), "--data", f"s3://{BUCKET}/history"),
         "access refused"),
        (wrong, ("push", "--to", f"s3://{BUCKET}/x", "--all", "--data", str(local)),
         "access refused"),
        (server.env(), ("stats", "--date", DAYS[0].isoformat(), "--data", "s3://no-such-bucket/h"),
         "no-such-bucket"),
        (server.env(), ("import", "x.jsonl", "--data", f"s3://{BUCKET}/history"),
         "needs a local data root"),
        (server.env(), ("push", "--to", "/tmp/somewhere", "--all", "--data", str(local)),
         "expected s3://"),
    ]  # fmt: skip
    for env, args, expected in cases:
        result = _vnrec(env, *args, check=False)
        lines = result.stderr.decode().strip().splitlines()
        assert result.returncode == 1 and len(lines) == 1, (args, lines)
        assert expected in lines[0] and lines[0].startswith("vnrec: error: "), (args, lines)
        assert SECRET_KEY not in lines[0] and "not-the-secret" not in lines[0]
    assert not (tmp_path / "r").exists()  # refused before recording anything


def _keys(server: S3Server) -> dict[str, str]:
    env = server.env()
    return {
        "aws_access_key_id": env["AWS_ACCESS_KEY_ID"],
        "aws_secret_access_key": env["AWS_SECRET_ACCESS_KEY"],
        "region_name": env["AWS_REGION"],
    }


def _has(client: object, key: str) -> bool:
    from botocore.exceptions import ClientError

    try:
        client.head_object(Bucket=BUCKET, Key=key)  # type: ignore[attr-defined]
    except ClientError:
        return False
    return True


def _listed(client: object, prefix: str) -> bool:
    found = client.list_objects_v2(Bucket=BUCKET, Prefix=prefix)  # type: ignore[attr-defined]
    return bool(found.get("KeyCount"))


def test_a_damaged_remote_part_is_refused(server: S3Server, local: Path, tmp_path: Path) -> None:
    env = _remote_env(server, tmp_path)
    url, day = f"s3://{BUCKET}/damaged", LATE_DAY.isoformat()
    _vnrec(env, "push", "--to", url, "--date", day, "--data", str(local))
    part = next((local / "trades" / f"date={day}").glob("*.parquet"))
    altered = bytearray(part.read_bytes())
    altered[100] ^= 0xFF
    client = boto3.client("s3", endpoint_url=server.endpoint, **_keys(server))
    client.put_object(
        Bucket=BUCKET, Key=f"damaged/trades/date={day}/{part.name}", Body=bytes(altered)
    )
    result = _vnrec(env, "replay", "--date", day, "--data", url, check=False)
    lines = result.stderr.decode().strip().splitlines()
    assert result.returncode == 1 and len(lines) == 1, lines
    assert "the remote copy is damaged" in lines[0] and part.name in lines[0]


def test_days_on_a_local_cluster_read_the_object_store(
    server: S3Server, local: Path, tmp_path: Path
) -> None:
    """Each worker mirrors the day it runs; the range equals the local sequential run."""
    env = _remote_env(server, tmp_path)
    url = f"s3://{BUCKET}/cluster"
    _vnrec(env, "push", "--to", url, "--all", "--data", str(local))
    span = ("replay", "--from-date", DAYS[0].isoformat(), "--to-date", LATE_DAY.isoformat(),
            "--format", "json")  # fmt: skip
    remote = _vnrec(env, *span, "--workers", "2", "--data", url)
    expected = _vnrec({}, *span, "--jobs", "1", "--data", str(local))
    assert remote.stdout == expected.stdout
    assert len(remote.stdout.splitlines()) == 3
    logs = sorted(p.name for p in (tmp_path / "cache").rglob("_commits/date=*.log"))
    assert logs == [f"date={day.isoformat()}.log" for day in (*DAYS, LATE_DAY)]
    stats = ("stats", *span[1:5], "--format", "json")
    remote_stats = _vnrec(env, *stats, "--workers", "2", "--data", url)
    assert remote_stats.stdout == _vnrec({}, *stats, "--data", str(local)).stdout


def test_record_pushes_what_it_recorded_at_stop(server: S3Server, tmp_path: Path) -> None:
    """`record --push-to`: recorded on local disk from the emulator, compacted and pushed at
    the stop; the remote day replays as the local one. A store that refuses the key is
    warned about at the start and does not stop the recording: the day stays local, whole,
    and the stop says how to push it later."""
    from tests.processes import interrupt, reap
    from tests.recorder.harness import DAY, persisted
    from vnrec.emulator.auth import Credentials
    from vnrec.emulator.config import EmulatorConfig
    from vnrec.emulator.server import EmulatorServer

    market = MarketConfig(DAY, symbols=3, activity=0.05, seed=8)
    config = EmulatorConfig(credentials=Credentials("rec-id", "rec-secret-0123456789"))
    url = f"s3://{BUCKET}/recorded"
    for secret, root in (("not-the-secret", tmp_path / "refused"), (SECRET_KEY, tmp_path / "data")):
        env = {**_remote_env(server, tmp_path), **server.env(secret=secret)}
        with EmulatorServer.synthetic(config, market) as emulator:
            env |= {
                "SSI_CONSUMER_ID": "rec-id",
                "SSI_CONSUMER_SECRET": "rec-secret-0123456789",
                "SSI_URL": emulator.url,
                "SSI_STREAM_URL": emulator.stream_url,
            }
            argv = [sys.executable, "-m", "vnrec.cli.main", "record", "--force", "--data",
                    str(root), "--duration", "600", "--push-to", url]  # fmt: skip
            log = tmp_path / f"{root.name}.stderr"
            with open(log, "wb") as err:
                proc = subprocess.Popen(argv, env={**os.environ, **env}, stderr=err)
            try:
                assert emulator.wait_finished(120), "the day was not sent in 120 s"
                sent = sum(c.sent for c in emulator.stats().connections)
                journal = root / "journal" / f"date={DAY.isoformat()}"
                deadline = time.monotonic() + 120
                while persisted(Layout(root), journal) < sent:
                    assert proc.poll() is None
                    assert time.monotonic() < deadline, "the day was not recorded in 120 s"
                    time.sleep(0.05)
                interrupt(proc)
            finally:
                reap(proc)
            stderr = log.read_text()
        day = DAY.isoformat()
        local = _vnrec({}, "replay", "--date", day, "--format", "json", "--data", str(root))
        assert orjson.loads(local.stdout)["events"] == sent
        if secret != SECRET_KEY:
            lines = stderr.strip().splitlines()
            assert proc.returncode == 1
            assert "--push-to: " in stderr and "recording anyway" in stderr
            assert lines[-1].startswith(f"vnrec: error: recorded and kept in {root}, not pushed")
            assert f"vnrec push --to {url} --all" in lines[-1]
            assert "not-the-secret" not in stderr
            continue
        assert proc.returncode == 0, stderr[-2000:]
        assert f"{day}: pushed " in stderr
        remote = _vnrec(env, "replay", "--date", day, "--format", "json", "--data", url)
        assert remote.stdout == local.stdout
