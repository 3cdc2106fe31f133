"""Write `tap-retail-reports --about --format=markdown` into docs/configuration.md between its markers.

`make about` runs this; tests/test_docs.py fails when the page's copy is stale.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

PAGE = Path(__file__).resolve().parent.parent / "docs" / "configuration.md"
START, END = "<!-- about:start -->", "<!-- about:end -->"


def about_markdown() -> str:
    out = subprocess.run(
        [sys.executable, "-m", "tap_retail_reports.tap", "--about", "--format=markdown"],
        capture_output=True, text=True, check=True,
    ).stdout
    # The about page goes under the page's "## Settings reference": demote its headings two levels.
    return "\n".join("##" + line if line.startswith("#") else line for line in out.strip().splitlines())


def page_with_about(page: str, about: str) -> str:
    head, rest = page.split(START, 1)
    _, tail = rest.split(END, 1)
    return f"{head}{START}\n{about}\n{END}{tail}"


if __name__ == "__main__":
    PAGE.write_text(page_with_about(PAGE.read_text(), about_markdown()))
    print(f"updated {PAGE.relative_to(PAGE.parent.parent)}")
