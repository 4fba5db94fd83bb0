"""Entry point of the `vnrec` command. Each command lives in its own module under
`vnrec.cli` and registers itself on the app; library errors become one line on stderr and
exit status 1, never a traceback."""

from __future__ import annotations

import atexit
import contextlib
import importlib
import logging
import os
import re
import sys
import threading
from collections.abc import Sequence
from typing import NoReturn

import typer

# typer (0.29, pinned) raises the exceptions of its own copy of click.
from typer._click.exceptions import ClickException, NoArgsIsHelpError, UsageError

from vnrec.cli.interrupts import install_interrupts
from vnrec.errors import VnrecError, first_line

# Modules that define commands, each with `register(app)`; order is the order in --help.
COMMAND_MODULES = (
    "vnrec.cli.cmd_storage",
    "vnrec.cli.cmd_record",
    "vnrec.cli.cmd_replay",
    "vnrec.cli.cmd_analytics",
    "vnrec.cli.cmd_serve",
    "vnrec.cli.cmd_push",
    "vnrec.cli.cmd_calendar",
    "vnrec.cli.cmd_emulator",
    "vnrec.cli.cmd_demo",
)

# The module of each command, so that running one imports and registers that module only:
# importing every module and building every command's parameters was ~0.05 s of each
# command's start. `vnrec`, `vnrec --help` and an unknown name build them all.
# tests/cli/test_startup.py checks this against what each module registers.
COMMANDS = {
    **dict.fromkeys(("import", "compact", "ls", "recover"), "vnrec.cli.cmd_storage"),
    "record": "vnrec.cli.cmd_record",
    "replay": "vnrec.cli.cmd_replay",
    **dict.fromkeys(
        ("alerts", "basis", "candles", "foreign", "query", "stats", "verify"),
        "vnrec.cli.cmd_analytics",
    ),
    "serve": "vnrec.cli.cmd_serve",
    "push": "vnrec.cli.cmd_push",
    "calendar": "vnrec.cli.cmd_calendar",
    "emulator": "vnrec.cli.cmd_emulator",
    "demo": "vnrec.cli.cmd_demo",
}

log = logging.getLogger("vnrec")
QUIET_LIBRARIES = ("botocore", "boto3", "s3transfer", "distributed")


def invoked_command(args: Sequence[str]) -> str | None:
    """The command an argument list names: its first argument that is not an option (the
    app's own option, `--verbose`/`-v`, takes no value)."""
    return next((arg for arg in args if not arg.startswith("-")), None)


def build_app(command: str | None = None) -> typer.Typer:
    """The CLI; with the name of a command, only that command's module is registered."""
    app = typer.Typer(
        name="vnrec",
        help="Record, replay and query SSI FastConnect market data (HOSE, HNX, UPCOM, VN30F).",
        no_args_is_help=True,
        add_completion=False,
        pretty_exceptions_enable=False,
        rich_markup_mode=None,
    )

    @app.callback()
    def _root(
        verbose: bool = typer.Option(False, "--verbose", "-v", help="Debug logging on stderr."),
    ) -> None:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(RedactingFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        logging.basicConfig(
            level=logging.DEBUG if verbose else logging.INFO, handlers=[handler], force=True
        )
        # Not verbose: the AWS SDK narrates every credential lookup at INFO, Dask every
        # connection.
        if not verbose:
            for name in QUIET_LIBRARIES:
                logging.getLogger(name).setLevel(logging.WARNING)

    module = COMMANDS.get(command) if command is not None else None
    for name in (module,) if module is not None else COMMAND_MODULES:
        importlib.import_module(name).register(app)
    return app


# Arrow's allocator: jemalloc hands freed batch memory back to the system sooner than the
# wheel's default (mimalloc); a 3M-event replay peaks about 60 MB lower (docs/design.md).
# Read when pyarrow is first imported, which the commands do lazily; a user's choice wins.
ARROW_POOL = ("ARROW_DEFAULT_MEMORY_POOL", "jemalloc")
# numpy's OpenBLAS threads spin between calls (measured: 1.3% of an import's CPU); vnrec
# does no linear algebra.
BLAS_THREADS = ("OPENBLAS_NUM_THREADS", "1")
INTERRUPTED = 130  # the exit status of Ctrl-C (and SIGTERM), as shells report a SIGINT


def one_line(text: str) -> str:
    """A message as one line: a library's may hold newlines (pyarrow's do)."""
    return redact(" ".join(text.split()))


# Credentials a library may put in its messages: the user and password of a URL
# (`http://user:pass@host`, as an S3 endpoint may be given) and secret query parameters.
_URL_CREDENTIALS = re.compile(r"(?<=://)[^/@\s]+@")
_SECRET_PARAMETERS = re.compile(
    r"(?i)\b(token|secret|password|signature|x-amz-signature|x-amz-credential"
    r"|x-amz-security-token)=[^&\s\"']+"
)


def redact(text: str) -> str:
    """`text` with the credentials it may carry replaced by `***`."""
    return _SECRET_PARAMETERS.sub(r"\1=***", _URL_CREDENTIALS.sub("***@", text))


class RedactingFormatter(logging.Formatter):
    """Log lines, and the tracebacks of `-v`, without credentials (vnrec.cli.main.redact)."""

    def format(self, record: logging.LogRecord) -> str:
        return redact(super().format(record))


def run() -> None:
    os.environ.setdefault(*ARROW_POOL)
    os.environ.setdefault(*BLAS_THREADS)
    install_interrupts()
    try:
        app = build_app(invoked_command(sys.argv[1:]))  # an interrupt here is one line too
        if sys.stdout is None:  # started with its descriptor closed (`>&-`)
            raise VnrecError("standard output is closed; redirect it (> FILE or > /dev/null)")
        try:
            # Not standalone: usage errors come here, to be one line and exit 1 as every
            # other error; --help and typer.Exit return their exit code.
            code = app(standalone_mode=False, prog_name="vnrec")
        except NoArgsIsHelpError as bare:  # `vnrec` alone: the help, as typer shows it
            bare.show()
            sys.exit(bare.exit_code)
        except UsageError as usage:
            raise VnrecError(_usage_line(usage)) from usage
        except ClickException as failed:
            raise VnrecError(failed.format_message()) from failed
        except typer.Abort as aborted:
            raise KeyboardInterrupt from aborted
        if code == INTERRUPTED:  # typer's answer to a KeyboardInterrupt in a command
            raise KeyboardInterrupt
        if isinstance(code, int) and code != 0:
            raise SystemExit(code)
        try:
            # Here, so that a failing flush (a full disk) is reported as below.
            sys.stdout.flush()
        except BrokenPipeError:
            raise
        except OSError as exc:
            raise VnrecError(f"cannot write to standard output: {exc.strerror or exc}") from exc
    except BrokenPipeError:
        _exit_pipe_closed()
    except KeyboardInterrupt:
        _exit_interrupted()
    except Exception as exc:
        if _interrupted(exc):
            _exit_interrupted()
        elif isinstance(exc, VnrecError):
            print(f"vnrec: error: {one_line(str(exc))}", file=sys.stderr)
        elif isinstance(exc, OSError):
            # A full, read-only or failing disk, a missing permission: the environment, not
            # a bug; say what and where in one line.
            where = f": {exc.filename}" if exc.filename else ""
            print(f"vnrec: error: {one_line(str(exc.strerror or exc))}{where}", file=sys.stderr)
        else:
            # A bug, not bad input: the traceback goes to the debug log (`-v`), the user
            # gets one line naming it.
            log.debug("internal error", exc_info=True)
            print(
                f"vnrec: internal error: {type(exc).__name__}: {redact(first_line(exc))}"
                " (a bug; run again with -v for the traceback and report it)",
                file=sys.stderr,
            )
        sys.exit(1)


def _usage_line(usage: UsageError) -> str:
    where = f" (see `{usage.ctx.command_path} --help`)" if usage.ctx is not None else ""
    return f"{usage.format_message()}{where}"


def _exit_pipe_closed() -> NoReturn:
    """The reader of standard output went away (`| head`): what it took is what it wanted.
    Output still buffered goes nowhere instead of failing again at exit."""
    with contextlib.suppress(OSError, ValueError):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    sys.exit(1)


def _interrupted(exc: BaseException) -> bool:
    """An error that is an interrupt in disguise: Ctrl-C or SIGTERM landing inside DuckDB
    (which stops its query and raises its own error) or inside code that wrapped it."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, KeyboardInterrupt):
            return True
        if type(current).__name__ == "InterruptException" or (
            isinstance(current, RuntimeError) and str(current).startswith("Query interrupted")
        ):
            return True
        current = current.__cause__ or current.__context__
    return False


def main() -> None:
    """The `vnrec` command: `run()`, then, when it succeeded, an exit without the
    interpreter's teardown (a caller of `run()` keeps its own `finally` blocks)."""
    run()
    _exit_done()


def _exit_done() -> NoReturn:
    """Exit 0 without the interpreter's teardown when nothing is left running.

    Freeing every object of a finished command one by one (polars' and Arrow's modules, a
    replay's arrays) took ~0.1 s of a 1.3 s `vnrec replay`. Standard output is flushed by
    `run()` (a failing flush is reported there) and every exit handler still runs
    (temporary directories, pools, executors); with a non-daemon thread still alive,
    Python's own exit joins it as usual. The exit handlers include logging's, which
    flushes its streams."""
    if any(
        thread.is_alive() and not thread.daemon and thread is not threading.main_thread()
        for thread in threading.enumerate()
    ):
        sys.exit(0)
    atexit._run_exitfuncs()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


def _exit_interrupted() -> NoReturn:
    print("vnrec: interrupted", file=sys.stderr)
    sys.exit(INTERRUPTED)


if __name__ == "__main__":
    main()
