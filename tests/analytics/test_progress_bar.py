"""DuckDB draws a progress bar on the process's standard output once a query has run for
`progress_bar_time` (2 s): in the middle of the JSON or CSV that `vnrec query`, `stats`
or `basis` write there. vnrec's connections never draw it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

# Every connection made starts as if each query ran for longer than 2 s; what vnrec sets
# after that is what is tested.
SCAN = """
import sys
import duckdb
made = duckdb.connect
def connect(*args, **kwargs):
    con = made(*args, **kwargs)
    con.execute("SET progress_bar_time = 0")
    return con
duckdb.connect = connect
{connect}
print("connected", flush=True)
print(con.execute("SELECT count(*) FROM read_parquet(?), range(50)", [sys.argv[1]]).fetchall())
"""

CONNECTIONS = {
    "analytics": "from vnrec.analytics import connect as open_root\ncon = open_root(sys.argv[2])",
    "import": "from vnrec.storage.normalize import Normalizer\ncon = Normalizer()._con",
    "plain duckdb, the control": "con = duckdb.connect()",
}


@pytest.mark.parametrize("name", list(CONNECTIONS))
def test_no_progress_bar_on_standard_output(tmp_path: Path, name: str) -> None:
    root = tmp_path / "data"
    root.mkdir()
    part = root / "part.parquet"
    pq.write_table(pa.table({"n": list(range(200_000))}), part)
    code = SCAN.format(connect=CONNECTIONS[name])
    done = subprocess.run(
        [sys.executable, "-c", code, str(part), str(root)],
        capture_output=True,
        check=True,
        timeout=120,
    )
    after = done.stdout.split(b"connected\n", 1)[1]
    if name.endswith("the control"):  # a bar is seen where there is one
        assert b"100%" in after
    else:
        assert after == b"[(10000000,)]\n"
