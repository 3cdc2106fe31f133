"""Shared fixtures: a sandbox on loopback and a way to run the real tap command against it."""

from __future__ import annotations

import fcntl
import functools
import hashlib
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import typing as t
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import requests

from tap_retail_reports.sandbox.server import RunningSandbox
from tap_retail_reports.tap import TapRetailReports

TAP = [sys.executable, "-m", "tap_retail_reports.tap"]
ROOT = Path(__file__).resolve().parent.parent
MELTANO = ROOT / ".venv-meltano" / "bin" / "meltano"  # the Makefile's Meltano, in a virtualenv of its own
# Modules whose tests share one costly module-scoped setup (a PostgreSQL warehouse and its loads, a
# Dagster project, the SDK suite's sync): under pytest-xdist each runs whole on one worker.
WHOLE_MODULES = ("tests/test_warehouse_postgres.py", "tests/test_dagster.py", "tests/test_sdk_standard.py")
# The longest tests (Meltano's runs, the runs on other dates): first in the queue, so that pytest-xdist
# starts them at once and the short ones fill the workers around them.
LONGEST_FIRST = ("tests/test_readme_commands.py", "tests/test_any_date.py", "tests/test_demo.py",
                 "tests/test_warehouse_postgres.py", "tests/test_dagster.py")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    rank = {module: number for number, module in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.nodeid.split("::")[0], len(rank)))  # stable: modules stay whole


@pytest.hookimpl(tryfirst=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log: t.Any) -> t.Any:
    """`--dist loadgroup` as `make test` runs it: each test is a unit of work but a WHOLE_MODULES module.
    (pytest-xdist 3.8's own loadgroup renames items to group them, which pytest 9.2 no longer reads.)"""
    if config.getvalue("dist") != "loadgroup":
        return None
    from xdist.scheduler import LoadScopeScheduling

    class WholeModulesScheduling(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            module = nodeid.split("::")[0]
            return module if module in WHOLE_MODULES else nodeid

    return WholeModulesScheduling(config, log)


@dataclass
class TapRun:
    """What one run of the tap command wrote."""

    returncode: int
    stdout: str
    stderr: str
    records: dict[str, list[dict]] = field(default_factory=lambda: defaultdict(list))
    schemas: dict[str, dict] = field(default_factory=dict)
    states: list[dict] = field(default_factory=list)

    @property
    def last_state(self) -> dict | None:
        return self.states[-1] if self.states else None

    def ok(self) -> TapRun:
        assert self.returncode == 0, f"tap failed ({self.returncode}):\n{self.stderr[-4000:]}"
        return self


def parse_messages(stdout: str, run: TapRun) -> TapRun:
    for line in stdout.splitlines():
        if not line.strip():
            continue
        message = json.loads(line)
        kind = message.get("type")
        if kind == "RECORD":
            run.records[message["stream"]].append(message["record"])
        elif kind == "SCHEMA":
            run.schemas[message["stream"]] = message
        elif kind == "STATE":
            run.states.append(message["value"])
    return run


def run_tap(
    config: dict,
    *,
    state: dict | None = None,
    catalog: dict | None = None,
    args: t.Sequence[str] = (),
    timeout: float = 600,
    env: dict | None = None,
) -> TapRun:
    """Run `tap-retail-reports` as a user would, in a subprocess, and parse its output."""
    with tempfile.TemporaryDirectory() as tmp:
        command = [*TAP, "--config", _write(tmp, "config.json", config)]
        if state is not None:
            command += ["--state", _write(tmp, "state.json", state)]
        if catalog is not None:
            command += ["--catalog", _write(tmp, "catalog.json", catalog)]
        command += list(args)
        done = subprocess.run(
            command,
            capture_output=True,
            text=True,
            timeout=timeout,
            env={**os.environ, **(env or {})},
            check=False,
        )
    run = TapRun(done.returncode, done.stdout, done.stderr)
    if "--discover" in args or "--about" in args:
        return run
    return parse_messages(done.stdout, run)


def env_setting_class_attributes(folder: Path, settings: dict[str, object]) -> dict:
    """An environment for `run_tap` in which class attributes take test values, e.g.
    `{"tap_retail_reports.core.streams:ReportStream.timeout": (5, 1)}`.

    Python imports a `sitecustomize` module found on PYTHONPATH at start-up, so this sets
    the attributes inside the tap's own process while the tap command itself runs unchanged:
    for knobs that only tests turn (a shorter limiter minute, a shorter read timeout).
    """
    lines = []
    for target, value in settings.items():
        module, attribute = target.split(":")
        owner, name = attribute.split(".")
        lines.append(f"from {module} import {owner}\n{owner}.{name} = {value!r}\n")
    (folder / "sitecustomize.py").write_text("".join(lines))
    return {"PYTHONPATH": os.pathsep.join(filter(None, [str(folder), os.environ.get("PYTHONPATH")]))}


def _write(folder: str, name: str, payload: dict) -> str:
    path = Path(folder) / name
    path.write_text(json.dumps(payload))
    return str(path)


def catalog_selecting(config: dict, streams: t.Iterable[str]) -> dict:
    """A catalog from discovery with only `streams` selected."""
    wanted = set(streams)
    # Discovery asks no vendor: the catalog depends on the config less its sandbox's port.
    catalog = json.loads(_discovered(re.sub(r"//127\.0\.0\.1:\d+/", "//127.0.0.1:9/", json.dumps(config))))
    for entry in catalog["streams"]:
        selected = entry["tap_stream_id"] in wanted
        for metadata in entry["metadata"]:
            if metadata["breadcrumb"] == []:
                metadata["metadata"]["selected"] = selected
    return catalog


@functools.cache
def _discovered(config: str) -> str:
    """The catalog `--discover` prints, made in this process once per config (the command itself
    is run by tests/test_command_files.py)."""
    handlers = {number: signal.getsignal(number) for number in (signal.SIGINT, signal.SIGTERM)}
    try:
        return TapRetailReports(config=json.loads(config), parse_env_config=False).catalog_json_text
    finally:  # the tap takes SIGINT and SIGTERM for its own: they are pytest's
        for number, handler in handlers.items():
            signal.signal(number, handler)


def make_target(target: str) -> Path:
    """`make <target>` in the work tree, one pytest process at a time (pytest-xdist runs several): the
    first builds it, the others wait and find it built. `make test` builds them all before pytest starts."""
    lock = Path(tempfile.gettempdir()) / f"tap-retail-reports-make-{hashlib.sha1(bytes(ROOT)).hexdigest()[:12]}.lock"
    with lock.open("w") as held:
        fcntl.flock(held, fcntl.LOCK_EX)
        done = subprocess.run(["make", "-s", target], cwd=ROOT, capture_output=True, text=True, timeout=1200,
                              check=False)
    assert done.returncode == 0, f"make {target}:\n{done.stdout[-3000:]}{done.stderr[-3000:]}"
    return ROOT / target


def once_per_run(tmp_path_factory: pytest.TempPathFactory, worker_id: str, name: str,
                 make: t.Callable[[], t.Any]) -> t.Any:
    """`make()`'s result (JSON), made by the first pytest-xdist worker that asks and read by the others
    from the run's shared temporary folder; without workers, made here."""
    if worker_id == "master":
        return make()
    shared = tmp_path_factory.getbasetemp().parent / f"{name}.json"
    with shared.with_suffix(".lock").open("w") as held:
        fcntl.flock(held, fcntl.LOCK_EX)
        if not shared.exists():
            shared.write_text(json.dumps(make()))
    return json.loads(shared.read_text())


@pytest.fixture(scope="session")
def meltano() -> Path:
    """The Makefile's Meltano (`.venv-meltano`), built once for every test that runs it."""
    return make_target(str(MELTANO.relative_to(ROOT)))


@pytest.fixture(scope="session")
def sandbox() -> t.Iterator[RunningSandbox]:
    """One sandbox for read-only tests. Tests that inject faults use `fresh_sandbox`."""
    with RunningSandbox(seed=42) as running:
        yield running


@pytest.fixture
def fresh_sandbox() -> t.Iterator[RunningSandbox]:
    with RunningSandbox(seed=42) as running:
        yield running


def set_faults(running: RunningSandbox, **faults: t.Any) -> None:
    response = requests.post(f"http://127.0.0.1:{running.port}/_sandbox/faults", json=faults, timeout=10)
    response.raise_for_status()


def sandbox_log(running: RunningSandbox, *, settled: bool = False) -> list[dict]:
    """The sandbox's request log; `settled`: once the requests still being answered are (stalls end late)."""
    path = "/_sandbox/log/settled" if settled else "/_sandbox/log"
    return requests.get(f"http://127.0.0.1:{running.port}{path}", timeout=40).json()


class FakeClock:
    """A clock for pure-logic tests: `clock()` is the time, `clock.sleep(s)` moves it on."""

    def __init__(self, now: float = 0.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds
