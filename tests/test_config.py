"""A bad config stops the tap before any request, with one line naming the setting."""

from __future__ import annotations

import json
import os
import subprocess

import pytest

from tap_retail_reports.sandbox.credentials import VROOM_PASSWORD, tap_config
from tap_retail_reports.tap import TapRetailReports
from tests.conftest import TAP, TapRun, catalog_selecting, parse_messages, run_tap
from tests.documents import documents_text

GOOD = tap_config("http://127.0.0.1:9", vendors=("vroom",))


def with_(base: dict, **changes) -> dict:
    config = {key: dict(value) if isinstance(value, dict) else value for key, value in base.items()}
    for dotted, value in changes.items():
        *parents, leaf = dotted.split("__")
        target = config
        for parent in parents:
            target = target.setdefault(parent, {})
        if value is None:
            target.pop(leaf, None)
        else:
            target[leaf] = value
    return config


# (what is wrong, the settings changed from GOOD, the one line the user sees: the tap's own check,
# or the config schema's for a value of the wrong JSON type). The README's
# table "What a bad configuration looks like" is made from this list (test_readme_shows_every_bad_config).
BAD_CONFIGS = [
    ("a date that is no date", {"start_date": "last tuesday"},
     "start_date is not a date or date-time (YYYY-MM-DD or ISO-8601): 'last tuesday'"),
    ("an impossible date", {"end_date": "2026-13-01"},
     "end_date is not a date or date-time (YYYY-MM-DD or ISO-8601): '2026-13-01'"),
    ("the range backwards", {"start_date": "2026-02-01", "end_date": "2026-01-01"},
     "end_date (2026-01-01) must be after start_date (2026-02-01)"),
    ("a negative lookback", {"lookback_days": -1}, "lookback_days must be a whole number of at least 0, got -1"),
    ("no room for jobs", {"max_concurrent_jobs": 0}, "max_concurrent_jobs must be a whole number of at least 1, got 0"),
    ("a number as words", {"job_timeout_minutes": "soon"},
     "job_timeout_minutes: 'soon' is not of type 'integer', 'null'"),
    ("a misspelt setting", {"strat_date": "2026-01-01"}, "strat_date is not a setting; did you mean start_date?"),
    ("a misspelt vendor setting", {"vroom__usrname": "ops@example.com"},
     "vroom.usrname is not a setting; did you mean vroom.username?"),
    ("a secret that did not arrive", {"vroom__password": None},
     "vroom is half-configured: vroom.password missing (set vroom.username and vroom.password)"),
    ("half of one way to sign in", {"flipkart": {"client_id": "c"}},
     ("flipkart is half-configured: flipkart.client_secret missing "
      "(set flipkart.client_id and flipkart.client_secret or flipkart.access_token)")),
    ("settings but no credentials", {"distribu": {"base_url": "https://distribu.example", "requests_per_minute": 30}},
     "distribu has settings (distribu.base_url, distribu.requests_per_minute) but no credentials: set distribu.api_key"),
    ("http to a remote host", {"vroom__base_url": "http://vroom.example.com/api"},
     "vroom.base_url uses http with non-loopback host 'vroom.example.com': use https"),
    ("a window of no days", {"vroom__window_days": 0}, "vroom.window_days must be a whole number of at least 1, got 0"),
    ("one site id, not a list", {"vroom__site_ids": "1001"}, "vroom.site_ids: '1001' is not of type 'array', 'null'"),
    ("an unknown report", {"retrend": {"organization_id": "o", "api_key": "k", "store_nums": [1], "reports": ["sales"]}},
     ("retrend.reports has unknown value(s) 'sales'; allowed: conversation_delta_report, category_interest_trends, "
      "direct_search_oos_impact")),
    ("an unknown period", {"retrend": {"organization_id": "o", "api_key": "k", "store_nums": [1], "durations": ["hourly"]}},
     "retrend.durations has unknown value(s) 'hourly'; allowed: daily, weekly, monthly, quarterly, yearly"),
    ("no stores", {"retrend": {"organization_id": "o", "api_key": "k"}},
     "retrend.store_nums is required when retrend is configured"),
    ("a store id with letters", {"foxycart": {"client_id": "c", "client_secret": "s", "refresh_token": "r", "store_id": "12ab"}},
     "foxycart.store_id must be a string of digits, got '12ab'"),
    ("one warehouse, not a list", {"flipkart": {"client_id": "c", "client_secret": "s", "warehouse_ids": "BLR01"}},
     "flipkart.warehouse_ids: 'BLR01' is not of type 'array', 'null'"),
]


@pytest.mark.parametrize(("case", "changes", "line"), BAD_CONFIGS, ids=[case for case, _, _ in BAD_CONFIGS])
def test_the_user_sees_that_line_before_any_request(case, changes, line):
    # Port 9 (discard) on loopback: had the tap sent a request, it would fail differently.
    run = run_tap(with_(GOOD, **changes))
    assert run.returncode == 1
    errors = [entry.split(" | ")[-1] for entry in run.stderr.splitlines() if "| ERROR " in entry]
    assert errors == [line, "Config validation failed"], run.stderr[-2000:]
    assert "Traceback" not in run.stderr and not run.records


def bad_config_table() -> str:
    lines = ["| what is wrong | setting as given | the line the tap logs (exit 1, before any request) |", "|---|---|---|"]
    for case, changes, line in BAD_CONFIGS:
        given = ", ".join(
            f"`{name.replace('__', '.')}`: `{json.dumps(value)}`" if value is not None else f"`{name.replace('__', '.')}` missing"
            for name, value in changes.items()
        )
        lines.append(f"| {case} | {given} | `{line}` |")
    return "\n".join(lines)


def test_readme_shows_every_bad_config():
    readme = documents_text()  # docs/configuration.md holds it
    assert bad_config_table() in readme, "the docs' bad-config table is stale; paste bad_config_table():\n" + bad_config_table()


def test_good_config_has_no_problems():
    assert TapRetailReports.config_problems(GOOD) == []
    assert TapRetailReports.config_problems({}) == []  # nothing configured: nothing to check


def test_cli_stops_before_any_request_with_clear_lines_and_no_traceback():
    # Port 9 (discard) on loopback: had the tap sent a request, it would fail differently.
    config = with_(GOOD, start_date="31/12/2026", vroom__base_url="http://10.1.2.3/api")
    run = run_tap(config)
    assert run.returncode == 1
    assert "start_date is not a date or date-time" in run.stderr
    assert "vroom.base_url uses http with non-loopback host '10.1.2.3'" in run.stderr
    assert "Traceback" not in run.stderr
    assert not run.records


def test_a_wrongly_typed_secret_is_not_echoed():
    config = with_(GOOD, vroom__password=None)
    config["vroom"]["password"] = ["not", "a", "string", VROOM_PASSWORD]
    run = run_tap(config)
    assert run.returncode == 1
    assert VROOM_PASSWORD not in run.stderr


def test_a_sync_with_no_vendor_configured_fails_clearly():
    run = run_tap({"start_date": "2026-10-01"})
    assert run.returncode == 1
    assert "tap-retail-reports: error: no vendor is configured" in run.stderr
    assert "Traceback" not in run.stderr


def test_discovery_validates_the_config_too():
    run = run_tap(with_(GOOD, start_date="someday"), args=["--discover"])
    assert run.returncode == 1
    assert "start_date is not a date or date-time" in run.stderr


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"strat_date": "2026-01-01"}, "strat_date is not a setting; did you mean start_date?"),
        ({"vroom__usrname": "ops@example.com"}, "vroom.usrname is not a setting; did you mean vroom.username?"),
        ({"vroom__site_id": ["1001"]}, "vroom.site_id is not a setting; did you mean vroom.site_ids?"),
        ({"vroom_password": "x"}, "vroom_password is not a setting; did you mean vroom.password?"),
    ],
)
def test_a_misspelt_setting_is_named_with_the_closest_one_before_any_request(changes, expected):
    # Port 9 (discard) on loopback: had the tap sent a request, it would fail differently.
    run = run_tap(with_(GOOD, **changes))
    assert run.returncode == 1
    assert expected in run.stderr, run.stderr[-2000:]
    assert run.stderr.count("is not a setting") == 1  # one line per unknown setting
    assert "Traceback" not in run.stderr and not run.records


def test_every_misspelt_setting_gets_its_own_line():
    problems = TapRetailReports.config_problems(with_(GOOD, strat_date="2026-01-01", vroom__usrname="x"))
    assert [p for p in problems if "is not a setting" in p] == [
        "strat_date is not a setting; did you mean start_date?",
        "vroom.usrname is not a setting; did you mean vroom.username?",
    ]


def test_the_sdk_settings_are_settings():
    builtin: dict = {}
    TapRetailReports.append_builtin_config(builtin)  # whatever the SDK adds for the declared capabilities
    names = set(builtin["properties"])
    assert {"stream_maps", "stream_map_config", "flattening_enabled", "flattening_max_depth"} <= names
    config = with_(GOOD, **{name: {} if "object" in str(builtin["properties"][name].get("type")) else 1 for name in names})
    config["stream_maps"] = {"vroom_orders": {"__alias__": "orders"}, "any_stream_name": None}
    assert TapRetailReports.config_problems(config) == []


def test_a_run_with_stream_maps_and_flattening_is_accepted(sandbox):
    config = tap_config(f"http://127.0.0.1:{sandbox.port}", vendors=("vroom",))
    config.update(
        start_date="2026-10-01",
        end_date="2026-10-02",
        stream_maps={"vroom_transactions": {"__alias__": "transactions", "time": "__NULL__"}},
        flattening_enabled=True,
        flattening_max_depth=1,
    )
    run = run_tap(config, catalog=catalog_selecting(config, ["vroom_transactions"])).ok()
    assert run.records["transactions"] and "vroom_transactions" not in run.records
    assert all("time" not in row for row in run.records["transactions"])


def env_run(folder, variables: dict, *args: str) -> subprocess.CompletedProcess:
    """`tap-retail-reports --config ENV` in `folder`, with only `variables` for settings."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("TAP_RETAIL_REPORTS_")}
    return subprocess.run([*TAP, "--config", "ENV", *args], cwd=folder, env={**env, **variables},
                          capture_output=True, text=True, timeout=300, check=False)


def test_config_env_reads_each_vendor_setting_from_its_own_variable(sandbox, tmp_path):
    # As the README writes them: vroom.password is TAP_RETAIL_REPORTS_VROOM_PASSWORD (and a .env file holds them
    # as Meltano's `config set` writes it).
    (tmp_path / ".env").write_text(f"TAP_RETAIL_REPORTS_VROOM_PASSWORD='{VROOM_PASSWORD}'\n")
    variables = {
        "TAP_RETAIL_REPORTS_START_DATE": "2026-10-01", "TAP_RETAIL_REPORTS_END_DATE": "2026-10-03",
        "TAP_RETAIL_REPORTS_VROOM_BASE_URL": f"http://127.0.0.1:{sandbox.port}/vroom/api/retailer/v1",
        "TAP_RETAIL_REPORTS_VROOM_USERNAME": GOOD["vroom"]["username"],
        "TAP_RETAIL_REPORTS_VROOM_SITE_IDS": '["1001"]', "TAP_RETAIL_REPORTS_VROOM_WINDOW_DAYS": "2",
    }
    done = env_run(tmp_path, variables)
    assert done.returncode == 0, done.stderr[-2000:]
    run = parse_messages(done.stdout, TapRun(done.returncode, done.stdout, done.stderr))
    assert run.records["vroom_orders"] and {row["site_id"] for row in run.records["vroom_orders"]} == {"1001"}
    assert "vroom_orders: no bookmark; starting at start_date 2026-10-01T00:00:00Z: 1 window(s)" in done.stderr


def test_config_env_names_a_variable_of_the_wrong_type(tmp_path):
    done = env_run(tmp_path, {"TAP_RETAIL_REPORTS_VROOM_WINDOW_DAYS": "two"})
    assert done.returncode == 1
    assert done.stderr.splitlines()[-1] == ("tap-retail-reports: error: TAP_RETAIL_REPORTS_VROOM_WINDOW_DAYS must be "
                                            "a whole number, got 'two'")


def test_under_meltano_a_misspelt_setting_is_said_once(sandbox, tmp_path):
    """Meltano repeats a failed discovery's whole stderr in its own error line: the misspelt setting is left to
    the run, which says it once, and Meltano's `Extractor failed` follows."""
    from tests.test_readme_commands import meltano_bin
    from tests.test_run_outcome import meltano_project

    config = {**tap_config(f"http://127.0.0.1:{sandbox.port}", vendors=("vroom",)), "strat_date": "2026-01-01"}
    project = meltano_project(tmp_path, config)
    done = subprocess.run([str(meltano_bin()), "run", "tap-retail-reports", "target-lines"], cwd=project,
                          env={**os.environ, "MELTANO_SEND_ANONYMOUS_USAGE_STATS": "false", "NO_COLOR": "1"},
                          capture_output=True, text=True, timeout=300, check=False)
    output = done.stdout + done.stderr
    assert done.returncode == 1
    assert output.count("strat_date is not a setting; did you mean start_date?") == 1, output[-3000:]
    assert "Extractor failed" in output and "Catalog discovery failed" not in output
