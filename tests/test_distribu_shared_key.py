"""Two runs on one Distribu key at once: each paces only itself, so together they exceed the
vendor's budget; the vendor's 429s (Retry-After) are waited out and both finish with every row.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from tests.conftest import run_tap
from tests.test_distribu import assert_rows_match_sandbox, configure, distribu_calls, distribu_config, scaled_minute


def test_two_runs_on_one_key_at_once_both_finish_with_every_row(fresh_sandbox, tmp_path):
    # The sandbox's "minute" lasts one second and each tap's limiter is scaled to match
    # (see scaled_minute): each run alone keeps 30 calls a "minute"; the two together ask twice that.
    minute, budget = 1.0, 30
    configure(fresh_sandbox, requests_per_minute=budget, window_seconds=minute)
    start, end = "2025-02-01", "2025-02-16"  # 15 days: 32 calls per run
    config = distribu_config(fresh_sandbox, start, end, requests_per_minute=budget)
    env = scaled_minute(tmp_path, minute)
    with ThreadPoolExecutor(max_workers=2) as pool:
        runs = list(pool.map(lambda _: run_tap(config, env=env, timeout=300), range(2)))

    for run in runs:
        run.ok()
        assert_rows_match_sandbox(run, start, end)
    statuses = [entry["status"] for entry in distribu_calls(fresh_sandbox)]
    assert statuses.count(200) == 2 * 32
    assert statuses.count(429) >= 1  # the overflow did happen, and was waited out
