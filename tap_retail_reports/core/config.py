"""Configuration checks that JSON Schema cannot express, each giving one line.

A line names the setting the way Meltano users write it (`vroom.password`) and
says what is wrong with it. Nothing here sends a request.
"""

from __future__ import annotations

import datetime as dt
import difflib
import ipaddress
import json
import os
import re
import typing as t
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from dotenv import dotenv_values, find_dotenv
from singer_sdk import typing as th

from tap_retail_reports.core.errors import TapError
from tap_retail_reports.core.windows import parse_when

if t.TYPE_CHECKING:
    from tap_retail_reports.core.streams import ReportStream


@dataclass(frozen=True)
class Vendor:
    """What the tap needs to know of one vendor to configure and list its streams."""

    key: str  # the config object's name, also the streams' prefix
    title: str
    default_base_url: str
    settings: list[th.Property]  # beside base_url, which every vendor has
    credential_sets: tuple[tuple[str, ...], ...]  # any one complete set activates the vendor
    streams: t.Callable[[dict], list[type[ReportStream]]]  # stream classes, given the vendor config
    required: tuple[str, ...] = ()  # needed once active
    check: t.Callable[[dict], list[str]] | None = None  # more checks once active
    defaults: dict[str, t.Any] = field(default_factory=dict)

    def schema_property(self) -> th.Property:
        return th.Property(
            self.key,
            th.ObjectType(
                th.Property(
                    "base_url",
                    th.StringType,
                    description=f"API base URL (default {self.default_base_url}); "
                    "http is accepted only for loopback hosts",
                ),
                *self.settings,
            ),
            description=f"{self.title}: active when its credentials are set",
        )

    def credential_keys(self) -> set[str]:
        return {key for keys in self.credential_sets for key in keys}

    def is_active(self, config: t.Mapping[str, t.Any]) -> bool:
        vendor_config = config.get(self.key) or {}
        return any(all(_present(vendor_config.get(k)) for k in keys) for keys in self.credential_sets)

    def problems(self, config: dict) -> list[str]:
        vendor_config = config.get(self.key)
        if vendor_config is None:
            return []
        present = {k for k in self.credential_keys() if _present(vendor_config.get(k))}
        options = " or ".join(" and ".join(f"{self.key}.{k}" for k in keys) for keys in self.credential_sets)
        if not present:
            # Settings without credentials are most likely a secret that did not arrive
            # (a mistyped environment variable): say so rather than skip the vendor quietly.
            others = sorted(f"{self.key}.{k}" for k, v in vendor_config.items() if _present(v))
            if others:
                return [f"{self.key} has settings ({', '.join(others)}) but no credentials: set {options}"]
            return []
        if not self.is_active(config):
            # What is missing from the set the user started on (the one with the most keys given),
            # not from every set: client_id alone lacks client_secret, not also access_token.
            closest = max(self.credential_sets, key=lambda keys: len(present & set(keys)))
            missing = sorted(f"{self.key}.{k}" for k in closest if k not in present)
            return [f"{self.key} is half-configured: {', '.join(missing)} missing (set {options})"]
        problems = [
            f"{self.key}.{key} is required when {self.key} is configured"
            for key in self.required
            if not _present(vendor_config.get(key))
        ]
        problems += check_base_url(f"{self.key}.base_url", vendor_config.get("base_url"))
        if self.check:
            problems += self.check(vendor_config)
        return problems


def unknown_settings(config: t.Any, schema: dict, nested: t.Collection[str] = ()) -> list[str]:
    """One line per key of `config` that `schema` does not declare, with the closest valid name; inside, only
    the objects named in `nested` (the vendors'), since the SDK's own (stream_maps, ...) hold the user's names."""
    if not isinstance(config, dict):
        return []
    properties = schema.get("properties") or {}
    # Every valid name, dotted as Meltano writes them: `vroom_password` is close to `vroom.password`.
    names = list(properties) + [
        f"{key}.{name}" for key in nested for name in (properties.get(key) or {}).get("properties") or {}
    ]
    unknown = [key for key in config if key not in properties]
    for key in nested:
        inner = config.get(key)
        if isinstance(inner, dict):
            declared = (properties.get(key) or {}).get("properties") or {}
            unknown += [f"{key}.{name}" for name in inner if name not in declared]
    problems = []
    for setting in unknown:
        close = difflib.get_close_matches(setting, names, n=1, cutoff=0.6)
        hint = f"did you mean {close[0]}?" if close else "see `tap-retail-reports --about` for the settings"
        problems.append(f"{setting} is not a setting; {hint}")
    return problems


def _present(value: object) -> bool:
    return value not in (None, "", [], {})


def check_base_url(setting: str, value: object) -> list[str]:
    if value in (None, ""):
        return []
    if not isinstance(value, str):
        return [f"{setting} must be a URL"]
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return [f"{setting} must be an http(s) URL with a host, got {value!r}"]
    if parts.scheme == "http" and not is_loopback(parts.hostname):
        return [f"{setting} uses http with non-loopback host {parts.hostname!r}: use https"]
    if parts.username or parts.password:
        return [f"{setting} must not carry credentials; use the vendor's credential settings"]
    return []


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_date(setting: str, value: object) -> tuple[list[str], dt.datetime | None]:
    if value in (None, ""):
        return [], None
    try:
        return [], parse_when(value)  # type: ignore[arg-type]  # any other type is read through str()
    except ValueError:
        return [f"{setting} is not a date or date-time (YYYY-MM-DD or ISO-8601): {value!r}"], None


def check_choices(setting: str, values: object, allowed: t.Sequence[str]) -> list[str]:
    if values is None:
        return []
    if not isinstance(values, list) or not values:
        return [f"{setting} must be a non-empty list of: {', '.join(allowed)}"]
    unknown = [v for v in values if v not in allowed]
    if unknown:
        return [f"{setting} has unknown value(s) {', '.join(map(repr, unknown))}; allowed: {', '.join(allowed)}"]
    return []


def check_string_list(setting: str, value: object) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(item, str) and item for item in value):
        return [f"{setting} must be a list of non-empty strings, got {value!r}"]
    return []


def check_int(setting: str, value: object, minimum: int) -> list[str]:
    if value is None:
        return []
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        return [f"{setting} must be a whole number of at least {minimum}, got {value!r}"]
    return []


_SCHEMA_ERROR_PATH = re.compile(r"^(?P<message>.*) in config(?P<path>(?:\[[^\]]+\])+)$", re.DOTALL)


def readable_schema_error(error: str, schema: dict) -> str:
    """The SDK's `... in config['vroom']['password']` as `vroom.password: ...`, never echoing a secret."""
    match = _SCHEMA_ERROR_PATH.match(error)
    if not match:
        return error
    path = [part.strip("'\"") for part in re.findall(r"\[([^\]]+)\]", match["path"])]
    setting = ".".join(path)
    node: dict = schema
    for part in path:
        node = (node.get("properties") or {}).get(part) or {}
    if node.get("secret"):
        return f"{setting}: has the wrong type (the value is not shown: it is a secret)"
    return f"{setting}: {match['message']}"


def secret_values(schema: dict, config: t.Any) -> t.Iterator[str]:
    """The config values whose schema property is marked secret, at any depth."""
    if not isinstance(config, dict):
        return
    for name, prop in (schema.get("properties") or {}).items():
        value = config.get(name)
        if value is None:
            continue
        if prop.get("secret") and isinstance(value, str):
            yield value
        elif isinstance(value, dict):
            yield from secret_values(prop, value)


TRUE_WORDS = ("1", "true", "t", "yes", "y", "on")


def with_nested_env_settings(config: dict, schema: dict, prefix: str, nested: t.Collection[str]) -> dict:
    """`config` with the settings of the objects in `nested` from their own variables (see nested_env_settings),
    in the environment or a `.env` file (the folder's or above it), as the SDK reads top-level ones.
    Raises TapError naming a variable whose value is not of its setting's type."""
    from_file = {name: value for name, value in dotenv_values(find_dotenv(usecwd=True)).items() if value is not None}
    try:
        found = nested_env_settings(schema, prefix, nested, {**from_file, **os.environ})
    except ValueError as exc:
        raise TapError(str(exc)) from None
    return {**config, **{key: {**(config.get(key) or {}), **values} for key, values in found.items()}}


def nested_env_settings(schema: dict, prefix: str, nested: t.Collection[str],
                        environ: t.Mapping[str, str]) -> dict[str, dict]:
    """The settings of the objects named in `nested` found in `environ`, one variable per setting as Meltano
    names them (`vroom.password` is `<PREFIX>VROOM_PASSWORD`), where the SDK's `--config ENV` reads only
    top-level ones. Typed as each setting's schema says; a value of another type raises ValueError."""
    properties = schema.get("properties") or {}
    found: dict[str, dict] = {}
    for key in nested:
        for name, setting in ((properties.get(key) or {}).get("properties") or {}).items():
            variable = f"{prefix}{key}_{name}".upper().replace("-", "_")
            if variable in environ:
                found.setdefault(key, {})[name] = _typed(variable, environ[variable], setting)
    return found


def _typed(variable: str, text: str, schema: dict) -> t.Any:
    types = schema.get("type") or []
    types = [types] if isinstance(types, str) else types
    if "integer" in types:
        try:
            return int(text)
        except ValueError:
            raise ValueError(f"{variable} must be a whole number, got {text!r}") from None
    if "boolean" in types:
        return text.strip().lower() in TRUE_WORDS
    if "array" in types or "object" in types:
        try:
            return json.loads(text)
        except ValueError:
            if "array" in types and (schema.get("items") or {}).get("type") in ("string", ["string"]):
                return [item.strip() for item in text.split(",") if item.strip()]  # `a,b`, as the SDK reads lists
            kind = "JSON list" if "array" in types else "JSON object"
            raise ValueError(f"{variable} must be a {kind}, got {text!r}") from None
    return text
