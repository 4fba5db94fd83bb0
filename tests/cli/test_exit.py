"""The `vnrec` command, when it succeeds, leaves without the interpreter's teardown and
loses nothing by it: its output is all there, exit handlers run, and a thread still working
is waited for. A caller of `run()` gets an ordinary return."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

PROGRAM = textwrap.dedent(
    """
    import atexit, sys, threading, time
    from pathlib import Path

    import typer

    from vnrec.cli import main

    marks = Path(sys.argv[1])
    app = typer.Typer()

    @app.command()
    def talk(lines: int = 100_000, straggler: bool = False) -> None:
        atexit.register(lambda: marks.write_text(marks.read_text() + "exit handler ran\\n"))
        if straggler:
            def late() -> None:
                time.sleep(0.2)  # still working when the command returns
                marks.write_text(marks.read_text() + "thread finished\\n")
            threading.Thread(target=late).start()
        for number in range(lines):
            print(f"line {number}")

    @app.command()
    def other() -> None:
        pass

    main.build_app = lambda command=None: app
    sys.argv = ["vnrec", *sys.argv[2:]]
    main.main()
    """
)


def _run(tmp_path: Path, *args: str) -> tuple[subprocess.CompletedProcess[str], str]:
    marks = tmp_path / "marks"
    marks.write_text("")
    program = tmp_path / "program.py"
    program.write_text(PROGRAM)
    done = subprocess.run(
        [sys.executable, str(program), str(marks), *args],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    return done, marks.read_text()


def test_every_line_of_output_and_the_exit_handlers(tmp_path: Path) -> None:
    done, marks = _run(tmp_path, "talk")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert len(lines) == 100_000 and lines[-1] == "line 99999"
    assert marks == "exit handler ran\n"


def test_a_thread_still_working_is_waited_for(tmp_path: Path) -> None:
    done, marks = _run(tmp_path, "talk", "--lines", "3", "--straggler")
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == ["line 0", "line 1", "line 2"]
    assert marks.splitlines() == ["thread finished", "exit handler ran"]


def _to_full_disk(argv: list[str]) -> subprocess.CompletedProcess[str]:
    """`argv` with its standard output on a full disk."""
    with Path("/dev/full").open("w") as full:
        return subprocess.run(
            argv, stdout=full, stderr=subprocess.PIPE, text=True, check=False, timeout=60
        )


def test_output_that_cannot_be_written_is_one_line_and_exit_1(tmp_path: Path) -> None:
    marks = tmp_path / "marks"
    marks.write_text("")
    program = tmp_path / "program.py"
    program.write_text(PROGRAM)
    done = _to_full_disk([sys.executable, str(program), str(marks), "talk", "--lines", "3"])
    assert done.returncode == 1
    assert done.stderr == "vnrec: error: No space left on device\n"


def test_run_returns_to_its_caller(tmp_path: Path) -> None:
    program = tmp_path / "program.py"
    program.write_text(
        PROGRAM.replace("main.main()", "try:\n    main.run()\nfinally:\n    print('caller')")
    )
    marks = tmp_path / "marks"
    marks.write_text("")
    done = subprocess.run(
        [sys.executable, str(program), str(marks), "talk", "--lines", "1"],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == ["line 0", "caller"]


def test_a_closed_standard_output_is_one_line(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "vnrec.cli.main", "ls", "--data", str(tmp_path)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        check=False,
        timeout=60,
        preexec_fn=lambda: os.close(1),
    )
    assert done.returncode == 1
    assert done.stderr == (
        "vnrec: error: standard output is closed; redirect it (> FILE or > /dev/null)\n"
    )


def test_usage_errors_and_a_full_standard_output_are_one_line_and_exit_1() -> None:
    """A usage error (an unknown option, a value of the wrong type, an unknown command) is
    one line naming it, exit 1, as every other error; output to a full disk says so."""
    for args, expected in (
        (
            ["calendar", "--bogus"],
            "vnrec: error: No such option: --bogus (see `vnrec calendar --help`)",
        ),
        (["calendar", "--year", "abc"], "vnrec: error: Invalid value for '--year'"),
        (["nosuch"], "vnrec: error: No such command 'nosuch'."),
    ):
        done = subprocess.run(
            [sys.executable, "-m", "vnrec.cli.main", *args],
            capture_output=True,
            text=True,
            check=False,
            timeout=60,
        )
        assert done.returncode == 1 and done.stdout == "", done
        assert len(done.stderr.splitlines()) == 1 and done.stderr.startswith(expected), done.stderr
    done = _to_full_disk(
        [sys.executable, "-m", "vnrec.cli.main", "calendar", "--year", "2026", "-f", "json"]
    )
    assert done.returncode == 1
    assert done.stderr == "vnrec: error: cannot write to standard output: No space left on device\n"


def test_credentials_in_an_endpoint_url_appear_in_no_message() -> None:
    """A library names the URL it could not reach, with the user and password an S3
    endpoint may carry: the error line and the debug log show neither."""
    env = {
        **os.environ,
        "AWS_ENDPOINT_URL": "http://admin:Hunter2Pass@127.0.0.1:9",  # nothing listens
        "AWS_ACCESS_KEY_ID": "vnrec-test",
        "AWS_SECRET_ACCESS_KEY": "vnrec-test-secret",
    }
    done = subprocess.run(
        [sys.executable, "-m", "vnrec.cli.main", "-v", "ls", "--data", "s3://bucket/x"],
        capture_output=True,
        text=True,
        env=env,
        check=False,
        timeout=120,
    )
    assert done.returncode == 1
    assert done.stderr.splitlines()[-1].startswith("vnrec: error: s3://bucket/x")
    assert "http://***@127.0.0.1:9" in done.stderr
    assert "Hunter2Pass" not in done.stdout + done.stderr
    assert "vnrec-test-secret" not in done.stdout + done.stderr
