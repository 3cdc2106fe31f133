"""The bare reference for `make bench`: a zip of CSVs to JSON lines, nothing else.

    python scripts/bare_csv_to_jsonl.py report.zip > rows.jsonl

csv.DictReader and json.dumps per row, every member of the zip, one line per row:
the floor any extractor of these files pays (no types, no schema, no state).
"""

from __future__ import annotations

import csv
import io
import json
import sys
import zipfile


def main(path: str) -> None:
    out = sys.stdout
    with zipfile.ZipFile(path) as archive:
        for member in archive.infolist():
            with archive.open(member) as raw:
                for row in csv.DictReader(io.TextIOWrapper(raw, encoding="utf-8", newline="")):
                    out.write(json.dumps(row) + "\n")


if __name__ == "__main__":
    main(sys.argv[1])
