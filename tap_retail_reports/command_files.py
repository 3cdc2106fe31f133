"""The files the command is handed (--config, --state, --catalog), checked before the SDK reads them,
so that each mistake is one line naming the file and what to do, never a traceback."""

from __future__ import annotations

import json
import os
import sys

from tap_retail_reports.core.errors import TapError
from tap_retail_reports.core.state_file import EMPTIED, read_state
from tap_retail_reports.core.state_file import REMEDY as STATE_REMEDY

FILE_OPTIONS = ("--config", "--state", "--catalog")
DISCOVER_HINT = "tap-retail-reports --config config.json --discover > catalog.json"
REMEDIES = {
    "--config": "fix it, or write it again (the settings are listed by `tap-retail-reports --about`)",
    "--state": STATE_REMEDY,
    "--catalog": f"make it again with `{DISCOVER_HINT}`",
}


def checked_file_arguments(arguments: list[str]) -> list[str]:
    """The command's arguments, once the files they name are known to be readable JSON objects
    (for `--state`, a state in one of the forms `core/state_file.py` reads).

    A file that is missing or not JSON is the user's to fix: one line naming it and what to do,
    raised as TapError, before the SDK would fail on it with a traceback. A `--state` file that
    does not exist yet is a first run (the Singer way: the target's last STATE is written there
    after the run): the option is dropped, with a warning in case the path is a typo.
    """
    kept: list[str] = []
    position = 0
    while position < len(arguments):
        argument = arguments[position]
        option, equals, value = argument.partition("=")
        if option not in FILE_OPTIONS or (not equals and position + 1 >= len(arguments)):
            kept.append(argument)  # not a file option (or a bare one: the SDK's usage error names it)
            position += 1
            continue
        if not equals:
            value = arguments[position + 1]
        position += 1 if equals else 2
        if option == "--config" and value == "ENV":
            kept += [option, value]
            continue
        if option == "--state" and not os.path.lexists(value):
            # Logging is set up by the SDK's command, after this: the line is written as _fail writes its own.
            print(f"tap-retail-reports: warning: --state {value} does not exist yet: starting without state, from "
                  "start_date (a first run; if this is not one, check the path)", file=sys.stderr, flush=True)
            continue
        check_json_file(option, value)
        kept += [option, value]
    return kept


def check_json_file(option: str, path: str) -> None:
    """Raise TapError naming `path` and what to do when it is not a readable JSON object
    (for `--state`: not a state the tap can read)."""
    remedy = REMEDIES[option]
    try:
        with open(path, encoding="utf-8") as handle:
            text = handle.read()
    except FileNotFoundError:
        raise TapError(f"{option} {path}: no such file") from None
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise TapError(f"{option} {path} cannot be read: {reason}") from None
    if not text.strip():
        raise TapError(f"{option} {path} is empty: {remedy}{EMPTIED if option == '--state' else ''}")
    if option == "--state":
        read_state(text, f"{option} {path}")  # JSON lines too; raises TapError for anything but a state
        return
    try:
        content = json.loads(text)
    except ValueError as exc:
        raise TapError(f"{option} {path} is not complete JSON ({exc}): {remedy}") from None
    if not isinstance(content, dict):
        raise TapError(f"{option} {path} holds a JSON {type(content).__name__}, not an object: {remedy}")
