"""`make demo`: the sandbox on loopback, `meltano run tap-retail-reports target-duckdb`, row counts.

Each run is one scheduled run: the first reads from a week back (or from the last day of the
latest month whose Flipkart MIR ledger is out, so that every table has rows), the next ones resume
from the bookmarks Meltano stored, and the summary shows where each stream resumed.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import re
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
WAREHOUSE = ROOT / "output" / "warehouse.duckdb"
DEMO_DISTRIBU_PER_MINUTE = 600  # the sandbox key's budget in the demo (a real Distribu key: 60)
LOADED, TYPED = "retail_reports", "retail_reports_typed"  # the loader's tables; the demo's typed views of them


def port_taken(port: int) -> bool:
    """Whether the sandbox could not listen on the port. The probe binds as the sandbox's
    ThreadingHTTPServer does, with SO_REUSEADDR: sockets of a run that just ended, left in
    TIME_WAIT, do not stop the server, so they must not stop the demo either."""
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return True
    return False


def port_in_use(port: int) -> str:
    return f"demo: port {port} is in use; stop what listens there or pick another port: SANDBOX_PORT=9000 make demo"


def wait_for(sandbox: subprocess.Popen, port: int, seconds: float = 30) -> None:
    """Until our sandbox answers; if it exits first (the port was taken after all), say so."""
    url = f"http://127.0.0.1:{port}/_sandbox/health"
    deadline = time.monotonic() + seconds
    while True:
        if sandbox.poll() is not None:
            raise SystemExit(f"{port_in_use(port)} (sandbox log: output/sandbox.log)")
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except OSError:
            if time.monotonic() > deadline:
                raise SystemExit(f"demo: the sandbox did not answer at {url} (see output/sandbox.log)") from None
            time.sleep(0.2)


def first_run_start(today: dt.date) -> dt.date:
    """Where a first run starts: a week back, or earlier, on the last day of the latest month whose MIR
    ledger Flipkart offers (after the 7th of the next month), so that flipkart_mir_ledger, which reads
    the whole month holding its start, has a month to load."""
    from tap_retail_reports.flipkart.streams import MIR_AVAILABLE_AFTER_DAY

    month = today.replace(day=1)
    if today.day <= MIR_AVAILABLE_AFTER_DAY:  # last month's ledger is not out yet: the month before
        month = (month - dt.timedelta(days=1)).replace(day=1)
    return min(today - dt.timedelta(days=7), month - dt.timedelta(days=1))


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--meltano", required=True)
    parser.add_argument("--port", type=int, default=8765)
    args = parser.parse_args()
    meltano = str(Path(args.meltano).resolve())
    base = f"http://127.0.0.1:{args.port}"
    start = first_run_start(dt.datetime.now(dt.timezone.utc).date())  # the vendors' days are near UTC's
    env = {
        **os.environ,
        # meltano.yml's sandbox environment says port 8765; these override it for any other port.
        "TAP_RETAIL_REPORTS_VROOM_BASE_URL": f"{base}/vroom/api/retailer/v1",
        "TAP_RETAIL_REPORTS_RETREND_BASE_URL": f"{base}/retrend",
        "TAP_RETAIL_REPORTS_DISTRIBU_BASE_URL": f"{base}/distribu",
        "TAP_RETAIL_REPORTS_FOXYCART_BASE_URL": f"{base}/foxycart",
        "TAP_RETAIL_REPORTS_FLIPKART_BASE_URL": f"{base}/flipkart",
        "MELTANO_SEND_ANONYMOUS_USAGE_STATS": "false",
        # A first run reads from there; later runs resume from Meltano's stored state.
        "TAP_RETAIL_REPORTS_START_DATE": start.isoformat(),
        "TAP_RETAIL_REPORTS_DISTRIBU_REQUESTS_PER_MINUTE": str(DEMO_DISTRIBU_PER_MINUTE),
    }
    WAREHOUSE.parent.mkdir(exist_ok=True)
    # Another program on the port would answer the demo's requests in place of the sandbox.
    if port_taken(args.port):
        print(port_in_use(args.port), file=sys.stderr)
        return 1
    sandbox_log = (ROOT / "output" / "sandbox.log").open("w")
    sandbox = subprocess.Popen(
        [str(Path(sys.executable).parent / "tap-retail-reports-sandbox"), "--port", str(args.port)],
        cwd=ROOT, stdout=sandbox_log, stderr=subprocess.STDOUT,
    )
    try:
        wait_for(sandbox, args.port)
        # Distribu allows a key 60 requests a minute; a first run of a month and more takes about 80, so
        # the demo's key is given more (and the tap a budget to match) rather than make the demo wait a minute.
        knob = urllib.request.Request(f"{base}/_sandbox/vendor/distribu", method="POST",
                                      data=json.dumps({"requests_per_minute": DEMO_DISTRIBU_PER_MINUTE}).encode(),
                                      headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(knob, timeout=10):
            pass
        # Only what the demo runs: other loaders in meltano.yml (target-postgres) are not needed here.
        subprocess.run([meltano, "install", "tap-retail-reports", "target-duckdb"], cwd=ROOT, env=env, check=True)
        print(f"\nA first run starts at {start} (the last day of the latest month whose MIR ledger Flipkart has);"
              " later runs resume from their bookmarks.")
        print("\n$ meltano --environment=sandbox run tap-retail-reports target-duckdb", flush=True)
        run = subprocess.run(
            [meltano, "--environment=sandbox", "run", "tap-retail-reports", "target-duckdb"],
            cwd=ROOT, env=env, capture_output=True, text=True, check=False,
        )
        log = run.stdout + run.stderr
        (ROOT / "output" / "last-run.log").write_text(log)
        if run.returncode != 0:
            print(log[-6000:])
            print(f"demo: meltano run failed ({run.returncode}); full log in output/last-run.log")
            return run.returncode
        print("\nWhere each stream started, and the run in one line (full log in output/last-run.log):")
        for line in log.splitlines():
            if re.search(r"no bookmark|lookback day|run summary: ", line):
                message = re.search(r"\b(?:(?:vroom|retrend|distribu|foxycart|flipkart)_\w+|run summary:).*$", line)
                print("  " + (message.group(0) if message else line.strip()))
    finally:
        sandbox.terminate()
        sandbox.wait(timeout=10)
        sandbox_log.close()
    create_typed_views(base)
    print_counts()
    return 0


def declared_columns(base: str) -> dict[str, dict[str, dict]]:
    """Each stream's column schemas as the tap announces them, by table and column as target-duckdb
    names them (lower case): the catalog's, and the CSV columns the tap types when a file has them."""
    from tap_retail_reports.sandbox.credentials import tap_config
    from tap_retail_reports.tap import TapRetailReports

    vendors = ("vroom", "retrend", "distribu", "foxycart", "flipkart")
    tap = TapRetailReports(config=tap_config(base, vendors=vendors), validate_config=False, setup_mapper=False)
    return {
        name: {column.lower(): schema
               for column, schema in {**getattr(stream, "column_types", {}), **stream.schema["properties"]}.items()}
        for name, stream in tap.streams.items()
    }


def typed(loaded_type: str, schema: dict) -> str | None:
    """The DuckDB type for a column target-duckdb 0.8 loaded as `loaded_type`, or None if it is right.

    target-duckdb maps a JSON-schema date to VARCHAR, every number to DOUBLE and an integer without
    a maximum to HUGEINT, and has no setting to change that (0.8.0 is its newest release)."""
    if loaded_type == "VARCHAR" and schema.get("format") == "date":
        return "DATE"
    if loaded_type == "DOUBLE":
        return "DECIMAL(38, 9)"  # money: exact sums, as target-postgres's numeric
    if loaded_type == "HUGEINT":
        return "BIGINT"
    return None


def create_typed_views(base: str) -> None:
    """One view per loaded table in retail_reports_typed, each column cast to the type its schema says."""
    import duckdb

    declared = declared_columns(base)
    with duckdb.connect(str(WAREHOUSE)) as db:
        db.execute(f"create schema if not exists {TYPED}")
        columns = db.execute(
            "select table_name, column_name, data_type from information_schema.columns "
            "where table_schema = ? order by table_name, ordinal_position", [LOADED]
        ).fetchall()
        tables: dict[str, list[str]] = {}
        for table, column, loaded_type in columns:
            cast = typed(loaded_type, declared.get(table, {}).get(column, {}))
            tables.setdefault(table, []).append(f'cast("{column}" as {cast}) as "{column}"' if cast else f'"{column}"')
        for table, selected in tables.items():
            db.execute(f'create or replace view {TYPED}."{table}" as select {", ".join(selected)} from {LOADED}."{table}"')


def print_counts() -> None:
    import duckdb

    with duckdb.connect(str(WAREHOUSE), read_only=True) as db:
        tables = db.execute(
            "select table_schema, table_name from information_schema.tables "
            "where table_schema = ? order by table_name", [LOADED]
        ).fetchall()
        print(f"\nQuery the views in {TYPED}: target-duckdb 0.8 loads dates as VARCHAR, money as DOUBLE and")
        print("integers as HUGEINT; those views cast them to DATE, DECIMAL(38, 9) and BIGINT, as the tap's SCHEMA says.")
        print(f"Rows in {WAREHOUSE.relative_to(ROOT)}, schema {LOADED}:")
        for schema, table in tables:
            (count,) = db.execute(f'select count(*) from "{schema}"."{table}"').fetchone()
            print(f"  {table:<40} {count:>8}")
    print("\n`make sql` opens it in DuckDB's SQL shell; queries to start with are in docs/warehouses.md.")


if __name__ == "__main__":
    sys.exit(main())
