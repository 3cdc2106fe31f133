"""The wall clock of a test run, moved with libfaketime: for the run of pytest itself (and the
sandbox it serves in-process) and for every tap command it starts, which inherit the environment.

Only the wall clock moves (time.time, datetime.now); the monotonic clock stays real, so timeouts
and waits keep their length. `at(moment)` is an offset from the real clock: every process started
with it sees the same "now", which goes on running. `MovableClock` is a clock a test moves forward
while the tap runs (a timeout measured in minutes, passed in a second).

From a shell, the date-sensitive tests on a chosen date and time (UTC):

    .venv/bin/python -m tests.clock 2027-03-14T10:30:00Z -m date_sensitive
"""

from __future__ import annotations

import datetime as dt
import importlib.util
import os
import subprocess
import sys
from pathlib import Path

MOMENT_VARIABLE = "TAP_RETAIL_REPORTS_TEST_MOMENT"  # the moment a faked run was started at, for its tests to check


def library() -> Path:
    """The libfaketime.so.1 that PyPI's libfaketime package ships (not imported: only its file is needed)."""
    spec = importlib.util.find_spec("libfaketime")
    assert spec is not None and spec.origin is not None, "libfaketime is a dev dependency: make install"
    path = Path(spec.origin).parent / "vendor" / "libfaketime" / "src" / "libfaketime.so.1"
    assert path.exists(), f"libfaketime's library is missing: {path}"
    return path


def _preloaded(**settings: str) -> dict[str, str]:
    preload = ":".join(filter(None, [str(library()), os.environ.get("LD_PRELOAD")]))
    return {"LD_PRELOAD": preload, "FAKETIME_DONT_FAKE_MONOTONIC": "1", "DONT_FAKE_MONOTONIC": "1", **settings}


def at(moment: dt.datetime) -> dict[str, str]:
    """Environment in which a process and its children see `moment` (aware) as now, from the time it is called."""
    offset = round((moment - dt.datetime.now(dt.timezone.utc)).total_seconds())
    return _preloaded(FAKETIME=f"{offset:+d}", **{MOMENT_VARIABLE: moment.isoformat()})


class MovableClock:
    """A wall clock for one tap process, moved forward by the test while the tap runs."""

    def __init__(self, folder: Path) -> None:
        self.file = folder / "faketime-offset"
        self.seconds = 0
        self.file.write_text("+0\n")
        # Read again on every call: a move is seen at once.
        self.env = _preloaded(FAKETIME_TIMESTAMP_FILE=str(self.file), FAKETIME_NO_CACHE="1")

    def advance(self, seconds: int) -> None:
        self.seconds += seconds
        self.file.write_text(f"+{self.seconds}\n")


def run_pytest_at(moment: dt.datetime, args: list[str], timezone: str | None = None,
                  **kwargs: object) -> subprocess.CompletedProcess:
    """pytest with `args`, every process of it (the sandbox's, the tap's) at `moment`; in `timezone`
    (TZ, the machine's local zone) when given."""
    env = {**os.environ, **at(moment)}
    if timezone:
        env["TZ"] = timezone
    command = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", *args]
    return subprocess.run(command, env=env, check=False, **kwargs)  # type: ignore[call-overload]


def main(argv: list[str]) -> int:
    if not argv:
        print(__doc__)
        return 2
    moment = dt.datetime.fromisoformat(argv[0].replace("Z", "+00:00"))
    if moment.tzinfo is None:
        raise SystemExit(f"give the moment with its zone, e.g. {argv[0]}Z")
    return run_pytest_at(moment, argv[1:]).returncode


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
