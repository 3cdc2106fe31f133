"""Write `tap-retail-reports --about --format=markdown` into docs/configuration.md between its markers,
and the settings of meltano.yml's extractor into meltano-plugin.yml (the definition users copy).

`make about` runs this; tests/test_docs.py fails when either copy is stale.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PAGE = ROOT / "docs" / "configuration.md"
PLUGIN = ROOT / "meltano-plugin.yml"
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


def plugin_with_project_settings(plugin: str) -> str:
    """meltano-plugin.yml with its `settings:` list (its last key) taken from meltano.yml's extractor."""
    import yaml  # Meltano's and the tests' dependency, imported only here

    project = yaml.safe_load((ROOT / "meltano.yml").read_text())
    extractor = next(e for e in project["plugins"]["extractors"] if e["name"] == "tap-retail-reports")
    head = plugin.split("\nsettings:\n", 1)[0]
    settings = yaml.safe_dump(extractor["settings"], sort_keys=False, width=1000, allow_unicode=True)
    return f"{head}\nsettings:\n{settings}"


if __name__ == "__main__":
    PAGE.write_text(page_with_about(PAGE.read_text(), about_markdown()))
    PLUGIN.write_text(plugin_with_project_settings(PLUGIN.read_text()))
    print(f"updated {PAGE.relative_to(ROOT)} and {PLUGIN.relative_to(ROOT)}")
