"""The SDK seams (core/sdk.py): each one is in the installed singer-sdk as the tap relies on it, each one's
effect is seen in a real stream, an SDK without one stops the tap with one line naming it, and no SDK
private name is used anywhere else. Run this file first when trying a newer SDK (docs/developing.md)."""

from __future__ import annotations

import ast
import contextlib
import datetime as dt
import functools
import importlib
import inspect
import io
import json
import pkgutil
import signal
import subprocess
import sys
import textwrap
import typing as t
from pathlib import Path

import pytest
from singer_sdk import Stream, Tap
from singer_sdk.exceptions import ConfigValidationError
from singer_sdk.helpers.conform import TypeConformanceLevel
from singer_sdk.singerlib.catalog import Catalog

import tap_retail_reports
from tap_retail_reports.core import sdk
from tap_retail_reports.core.fast_records import blocker
from tap_retail_reports.core.streams import WindowedStream
from tap_retail_reports.sandbox.credentials import DISTRIBU_API_KEY, tap_config
from tap_retail_reports.tap import TapRetailReports

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "tap_retail_reports"
START, END = "2026-10-05", "2026-10-08"  # past days: the same rows on any date
# SDK attributes without an underscore that are its internals all the same: set through a seam only.
SEAM_ONLY = {"is_flushed"}


# -- helpers --------------------------------------------------------------------------------------------------


@contextlib.contextmanager
def singer_output() -> t.Iterator[list[dict]]:
    """The Singer messages a tap made in this process writes inside the block (its writer writes stdout's bytes)."""
    messages: list[dict] = []
    out = io.TextIOWrapper(io.BytesIO(), encoding="utf-8")
    with contextlib.redirect_stdout(out):
        yield messages
        out.flush()
    messages += [json.loads(line) for line in out.buffer.getvalue().decode().splitlines()]  # type: ignore[attr-defined]


@contextlib.contextmanager
def keeping_signal_handlers() -> t.Iterator[None]:
    """A tap made in this process takes SIGINT and SIGTERM for its own: they are pytest's again afterwards."""
    handlers = {number: signal.getsignal(number) for number in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for number, handler in handlers.items():
            signal.signal(number, handler)


def distribu_tap(sandbox: t.Any, **config: t.Any) -> TapRetailReports:
    settings = tap_config(f"http://127.0.0.1:{sandbox.port}", vendors=("distribu",))
    settings.update(start_date=START, end_date=END, **config)
    with keeping_signal_handlers():
        return TapRetailReports(config=settings, parse_env_config=False)


def owning_class(owner: t.Any, name: str) -> t.Any:
    """The class (of owner's MRO) or module that defines `name` itself."""
    if inspect.ismodule(owner):
        return owner
    return next(klass for klass in owner.__mro__ if name in vars(klass))


def sdk_owner(path: str) -> tuple[t.Any, str]:
    module, _, attributes = path.partition(":")
    *owners, name = [importlib.import_module(module), *attributes.split(".")]
    owner = owners[0]
    for attribute in owners[1:]:
        owner = getattr(owner, attribute)
    return owning_class(owner, name), name


# -- each seam is in the installed SDK, as the tap relies on it -----------------------------------------------


@pytest.mark.parametrize("seam", sdk.SEAMS, ids=lambda seam: seam.name)
def test_the_installed_sdk_has_the_seam(seam: sdk.Seam) -> None:
    """The member exists, with the parameters the tap calls or replaces it with, and the SDK code the seam
    relies on still reads or sets the name it touches."""
    assert seam.problem() is None, f"{seam.problem()}\nwhy the tap needs it: {seam.why}\nit relies on: {seam.relies_on}"
    if seam.signature is not None:
        owner, name = sdk_owner(seam.members[0])
        assert sdk.parameters(getattr(owner, name)) == seam.signature


def _mutations(seam: sdk.Seam) -> list[tuple[str, t.Callable[[pytest.MonkeyPatch], None], str]]:
    """Ways a release could change the seam (dropped, other parameters, no longer using a name), each with
    what `missing_seams()` must then say."""
    owner, name = sdk_owner(seam.members[0])

    def drop(patch: pytest.MonkeyPatch) -> None:
        for klass in getattr(owner, "__mro__", [owner]):  # from every class that defines it
            if name in vars(klass):
                patch.delattr(klass, name)

    found = [("dropped", drop, f"{seam.name}: no {seam.members[0]}")]
    if seam.signature is not None:
        def other_parameters(self: t.Any, something_else: t.Any) -> None: ...
        found.append(("other parameters", lambda patch: patch.setattr(owner, name, other_parameters),
                      f"{seam.name}: {seam.members[0]}(self, something_else), not {seam.signature}"))
    for path, used in seam.uses:
        user_owner, user_name = sdk_owner(path)
        user = inspect.getattr_static(user_owner, user_name)
        function = user.fget if isinstance(user, property) else user
        namespace: dict[str, t.Any] = {}
        exec(f"def {function.__name__}{sdk.parameters(function)}: pass", namespace)  # same parameters, other code
        plain = namespace[function.__name__]
        stand_in = property(plain) if isinstance(user, property) else plain
        found.append((f"no longer uses {used}", lambda patch, o=user_owner, n=user_name, s=stand_in: patch.setattr(o, n, s),
                      f"{seam.name}: {path} no longer uses {used}"))
    return found


@pytest.mark.parametrize("seam", sdk.SEAMS, ids=lambda seam: seam.name)
def test_a_changed_seam_is_named_not_missed(seam: sdk.Seam) -> None:
    """Each way a release could change the seam is caught, and named, by the check the tap runs at start."""
    for change, apply, says in _mutations(seam):
        with pytest.MonkeyPatch.context() as patch:
            apply(patch)
            assert says in sdk.missing_seams(), change
            with pytest.raises(sdk.SdkSeamMissing) as stopped:
                sdk.check_seams()
            assert str(stopped.value.code).startswith("tap-retail-reports: error: singer-sdk "), change
            assert says in str(stopped.value.code), change
    assert sdk.missing_seams() == []


def test_the_tap_stops_at_start_with_one_line_naming_a_lost_seam() -> None:
    """An SDK without `RESTStream._request`: the command exits 1 with one line and no traceback, before any request."""
    script = textwrap.dedent("""
        import runpy, sys
        from singer_sdk.streams.rest import RESTStream
        for klass in RESTStream.__mro__:  # as a release that renamed it would have it
            if "_request" in vars(klass):
                delattr(klass, "_request")
        sys.argv = ["tap-retail-reports", "--about"]
        runpy.run_module("tap_retail_reports.tap", run_name="__main__")
    """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 1
    assert done.stdout == ""
    lines = done.stderr.splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("tap-retail-reports: error: singer-sdk 0.54.")
    assert "lacks what this tap relies on: send_request: no singer_sdk.streams.rest:RESTStream._request" in lines[0]
    assert "docs/developing.md" in lines[0]


# -- each seam's effect, in a real stream ---------------------------------------------------------------------


def test_send_request_sends_one_authenticated_call(sandbox: t.Any) -> None:
    """`call` goes through the SDK's `_request`: the stream's authenticator, then `validate_response`."""
    stream = distribu_tap(sandbox).streams["distribu_sales_daily"]
    response = stream.call("GET", "/api/v1/reports/sales", params={"from": START, "to": END})
    assert response.status_code == 200
    assert response.request.headers["Authorization"] == f"Bearer {DISTRIBU_API_KEY}"
    assert stream.last_answer_at() is not None  # the session noted when it arrived


def test_a_learned_column_gets_a_schema_message_and_new_maps_and_reaches_the_record() -> None:
    """`announce_columns` (write_schema, rebuild_stream_maps) with a catalog: a SCHEMA message names the column,
    the stream maps hold it, and a record through the SDK's own path keeps it."""
    with keeping_signal_handlers():
        tap = TapRetailReports(config=tap_config("http://127.0.0.1:9", vendors=("distribu",)), parse_env_config=False)
    stream = tap.streams["distribu_sales_daily"]
    stream.apply_catalog(Catalog.from_dict(json.loads(tap.catalog_json_text)))  # the SDK's input schema then
    with singer_output() as messages:
        stream.announce_columns({"late_column": {"type": ["string", "null"]}})
        stream._write_record_message({"date": START, "late_column": "kept"})
        tap.message_writer.flush()
    schemas = [message for message in messages if message["type"] == "SCHEMA"]
    assert len(schemas) == 1 and "late_column" in schemas[0]["schema"]["properties"]
    assert "late_column" in stream.stream_maps[0].transformed_schema["properties"]
    assert "late_column" in stream.effective_schema["properties"]
    records = [message["record"] for message in messages if message["type"] == "RECORD"]
    assert records == [{"date": START, "late_column": "kept"}]


def test_write_state_writes_a_change_without_a_record() -> None:
    """`write_state`: a change to STATE with no record since the last one (a job created) is written at once,
    where the SDK alone writes nothing; `state_due` makes the SDK's own check write one."""
    with keeping_signal_handlers():
        tap = TapRetailReports(config=tap_config("http://127.0.0.1:9", vendors=("distribu",)), parse_env_config=False)
    stream = tap.streams["distribu_sales_daily"]
    state = stream.get_context_state(None)
    with singer_output() as messages:
        state["note"] = 1
        stream._write_state_message()  # the SDK's own: no record came, nothing is written
        stream.write_state_now()
        state["note"] = 2
        stream.write_state_now()
        stream.write_state_now()  # nothing new: the SDK's state writer writes no duplicate
        state["note"] = 3
        sdk.state_due(stream)  # as after fast-path records
        stream._write_state_message()
        state["note"] = 4
        stream._write_state_message()  # written: nothing is due again
        tap.message_writer.flush()
    assert [message["value"]["bookmarks"][stream.name]["note"] for message in messages] == [1, 2, 3]


def sync_records(tap: TapRetailReports, name: str) -> tuple[list[dict], t.Any]:
    stream = tap.streams[name]
    with singer_output() as messages:
        stream.sync()
        tap.message_writer.flush()
    return messages, stream


def test_a_windowed_sync_on_the_sdk_path_bookmarks_per_window_only(sandbox: t.Any, monkeypatch: pytest.MonkeyPatch,
                                                                   caplog: pytest.LogCaptureFixture) -> None:
    """`_increment_stream_state` and `_write_starting_replication_value` replaced: on the SDK's per-record path,
    the bookmark is each window's end, with no progress markers, no starting value, and no SDK start line; each
    record's time_extracted is when its answer arrived (`_generate_record_messages`)."""
    monkeypatch.setattr(WindowedStream, "fast_record_path", False)
    tap = distribu_tap(sandbox)
    before = dt.datetime.now(dt.timezone.utc)
    with caplog.at_level("INFO"):
        messages, stream = sync_records(tap, "distribu_sales_by_status")
    states = [message["value"]["bookmarks"][stream.name] for message in messages if message["type"] == "STATE"]
    assert [state["replication_key_value"] for state in states] == [
        "2026-10-06T00:00:00Z", "2026-10-07T00:00:00Z", "2026-10-08T00:00:00Z"]
    assert all(set(state) == {"replication_key", "replication_key_value"} for state in states), states
    assert not any("Starting incremental sync" in record.getMessage() for record in caplog.records)
    records = [message for message in messages if message["type"] == "RECORD"]
    assert {record["record"]["date"] for record in records} == {"2026-10-05", "2026-10-06", "2026-10-07"}
    assert not stream.fast_path
    arrived = {dt.datetime.fromisoformat(record["time_extracted"]) for record in records}
    assert len(arrived) == 3 and all(before < moment < dt.datetime.now(dt.timezone.utc) for moment in arrived)  # a day each


def test_a_stream_with_table_versions_takes_the_sdk_path(sandbox: t.Any) -> None:
    """`writes_table_versions`: Distribu's inventory (FULL_TABLE, ACTIVATE_VERSION) writes versioned records, and
    the fast path stands aside for it."""
    tap = distribu_tap(sandbox)
    messages, stream = sync_records(tap, "distribu_inventory")
    versions = {message["version"] for message in messages if message["type"] == "ACTIVATE_VERSION"}
    records = [message for message in messages if message["type"] == "RECORD"]
    assert len(versions) == 1 and records and all(record["version"] in versions for record in records)
    stream.TYPE_CONFORMANCE_LEVEL = TypeConformanceLevel.NONE  # past the blocker's earlier reason for this stream
    assert blocker(stream) == "the stream writes table versions"
    fresh = distribu_tap(sandbox).streams["distribu_sales_daily"]
    assert not sdk.writes_table_versions(fresh)


def test_the_config_check_is_the_tap_s() -> None:
    """`_validate_config` replaced: the SDK calls the tap's, which names a misspelt setting and a wrong type in
    one readable line each, and never shows a secret."""
    config = {**tap_config("http://127.0.0.1:9", vendors=("distribu",)), "strat_date": "2026-01-01", "lookback_days": "x"}
    with keeping_signal_handlers(), pytest.raises(ConfigValidationError) as refused:
        TapRetailReports(config=config, parse_env_config=False)
    errors = refused.value.errors
    assert any(error.startswith("strat_date is not a setting; ") for error in errors), errors
    assert any(error.startswith("lookback_days") for error in errors), errors
    assert not any(DISTRIBU_API_KEY in error for error in errors)


def test_the_tap_handles_sigint_and_sigterm() -> None:
    """`_handle_termination` replaced: the handler the SDK installs for both signals is the tap's."""
    with keeping_signal_handlers():
        tap = TapRetailReports(config=tap_config("http://127.0.0.1:9", vendors=("distribu",)), parse_env_config=False)
        for number in (signal.SIGINT, signal.SIGTERM):
            handler = signal.getsignal(number)
            assert getattr(handler, "__func__", None) is TapRetailReports._handle_termination and handler.__self__ is tap


def test_the_batch_types_are_where_the_tap_imports_them() -> None:
    module = importlib.import_module("singer_sdk.helpers._batch")
    assert inspect.isclass(module.BatchConfig) and inspect.isclass(module.BaseBatchFileEncoding)


# -- nothing else reaches into the SDK ------------------------------------------------------------------------


def package_modules() -> list[t.Any]:
    names = [info.name for info in pkgutil.walk_packages(tap_retail_reports.__path__, "tap_retail_reports.")
             if ".sandbox" not in info.name]
    return [importlib.import_module(name) for name in names]


def sdk_classes(klass: type) -> list[type]:
    return [base for base in klass.__mro__ if base.__module__.startswith("singer_sdk")]


def sdk_private_names(classes: t.Iterable[type]) -> set[str]:
    """The underscore names the SDK classes define or set on `self` (not dunders)."""
    return set().union(*(_private_names_of(klass) for klass in classes))


@functools.cache
def _private_names_of(klass: type) -> frozenset[str]:
    names = {name for name in vars(klass) if name.startswith("_") and not name.startswith(("__", "_abc_"))}
    tree = ast.parse(textwrap.dedent(inspect.getsource(klass)))
    names |= {node.attr for node in ast.walk(tree) if isinstance(node, ast.Attribute)
              and isinstance(node.value, ast.Name) and node.value.id == "self"
              and node.attr.startswith("_") and not node.attr.startswith("__")}
    return frozenset(names)


def our_sdk_subclasses() -> list[type]:
    return sorted({value for module in package_modules() for value in vars(module).values()
                   if inspect.isclass(value) and value.__module__.startswith("tap_retail_reports")
                   and sdk_classes(value)}, key=lambda klass: f"{klass.__module__}.{klass.__qualname__}")


def test_every_sdk_private_method_the_tap_defines_is_a_seam() -> None:
    """An underscore method of an SDK class that a class of the tap defines replaces it: it must be a marked seam
    override (core/sdk.py), or the name must be changed, so that no SDK private name is shadowed by accident."""
    offenders, overrides = set(), set()
    for klass in our_sdk_subclasses():
        private = sdk_private_names(sdk_classes(klass))
        for own in [base for base in klass.__mro__ if base.__module__.startswith("tap_retail_reports")]:  # mixins too
            for name, value in vars(own).items():
                if hasattr(value, "__sdk_seam__"):
                    overrides.add(value.__sdk_seam__)
                elif name in private:
                    offenders.add(f"{own.__module__}.{own.__qualname__}.{name}")
    assert not offenders, f"SDK private names defined outside a seam: {sorted(offenders)}"
    assert overrides == {"record_messages", "increment_stream_state", "write_starting_replication_value",
                         "validate_config", "handle_termination"}


def test_no_sdk_private_name_is_used_outside_core_sdk() -> None:
    """No module but core/sdk.py reads, sets, calls or imports an SDK private name (its seams stand for them), and
    the tap's own underscore names on SDK subclasses are not the SDK's. `super()._x` in the override of `_x` is the
    seam itself."""
    from singer_sdk.mapper import PluginMapper
    from singer_sdk.streams._state import StreamStateManager

    subclasses = {f"{klass.__module__}.{klass.__qualname__}": klass for klass in our_sdk_subclasses()}
    every = sdk_private_names({base for klass in subclasses.values() for base in sdk_classes(klass)}
                              | {PluginMapper, StreamStateManager, Stream, Tap}) | SEAM_ONLY
    offenders: list[str] = []

    class Scan(ast.NodeVisitor):
        def __init__(self, module: str, where: str) -> None:
            self.module, self.where, self.classes = module, where, [None]

        def visit_ClassDef(self, node: ast.ClassDef) -> None:
            klass = subclasses.get(f"{self.module}.{node.name}")
            self.classes.append(sdk_private_names(sdk_classes(klass)) if klass else None)
            self.generic_visit(node)
            self.classes.pop()

        def visit_FunctionDef(self, node: ast.FunctionDef) -> None:
            self.override = node.name if any("override" in ast.unparse(d) for d in node.decorator_list) else None
            self.generic_visit(node)

        def visit_Attribute(self, node: ast.Attribute) -> None:
            on_self = isinstance(node.value, ast.Name) and node.value.id in ("self", "cls")
            on_super = isinstance(node.value, ast.Call) and ast.unparse(node.value) == "super()"
            sdk_names = self.classes[-1] if (on_self or on_super) else every
            if node.attr in SEAM_ONLY or (sdk_names and node.attr in sdk_names
                                          and not (on_super and node.attr == getattr(self, "override", None))):
                offenders.append(f"{self.where}:{node.lineno}: {ast.unparse(node)}")
            self.generic_visit(node)

        def visit_Call(self, node: ast.Call) -> None:  # getattr(stream, "_stream_version", None) and the like
            if isinstance(node.func, ast.Name) and node.func.id in ("getattr", "setattr", "hasattr", "delattr"):
                names = [arg.value for arg in node.args[1:2] if isinstance(arg, ast.Constant)]
                if any(name in every for name in names):
                    offenders.append(f"{self.where}:{node.lineno}: {ast.unparse(node)}")
            self.generic_visit(node)

        def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
            if (node.module or "").startswith("singer_sdk") and any(p.startswith("_") for p in node.module.split(".")):
                offenders.append(f"{self.where}:{node.lineno}: from {node.module} import ...")

    for path in sorted(PACKAGE.rglob("*.py")):
        if "sandbox" in path.parts or path == PACKAGE / "core" / "sdk.py":
            continue
        module = ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")
        Scan(module, str(path.relative_to(ROOT))).visit(ast.parse(path.read_text()))
    assert not offenders, "SDK private names outside core/sdk.py:\n" + "\n".join(offenders)


def test_the_seams_are_documented() -> None:
    """docs/developing.md's table has a row for every seam, and no row for a seam that is gone."""
    text = (ROOT / "docs" / "developing.md").read_text()
    table = text.split("### SDK seams", 1)[1].split("\n#", 1)[0]
    rows = {line.split("|")[1].strip().strip("`") for line in table.splitlines() if line.startswith("| `")}
    assert rows == {seam.name for seam in sdk.SEAMS}
