"""Every command the README, the docs/ pages (and meltano.yml's comments) show works, on the versions the
Makefile installs.

Commands are read from the documents' `sh` code blocks, from `meltano ...` commands quoted in the
comments of its other code blocks, and from inline `meltano ...` / `make ...` spans in its prose
and in meltano.yml's comments. They run in a copy of the project (a fresh git repository, so the
test also sees whether anything they write escapes .gitignore), with the Meltano of the Makefile's
`.venv-meltano`, against the bundled sandbox. What a reader must substitute is substituted:
placeholders (`ops@example.com`, `'...'`) become the sandbox's credentials, the user's own
`target-postgres` becomes `target-duckdb`, and `config.json` is a config for the sandbox. `make`
commands are checked with `make -n` (the target exists and its recipe expands): `make demo` runs
for real in test_demo.py, and `make test` is what runs this test.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import shlex
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import yaml

from tap_retail_reports.sandbox import credentials
from tests.conftest import MELTANO, make_target
from tests.documents import document_paths

ROOT = Path(__file__).resolve().parent.parent
VENV_BIN = Path(sys.executable).parent
SANDBOX_VALUES = {  # what the sandbox accepts, for each setting the README sets with a placeholder
    "vroom.username": credentials.VROOM_USERNAME,
    "vroom.password": credentials.VROOM_PASSWORD,
    "retrend.api_key": credentials.RETREND_API_KEY,
    "distribu.api_key": credentials.DISTRIBU_API_KEY,
    "retrend.organization_id": credentials.RETREND_ORGANIZATION_ID,
    "retrend.store_nums": json.dumps(list(credentials.RETREND_STORE_NUMS)),
}
# Put before a code block whose commands another test runs: e.g. the PostgreSQL recipe, which
# tests/test_warehouse_postgres.py runs against a server it starts and stops itself.
RUN_ELSEWHERE = "<!-- run by tests/"
CONFIG_SET = re.compile(r"\bconfig set tap-retail-reports (?P<setting>\S+) (?P<value>.+)$")


# -- what the documents show ------------------------------------------------------------


def strip_comment(line: str) -> str:
    return re.sub(r"(^|\s)#.*$", "", line).strip()


def document_commands(text: str, *, yaml_file: bool = False) -> list[str]:
    """The commands of one document, in the order a reader meets them."""
    commands: list[tuple[int, str]] = []
    prose = text
    if not yaml_file:
        for block in re.finditer(r"^```(\w*)\n(.*?)^```", text, re.MULTILINE | re.DOTALL):
            language, body = block.group(1), block.group(2)
            prose = prose.replace(block.group(0), " " * len(block.group(0)))  # keep offsets
            if RUN_ELSEWHERE in text[max(0, block.start() - 300) : block.start()]:
                continue  # a recipe another test runs as written (it needs a server of its own)
            for n, line in enumerate(body.splitlines()):
                at = block.start(2) + n
                if language in ("sh", "bash", "shell", "console"):
                    if strip_comment(line):
                        commands.append((at, strip_comment(line)))
                else:  # commands quoted in a comment: `# and the key as a secret: meltano config set ...`
                    quoted = re.search(r"#.*?:\s*(meltano\s.+)$", line)
                    if quoted:
                        commands.append((at, quoted.group(1).strip()))
            if language == "yaml":
                commands += [(block.start(2), command) for command in snippet_settings(body)]
    for span in re.finditer(r"`((?:meltano|make|SANDBOX_PORT=\S+ make) [^`]+)`", prose):
        words = span.group(1).split()
        if words[0] != "meltano" or len(words) >= 4:  # `meltano run` alone names a command, it is not one
            commands.append((span.start(), span.group(1)))
    return list(dict.fromkeys(command for _, command in sorted(commands)))


def snippet_settings(body: str) -> list[str]:
    """A meltano.yml snippet's extractor config, as the `meltano config set` commands that store it."""
    snippet = yaml.safe_load(body) or {}
    commands = []
    for extractor in (snippet.get("plugins") or {}).get("extractors") or []:
        for setting, value in flatten(extractor.get("config") or {}):
            text = value if isinstance(value, str) else json.dumps(value)
            commands.append(f"meltano config set {extractor['name']} {setting} {shlex.quote(text)}")
    return commands


def flatten(config: dict, prefix: str = "") -> list[tuple[str, object]]:
    pairs: list[tuple[str, object]] = []
    for key, value in config.items():
        if isinstance(value, dict):
            pairs += flatten(value, f"{prefix}{key}.")
        else:
            pairs.append((f"{prefix}{key}", value))
    return pairs


def shown_commands() -> list[str]:
    shown = [command for path in document_paths() for command in document_commands(path.read_text())]
    return list(dict.fromkeys(shown + document_commands((ROOT / "meltano.yml").read_text(), yaml_file=True)))


def test_the_commands_are_found():
    commands = shown_commands()
    assert "make demo" in commands
    assert any(c.startswith("meltano config set tap-retail-reports vroom.password") for c in commands), commands
    assert any(c.startswith("tap-retail-reports --config config.json --discover") for c in commands), commands


# -- running them ------------------------------------------------------------------------


def meltano_bin() -> Path:
    """The Makefile's Meltano, built by its own rule if this checkout has none yet."""
    return make_target(str(MELTANO.relative_to(ROOT)))


def target_jsonl_bin(tmp_root: Path, meltano: Path) -> Path:
    """target-jsonl, which the README pipes into, in a virtualenv of its own (its pins clash with the tap's)."""
    venv = tmp_root / "target-jsonl"
    uv = meltano.parent / "uv"
    if uv.exists():
        subprocess.run([str(uv), "venv", "-q", str(venv)], check=True, timeout=300)
        subprocess.run([str(uv), "pip", "install", "-q", "--python", str(venv / "bin" / "python"), "target-jsonl"],
                       check=True, timeout=300)
    else:
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=300)
        subprocess.run([str(venv / "bin" / "pip"), "install", "-q", "target-jsonl"], check=True, timeout=600)
    return venv / "bin"


def project_copy(folder: Path, meltano: Path) -> Path:
    """What a fresh clone holds (the files git tracks, as they are in this checkout), plus the two virtualenvs."""
    copy = folder / "project"
    tracked = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, text=True, check=True)
    for name in filter(None, tracked.stdout.split("\0")):
        if (ROOT / name).is_file():
            (copy / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, copy / name)
    (copy / ".venv").symlink_to(ROOT / ".venv")
    (copy / ".venv-meltano").symlink_to(meltano.parent.parent)
    # Never newer than the shared .venv, so `make` here never reinstalls the tap from this copy.
    os.utime(copy / "pyproject.toml", (0, 0))
    for command in (["git", "init", "-q"], ["git", "add", "-A"],
                    ["git", "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "copy"]):
        subprocess.run(command, cwd=copy, check=True, capture_output=True)
    return copy


def as_run(command: str) -> str:
    """The command with the reader's substitutions made."""
    match = CONFIG_SET.search(command)
    if match and match["setting"] in SANDBOX_VALUES:
        command = command[: match.start("value")] + shlex.quote(SANDBOX_VALUES[match["setting"]])
    command = command.replace("target-postgres", "target-duckdb")  # the reader's own loader
    if re.match(r"(\S+=\S+ )*make ", command):
        command = re.sub(r"\bmake ", "make -n ", command, count=1)
    return command


def test_every_command_shown_works(sandbox, tmp_path):
    meltano = meltano_bin()
    copy = project_copy(tmp_path, meltano)
    work = tmp_path / "singer"  # where the plain Singer commands run: config.json is the reader's
    work.mkdir()
    base = f"http://127.0.0.1:{sandbox.port}"
    (work / "config.json").write_text(json.dumps(
        {**credentials.tap_config(base), "start_date": (dt.date.today() - dt.timedelta(days=2)).isoformat()}
    ))
    (work / "state.json").write_text("{}")
    path = os.pathsep.join([str(meltano.parent), str(VENV_BIN), str(target_jsonl_bin(tmp_path, meltano)),
                            os.environ.get("PATH", "")])
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("TAP_RETAIL_REPORTS_", "MELTANO_"))},
        "PATH": path,
        "MELTANO_SEND_ANONYMOUS_USAGE_STATS": "false",
        "TAP_RETAIL_REPORTS_START_DATE": (dt.date.today() - dt.timedelta(days=2)).isoformat(),  # short runs
    }
    # The sandbox, on this test's port, stands in for each vendor the reader has configured so far
    # (a base_url alone, without credentials, is an error of its own).
    base_urls = {"vroom": f"{base}/vroom/api/retailer/v1", "retrend": f"{base}/retrend", "distribu": f"{base}/distribu",
                 "foxycart": f"{base}/foxycart", "flipkart": f"{base}/flipkart"}
    configured: set[str] = set()
    installed = subprocess.run([str(meltano), "install"], cwd=copy, env=env, capture_output=True, text=True,
                               timeout=600, check=False)
    assert installed.returncode == 0, installed.stderr[-3000:]

    commands = shown_commands()
    for command in commands:
        runnable = as_run(command)
        folder = work if runnable.startswith("tap-retail-reports ") else copy
        setting = CONFIG_SET.search(command)
        if setting and setting["setting"].split(".")[0] in base_urls:
            configured.add(setting["setting"].split(".")[0])
        # meltano.yml's default environment is the sandbox, whose config names every vendor.
        in_sandbox = "--environment=sandbox" in command or ("meltano " in command and "--environment=" not in command)
        vendors = base_urls if in_sandbox else configured
        urls = {f"TAP_RETAIL_REPORTS_{vendor.upper()}_BASE_URL": base_urls[vendor] for vendor in vendors}
        done = subprocess.run(["bash", "-o", "pipefail", "-c", runnable], cwd=folder, env={**env, **urls},
                              capture_output=True, text=True, timeout=600, check=False)
        assert done.returncode == 0, f"README command failed: {command}\n(ran: {runnable})\n{done.stderr[-3000:]}"

    # The plain Singer pipeline wrote rows, and the Meltano runs loaded them with what config set stored.
    assert any(path.stat().st_size for path in work.glob("vroom_orders-*.jsonl")), sorted(work.iterdir())
    dotenv = (copy / ".env").read_text()
    assert "TAP_RETAIL_REPORTS_VROOM_PASSWORD" in dotenv and "TAP_RETAIL_REPORTS_DISTRIBU_API_KEY" in dotenv
    # Nothing the commands wrote escapes .gitignore: not .env (secrets), not .meltano/, not output/.
    status = subprocess.run(["git", "status", "--porcelain"], cwd=copy, capture_output=True, text=True, check=True)
    untracked = [line for line in status.stdout.splitlines() if line.startswith("??")]
    assert untracked == [], untracked


# -- the first command's failure mode, and its install -----------------------------------


def test_make_demo_on_a_port_in_use_fails_with_one_line_naming_it(tmp_path):
    meltano = meltano_bin()
    copy = project_copy(tmp_path, meltano)
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        port = squatter.getsockname()[1]
        done = subprocess.run(["make", "demo", f"SANDBOX_PORT={port}"], cwd=copy, capture_output=True, text=True,
                              timeout=300, check=False)
    assert done.returncode != 0
    ours = [line for line in (done.stdout + done.stderr).splitlines() if line.startswith("demo:")]
    assert ours == [(f"demo: port {port} is in use; stop what listens there or pick another port: "
                     "SANDBOX_PORT=9000 make demo")], done.stdout + done.stderr
    assert "Traceback" not in done.stderr
    assert "$ meltano" not in done.stdout and "Installing" not in done.stderr  # stopped before running anything


def test_installing_prints_no_deprecation_warning(tmp_path):
    # `make install` (the first step of `make demo` and `make test`) is `pip install -e .`: its build is this one.
    done = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-w", str(tmp_path), str(ROOT)],
                          capture_output=True, text=True, timeout=600, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "deprecat" not in (done.stdout + done.stderr).lower(), done.stderr[-3000:]


# -- a project of the reader's own, from `meltano init` to a daily schedule ---------------------

NEW_PROJECT = "test_a_new_meltano_project_from_the_readme"
READER_VALUES = {  # the rest of what the README's new project sets, as the sandbox accepts it
    "foxycart.client_id": credentials.FOXYCART_CLIENT_ID,
    "foxycart.client_secret": credentials.FOXYCART_CLIENT_SECRET,
    "foxycart.refresh_token": credentials.FOXYCART_REFRESH_TOKEN,
    "foxycart.store_id": credentials.FOXYCART_STORE_ID,
    "flipkart.client_id": credentials.FLIPKART_CLIENT_ID,
    "flipkart.client_secret": credentials.FLIPKART_CLIENT_SECRET,
    "flipkart.warehouse_ids": json.dumps(list(credentials.FLIPKART_WAREHOUSE_IDS)),
    "start_date": (dt.date.today() - dt.timedelta(days=2)).isoformat(),  # short runs
}


def new_project_commands() -> list[str]:
    """The README's block from `meltano init` to the schedule, the one marked as run by this test."""
    readme = (ROOT / "README.md").read_text()
    marker = readme.index(f"{RUN_ELSEWHERE}test_readme_commands.py ({NEW_PROJECT})")
    block = re.search(r"^```sh\n(.*?)^```", readme[marker:], re.MULTILINE | re.DOTALL)
    assert block, "the README's new-project block is gone"
    return [strip_comment(line) for line in block.group(1).splitlines() if strip_comment(line)]


CLONE_URL = "https://<your git host>/tap-retail-reports.git"  # the README's one placeholder besides settings' values


KEYED_TABLES = ("vroom_orders", "vroom_customer_contacts", "retrend_conversation_delta_report", "distribu_sales_daily",
                "foxycart_customers", "flipkart_orders_report")


def warehouse_rows(project: Path) -> dict[str, tuple[int, int]]:
    """(rows, rows whose primary key another row has too) of each keyed table in the project's DuckDB file."""
    import duckdb

    from tap_retail_reports.tap import TapRetailReports

    config = credentials.tap_config("http://127.0.0.1:9", vendors=("vroom", "retrend", "distribu", "foxycart", "flipkart"))
    streams = TapRetailReports(config=config, validate_config=False, setup_mapper=False).streams
    found = {}
    with duckdb.connect(str(project / "output" / "warehouse.duckdb"), read_only=True) as db:
        for table in KEYED_TABLES:
            keys = ", ".join(f'"{key.lower()}"' for key in streams[table].primary_keys)
            (rows,) = db.execute(f'select count(*) from retail_reports."{table}"').fetchone()
            (twice,) = db.execute(f'select coalesce(sum(n), 0) from (select count(*) as n from retail_reports."{table}" '
                                  f"group by {keys} having count(*) > 1)").fetchone()
            found[table] = (rows, int(twice))
    return found


def test_a_new_meltano_project_from_the_readme(sandbox, tmp_path):
    """Only the README's commands, as written, in an empty folder of the reader's own: the clone URL and the
    settings' values are what the README says to substitute. The project keeps state (the second run resumes
    from its bookmarks), has a catalog (`meltano select --list` lists streams), and its loader upserts: the
    next day's run, which reads the lookback's days again, leaves each keyed table with the same rows."""
    meltano = meltano_bin()
    # This checkout as a git repository, named as the README's URL names it (the clone's folder takes that name).
    source = project_copy(tmp_path / "host", meltano).rename(tmp_path / "host" / "tap-retail-reports.git")
    base = f"http://127.0.0.1:{sandbox.port}"
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("TAP_RETAIL_REPORTS_", "MELTANO_", "VIRTUAL_ENV"))},
        "PATH": os.pathsep.join([str(meltano.parent), os.environ.get("PATH", "")]),
        "MELTANO_SEND_ANONYMOUS_USAGE_STATS": "false",
        # The sandbox on this test's port stands in for each vendor's production URL.
        "TAP_RETAIL_REPORTS_VROOM_BASE_URL": f"{base}/vroom/api/retailer/v1",
        **{f"TAP_RETAIL_REPORTS_{vendor.upper()}_BASE_URL": f"{base}/{vendor}"
           for vendor in ("retrend", "distribu", "foxycart", "flipkart")},
    }
    folder = tmp_path / "reader"
    folder.mkdir()
    outputs: dict[str, list[str]] = {}
    counts = []
    commands = new_project_commands()
    assert commands[0].startswith(f"git clone {CLONE_URL}") and commands[-1].startswith("meltano run ")
    for command in [*commands, commands[-1]]:  # and the scheduled job once more: the next day's run
        match = CONFIG_SET.search(command)
        values = {**SANDBOX_VALUES, **READER_VALUES}
        runnable = command.replace(CLONE_URL, str(source))
        if match and match["setting"] in values:
            runnable = command[: match.start("value")] + shlex.quote(values[match["setting"]])
        done = subprocess.run(["bash", "-o", "pipefail", "-c", f'{runnable}\npwd > "{tmp_path}/.pwd"'], cwd=folder,
                              env=env, capture_output=True, text=True, timeout=900, check=False)
        assert done.returncode == 0, f"README command failed: {command}\n(ran: {runnable})\n{done.stderr[-3000:]}"
        folder = Path((tmp_path / ".pwd").read_text().strip())
        outputs.setdefault(command, []).append(done.stdout + done.stderr)
        if command == commands[-1]:
            counts.append(warehouse_rows(folder))

    shown = outputs["meltano config list tap-retail-reports"][0]
    assert "vroom.password" in shown and credentials.VROOM_PASSWORD not in shown  # masked, as the README says
    listed = outputs["meltano select tap-retail-reports --list"][0]
    for stream in ("vroom_orders", "retrend_conversation_delta_report", "distribu_sales_daily",
                   "foxycart_customers", "flipkart_orders_report"):
        assert stream in listed, listed[-3000:]
    first, second = outputs[commands[-1]]
    assert "vroom_orders: no bookmark; starting at start_date" in first, first[-3000:]
    assert re.search(r"vroom_orders: resuming from bookmark \S+ less 2 lookback day\(s\)", second), second[-3000:]
    assert re.search(r"flipkart_orders_report: resuming from bookmark \S+ less \d+ lookback day\(s\)", second), \
        second[-3000:]
    # Upserted on the keys: the second run read every day again (the lookback covers the whole range), and each
    # keyed table still has one row per key (new rows of today's last hours may have come meanwhile).
    before, after = counts
    for table in KEYED_TABLES:
        assert after[table][1] == before[table][1] == 0, (table, before, after)
        assert 0 < before[table][0] <= after[table][0] < 1.5 * before[table][0], (table, before, after)
    assert "daily-retail-reports" in subprocess.run([str(meltano), "schedule", "list"], cwd=folder, env=env,
                                                    capture_output=True, text=True, check=True).stdout


def test_the_loader_definition_is_the_demo_loader():
    """loaders/target-duckdb.yml (what a reader's project adds) pins what this repository's meltano.yml pins."""
    shipped = yaml.safe_load((ROOT / "loaders" / "target-duckdb.yml").read_text())
    project = yaml.safe_load((ROOT / "meltano.yml").read_text())
    demo = next(p for p in project["plugins"]["loaders"] if p["name"] == "target-duckdb")
    assert shipped["pip_url"] == demo["pip_url"] and shipped["executable"] == demo["executable"]
