"""The shard plan: which `meltano run` commands to start, each with its own state ID and settings.

Plain Python (PyYAML only), so the plan can be checked without Dagster; `definitions.py` turns
it into a Dagster job. A shard is one vendor (its streams selected through Meltano's `select`
extra) with optional setting overrides, passed as the environment variables Meltano reads
(`retrend.store_nums` -> TAP_RETAIL_REPORTS_RETREND_STORE_NUMS), and run as
`meltano run --state-id-suffix <shard>`, so each shard keeps its own bookmarks.
"""

from __future__ import annotations

import json
import re
import typing as t
from dataclasses import dataclass, field
from pathlib import Path

import yaml

SHARD_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")
VENDORS = ("vroom", "retrend", "distribu", "foxycart", "flipkart")


class PlanError(ValueError):
    """A problem in the shards file, stated in one line that names the entry."""


@dataclass(frozen=True)
class Shard:
    name: str
    vendor: str
    settings: dict[str, t.Any] = field(default_factory=dict)
    streams: tuple[str, ...] = ()

    @property
    def op_name(self) -> str:
        """Dagster op names allow letters, digits and underscores only."""
        return "shard_" + self.name.replace("-", "_")

    @property
    def select(self) -> list[str]:
        return list(self.streams) or [f"{self.vendor}_*.*"]


@dataclass(frozen=True)
class Plan:
    environment: str
    extractor: str
    loader: str
    shards: tuple[Shard, ...]
    max_concurrent: int = 2
    loader_env: dict[str, str] = field(default_factory=dict)
    secret_settings: frozenset[str] = frozenset()

    def state_id(self, shard: Shard) -> str:
        """The ID Meltano stores this shard's state under (`meltano state get <id>`)."""
        return f"{self.environment}:{self.extractor}-to-{self.loader}:{shard.name}"

    def command(self, meltano: str, shard: Shard) -> list[str]:
        return [
            meltano, f"--environment={self.environment}", "run",
            "--state-id-suffix", shard.name, self.extractor, self.loader,
        ]

    def env(self, shard: Shard) -> dict[str, str]:
        """The variables that make one `meltano run` this shard (added to the caller's environment)."""
        prefix = env_name(self.extractor)
        env = {f"{prefix}__SELECT": json.dumps(shard.select)}
        for setting, value in shard.settings.items():
            env[f"{prefix}_{env_name(setting)}"] = value if isinstance(value, str) else json.dumps(value)
        for name, value in self.loader_env.items():
            env[name] = value.format(shard=shard.name)
        return env

    def describe(self, shard: Shard) -> str:
        """The shard's overrides for a log line, secrets masked."""
        shown = {name: "***" if name in self.secret_settings else value for name, value in shard.settings.items()}
        return f"select {shard.select}" + "".join(f", {name}={json.dumps(v)}" for name, v in shown.items())


# Where `meltano install` puts plugins, one folder per plugin type, under .meltano/.
PLUGIN_DIRS = ("extractors", "loaders", "mappers", "transformers", "utilities", "orchestrators", "files")


def isolate(project_root: Path, shard: Shard, environ: t.Mapping[str, str]) -> dict[str, str]:
    """Meltano variables that give the shard a .meltano of its own, sharing plugins and state.

    Meltano 4.4 writes an extractor's catalog and incoming state to fixed paths under
    .meltano/run/<extractor>/ (meltano/meltano#8763), so two runs of one extractor in one project
    overwrite each other's files: a shard fails on a vanished catalog, or starts from another
    shard's bookmarks. Each shard's system directory links to the project's installed plugins, and
    its state goes to the project's system database, so `meltano state list` there shows every shard.
    """
    sys_dir = project_root / ".meltano"
    own = sys_dir / "shards" / shard.name
    own.mkdir(parents=True, exist_ok=True)
    for name in PLUGIN_DIRS:
        link = own / name
        if (sys_dir / name).is_dir() and not link.is_symlink():
            link.symlink_to(sys_dir / name, target_is_directory=True)
    env = {"MELTANO_SYS_DIR_ROOT": str(own)}
    if "MELTANO_DATABASE_URI" not in environ and not _sets_database_uri(project_root):
        env["MELTANO_DATABASE_URI"] = f"sqlite:///{sys_dir / 'meltano.db'}"
    return env


def _sets_database_uri(project_root: Path) -> bool:
    try:
        project = yaml.safe_load((project_root / "meltano.yml").read_text()) or {}
    except (OSError, yaml.YAMLError):
        return False
    return "database_uri" in project


def env_name(setting: str) -> str:
    """Meltano's environment variable name part for a setting or plugin name."""
    return re.sub(r"[^A-Za-z0-9]", "_", setting).upper()


def load_plan(shards_file: Path, project_root: Path) -> Plan:
    """Read and check the shards file against the Meltano project's extractor settings."""
    where = str(shards_file)
    try:
        raw = yaml.safe_load(shards_file.read_text())
    except OSError as exc:
        raise PlanError(f"{where}: cannot read the shards file ({exc.strerror})") from None
    except yaml.YAMLError as exc:
        raise PlanError(f"{where}: not valid YAML ({str(exc).splitlines()[0]})") from None
    if not isinstance(raw, dict):
        raise PlanError(f"{where}: expected a mapping with `meltano` and `shards`")
    meltano = raw.get("meltano") or {}
    unknown = set(raw) - {"meltano", "max_concurrent", "shards"}
    if unknown:
        raise PlanError(f"{where}: unknown key(s) {', '.join(sorted(unknown))} (expected meltano, max_concurrent, shards)")
    extractor = meltano.get("extractor", "tap-retail-reports")
    known, secret = extractor_settings(project_root, extractor)
    shards = tuple(
        _shard(where, name, entry, known) for name, entry in (raw.get("shards") or {}).items()
    )
    if not shards:
        raise PlanError(f"{where}: no shards listed under `shards`")
    ops = [shard.op_name for shard in shards]
    clash = sorted({name for name in ops if ops.count(name) > 1})
    if clash:
        raise PlanError(f"{where}: shard names differ only by '-' and '_' ({', '.join(clash)})")
    max_concurrent = raw.get("max_concurrent", 2)
    if isinstance(max_concurrent, bool) or not isinstance(max_concurrent, int) or max_concurrent < 1:
        raise PlanError(f"{where}: max_concurrent must be a whole number of at least 1, got {max_concurrent!r}")
    loader_env = meltano.get("loader_env") or {}
    if not all(isinstance(v, str) for v in loader_env.values()):
        raise PlanError(f"{where}: meltano.loader_env values must be strings")
    return Plan(
        environment=str(meltano.get("environment", "prod")),
        extractor=extractor,
        loader=str(meltano.get("loader", "target-duckdb")),
        shards=shards,
        max_concurrent=max_concurrent,
        loader_env=dict(loader_env),
        secret_settings=frozenset(secret),
    )


def _shard(where: str, name: t.Any, entry: t.Any, known: set[str]) -> Shard:
    if not isinstance(name, str) or not SHARD_NAME.match(name):
        raise PlanError(
            f"{where}: shard name {name!r} must be lower-case letters, digits, '-' or '_' (it becomes the state ID suffix)"
        )
    if not isinstance(entry, dict):
        raise PlanError(f"{where}: shard {name}: expected a mapping with `vendor`")
    unknown = set(entry) - {"vendor", "settings", "streams"}
    if unknown:
        raise PlanError(f"{where}: shard {name}: unknown key(s) {', '.join(sorted(unknown))} (expected vendor, settings, streams)")
    vendor = entry.get("vendor")
    if vendor not in VENDORS:
        raise PlanError(f"{where}: shard {name}: vendor must be one of {', '.join(VENDORS)}, got {vendor!r}")
    settings = entry.get("settings") or {}
    if not isinstance(settings, dict):
        raise PlanError(f"{where}: shard {name}: settings must be a mapping of setting name to value")
    for setting in settings:
        if setting not in known:
            raise PlanError(f"{where}: shard {name}: unknown setting {setting!r} (settings use Meltano's names, e.g. retrend.store_nums)")
        owner = setting.split(".", 1)[0]
        if owner in VENDORS and owner != vendor:
            raise PlanError(f"{where}: shard {name}: setting {setting} belongs to {owner}, but this shard reads {vendor}")
    streams = entry.get("streams") or ()
    if isinstance(streams, str) or not all(isinstance(s, str) for s in streams):
        raise PlanError(f"{where}: shard {name}: streams must be a list of Meltano select patterns")
    return Shard(name=name, vendor=vendor, settings=dict(settings), streams=tuple(streams))


def extractor_settings(project_root: Path, extractor: str) -> tuple[set[str], set[str]]:
    """The extractor's setting names, and those marked sensitive, from the project's meltano.yml.

    Meltano ignores an environment variable for a setting it does not know, so a misspelt
    override would silently read every store: the plan refuses it instead.
    """
    meltano_yml = project_root / "meltano.yml"
    try:
        project = yaml.safe_load(meltano_yml.read_text()) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise PlanError(f"{meltano_yml}: cannot read the Meltano project ({exc})") from None
    for plugin in project.get("plugins", {}).get("extractors", []):
        if plugin.get("name") == extractor:
            settings = plugin.get("settings") or []
            names = {s["name"] for s in settings}
            return names, {s["name"] for s in settings if s.get("sensitive")}
    raise PlanError(f"{meltano_yml}: no extractor named {extractor}")
