"""`vnrec serve` as a process, as a user starts it: its address read from its first line."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.processes import interrupt, reap

ADDRESS = re.compile(rb"vnrec serve: (http://[^/\s]+)/")


def serve_argv(root: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "vnrec.cli.main", "serve", "--data", str(root), *extra]


@dataclass
class Served:
    proc: subprocess.Popen[bytes]
    url: str
    log: Path

    def get(self, path: str) -> Any:
        with urllib.request.urlopen(self.url + path, timeout=30) as response:
            return json.loads(response.read())

    def wait_for(self, condition: Callable[[], bool], what: str, timeout: float = 120) -> None:
        deadline = time.monotonic() + timeout
        while not condition():
            assert self.proc.poll() is None, self.log.read_text()[-2000:]
            assert time.monotonic() < deadline, f"timed out waiting for {what}"
            time.sleep(0.05)


@contextmanager
def serving(root: Path, log: Path, *extra: str) -> Iterator[Served]:
    """`vnrec serve --port 0 ...` until the block ends (then Ctrl-C, as a user stops it)."""
    with open(log, "wb") as err:
        proc = subprocess.Popen(serve_argv(root, "--port", "0", *extra), stderr=err)
    try:
        deadline = time.monotonic() + 120
        while not (found := ADDRESS.search(log.read_bytes())):
            assert proc.poll() is None, log.read_text()[-2000:]
            assert time.monotonic() < deadline, "serve printed no address in 120 s"
            time.sleep(0.02)
        yield Served(proc, found.group(1).decode(), log)
        if proc.poll() is None:  # not killed by the test: stopped as a user stops it
            assert interrupt(proc) == 0, log.read_text()[-2000:]
    finally:
        reap(proc)
