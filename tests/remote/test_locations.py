"""s3:// locations and data roots, without a server."""

from __future__ import annotations

from pathlib import Path

import pytest

from vnrec.cli.options import between, on_day, remote_url, resolve_data_root
from vnrec.errors import BadInputError, VnrecError
from vnrec.remote.s3 import S3Location


def test_a_location_is_a_bucket_and_a_prefix() -> None:
    location = S3Location.parse("s3://bucket/some/prefix/")
    assert (location.bucket, location.prefix) == ("bucket", "some/prefix")
    assert (
        location.key("_commits/date=2026-02-06.log") == "some/prefix/_commits/date=2026-02-06.log"
    )
    assert location.relative("some/prefix/raw/x.parquet") == "raw/x.parquet"
    bare = S3Location.parse("s3://bucket")
    assert bare.key("a") == "a" and bare.url == "s3://bucket"
    with pytest.raises(VnrecError, match="no bucket"):
        S3Location.parse("s3:///prefix")


def test_data_roots_from_flags_and_the_environment() -> None:
    # typer hands --data over as a Path, which folds the double slash.
    assert remote_url(Path("s3://bucket/p"), {}) == "s3://bucket/p"
    assert remote_url(None, {"VNREC_DATA": "s3://b/q"}) == "s3://b/q"
    assert remote_url(Path("data"), {}) is None
    with pytest.raises(BadInputError, match="needs a local data root"):
        resolve_data_root(Path("s3://bucket/p"), {})
    assert resolve_data_root(None, {"VNREC_DATA": "/x"}) == Path("/x")


def test_the_days_a_command_needs() -> None:
    import datetime as dt

    day = dt.date(2026, 2, 6)
    assert on_day("2026-02-06")(day) and not on_day("2026-02-05")(day)
    assert between("2026-02-01", "2026-02-06")(day) and not between("2026-02-07", None)(day)
    assert between(None, None)(day)


def test_the_check_before_a_recording_is_one_short_try(monkeypatch: pytest.MonkeyPatch) -> None:
    """`record --push-to` checks the store before recording: against a server that accepts
    and never answers, one request (not the four of a push) and its error."""
    import socket

    from vnrec.remote.s3 import ObjectStore

    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{silent.getsockname()[1]}")
        for name, value in (("AWS_ACCESS_KEY_ID", "k"), ("AWS_SECRET_ACCESS_KEY", "s"),
                            ("AWS_REGION", "us-east-1")):  # fmt: skip
            monkeypatch.setenv(name, value)
        with pytest.raises(VnrecError, match="s3://bucket/x: the bucket: ReadTimeoutError"):
            ObjectStore.connect("s3://bucket/x", quick=True)
        silent.setblocking(False)
        accepted = 0
        while True:
            try:
                silent.accept()[0].close()
            except BlockingIOError:
                break
            accepted += 1
    assert accepted == 1


def test_a_bucket_name_s3_would_refuse_is_refused() -> None:
    for url in ("s3://Bad_Bucket/x", "s3://ab", "s3://a..b/x", "s3://-bucket"):
        with pytest.raises(VnrecError, match="is not a bucket name"):
            S3Location.parse(url)
    assert S3Location.parse("s3://my-bucket.2026/x").bucket == "my-bucket.2026"
