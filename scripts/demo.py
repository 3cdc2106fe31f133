"""`make demo`: the sandbox on loopback, `meltano run tap-retail-reports target-duckdb`, row counts.

Each run is one scheduled run: the first reads the last week, the next ones resume
from the bookmarks Meltano stored, and the summary shows where each stream resumed.
"""

from __future__ import annotations

import argparse
import datetime as dt
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


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--meltano", required=True)
    parser.add_argument("--port", type=int, default=8765)
    args = parser.parse_args()
    meltano = str(Path(args.meltano).resolve())
    base = f"http://127.0.0.1:{args.port}"
    start = dt.datetime.now(dt.timezone.utc).date() - dt.timedelta(days=7)  # the vendors' days are near UTC's
    env = {
        **os.environ,
        # meltano.yml's sandbox environment says port 8765; these override it for any other port.
        "TAP_RETAIL_REPORTS_VROOM_BASE_URL": f"{base}/vroom/api/retailer/v1",
        "TAP_RETAIL_REPORTS_RETREND_BASE_URL": f"{base}/retrend",
        "TAP_RETAIL_REPORTS_DISTRIBU_BASE_URL": f"{base}/distribu",
        "TAP_RETAIL_REPORTS_FOXYCART_BASE_URL": f"{base}/foxycart",
        "TAP_RETAIL_REPORTS_FLIPKART_BASE_URL": f"{base}/flipkart",
        "MELTANO_SEND_ANONYMOUS_USAGE_STATS": "false",
        # A first run reads one week; later runs resume from Meltano's stored state.
        "TAP_RETAIL_REPORTS_START_DATE": start.isoformat(),
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
        # Only what the demo runs: other loaders in meltano.yml (target-postgres) are not needed here.
        subprocess.run([meltano, "install", "tap-retail-reports", "target-duckdb"], cwd=ROOT, env=env, check=True)
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
        print("\nWhere each stream started (full log in output/last-run.log):")
        for line in log.splitlines():
            if re.search(r"no bookmark|lookback day", line):
                message = re.search(r"\b(?:vroom|retrend|distribu|foxycart|flipkart)_\w+.*$", line)
                print("  " + (message.group(0) if message else line.strip()))
    finally:
        sandbox.terminate()
        sandbox.wait(timeout=10)
        sandbox_log.close()
    print_counts()
    return 0


def print_counts() -> None:
    import duckdb

    with duckdb.connect(str(WAREHOUSE), read_only=True) as db:
        tables = db.execute(
            "select table_schema, table_name from information_schema.tables "
            "where table_schema = 'retail_reports' order by table_name"
        ).fetchall()
        print(f"\nRows in {WAREHOUSE.relative_to(ROOT)}:")
        for schema, table in tables:
            (count,) = db.execute(f'select count(*) from "{schema}"."{table}"').fetchone()
            print(f"  {table:<40} {count:>8}")


if __name__ == "__main__":
    sys.exit(main())
