"""An S3 bucket prefix holding a data root (SPEC.md 7.7), through boto3.

Endpoint, region and credentials come from the standard AWS environment, read by boto3
itself (`AWS_ENDPOINT_URL`, `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_REGION`).
Every failure becomes one line naming the object and the reason; the secret never appears
in it (boto3's messages do not carry it, and its debug logging is never turned on)."""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from vnrec.errors import VnrecError

SCHEME = "s3://"
CHUNK = 1 << 20
# S3's rules for a bucket name, which S3-compatible servers keep too.
BUCKET_NAME = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")
IP_LIKE = re.compile(r"[0-9]+\.[0-9]+\.[0-9]+\.[0-9]+")
# The check before a recording: a store that does not answer at once is tried at the stop.
QUICK_CHECK = {
    "connect_timeout": 3,
    "read_timeout": 5,
    "retries": {"total_max_attempts": 1, "mode": "standard"},
}


class RemoteError(VnrecError):
    """The object store refused or failed a request."""


def is_remote(data: str | Path) -> bool:
    return str(data).startswith(SCHEME)


@dataclass(frozen=True)
class S3Location:
    bucket: str
    prefix: str  # no leading or trailing slash; may be empty

    @classmethod
    def parse(cls, url: str) -> S3Location:
        if not url.startswith(SCHEME):
            raise VnrecError(f"not an s3:// URL: {url!r}")
        if any(c.isspace() or not c.isprintable() for c in url):
            raise VnrecError(f"{url!r}: a space or a control character in an s3:// URL")
        bucket, _, prefix = url[len(SCHEME) :].partition("/")
        if not bucket:
            raise VnrecError(f"no bucket in {url!r} (expected s3://bucket/prefix)")
        if not BUCKET_NAME.fullmatch(bucket) or ".." in bucket or IP_LIKE.fullmatch(bucket):
            raise VnrecError(
                f"{url}: {bucket!r} is not a bucket name (3 to 63 lowercase letters, digits,"
                " dots and hyphens)"
            )
        return cls(bucket, prefix.strip("/"))

    @property
    def url(self) -> str:
        return f"{SCHEME}{self.bucket}/{self.prefix}" if self.prefix else f"{SCHEME}{self.bucket}"

    def key(self, relative: str) -> str:
        return f"{self.prefix}/{relative}" if self.prefix else relative

    def relative(self, key: str) -> str:
        return key[len(self.prefix) + 1 :] if self.prefix else key


@dataclass(frozen=True)
class RemoteObject:
    relative: str
    size: int
    etag: str


def file_digests(path: Path) -> tuple[str, str]:
    """(MD5, SHA-256) of a file, hex: the ETag S3 gives a single-part upload, and vnrec's."""
    md5, sha = hashlib.md5(usedforsecurity=False), hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(CHUNK):
            md5.update(block)
            sha.update(block)
    return md5.hexdigest(), sha.hexdigest()


class ObjectStore:
    """The objects under one location; keys are given relative to its prefix."""

    def __init__(self, location: S3Location, client: Any) -> None:
        self.location = location
        self._client = client

    @classmethod
    def connect(cls, url: str, quick: bool = False) -> ObjectStore:
        """The store at `url`, its bucket checked; `quick`: one short try (QUICK_CHECK)."""
        import boto3
        import botocore.config

        location = S3Location.parse(url)
        config = botocore.config.Config(
            retries={"max_attempts": 3, "mode": "standard"},
            connect_timeout=10,
            read_timeout=60,
            # Plain checksums only: S3-compatible servers differ on the newer ones.
            request_checksum_calculation="when_required",
            response_checksum_validation="when_required",
        )
        if quick:
            config = config.merge(botocore.config.Config(**QUICK_CHECK))
        session = boto3.session.Session(region_name=os.environ.get("AWS_REGION") or None)
        try:
            client = session.client("s3", config=config)
        except ValueError as exc:  # botocore's word for a malformed AWS_ENDPOINT_URL
            raise RemoteError(f"{location.url}: {exc} (check AWS_ENDPOINT_URL)") from None
        store = cls(location, client)
        store._check_bucket()
        return store

    def _fail(self, exc: Exception, what: str) -> RemoteError:
        from botocore.exceptions import ClientError, NoCredentialsError

        if isinstance(exc, NoCredentialsError):
            return RemoteError(
                f"{self.location.url}: no AWS credentials (set AWS_ACCESS_KEY_ID and"
                " AWS_SECRET_ACCESS_KEY)"
            )
        if isinstance(exc, ClientError):
            error = exc.response.get("Error", {})
            code = str(error.get("Code", "error"))
            if code in {"InvalidAccessKeyId", "SignatureDoesNotMatch", "AccessDenied", "403"}:
                return RemoteError(
                    f"{self.location.url}: access refused ({code}): check AWS_ACCESS_KEY_ID and"
                    " AWS_SECRET_ACCESS_KEY"
                )
            return RemoteError(f"{what}: {code}: {error.get('Message', '')}".rstrip(": "))
        return RemoteError(f"{what}: {type(exc).__name__}: {exc}")

    def _check_bucket(self) -> None:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            self._client.head_bucket(Bucket=self.location.bucket)
        except (ClientError, BotoCoreError) as exc:
            raise self._fail(exc, f"{self.location.url}: the bucket") from None

    def head(self, relative: str) -> RemoteObject | None:
        from botocore.exceptions import BotoCoreError, ClientError

        key = self.location.key(relative)
        try:
            found = self._client.head_object(Bucket=self.location.bucket, Key=key)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in {"404", "NoSuchKey", "NotFound"}:
                return None
            raise self._fail(exc, f"{SCHEME}{self.location.bucket}/{key}") from None
        except BotoCoreError as exc:
            raise self._fail(exc, f"{SCHEME}{self.location.bucket}/{key}") from None
        return RemoteObject(relative, int(found["ContentLength"]), str(found["ETag"]).strip('"'))

    def listing(self, relative_prefix: str) -> Iterator[RemoteObject]:
        from botocore.exceptions import BotoCoreError, ClientError

        prefix = self.location.key(relative_prefix)
        try:
            pages = self._client.get_paginator("list_objects_v2").paginate(
                Bucket=self.location.bucket, Prefix=prefix
            )
            for page in pages:
                for item in page.get("Contents", ()):
                    yield RemoteObject(
                        self.location.relative(item["Key"]),
                        int(item["Size"]),
                        str(item["ETag"]).strip('"'),
                    )
        except (ClientError, BotoCoreError) as exc:
            raise self._fail(exc, f"{SCHEME}{self.location.bucket}/{prefix}") from None

    def put(self, path: Path, relative: str, md5: str, sha: str) -> None:
        """Upload a file as one object (`md5`, `sha`: its digests, from file_digests) and
        check what the store received: its ETag (the MD5 of a single-part upload) must be
        the file's."""
        from botocore.exceptions import BotoCoreError, ClientError

        key = self.location.key(relative)
        try:
            with open(path, "rb") as body:
                answer = self._client.put_object(
                    Bucket=self.location.bucket, Key=key, Body=body, Metadata={"sha256": sha}
                )
        except (ClientError, BotoCoreError) as exc:
            raise self._fail(
                exc, f"uploading {path} to {SCHEME}{self.location.bucket}/{key}"
            ) from None
        etag = str(answer.get("ETag", "")).strip('"')
        if etag != md5:
            raise RemoteError(
                f"{SCHEME}{self.location.bucket}/{key}: the store holds something else than"
                f" {path} (ETag {etag}, MD5 {md5})"
            )

    def get(self, relative: str, target: Path) -> None:
        """Download an object to `target` (through a temporary file: a failed download
        leaves nothing under the name)."""
        from botocore.exceptions import BotoCoreError, ClientError

        key = self.location.key(relative)
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_name(f"{target.name}.{os.getpid()}.download")
        try:
            self._client.download_file(self.location.bucket, key, str(partial))
        except (ClientError, BotoCoreError) as exc:
            partial.unlink(missing_ok=True)
            raise self._fail(exc, f"downloading {SCHEME}{self.location.bucket}/{key}") from None
        except BaseException:  # a full disk, an interrupt: nothing half-downloaded stays
            partial.unlink(missing_ok=True)
            raise
        os.replace(partial, target)
