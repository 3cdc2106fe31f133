"""Write `tap-retail-reports --about --format=markdown` into README.md between its markers.

`make about` runs this; tests/test_docs.py fails when the README's copy is stale.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

README = Path(__file__).resolve().parent.parent / "README.md"
START, END = "<!-- about:start -->", "<!-- about:end -->"


def about_markdown() -> str:
    out = subprocess.run(
        [sys.executable, "-m", "tap_retail_reports.tap", "--about", "--format=markdown"],
        capture_output=True, text=True, check=True,
    ).stdout
    # The README has its own title; demote the about page's headings one level.
    return "\n".join("#" + line if line.startswith("#") else line for line in out.strip().splitlines())


def readme_with_about(readme: str, about: str) -> str:
    head, rest = readme.split(START, 1)
    _, tail = rest.split(END, 1)
    return f"{head}{START}\n{about}\n{END}{tail}"


if __name__ == "__main__":
    README.write_text(readme_with_about(README.read_text(), about_markdown()))
    print(f"updated {README.name}")
