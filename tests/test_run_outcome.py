"""How a run ends: one stream's failure does not stop the others, a signal stops the run with the
last STATE and a non-zero code, and the reason for a failure reaches `meltano run`'s error lines."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
import requests
import yaml
from singer_sdk.singerlib import RecordMessage

from tap_retail_reports.core.run_outcome import RunFailed, WholeLineWriter
from tap_retail_reports.sandbox.credentials import (
    DISTRIBU_API_KEY_WITHOUT_SCOPE,
    tap_config,
)
from tap_retail_reports.tap import TapRetailReports
from tests.conftest import TAP, TapRun, catalog_selecting, parse_messages, run_tap

ROOT = Path(__file__).resolve().parent.parent
START, END = "2025-03-01", "2025-03-08"
VROOM_INCREMENTAL = (
    "vroom_orders", "vroom_line_items", "vroom_transactions", "vroom_search_terms", "vroom_audit_logs",
    "vroom_sales_by_product",
)
DISTRIBU_BOOKMARK = {"replication_key": "date", "replication_key_value": "2025-03-03T00:00:00Z"}


def config_for(running, vendors: tuple[str, ...]) -> dict:
    return {**tap_config(f"http://127.0.0.1:{running.port}", vendors=vendors), "start_date": START, "end_date": END}


def test_a_vendor_that_refuses_does_not_stop_the_others(sandbox):
    config = config_for(sandbox, ("vroom", "distribu"))
    config["distribu"]["api_key"] = DISTRIBU_API_KEY_WITHOUT_SCOPE  # every Distribu call answers 403
    state = {"bookmarks": {"distribu_sales_daily": DISTRIBU_BOOKMARK}}
    run = run_tap(config, state=state)
    alone = run_tap(config_for(sandbox, ("vroom",))).ok()

    assert run.returncode == 1, run.stderr[-3000:]
    # Distribu's streams sort first: Vroom still runs after them, every row and every bookmark.
    for stream in alone.records:
        assert len(run.records[stream]) == len(alone.records[stream]) > 0, stream
    for stream in VROOM_INCREMENTAL:
        assert run.last_state["bookmarks"][stream] == alone.last_state["bookmarks"][stream], stream
    # The failed stream's bookmark stays where it was.
    assert run.last_state["bookmarks"]["distribu_sales_daily"]["replication_key_value"] == "2025-03-03T00:00:00Z"
    assert not any(name.startswith("distribu_") for name in run.records)

    # One refusal for the vendor: one summary line saying it, then every stream it stopped.
    failed = [line.split("| failed: ", 1)[1] for line in run.stderr.splitlines() if "| failed: " in line]
    reason = " ".join(line.strip() for line in failed[:-1])  # its line, and those that carry it on (indented by four)
    assert failed[0].startswith("distribu: ") and all(line.startswith("    ") for line in failed[1:-1]), failed
    assert "HTTP 403" in reason and "check distribu.api_key" in reason
    assert re.fullmatch(r"  5 stream\(s\): ([\w, ]+)", failed[-1])[1].split(", ") == [
        "distribu_customer_sales", "distribu_inventory", "distribu_inventory_categories",
        "distribu_sales_by_status", "distribu_sales_daily",
    ]
    assert "5 stream(s) failed" in run.stderr.splitlines()[-1]
    assert DISTRIBU_API_KEY_WITHOUT_SCOPE not in run.stderr
    assert "Traceback" not in run.stderr


def test_a_failure_recorded_by_other_code_fails_the_run(sandbox, capfd, caplog):
    """`record_failure`: for a failure that is no exception (an async report window that failed
    for good while the stream's other windows went on). The run goes on, then exits in error."""
    config = config_for(sandbox, ("vroom",))
    catalog = catalog_selecting(config, ["vroom_order_statuses"])
    handlers = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        tap = TapRetailReports(config=config, catalog=catalog)
        tap.record_failure("vroom_orders", "window 2025-03-02: report FAILED at the vendor\n(job 42)")
        with pytest.raises(RunFailed, match=r"1 stream\(s\) failed: vroom_orders"):
            tap.sync_all()
    finally:
        for sig, handler in handlers.items():
            signal.signal(sig, handler)
    out, err = capfd.readouterr()
    run = parse_messages(out, TapRun(1, out, err))
    assert run.records["vroom_order_statuses"]  # the run went on
    assert "failed: vroom_orders: window 2025-03-02: report FAILED at the vendor (job 42)" in caplog.text


@pytest.mark.timeout(120)  # it reads a live process: never hang the suite
@pytest.mark.parametrize(("signum", "code"), [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_a_signal_writes_the_last_state_and_exits_non_zero(fresh_sandbox, signum, code):
    base = f"http://127.0.0.1:{fresh_sandbox.port}"
    requests.post(f"{base}/_sandbox/vendor/retrend", json={"latency_seconds": 0.2}, timeout=10).raise_for_status()
    config = {**config_for(fresh_sandbox, ("retrend",)), "lookback_days": 0}
    with tempfile.TemporaryDirectory() as folder:
        (Path(folder) / "config.json").write_text(json.dumps(config))
        process = subprocess.Popen(
            [*TAP, "--config", f"{folder}/config.json"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        assert process.stdout is not None
        lines, states = [], 0
        for line in process.stdout:
            lines.append(line)
            states += '"type":"STATE"' in line.replace(" ", "")
            if states == 5:
                process.send_signal(signum)
                break
        rest, stderr = process.communicate(timeout=60)
    assert process.returncode == code, stderr[-3000:]
    output = "".join(lines) + rest
    last = json.loads(output.splitlines()[-1])  # whole, valid, and the last word
    assert last["type"] == "STATE"
    stopped = parse_messages(output, TapRun(code, output, stderr))
    assert f"{signal.Signals(signum).name}: stopping" in stderr
    assert "Traceback" not in stderr

    requests.post(f"{base}/_sandbox/vendor/retrend", json={"latency_seconds": 0}, timeout=10).raise_for_status()
    resumed = run_tap(config, state=last["value"]).ok()
    whole = run_tap(config).ok()
    for stream, rows in whole.records.items():
        assert keys(stopped.records[stream] + resumed.records[stream]) == keys(rows), stream


def keys(rows: list[dict]) -> set[tuple]:
    return {(row["store_num"], row["duration"], row["start_date"]) for row in rows}


def test_discovery_with_no_vendor_says_why():
    run = run_tap({"start_date": "2026-10-01"}, args=["--discover"])
    assert run.returncode == 1
    assert "no vendor is configured: set the credentials of at least one of" in run.stderr
    assert "Traceback" not in run.stderr


# -- `meltano run` --------------------------------------------------------------

TARGET = """\
import json, sys
with open(sys.argv[0] + ".records", "a") as out:
    for line in sys.stdin:
        message = json.loads(line)
        if message["type"] == "STATE":
            print(json.dumps(message["value"]), flush=True)  # what Meltano stores
        else:
            out.write(line)
"""


def meltano_project(folder: Path, tap_config_: dict) -> Path:
    """A Meltano project with this repository's extractor definition (settings, capabilities,
    structured logging) run from this environment, and a minimal target."""
    project = yaml.safe_load((ROOT / "meltano.yml").read_text())
    extractor = next(p for p in project["plugins"]["extractors"] if p["name"] == "tap-retail-reports")
    extractor.pop("pip_url", None)  # already installed here: no `meltano install`
    extractor["executable"] = str(Path(sys.executable).parent / "tap-retail-reports")
    target = folder / "target.py"
    target.write_text(f"#!{sys.executable}\n{TARGET}")
    target.chmod(0o755)
    project["plugins"]["loaders"] = [{"name": "target-lines", "namespace": "target_lines", "executable": str(target)}]
    project["environments"] = [
        {"name": "test", "config": {"plugins": {"extractors": [{"name": "tap-retail-reports", "config": tap_config_}]}}}
    ]
    project["default_environment"] = "test"
    (folder / "meltano.yml").write_text(yaml.safe_dump(project))
    return folder


def test_meltano_run_ends_with_the_reason_for_a_failure(sandbox, meltano, tmp_path):
    config = config_for(sandbox, ("vroom",))
    config["vroom"]["password"] = "not-the-password-123"
    project = meltano_project(tmp_path, config)
    done = subprocess.run(
        [meltano, "run", "tap-retail-reports", "target-lines"],
        cwd=project, capture_output=True, text=True, timeout=300, check=False,
        env={**os.environ, "MELTANO_SEND_ANONYMOUS_USAGE_STATS": "false", "NO_COLOR": "1"},
    )
    lines = (done.stdout + done.stderr).splitlines()
    assert done.returncode == 1
    # Meltano's last error lines: its own "Extractor failed", and just before it the tap's reason.
    errors = [line for line in lines if re.search(r"\[error\s*\]", line)]
    assert "Extractor failed" in errors[-2], "\n".join(lines[-20:])
    assert "HTTP 401" in errors[-3] and "check vroom.username and vroom.password" in errors[-3], "\n".join(lines[-20:])
    assert "not-the-password-123" not in done.stdout + done.stderr


def test_a_stop_that_lands_mid_line_waits_for_the_end_of_the_line(capfdbinary):
    events = []

    class Writer(WholeLineWriter):
        def format_message(self, message):  # the signal arrives while the line is being made
            self.when_line_done(lambda: events.append(capfdbinary.readouterr().out))
            return super().format_message(message)

    Writer().write_message(RecordMessage(stream="s", record={"a": 1}))
    assert len(events) == 1 and events[0].endswith(b"}\n")  # the stop ran after the whole line was out
    WholeLineWriter().when_line_done(lambda: events.append("now"))
    assert events[-1] == "now"  # between lines, at once


def tap_under(meltano_pid: int) -> int | None:
    """The pid of the tap that `meltano run` started (its child running `tap-retail-reports --config`)."""
    for entry in Path("/proc").iterdir():
        try:
            status = (entry / "status").read_text()
            command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except (OSError, ValueError):
            continue
        parent = re.search(r"^PPid:\s+(\d+)", status, re.MULTILINE)
        if parent and int(parent[1]) == meltano_pid and "tap-retail-reports --config" in command:
            return int(entry.name)
    return None


@pytest.mark.timeout(300)
@pytest.mark.skipif(not Path("/proc").exists(), reason="finds the tap's process in /proc (Linux)")
def test_stopping_the_tap_under_meltano_keeps_its_jobs_in_flight_as_production_md_says(fresh_sandbox, meltano,
                                                                                       tmp_path):
    """docs/production.md, "Stopping a `meltano run`": SIGINT to the tap alone, and Meltano stores its last STATE,
    jobs in flight included, which the next run resumes. The lines it quotes are the ones the run prints."""
    base = f"http://127.0.0.1:{fresh_sandbox.port}"
    requests.post(f"{base}/_sandbox/vendor/foxycart", json={"processing_seconds": 3600}, timeout=10).raise_for_status()
    config = {**config_for(fresh_sandbox, ("foxycart",)), "end_date": "2025-03-15"}
    project = meltano_project(tmp_path, config)
    env = {**os.environ, "MELTANO_SEND_ANONYMOUS_USAGE_STATS": "false", "NO_COLOR": "1"}
    log = tmp_path / "run.log"
    with log.open("w") as out:
        run = subprocess.Popen([meltano, "run", "tap-retail-reports", "target-lines"], cwd=project, env=env,
                               stdout=out, stderr=subprocess.STDOUT)
        try:
            for _ in range(600):  # until the tap has created jobs and put them in STATE
                if log.read_text().count("created job") >= 3 or run.poll() is not None:
                    break
                subprocess.run(["sleep", "0.1"], check=True)
            tap = tap_under(run.pid)
            assert tap is not None, log.read_text()[-3000:]
            subprocess.run(["sleep", "1"], check=True)  # the STATE with the new jobs goes out between polls
            os.kill(tap, signal.SIGINT)
            assert run.wait(timeout=120) == 1
        finally:
            if run.poll() is None:
                run.kill()
    output = log.read_text()
    page = (ROOT / "docs" / "production.md").read_text()
    section = page[page.index("### Stopping a `meltano run`"):page.index("## Temporary files and disk")]
    for quoted in (("tap-retail-reports SIGINT: stopping; the last STATE holds the bookmarks of every finished "
                   "window (exit 130)"), "meltano      Incremental state has been updated at",
                   "meltano      Extractor failed"):
        assert quoted in output, (quoted, output[-3000:])
        assert quoted in section, quoted
    stored = subprocess.run([meltano, "state", "get", "test:tap-retail-reports-to-target-lines"], cwd=project,
                            env=env, capture_output=True, text=True, check=True)
    bookmarks = json.loads(stored.stdout)["singer_state"]["bookmarks"]
    jobs = {stream: state["jobs"] for stream, state in bookmarks.items() if state.get("jobs")}
    assert jobs, bookmarks

    # The next run resumes those jobs (the vendor has made their reports meanwhile) instead of creating new ones.
    requests.post(f"{base}/_sandbox/vendor/foxycart", json={"advance_seconds": 7200, "processing_seconds": 1},
                  timeout=10).raise_for_status()
    again = subprocess.run([meltano, "run", "tap-retail-reports", "target-lines"], cwd=project, env=env,
                           capture_output=True, text=True, timeout=240, check=False)
    assert again.returncode == 0, (again.stdout + again.stderr)[-3000:]
    resumed = re.findall(r"resuming job (\S+) from STATE", again.stdout + again.stderr)
    stored_ids = {job["job_id"] for by_start in jobs.values() for job in by_start.values()}
    assert resumed and set(resumed) <= stored_ids, (resumed, stored_ids)
