"""Dagster: one op per shard of orchestration/shards.yml, each a `meltano run` with its own state ID.

    make dagster                       # .venv-dagster (Dagster) and .venv-meltano (Meltano)
    .venv-meltano/bin/meltano install  # once, in the Meltano project
    mkdir -p .dagster && DAGSTER_HOME=$PWD/.dagster .venv-dagster/bin/dagster job execute -f orchestration/definitions.py -j retail_reports_shards

The shards are independent ops, so Dagster's multiprocess executor runs up to `max_concurrent`
of them at once, each in its own process. Environment variables (all optional):
  MELTANO_PROJECT_ROOT    the Meltano project (default: this repository)
  MELTANO_BIN             the meltano command (default: .venv-meltano/bin/meltano there, else `meltano`)
  RETAIL_REPORTS_SHARDS   the shards file (default: orchestration/shards.yml)
"""

# No `from __future__ import annotations` here: Dagster reads the ops' `context` annotation at run time.
import collections
import collections.abc
import itertools
import os
import shutil
import subprocess
import sys
from pathlib import Path

from dagster import (
    Definitions,
    Failure,
    OpExecutionContext,
    ScheduleDefinition,
    job,
    multiprocess_executor,
    op,
)

sys.path.insert(0, str(Path(__file__).resolve().parent))  # Dagster loads this file by path
from shard_plan import Plan, Shard, isolate, load_plan

HERE = Path(__file__).resolve().parent
PROJECT_ROOT = Path(os.environ.get("MELTANO_PROJECT_ROOT", HERE.parent)).resolve()
SHARDS_FILE = Path(os.environ.get("RETAIL_REPORTS_SHARDS", HERE / "shards.yml")).resolve()
PLAN = load_plan(SHARDS_FILE, PROJECT_ROOT)


def meltano_command() -> str:
    if os.environ.get("MELTANO_BIN"):
        return os.environ["MELTANO_BIN"]
    local = PROJECT_ROOT / ".venv-meltano" / "bin" / "meltano"
    return str(local) if local.exists() else shutil.which("meltano") or "meltano"


def run_shard(context: OpExecutionContext, plan: Plan, shard: Shard) -> None:
    """Run the shard's `meltano run`; its output goes to this step's captured stderr."""
    command = plan.command(meltano_command(), shard)
    context.log.info(f"state ID {plan.state_id(shard)}: {plan.describe(shard)}")  # noqa: G004  # one message per op: nothing to gain from lazy formatting
    env = plan.env(shard)
    for name in plan.loader_env:  # a per-shard file path: file targets such as target-duckdb do not make folders
        if "/" in env[name] and "://" not in env[name]:
            (PROJECT_ROOT / env[name]).parent.mkdir(parents=True, exist_ok=True)
    tail: collections.deque[str] = collections.deque(maxlen=40)
    with subprocess.Popen(
        command, cwd=PROJECT_ROOT, env={**os.environ, **env, **isolate(PROJECT_ROOT, shard, os.environ)},
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, errors="replace",
    ) as process:
        assert process.stdout is not None
        for line in process.stdout:
            sys.stderr.write(line)
            tail.append(line.rstrip())
    if process.returncode != 0:
        raise Failure(
            description=f"shard {shard.name}: meltano run exited with {process.returncode}: {first_error(tail)}",
            metadata={"state_id": plan.state_id(shard), "last lines": "\n".join(tail)},
        )


def first_error(lines: collections.abc.Iterable[str]) -> str:
    """The tap's own one-line error if it printed one, else Meltano's first error and the line before it."""
    lines = list(lines)
    for line in lines:
        if "tap-retail-reports: error:" in line:
            return line.split("tap-retail-reports: error:", 1)[1].strip()
    for before, line in itertools.pairwise(["", *lines]):
        if "[error" in line:
            return " ".join(part.split("]", 1)[-1].strip() for part in (line, before) if part)
    return "see this step's stderr"


def shard_op(plan: Plan, shard: Shard):
    @op(name=shard.op_name, description=f"`meltano run` for shard {shard.name} ({plan.describe(shard)})",
        tags={"kind": "meltano", "vendor": shard.vendor})
    def run(context: OpExecutionContext) -> None:
        run_shard(context, plan, shard)

    return run


@job(
    description="Every shard of orchestration/shards.yml, each its own `meltano run` and state ID",
    executor_def=multiprocess_executor.configured({"max_concurrent": PLAN.max_concurrent}),
)
def retail_reports_shards():
    for shard in PLAN.shards:
        shard_op(PLAN, shard)()


defs = Definitions(
    jobs=[retail_reports_shards],
    schedules=[ScheduleDefinition(job=retail_reports_shards, cron_schedule="0 6 * * *", execution_timezone="UTC")],
)
