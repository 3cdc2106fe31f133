"""BATCH mode (`batch_config`): the SDK writes rows to files and announces each file in a BATCH
message. A bookmark must never reach STATE before the BATCH message that holds its rows."""

from __future__ import annotations

import gzip
import json
import signal
import tempfile
from pathlib import Path
from urllib.parse import urlparse

from tap_retail_reports.core.windows import parse_when
from tests.conftest import catalog_selecting, run_tap
from tests.test_vroom import expected_rows, start_tap, vroom_config

STREAM = "vroom_orders"


def batch_config(folder: Path, batch_size: int = 20) -> dict:
    # 20 rows a file, 8 to 17 orders a day: files end mid-window and hold several windows.
    return {
        "encoding": {"format": "jsonl", "compression": "gzip"},
        "storage": {"root": f"file://{folder}", "prefix": "batch-"},
        "batch_size": batch_size,
    }


def rows_of(batch: dict) -> list[dict]:
    rows = []
    for url in batch["manifest"]:
        with gzip.open(urlparse(url).path, "rt") as lines:
            rows += [json.loads(line) for line in lines]
    return rows


def messages(stdout: str) -> list[dict]:
    return [json.loads(line) for line in stdout.splitlines() if line.strip()]


def bookmark(state: dict) -> str | None:
    return state.get("bookmarks", {}).get(STREAM, {}).get("replication_key_value")


def assert_every_state_follows_its_rows(stream_of_messages: list[dict]) -> set[str]:
    """Each STATE's bookmark covers only orders already announced in a BATCH message; returns those orders."""
    created = {row["order_id"]: parse_when(row["created_at"]) for row in expected_rows("orders")}
    batched: set[str] = set()
    for message in stream_of_messages:
        assert message["type"] != "RECORD", "BATCH mode sends no RECORD messages"
        if message["type"] == "BATCH" and message["stream"] == STREAM:
            batched |= {row["order_id"] for row in rows_of(message)}
        elif message["type"] == "STATE" and bookmark(message["value"]):
            done_until = parse_when(bookmark(message["value"]))
            unbatched = sorted(order for order, at in created.items() if at < done_until and order not in batched)
            assert not unbatched, f"STATE says done until {done_until} before the BATCH with {unbatched[:3]}"
    return batched


def test_every_state_comes_after_the_batch_that_holds_its_rows(sandbox, tmp_path):
    config = {**vroom_config(sandbox), "batch_config": batch_config(tmp_path)}
    run = run_tap(config, catalog=catalog_selecting(config, [STREAM])).ok()
    batched = assert_every_state_follows_its_rows(messages(run.stdout))
    assert batched == {row["order_id"] for row in expected_rows("orders")}
    assert bookmark(run.last_state) == "2026-10-08T00:00:00Z"


def test_a_run_killed_after_its_first_bookmark_resumes_without_loss(fresh_sandbox, tmp_path):
    config = {**vroom_config(fresh_sandbox), "batch_config": batch_config(tmp_path)}
    catalog = catalog_selecting(config, [STREAM])
    with tempfile.TemporaryDirectory() as folder:
        process = start_tap(config, catalog, folder)
        assert process.stdout is not None
        received = []
        for line in process.stdout:
            received.append(json.loads(line))
            if received[-1]["type"] == "STATE" and bookmark(received[-1]["value"]):
                process.send_signal(signal.SIGKILL)  # a crash the moment a bookmark is out
                break
        process.wait(timeout=30)
    state = received[-1]["value"]
    assert bookmark(state) and bookmark(state) < "2026-10-08", "the run should die half-way"
    resumed = run_tap({**config, "lookback_days": 0}, catalog=catalog, state=state).ok()
    # What a target loaded: the files announced in BATCH messages, by both runs.
    loaded = {
        row["order_id"]
        for message in received + messages(resumed.stdout)
        if message["type"] == "BATCH"
        for row in rows_of(message)
    }
    assert loaded == {row["order_id"] for row in expected_rows("orders")}
