"""Every private name of the Singer SDK the tap uses, each behind one seam here (docs/developing.md, "SDK seams").

The pin `singer-sdk~=0.54.9` holds them today; a release may rename or drop any. This module checks them all when
it is imported and stops the tap with one line naming each seam the installed SDK lacks, so that no override goes
silently uncalled; tests/test_sdk_seams.py holds what each seam does.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import inspect
import typing as t
from dataclasses import dataclass

if t.TYPE_CHECKING:
    import requests
    from singer_sdk import Stream

    # The SDK's public `Stream.get_batches` hook takes and yields these, which only a private module defines.
    from singer_sdk.helpers._batch import BaseBatchFileEncoding, BatchConfig  # noqa: F401  # re-exported
    from singer_sdk.helpers.types import Context
    from singer_sdk.mapper import PluginMapper
    from singer_sdk.streams.rest import RESTStream

F = t.TypeVar("F", bound=t.Callable[..., t.Any])


class SdkSeamMissing(SystemExit):
    """The installed SDK lacks a seam: the tap stops at import with one line (exit 1), before any request."""


def parameters(function: t.Callable[..., t.Any]) -> str:
    """A function's parameters as written, without annotations: `(self, latest_record, *, context=None)`."""
    signature = inspect.signature(function)
    bare = [parameter.replace(annotation=inspect.Parameter.empty) for parameter in signature.parameters.values()]
    return str(signature.replace(parameters=bare, return_annotation=inspect.Signature.empty))


def resolve(path: str) -> t.Any:
    """`module:Name.member` of the installed SDK (a property gives its getter), or None if it has none."""
    module_name, _, attributes = path.partition(":")
    try:
        found: t.Any = importlib.import_module(module_name)
    except ImportError:
        return None
    for attribute in filter(None, attributes.split(".")):
        found = inspect.getattr_static(found, attribute, None)
        if isinstance(found, property):
            found = found.fget
    return found


@dataclass(frozen=True)
class Seam:
    """One SDK private name the tap calls, replaces or sets: why, and the SDK behaviour it relies on."""

    name: str
    members: tuple[str, ...]  # `module:Class.member` paths that must exist; the first is the seam's own
    why: str
    relies_on: str
    signature: str | None = None  # the first member's parameters, when it is a method
    uses: tuple[tuple[str, str], ...] = ()  # (SDK function, name): the function still reads or sets that name

    def problem(self) -> str | None:
        """What the installed SDK lacks of this seam, in a few words; None when it has it all."""
        for path in self.members:
            if resolve(path) is None:
                return f"{self.name}: no {path}"
        if self.signature is not None and (found := parameters(resolve(self.members[0]))) != self.signature:
            return f"{self.name}: {self.members[0]}{found}, not {self.signature}"
        for path, name in self.uses:
            code = getattr(resolve(path), "__code__", None)
            if code is None or name not in code.co_names:
                return f"{self.name}: {path} no longer uses {name}"
        return None

    def override(self, method: F) -> F:
        """Mark `method` as the tap's replacement of this seam's SDK method, whose name and parameters it must have."""
        expected = self.members[0].rpartition(".")[2]
        if method.__name__ != expected or parameters(method) != self.signature:
            raise TypeError(f"{method.__qualname__}{parameters(method)} does not replace {self.members[0]}{self.signature}")
        method.__sdk_seam__ = self.name  # type: ignore[attr-defined]  # tests/test_sdk_seams.py finds overrides by it
        return method


STREAM = "singer_sdk.streams.core:Stream"
REST_STREAM = "singer_sdk.streams.rest:RESTStream"
PLUGIN = "singer_sdk.plugin_base:PluginBase"
TAP = "singer_sdk.tap_base:Tap"
MAPPER = "singer_sdk.mapper:PluginMapper"
BATCH = "singer_sdk.helpers._batch:"

# -- calls into the SDK --------------------------------------------------------------------------------------

SEND_REQUEST = Seam(
    "send_request", (f"{REST_STREAM}._request",),
    why="`ReportStream.call` sends one request to any URL (a token, a job link) with the stream's authenticator, "
        "retries and `validate_response`: the SDK's public path only pages through `request_records`.",
    relies_on="`RESTStream._request(prepared_request, context)` authenticates, sends on `requests_session`, logs the "
              "request metric, calls `validate_response` and returns the response.",
    signature="(self, prepared_request, context)",
)
WRITE_SCHEMA = Seam(
    "write_schema", (f"{STREAM}._write_schema_message",),
    why="Columns learned from a file's header are announced in a new SCHEMA message before their first record.",
    relies_on="`Stream._write_schema_message()` writes one SCHEMA per stream map, from `stream_maps`.",
    signature="(self)",
)
WRITE_STATE = Seam(
    "write_state", (f"{STREAM}._write_state_message",),
    why="A finished window, or a job created, goes to STATE at once, even with no record since the last STATE.",
    relies_on="`Stream._write_state_message()` writes the tap's state when `state_manager.is_flushed` is false, then "
              "sets it.",
    signature="(self)",
    uses=((f"{STREAM}._write_state_message", "is_flushed"),),
)
STATE_DUE = Seam(
    "state_due", (f"{STREAM}._write_record_message",),
    why="The fast path writes RECORD lines itself; the SDK must still write a STATE after them.",
    relies_on="`Stream._write_record_message` clears `state_manager.is_flushed` after each record (a STATE is due); "
              "the SDK writes one when it is clear.",
    uses=((f"{STREAM}._write_record_message", "is_flushed"),),
)
STREAM_MAPS_CACHE = Seam(
    "stream_maps_cache", (f"{STREAM}.stream_maps",),
    why="Records are conformed to the schema the stream's maps were built with: learned columns need new maps.",
    relies_on="`Stream.stream_maps` caches the maps in `_stream_maps` and fetches them from the mapper again when it "
              "is empty.",
    uses=((f"{STREAM}.stream_maps", "_stream_maps"),),
)
MAPPER_STREAM_MAPS = Seam(
    "mapper_stream_maps", (f"{MAPPER}.register_raw_stream_schema",),
    why="The mapper must build a stream's maps again for a schema that was changed in place.",
    relies_on="`PluginMapper.register_raw_stream_schema` keeps maps in `stream_maps[name]` and skips a schema equal "
              "to the one registered: dropping the entry first makes it build them again.",
    signature="(self, stream_name, schema, key_properties)",
    uses=((f"{MAPPER}.register_raw_stream_schema", "stream_maps"),),
)
TABLE_VERSION = Seam(
    "writes_table_versions", (f"{STREAM}._generate_record_messages",),
    why="The fast path writes RECORD lines without a table version: a stream that has one takes the SDK's path.",
    relies_on="`Stream._stream_version` is the version the SDK's RECORD messages carry (set in `sync` for a "
              "FULL_TABLE stream with `emit_activate_version_messages`), None otherwise.",
    uses=((f"{STREAM}._generate_record_messages", "_stream_version"),),
)
BATCH_TYPES = Seam(
    "batch_types", (f"{BATCH}BatchConfig", f"{BATCH}BaseBatchFileEncoding"),
    why="`WindowedStream.get_batches` (a public hook) is typed with the SDK's batch types.",
    relies_on="`singer_sdk.helpers._batch` defines `BatchConfig` and `BaseBatchFileEncoding` (imported for type "
              "checks only).",
)

# -- SDK methods the tap replaces ----------------------------------------------------------------------------

RECORD_MESSAGES = Seam(
    "record_messages", (f"{STREAM}._generate_record_messages",),
    why="A RECORD's `time_extracted` is when its answer or file arrived, not when the line is written.",
    relies_on="The SDK's per-record path makes every RECORD message in `Stream._generate_record_messages(record)`, "
              "a generator of `RecordMessage`.",
    signature="(self, record)",
)
INCREMENT_STATE = Seam(
    "increment_stream_state", (f"{STREAM}._increment_stream_state",),
    why="Bookmarks advance per finished window (`checkpoint`), not per record: rows in a window come in no order.",
    relies_on="`Stream._sync_records` advances a bookmark only through `_increment_stream_state`, once per record.",
    signature="(self, latest_record, *, context=None)",
    uses=((f"{STREAM}._sync_records", "_increment_stream_state"),),
)
STARTING_VALUE = Seam(
    "write_starting_replication_value", (f"{STREAM}._write_starting_replication_value",),
    why="A windowed stream says where it starts, lookback included; the SDK would log start_date as a bookmark.",
    relies_on="`Stream._sync_records` calls `_write_starting_replication_value(context)` once per partition; it only "
              "logs and sets a starting marker that the tap does not read.",
    signature="(self, context)",
    uses=((f"{STREAM}._sync_records", "_write_starting_replication_value"),),
)
VALIDATE_CONFIG = Seam(
    "validate_config", (f"{PLUGIN}._validate_config",),
    why="A bad config gets one readable line per problem, every secret redacted first.",
    relies_on="`PluginBase.__init__` calls `_validate_config(raise_errors=...)` once the config is read; the SDK's "
              "raises `ConfigValidationError` with the schema's errors.",
    signature="(self, *, raise_errors=True)",
    uses=((f"{PLUGIN}.__init__", "_validate_config"),),
)
HANDLE_TERMINATION = Seam(
    "handle_termination", (f"{TAP}._handle_termination",),
    why="SIGINT/SIGTERM finish the Singer line being written, write the last STATE and exit 130/143, never 0.",
    relies_on="`PluginBase` installs `_handle_termination(signum, frame)` as the SIGINT and SIGTERM handler.",
    signature="(self, signum, frame)",
    uses=((f"{PLUGIN}._setup_signal_handlers", "_handle_termination"),),
)

SEAMS: tuple[Seam, ...] = (
    SEND_REQUEST, WRITE_SCHEMA, WRITE_STATE, STATE_DUE, STREAM_MAPS_CACHE, MAPPER_STREAM_MAPS, TABLE_VERSION,
    BATCH_TYPES, RECORD_MESSAGES, INCREMENT_STATE, STARTING_VALUE, VALIDATE_CONFIG, HANDLE_TERMINATION,
)


def missing_seams() -> list[str]:
    """What the installed SDK lacks, one entry per seam; empty when it has them all."""
    return [problem for seam in SEAMS if (problem := seam.problem()) is not None]


def check_seams() -> None:
    """Stop with one line naming each seam the installed SDK lacks (SdkSeamMissing: exit 1)."""
    problems = missing_seams()
    if problems:
        version = importlib.metadata.version("singer-sdk")
        raise SdkSeamMissing(
            f"tap-retail-reports: error: singer-sdk {version} lacks what this tap relies on: {'; '.join(problems)} "
            '(the tap is tested with singer-sdk~=0.54.9; see docs/developing.md, "SDK seams")')


# -- the seams' calls ----------------------------------------------------------------------------------------


def send_request(stream: RESTStream, prepared: requests.PreparedRequest, context: Context | None) -> requests.Response:
    """One authenticated request through the SDK's own call (SEND_REQUEST)."""
    return stream._request(prepared, context)


def write_schema(stream: Stream) -> None:
    """The stream's SCHEMA message, again (WRITE_SCHEMA)."""
    stream._write_schema_message()


def write_state(stream: Stream) -> None:
    """A STATE message now, even when the SDK saw nothing new since the last one (WRITE_STATE)."""
    stream.state_manager.is_flushed = False
    stream._write_state_message()


def state_due(stream: Stream) -> None:
    """RECORD lines went out around the SDK: it writes a STATE at its next check (STATE_DUE)."""
    stream.state_manager.is_flushed = False


def rebuild_stream_maps(stream: Stream, mapper: PluginMapper) -> None:
    """The stream's maps built again from its schema as it is now (MAPPER_STREAM_MAPS, STREAM_MAPS_CACHE)."""
    mapper.stream_maps.pop(stream.name, None)
    mapper.register_raw_stream_schema(stream.name, stream.schema, stream.primary_keys)
    stream._stream_maps = []


def writes_table_versions(stream: Stream) -> bool:
    """Whether the stream's RECORD messages carry a table version (TABLE_VERSION)."""
    return stream._stream_version is not None


check_seams()
