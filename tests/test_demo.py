"""The README's first command, `make demo`, end to end: sandbox, Meltano, target-duckdb, row counts.

CI runs only `make test`, so without this test a broken demo would go unnoticed. It runs
the demo twice: the second run must resume from the bookmarks Meltano stored.
"""

from __future__ import annotations

import datetime as dt
import re
import shutil
import socket
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

from tap_retail_reports.sandbox.server import RunningSandbox

ROOT = Path(__file__).resolve().parent.parent
TABLES = (
    "vroom_orders", "vroom_line_items", "vroom_transactions", "vroom_customer_contacts",
    "retrend_conversation_delta_report", "distribu_sales_daily", "distribu_inventory",
    # CSV reports whose columns arrive as SCHEMA messages mid-stream (target-duckdb adds them)
    "foxycart_complete", "foxycart_customers", "flipkart_orders_report", "flipkart_stock_ledger",
    "flipkart_current_inventory_report",
    "flipkart_mir_ledger",  # monthly: the demo's first run starts in the latest month whose ledger is out
)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def demo_copy(tmp_path_factory, meltano) -> Path:
    """A copy of the project, so the demo's state and warehouse do not touch the work tree."""
    if shutil.which("make") is None:
        pytest.skip("make is not installed")
    copy = tmp_path_factory.mktemp("demo") / "project"
    shutil.copytree(ROOT, copy, ignore=shutil.ignore_patterns(".git", ".meltano", "output", ".venv*", "__pycache__"))
    (copy / ".venv").symlink_to(ROOT / ".venv")  # the tap's environment, already built by `make test`
    (copy / ".venv-meltano").symlink_to(meltano.parent.parent)  # and Meltano's, built once for every test
    return copy


def make_demo(folder: Path) -> str:
    done = subprocess.run(
        ["make", "demo", f"SANDBOX_PORT={free_port()}"], cwd=folder, capture_output=True, text=True, timeout=900, check=False
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return done.stdout


def view_column_types(folder: Path) -> dict[tuple[str, str], str]:
    import duckdb

    with duckdb.connect(str(folder / "output" / "warehouse.duckdb"), read_only=True) as db:
        rows = db.execute("select table_name, column_name, data_type from information_schema.columns "
                          "where table_schema = 'retail_reports_typed'").fetchall()
    return {(table, column): kind for table, column, kind in rows}


def assert_the_docs_query_gives_typed_values(folder: Path) -> None:
    """docs/warehouses.md's query on the typed views, run as written: dates, integers, exact money."""
    import datetime as dt
    import decimal

    import duckdb

    page = (ROOT / "docs" / "warehouses.md").read_text()
    query = next(block for block in page.split("```sql")[1:] if "retail_reports_typed" in block).split("```")[0]
    with duckdb.connect(str(folder / "output" / "warehouse.duckdb"), read_only=True) as db:
        rows = db.execute(query).fetchall()
    assert rows
    day, orders, revenue = rows[0]
    assert isinstance(day, dt.date) and isinstance(orders, int) and isinstance(revenue, decimal.Decimal), rows[0]


def docs_sql_queries() -> list[str]:
    """The queries docs/warehouses.md offers to start with, under "Looking at the data"."""
    page = (ROOT / "docs" / "warehouses.md").read_text()
    section = page[page.index("### Looking at the data"):]
    return [block.split("```")[0].strip() for block in section.split("```sql")[1:]]


def assert_make_sql_answers_the_docs_queries(folder: Path) -> None:
    """`make sql`, the documented command, with the docs' two queries typed in: each answers in rows."""
    queries = docs_sql_queries()
    assert len(queries) == 2, queries
    done = subprocess.run(["make", "-s", "sql"], cwd=folder, input="\n".join(queries) + "\n", capture_output=True,
                          text=True, timeout=120, check=False)
    assert done.returncode == 0 and "Error" not in done.stdout + done.stderr, done.stdout[-2000:] + done.stderr
    # DuckDB's boxes: each query's header with its column types, then its rows.
    assert re.search(r"│\s+date\s+│\s+ordercount\s+│\s+revenue\s+│", done.stdout), done.stdout[-2000:]
    assert re.search(r"│\s+date\s+│\s+int64\s+│\s+decimal\(38,9\)\s+│", done.stdout), done.stdout[-2000:]
    assert re.search(r"│\s+site_id\s+│\s+day\s+│\s+orders\s+│\s+revenue\s+│", done.stdout), done.stdout[-2000:]
    assert re.search(r"│ 1001\s+│ \d{4}-\d\d-\d\d │\s+\d+ │\s+[\d.]+ │", done.stdout), done.stdout[-2000:]


def row_counts(output: str) -> dict[str, int]:
    return {m[1]: int(m[2]) for m in re.finditer(r"^\s+(\w+)\s+(\d+)$", output, re.MULTILINE)}


def test_make_demo_loads_every_vendor_and_resumes_on_the_second_run(demo_copy):
    first = make_demo(demo_copy)
    counts = row_counts(first)
    for table in TABLES:
        assert counts.get(table, 0) > 0, f"{table} is empty after the demo: {counts}"
    assert "vroom_orders: no bookmark; starting at start_date" in first
    # The tables a user queries first have the types the tap's SCHEMA messages say.
    types = view_column_types(demo_copy)
    assert types["vroom_orders", "total"] == "DECIMAL(38,9)"  # money: a JSON number, exact
    assert types["vroom_orders", "created_at"] == "TIMESTAMP"
    assert types["distribu_sales_daily", "date"] == "DATE"  # format: date
    assert types["distribu_sales_daily", "ordercount"] == "BIGINT"  # integer
    assert types["flipkart_orders_report", "dispatch_by_date"] == "DATE"  # a CSV column the tap types by name
    assert types["flipkart_orders_report", "_row_number"] == "BIGINT"
    assert not {kind for kind in types.values() if kind in ("DOUBLE", "HUGEINT")}, types
    assert {table for table, _ in types} >= set(TABLES)
    assert_the_docs_query_gives_typed_values(demo_copy)
    assert re.search(r"flipkart_mir_ledger for warehouse_id BLR01: no bookmark; starting at start_date \S+: "
                     r"[12] report job\(s\)", first), first[-3000:]
    assert re.search(r"run summary: 32 stream\(s\), \d+ row\(s\), \d+ request\(s\) in [\d.]+ s; "
                     r"bookmarks: 28 advanced, 4 full table; no stream failed", first), first[-3000:]
    assert_make_sql_answers_the_docs_queries(demo_copy)  # read-only: the next run still writes the file

    second = make_demo(demo_copy)
    assert re.search(r"vroom_orders: resuming from bookmark \S+ less 2 lookback day\(s\)", second)
    assert re.search(r"retrend_\w+ for store_num 1, duration daily: resuming from bookmark \S+ less 1 lookback day\(s\)",
                     second)
    assert row_counts(second)["vroom_orders"] == counts["vroom_orders"]  # upserted, not duplicated
    # Report windows read again (whole India days, the same files) land on the same keys.
    for table in ("flipkart_orders_report", "flipkart_stock_ledger", "flipkart_current_inventory_report"):
        assert row_counts(second)[table] == counts[table], table


def time_wait_ports() -> set[int]:
    """Local ports of IPv4 TCP sockets in TIME_WAIT (state 06 in /proc/net/tcp)."""
    lines = Path("/proc/net/tcp").read_text().splitlines()[1:]
    return {int(fields[1].split(":")[1], 16) for fields in map(str.split, lines) if fields[3] == "06"}


@pytest.mark.skipif(not Path("/proc/net/tcp").exists(), reason="reads TIME_WAIT sockets from /proc/net/tcp (Linux)")
def test_the_port_check_lets_a_second_demo_start_right_after_the_first():
    """`make demo` twice in a row: the first run's sandbox closed its connections, which sit in TIME_WAIT
    on its port; the demo's check must not call the port in use, since the sandbox can bind it."""
    sys.path.insert(0, str(ROOT / "scripts"))
    from demo import port_taken

    with RunningSandbox() as first:
        port = first.port
        for _ in range(3):  # the client asks `Connection: close`: the server closes first, so TIME_WAIT is its
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/_sandbox/health", timeout=10) as answer:
                answer.read()
    assert port in time_wait_ports()  # the case this test is about
    assert not port_taken(port), f"port {port} has only TIME_WAIT sockets, yet the demo calls it in use"
    with RunningSandbox(port=port), urllib.request.urlopen(  # and the sandbox does start there
        f"http://127.0.0.1:{port}/_sandbox/health", timeout=10
    ) as answer:
        assert answer.status == 200
    # A port something listens on is still in use.
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        assert port_taken(squatter.getsockname()[1])


# Past days: the tap's end_date stops at now.
@pytest.mark.parametrize("today", ["2026-03-01", "2026-03-07", "2026-03-08", "2025-12-31", "2026-01-03", "2026-11-02"])
def test_the_demos_first_run_always_has_a_month_of_mir_ledger_to_load(today):
    """flipkart_mir_ledger reads whole months, each once the 7th of the next has passed (in India). A first run
    that starts a week back has none in the first days of a month (the demo table was empty then): the demo
    starts early enough on any day, and no earlier than a week back needs."""
    sys.path.insert(0, str(ROOT / "scripts"))
    from demo import first_run_start

    from tap_retail_reports.sandbox.credentials import tap_config
    from tap_retail_reports.tap import TapRetailReports

    day = dt.date.fromisoformat(today)
    start = first_run_start(day)
    assert start <= day - dt.timedelta(days=7) and (day - start).days <= 38, start
    # At the start of the day in India (the earliest "today" a demo run on `day` can have there).
    end = dt.datetime.combine(day, dt.time(), dt.timezone.utc) - dt.timedelta(hours=5, minutes=30)
    config = {**tap_config("http://127.0.0.1:9", vendors=("flipkart",)), "start_date": start.isoformat(),
              "end_date": end.isoformat()}
    tap = TapRetailReports(config=config, setup_mapper=False)
    windows = tap.streams["flipkart_mir_ledger"].job_windows({"warehouse_id": "BLR01"})
    assert len(windows) >= 1, (today, start)
