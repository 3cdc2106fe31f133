"""Run one command for `make bench` and measure it from outside: a small parent, so the peak is the command's.

    python scripts/measure_run.py --stderr FILE -- COMMAND ...

Prints one JSON object: exit status, wall seconds, the lines and the Singer RECORD lines (with
--every-line, every line) the command wrote to stdout (read here in 64 KiB chunks and thrown
away), the seconds from the first chunk holding a record to the last one, the seconds from
the start to the first record (and its moment, epoch seconds), and the command's peak RSS from wait4().

Why a separate process: Linux charges a child's ru_maxrss with the memory of the process that
forked it until it calls exec, so a child of the benchmark itself (which holds the sandbox) would
report the benchmark's size, not the tap's. This parent imports nothing heavy.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import time

RECORD = b'{"type":"RECORD"'


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--stderr", required=True)
    parser.add_argument("--every-line", action="store_true", help="count every line as a record (a bare script)")
    parser.add_argument("command", nargs=argparse.REMAINDER)
    args = parser.parse_args()
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    lines = records = 0
    first = last = None
    first_at = None  # epoch seconds: benchmarks compare it with the sandbox's log
    carry = b""  # a record marker may straddle two chunks
    with open(args.stderr, "wb") as errors:
        began = time.perf_counter()
        process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=errors)
        assert process.stdout is not None
        fd = process.stdout.fileno()
        while chunk := os.read(fd, 1 << 16):
            now = time.perf_counter()
            lines += chunk.count(b"\n")
            found = chunk.count(b"\n") if args.every_line else (carry + chunk).count(RECORD)
            carry = chunk[-(len(RECORD) - 1):]
            if found:
                records += found
                if first is None:
                    first, first_at = now, time.time()
                last = now
        _, status, usage = os.wait4(process.pid, 0)
        seconds = time.perf_counter() - began
    print(json.dumps({
        "returncode": os.waitstatus_to_exitcode(status),
        "seconds": seconds,
        "lines": lines,
        "records": records,
        "first_to_last": (last - first) if first is not None else 0.0,
        "first_record": (first - began) if first is not None else None,
        "first_record_at": first_at,
        "max_rss_kb": usage.ru_maxrss,
    }))


if __name__ == "__main__":
    main()
