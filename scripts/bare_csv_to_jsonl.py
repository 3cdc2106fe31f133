"""The bare reference for `make bench`: a report file (a zip of CSVs, a gzip'd CSV or a CSV)
to JSON lines, nothing else.

    python scripts/bare_csv_to_jsonl.py report.zip > rows.jsonl

csv.DictReader and json.dumps per row, every member of a zip, one line per row:
the floor any extractor of these files pays (no types, no schema, no state).
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import sys
import typing as t
import zipfile


def main(path: str) -> None:
    out = sys.stdout

    def write(raw: t.IO[bytes]) -> None:
        for row in csv.DictReader(io.TextIOWrapper(raw, encoding="utf-8-sig", newline="")):
            out.write(json.dumps(row) + "\n")

    with open(path, "rb") as head:
        magic = head.read(2)
    if zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as archive:
            for member in archive.infolist():
                with archive.open(member) as raw:
                    write(raw)
    elif magic == b"\x1f\x8b":
        with gzip.open(path, "rb") as raw:
            write(raw)
    else:
        with open(path, "rb") as raw:
            write(raw)


if __name__ == "__main__":
    main(sys.argv[1])
