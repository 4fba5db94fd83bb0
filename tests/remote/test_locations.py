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
