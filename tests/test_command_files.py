"""The files a user hands the command (--config, --state, --catalog) and bounds that leave nothing to
read: each mistake is one line naming it and what to do, never "most likely a bug"; the README's
Singer example works on a first run, when its state file does not exist yet."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from tap_retail_reports.sandbox.credentials import tap_config
from tap_retail_reports.sandbox.server import RunningSandbox
from tests.conftest import TAP, TapRun, parse_messages


def tap(folder: Path, *arguments: str) -> TapRun:
    """The command as a user types it, in `folder`."""
    done = subprocess.run([*TAP, *arguments], cwd=folder, capture_output=True, text=True, timeout=300, check=False)
    if done.returncode != 0 or "--discover" in arguments:
        return TapRun(done.returncode, done.stdout, done.stderr)
    return parse_messages(done.stdout, TapRun(done.returncode, done.stdout, done.stderr))


def retrend_config(running: RunningSandbox, folder: Path, **settings: object) -> str:
    config = tap_config(f"http://127.0.0.1:{running.port}", vendors=("retrend",))
    config["retrend"].update(store_nums=[1], reports=["category_interest_trends"])
    config.update({"start_date": "2024-03-01", "end_date": "2024-03-04", **settings})
    config = {key: value for key, value in config.items() if value is not None}
    (folder / "config.json").write_text(json.dumps(config))
    return "config.json"


def state_file_error(running: RunningSandbox, folder: Path, content: str) -> str:
    """The one error line of a run handed `content` as its --state file."""
    config = retrend_config(running, folder)
    (folder / "state.json").write_text(content)
    return one_error_line(tap(folder, "--config", config, "--state", "state.json"))


def one_error_line(run: TapRun) -> str:
    assert run.returncode == 1, run.stderr[-2000:]
    errors = [line for line in run.stderr.splitlines() if "error" in line.lower()]
    assert len(errors) == 1, run.stderr[-2000:]
    assert "Traceback" not in run.stderr and "bug" not in run.stderr
    return errors[0]


@pytest.mark.parametrize(("make", "says"), [
    (None, "--config config.json: no such file"),
    ("{bad", "--config config.json is not complete JSON"),
    ("", "--config config.json is empty"),
    ("[1]", "--config config.json holds a JSON list, not an object"),
    ("directory", "--config config.json cannot be read: Is a directory"),
])
def test_a_config_file_that_is_missing_or_not_json_is_named(tmp_path: Path, make: str | None, says: str) -> None:
    if make == "directory":
        (tmp_path / "config.json").mkdir()
    elif make is not None:
        (tmp_path / "config.json").write_text(make)
    line = one_error_line(tap(tmp_path, "--config", "config.json"))
    assert line.startswith(f"tap-retail-reports: error: {says}")


@pytest.mark.parametrize(("content", "says"), [
    ("", "--state state.json is empty"),
    ('{"bookmarks": {"retrend_category_interest_trends": {"partit', "--state state.json is not complete JSON"),
])
def test_an_empty_or_truncated_state_file_says_how_to_recover(sandbox: RunningSandbox, tmp_path: Path,
                                                             content: str, says: str) -> None:
    line = state_file_error(sandbox, tmp_path, content)
    assert says in line
    assert "restore it from the last STATE" in line and "delete it to start again from start_date" in line


def test_a_catalog_that_does_not_parse_is_named(sandbox: RunningSandbox, tmp_path: Path) -> None:
    config = retrend_config(sandbox, tmp_path)
    (tmp_path / "catalog.json").write_text('{"streams": [')
    line = one_error_line(tap(tmp_path, "--config", config, "--catalog", "catalog.json"))
    assert "--catalog catalog.json is not complete JSON" in line and "--discover > catalog.json" in line


def test_the_readme_singer_example_works_on_a_first_run_and_resumes(fresh_sandbox: RunningSandbox,
                                                                   tmp_path: Path) -> None:
    config = retrend_config(fresh_sandbox, tmp_path)
    discovered = tap(tmp_path, "--config", config, "--discover")
    assert discovered.returncode == 0, discovered.stderr[-2000:]
    (tmp_path / "catalog.json").write_text(discovered.stdout)
    # state.json does not exist yet: a first run.
    first = tap(tmp_path, "--config", config, "--catalog", "catalog.json", "--state", "state.json").ok()
    assert len(first.records["retrend_category_interest_trends"]) == 3
    assert "--state state.json does not exist yet: starting without state" in first.stderr
    assert not (tmp_path / "state.json").exists()  # the tap reads state; the target (or the user) keeps it
    (tmp_path / "state.json").write_text(json.dumps(first.last_state))
    second = tap(tmp_path, "--config", config, "--catalog", "catalog.json", "--state", "state.json").ok()
    assert "does not exist yet" not in second.stderr
    # Resumed from the bookmark (2024-03-04) less the one lookback day, not from start_date.
    assert [row["start_date"] for row in second.records["retrend_category_interest_trends"]] == ["2024-03-03"]


def test_a_start_date_in_the_future_says_what_still_loads(sandbox: RunningSandbox, tmp_path: Path) -> None:
    config = retrend_config(sandbox, tmp_path, start_date="2099-01-01", end_date=None)
    run = tap(tmp_path, "--config", config).ok()
    warnings = [line for line in run.stderr.splitlines() if "WARNING" in line and "is in the future" in line]
    assert len(warnings) == 1
    assert warnings[0].endswith("start_date 2099-01-01 is in the future: dated streams read nothing until then; "
                                "no stream has rows to read")
    assert not run.records

    # Vroom's contacts and order statuses are read whole whatever the dates: the warning says they load, and they do.
    vroom = tap_config(f"http://127.0.0.1:{sandbox.port}", vendors=("vroom",))
    (tmp_path / "vroom.json").write_text(json.dumps({**vroom, "start_date": "2099-01-01"}))
    run = tap(tmp_path, "--config", "vroom.json").ok()
    [warning] = [line for line in run.stderr.splitlines() if "WARNING" in line and "is in the future" in line]
    assert warning.endswith("dated streams read nothing until then; 2 full-table and snapshot "
                            "stream(s) still load: vroom_customer_contacts, vroom_order_statuses"), warning
    assert {stream for stream, rows in run.records.items() if rows} == {"vroom_customer_contacts", "vroom_order_statuses"}
    assert "vroom_orders: no bookmark; starting at start_date 2099-01-01T00:00:00Z: no window to read" in run.stderr
    assert "0 window(s)" not in run.stderr


def test_an_end_date_before_the_first_window_says_so(sandbox: RunningSandbox, tmp_path: Path) -> None:
    config = retrend_config(sandbox, tmp_path, lookback_days=0)
    state = {"bookmarks": {"retrend_category_interest_trends": {"partitions": [{
        "context": {"store_num": 1, "duration": "daily"}, "replication_key": "start_date",
        "replication_key_value": "2024-03-10T00:00:00Z"}]}}}
    (tmp_path / "state.json").write_text(json.dumps(state))
    run = tap(tmp_path, "--config", config, "--state", "state.json").ok()
    warnings = [line for line in run.stderr.splitlines() if "WARNING" in line and "nothing to read" in line]
    assert len(warnings) == 1, run.stderr[-3000:]
    assert "end_date 2024-03-04T00:00:00Z is before this run's first window, at 2024-03-10T00:00:00Z" in warnings[0]
    assert not run.records


@pytest.mark.parametrize(("form", "says"), [
    ("tail", "read the bookmarks from a STATE message"),  # `tail -1` of the tap's output
    ("lines", "read the bookmarks from the last of"),  # the tap's whole output, records and all
    ("meltano", "read the bookmarks from singer_state (`meltano state get`)"),
    ("meltano_pretty", "read the bookmarks from singer_state (`meltano state get`)"),  # --format=pretty
])
def test_a_state_file_in_a_wrapper_is_unwrapped_and_said(fresh_sandbox: RunningSandbox, tmp_path: Path,
                                                         form: str, says: str) -> None:
    config = retrend_config(fresh_sandbox, tmp_path)
    first = tap(tmp_path, "--config", config).ok()
    lines = first.stdout.splitlines()
    content = {
        "tail": lines[-1],
        "lines": first.stdout,
        "meltano": json.dumps({"singer_state": first.last_state}, separators=(",", ":")),
        "meltano_pretty": json.dumps({"singer_state": first.last_state}, indent=2),
    }[form]
    (tmp_path / "state.json").write_text(content)
    second = tap(tmp_path, "--config", config, "--state", "state.json").ok()
    said = [line for line in second.stderr.splitlines() if "--state state.json: read the bookmarks" in line]
    assert len(said) == 1 and says in said[0] and "| INFO" in said[0], second.stderr[-2000:]
    assert "no bookmark" not in second.stderr
    # Resumed from the bookmark (2024-03-04) less the one lookback day: no silent re-read from start_date.
    assert [row["start_date"] for row in second.records["retrend_category_interest_trends"]] == ["2024-03-03"]


@pytest.mark.parametrize(("content", "says"), [
    ('{"start_date": "2024-03-01", "retrend": {}}', ("--state state.json is not a Singer state (it has start_date, "
                                                    "retrend; no bookmarks)")),
    ("[1, 2]", "--state state.json holds a JSON list, not a state"),
    ('{"type": "RECORD", "stream": "s", "record": {}}\n{"type": "SCHEMA", "stream": "s"}\n',
     "--state state.json holds JSON lines but no STATE message"),
    ('{"singer_state": [1]}', "--state state.json: singer_state is not a Singer state"),
])
def test_a_file_that_is_not_a_state_says_what_it_should_hold(sandbox: RunningSandbox, tmp_path: Path,
                                                              content: str, says: str) -> None:
    line = state_file_error(sandbox, tmp_path, content)
    assert line.startswith(f"tap-retail-reports: error: {says}"), line
    assert '{"bookmarks": {...}}, a STATE line {"type": "STATE", ...}' in line
    assert "meltano state get" in line


@pytest.mark.parametrize(("bookmark", "says"), [
    ('"yesterday"', ('retrend_category_interest_trends\'s bookmark "yesterday" is not an object like '
                    '{"replication_key_value": "2026-11-24T06:00:00Z", ...}')),
    (('{"partitions": [{"context": {"store_num": 1, "duration": "daily"}, "replication_key": "start_date", '
     '"replication_key_value": "yesterday"}]}'),
     'retrend_category_interest_trends\'s replication_key_value "yesterday" is not a date-time'),
])
def test_a_malformed_bookmark_names_its_stream_and_what_it_should_look_like(sandbox: RunningSandbox, tmp_path: Path,
                                                                           bookmark: str, says: str) -> None:
    line = state_file_error(sandbox, tmp_path, f'{{"bookmarks": {{"retrend_category_interest_trends": {bookmark}}}}}')
    assert line.startswith(f"tap-retail-reports: error: --state state.json: {says}"), line
    assert line.endswith("fix it, or remove it to read that stream from start_date")
