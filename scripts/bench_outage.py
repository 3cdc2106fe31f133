"""`make bench`'s row for a run that cannot read anything: every vendor down (issue 17.3).

Every call of the five vendors answers 503 (the sandbox's `error_rate` 1.0), with the tap's own
retries (6 attempts, 31 s of waits a call). The aim is a run that ends in under 90 s, with exit 1,
no record and one line per vendor; before the outage probes it took 156 s, one vendor's retries
after another.
"""

from __future__ import annotations

import typing as t

import requests

if t.TYPE_CHECKING:
    from scripts.bench import Bench

VENDORS = ("retrend", "foxycart", "distribu", "flipkart", "vroom")
BEFORE_SECONDS = 156  # measured at bb9f8f8, before the probes, on this machine


def all_vendors_down(bench: Bench) -> None:
    requests.post(f"{bench.base}/_sandbox/faults", json={"error_rate": 1.0}, timeout=30).raise_for_status()
    try:
        run = bench.tap(bench.config(VENDORS, "2026-10-05", "2026-10-07"), check=False)
    finally:
        requests.post(f"{bench.base}/_sandbox/faults", json={}, timeout=30).raise_for_status()
    errors = [line for line in run.stderr.splitlines() if "| ERROR" in line and "| failed: " not in line]
    said = {vendor: sum(f"| {vendor} is down: " in line for line in errors) for vendor in VENDORS}
    lines = "one line each" if set(said.values()) == {1} else f"lines per vendor {said}"
    down = sum(map(bool, said.values()))
    bench.row("Five vendors down (every call 503): run time, s", f"{run.seconds:.0f}", "< 90",
              f"exit {run.returncode}, {run.records} records, {down} of 5 vendors said down, {lines} "
              f"(and one summary line each); {BEFORE_SECONDS} s before the outage probes")
