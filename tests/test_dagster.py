"""Scale-out: orchestration/ runs shards of the Meltano project as parallel Dagster steps.

The plan (orchestration/shard_plan.py) is plain Python and is tested here directly. The end-to-end
test builds Dagster's own virtualenv through the Makefile (`make dagster`, like test_demo.py
builds Meltano's), runs two Retrend store groups at once with Dagster's multiprocess executor
against the sandbox, and checks what a user would: both state IDs in Meltano's state backend with
their own bookmarks, every row in each shard's DuckDB file against the sandbox's data, and that
the two steps did run side by side.

Target: target-duckdb, the repo's own loader (it upserts on the stream's primary key, so a row
loaded twice would show as a count mismatch only if the key were wrong), one database file per
shard: DuckDB lets one process write a file at a time, and two shards on one file would fail on
its lock rather than test the tap.
"""

from __future__ import annotations

import datetime as dt
import fnmatch
import json
import os
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from tap_retail_reports.sandbox import credentials
from tap_retail_reports.sandbox.retrend import App
from tap_retail_reports.sandbox.server import RunningSandbox
from tests.conftest import make_target

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "orchestration"))
from shard_plan import PlanError, isolate, load_plan  # noqa: E402  # after the sys.path line that finds it

RETREND_STREAMS = ("retrend_conversation_delta_report", "retrend_category_interest_trends", "retrend_direct_search_oos_impact")
START, END = "2024-05-01", "2024-05-08"  # a finished week: seven daily periods per store
SHARDS = {"retrend-stores-1": 1, "retrend-stores-2": 2}


# -- the plan ---------------------------------------------------------------------------

def write_plan(folder: Path, text: str) -> Path:
    path = folder / "shards.yml"
    path.write_text(text)
    return path


def test_the_shipped_plan_names_real_settings_and_gives_each_shard_its_own_state_id() -> None:
    plan = load_plan(ROOT / "orchestration" / "shards.yml", ROOT)
    ids = [plan.state_id(shard) for shard in plan.shards]
    assert len(set(ids)) == len(ids)
    assert "sandbox:tap-retail-reports-to-target-duckdb:retrend-stores-1" in ids
    assert {shard.vendor for shard in plan.shards} == {"vroom", "retrend", "distribu", "foxycart", "flipkart"}


def test_the_shipped_flipkart_shards_read_each_report_once_per_warehouse() -> None:
    """Warehouse groups split the warehouse-scoped reports; one shard reads the account's reports."""
    from tap_retail_reports.flipkart import REPORT_TYPES
    from tap_retail_reports.flipkart.streams import WAREHOUSE_TYPES

    plan = load_plan(ROOT / "orchestration" / "shards.yml", ROOT)
    reads: Counter = Counter()
    for shard in (shard for shard in plan.shards if shard.vendor == "flipkart"):
        for report in REPORT_TYPES:
            if any(fnmatch.fnmatch(f"flipkart_{report}.any_column", pattern) for pattern in shard.select):
                warehouses = shard.settings.get("flipkart.warehouse_ids") if report in WAREHOUSE_TYPES else [None]
                assert warehouses, f"shard {shard.name} reads {report} without its own flipkart.warehouse_ids"
                reads.update((report, warehouse) for warehouse in warehouses)
    expected = Counter({(report, None) for report in REPORT_TYPES if report not in WAREHOUSE_TYPES})
    expected.update((report, w) for report in WAREHOUSE_TYPES for w in credentials.FLIPKART_WAREHOUSE_IDS)
    assert reads == expected


def test_a_shard_becomes_meltano_environment_variables_and_a_state_id_suffix(tmp_path: Path) -> None:
    plan = load_plan(write_plan(tmp_path, """
meltano: {environment: prod, loader: target-postgres}
shards:
  retrend-west:
    vendor: retrend
    settings: {retrend.store_nums: [3, 4], retrend.refresh_current_period: true, start_date: "2024-01-01"}
  flipkart-north:
    vendor: flipkart
    settings: {flipkart.warehouse_ids: [BLR-1, DEL-2]}
"""), ROOT)
    west, north = plan.shards
    assert plan.env(west) == {
        "TAP_RETAIL_REPORTS__SELECT": '["retrend_*.*"]',
        "TAP_RETAIL_REPORTS_RETREND_STORE_NUMS": "[3, 4]",
        "TAP_RETAIL_REPORTS_RETREND_REFRESH_CURRENT_PERIOD": "true",
        "TAP_RETAIL_REPORTS_START_DATE": "2024-01-01",
    }
    assert plan.env(north)["TAP_RETAIL_REPORTS_FLIPKART_WAREHOUSE_IDS"] == '["BLR-1", "DEL-2"]'
    assert plan.command("meltano", west) == [
        "meltano", "--environment=prod", "run", "--state-id-suffix", "retrend-west", "tap-retail-reports", "target-postgres",
    ]
    assert plan.state_id(north) == "prod:tap-retail-reports-to-target-postgres:flipkart-north"
    assert plan.max_concurrent == 2


def test_loader_env_is_per_shard_and_secret_overrides_are_masked_in_logs(tmp_path: Path) -> None:
    plan = load_plan(write_plan(tmp_path, """
meltano: {loader_env: {TARGET_DUCKDB_FILEPATH: "output/{shard}.duckdb"}}
shards:
  distribu-b: {vendor: distribu, settings: {distribu.api_key: dk_second_key}, streams: [distribu_sales_daily.*]}
"""), ROOT)
    (shard,) = plan.shards
    assert plan.env(shard)["TARGET_DUCKDB_FILEPATH"] == "output/distribu-b.duckdb"
    assert plan.env(shard)["TAP_RETAIL_REPORTS__SELECT"] == '["distribu_sales_daily.*"]'
    assert "dk_second_key" not in plan.describe(shard)
    assert "distribu.api_key=\"***\"" in plan.describe(shard)


def test_each_shard_gets_its_own_meltano_run_folder_but_shares_plugins_and_state(tmp_path: Path) -> None:
    # Meltano 4.4 keeps an extractor's catalog and incoming state at one path per project:
    # two shards sharing it fail, or read each other's bookmarks (the end-to-end test below
    # failed with "Invalid catalog" before each shard had a folder of its own).
    (tmp_path / "meltano.yml").write_text((ROOT / "meltano.yml").read_text())
    (tmp_path / ".meltano" / "extractors" / "tap-retail-reports").mkdir(parents=True)
    plan = load_plan(ROOT / "orchestration" / "shards.yml", ROOT)
    first, second = (isolate(tmp_path, shard, {}) for shard in plan.shards[:2])
    assert first["MELTANO_SYS_DIR_ROOT"] != second["MELTANO_SYS_DIR_ROOT"]
    assert first["MELTANO_DATABASE_URI"] == second["MELTANO_DATABASE_URI"] == f"sqlite:///{tmp_path / '.meltano' / 'meltano.db'}"
    plugins = Path(first["MELTANO_SYS_DIR_ROOT"]) / "extractors" / "tap-retail-reports"
    assert plugins.resolve() == (tmp_path / ".meltano" / "extractors" / "tap-retail-reports").resolve()
    assert "MELTANO_DATABASE_URI" not in isolate(tmp_path, plan.shards[0], {"MELTANO_DATABASE_URI": "postgresql://x"})


@pytest.mark.parametrize(
    "shards, message",
    [
        ("r1: {vendor: retrend, settings: {retrend.store_num: [1]}}", "shard r1: unknown setting 'retrend.store_num'"),
        ("r1: {vendor: retrend, settings: {vroom.site_ids: [a]}}",
         "shard r1: setting vroom.site_ids belongs to vroom, but this shard reads retrend"),
        ("r1: {vendor: shopify}", "shard r1: vendor must be one of vroom, retrend, distribu, foxycart, flipkart, got 'shopify'"),
        ("Retrend East: {vendor: retrend}", "shard name 'Retrend East' must be lower-case letters"),
        ("r-1: {vendor: retrend}\n  r_1: {vendor: retrend}", "shard names differ only by '-' and '_' (shard_r_1)"),
        ("r1: {vendor: retrend, store_nums: [1]}", "shard r1: unknown key(s) store_nums"),
        ("{}", "no shards listed"),
    ],
)
def test_a_bad_shards_file_gets_one_line_naming_the_entry(tmp_path: Path, shards: str, message: str) -> None:
    path = write_plan(tmp_path, f"shards:\n  {shards}\n")
    with pytest.raises(PlanError) as raised:
        load_plan(path, ROOT)
    assert message in str(raised.value)
    assert str(raised.value).startswith(str(path)) and "\n" not in str(raised.value)


# -- end to end: two shards at once through Dagster ---------------------------------------

@pytest.fixture(scope="module")
def venvs() -> dict[str, Path]:
    """`make dagster`: Dagster's and Meltano's virtualenvs in the work tree (built once, reused)."""
    if shutil.which("make") is None:
        pytest.skip("make is not installed")
    make_target("dagster")
    return {"dagster": ROOT / ".venv-dagster" / "bin", "meltano": ROOT / ".venv-meltano" / "bin" / "meltano"}


@pytest.fixture(scope="module")
def project(tmp_path_factory, venvs) -> Path:
    """A copy of the Meltano project with its plugins installed, so state and output stay out of the work tree."""
    copy = tmp_path_factory.mktemp("scale-out") / "project"
    shutil.copytree(ROOT, copy, ignore=shutil.ignore_patterns(".git", ".meltano", ".dagster", "output", ".venv*", "__pycache__"))
    (copy / ".venv").symlink_to(ROOT / ".venv")
    meltano(venvs, copy, "install")
    return copy


def meltano(venvs: dict[str, Path], project: Path, *args: str, env: dict | None = None) -> str:
    done = subprocess.run(
        [str(venvs["meltano"]), *args], cwd=project, env={**os.environ, **(env or {})},
        capture_output=True, text=True, timeout=600, check=False,
    )
    assert done.returncode == 0, f"meltano {' '.join(args)}:\n{done.stdout[-3000:]}{done.stderr[-3000:]}"
    return done.stdout


@pytest.mark.timeout(900)
def test_dagster_runs_two_store_groups_at_once_each_with_its_own_state_and_rows(
    venvs: dict[str, Path], project: Path, tmp_path: Path
) -> None:
    shards_file = tmp_path / "shards.yml"
    shards_file.write_text(
        "meltano:\n  environment: sandbox\n  loader: target-duckdb\n"
        "  loader_env: {TARGET_DUCKDB_FILEPATH: 'output/{shard}.duckdb'}\n"
        "max_concurrent: 2\nshards:\n"
        + "".join(f"  {name}: {{vendor: retrend, settings: {{retrend.store_nums: [{store}]}}}}\n" for name, store in SHARDS.items())
    )
    (project / "output").mkdir(exist_ok=True)
    with RunningSandbox(seed=42) as sandbox:
        env = {
            "DAGSTER_HOME": str(tmp_path / "dagster-home"),
            "MELTANO_PROJECT_ROOT": str(project),
            "MELTANO_BIN": str(venvs["meltano"]),
            "RETAIL_REPORTS_SHARDS": str(shards_file),
            "MELTANO_SEND_ANONYMOUS_USAGE_STATS": "false",
            # meltano.yml's sandbox environment says port 8765; the test's sandbox is elsewhere.
            **{f"TAP_RETAIL_REPORTS_{vendor.upper()}_BASE_URL": sandbox.url(vendor) for vendor in ("vroom", "retrend", "distribu")},
            "TAP_RETAIL_REPORTS_START_DATE": START,
            "TAP_RETAIL_REPORTS_END_DATE": END,
        }
        Path(env["DAGSTER_HOME"]).mkdir()
        done = subprocess.run(
            [str(venvs["dagster"] / "dagster"), "job", "execute", "-f", "orchestration/definitions.py", "-j", "retail_reports_shards"],
            cwd=project, env={**os.environ, **env}, capture_output=True, text=True, timeout=800, check=False,
        )
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-6000:]

    # Dagster's view: the multiprocess executor launched both shards' processes before either
    # finished (the executor's own order of events, not a timing), and both succeeded.
    events = dagster_events(venvs, env)
    assert any("multiprocess executor" in message for _, _, message in events), events
    kinds = ("STEP_WORKER_STARTING", "STEP_SUCCESS", "STEP_FAILURE")
    steps = [(kind, step) for kind, step, _ in events if kind in kinds]
    ops = [f"shard_{name.replace('-', '_')}" for name in SHARDS]
    assert sorted(steps) == sorted((kind, op) for op in ops for kind in kinds[:2]), steps
    assert [kind for kind, _ in steps[:2]] == ["STEP_WORKER_STARTING"] * 2, f"the shards ran one after the other: {steps}"

    # Meltano's view: one state ID per shard, each with bookmarks for its own store only.
    listed = meltano(venvs, project, "--environment=sandbox", "state", "list", env=env).split()
    for name, store in SHARDS.items():
        state_id = f"sandbox:tap-retail-reports-to-target-duckdb:{name}"
        assert state_id in listed
        state = json.loads(meltano(venvs, project, "--environment=sandbox", "state", "get", state_id, env=env))
        for stream in RETREND_STREAMS:
            partitions = state["singer_state"]["bookmarks"][stream]["partitions"]
            assert [p["context"] for p in partitions] == [{"store_num": store, "duration": "daily"}], (name, stream)
            assert partitions[0]["replication_key_value"] == f"{END}T00:00:00Z", partitions

    # The warehouse's view: each shard's file holds its store's seven days, once each, as the sandbox serves them.
    import duckdb

    reference = App(seed=42)
    for name, store in SHARDS.items():
        with duckdb.connect(str(project / "output" / f"{name}.duckdb"), read_only=True) as db:
            for stream in RETREND_STREAMS:
                keys = db.execute(f"select store_num, duration, start_date from retail_reports.{stream}").fetchall()
                assert sorted((s, d, str(day)[:10]) for s, d, day in keys) == [(store, "daily", day) for day in days()], stream
            loaded = {row["start_date"][:10]: row for row in rows_of(db, "retrend_conversation_delta_report")}
            for day in days():
                served = reference.report(store, "conversation_delta_report", "daily", dt.date.fromisoformat(day))
                assert loaded[day]["total_conversations"] == served["total_conversations"], (name, day)
                assert loaded[day]["created_at"].strftime("%Y-%m-%dT%H:%M:%SZ") == served["created_at"], (name, day)
    assert credentials.RETREND_API_KEY not in done.stdout + done.stderr


def days() -> list[str]:
    start = dt.date.fromisoformat(START)
    return [(start + dt.timedelta(days=n)).isoformat() for n in range((dt.date.fromisoformat(END) - start).days)]


def rows_of(db, stream: str) -> list[dict]:
    """A table's rows as dicts, with the fields the target keeps in the JSON `_extra_fields` column merged in."""
    cursor = db.execute(f"select * from retail_reports.{stream}")
    names = [column[0] for column in cursor.description]
    rows = [dict(zip(names, values, strict=True)) for values in cursor.fetchall()]
    return [{**row, **json.loads(row.pop("_extra_fields", None) or "{}")} for row in rows]


def dagster_events(venvs: dict[str, Path], env: dict) -> list[tuple[str, str | None, str]]:
    """(event type, step, message) of the last run, in the order Dagster stored them."""
    script = (
        "import json\nfrom dagster import DagsterInstance\n"
        "instance = DagsterInstance.get()\nrun = instance.get_runs(limit=1)[0]\n"
        "for entry in instance.all_logs(run.run_id):\n"
        "    if entry.dagster_event:\n"
        "        print(json.dumps([entry.dagster_event.event_type_value, entry.step_key, entry.user_message]))\n"
    )
    done = subprocess.run(
        [str(venvs["dagster"] / "python"), "-c", script], env={**os.environ, **env},
        capture_output=True, text=True, timeout=120, check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return [tuple(json.loads(line)) for line in done.stdout.splitlines()]
