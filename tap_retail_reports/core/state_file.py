"""The `--state` file in the forms people have it, read as one Singer state or refused in one line.

Besides a plain state (`{"bookmarks": ...}`), a user is likely to hold: the tap's own last STATE
line (`tail -1` of its output), a file of STATE lines (the whole output: the last one counts),
or `meltano state get`'s answer (`{"singer_state": ...}`). Each is unwrapped, and the caller says
so; anything else stops the run, since reading it as "no bookmarks" would silently re-read
everything from start_date.
"""

from __future__ import annotations

import json
import typing as t

from tap_retail_reports.core.errors import TapError
from tap_retail_reports.core.windows import parse_when

# Short enough for one line beside a file's name and what is wrong with it (core/log_lines.py: EXIT_WIDTH).
FORMS = '{"bookmarks": {...}}, a STATE line {"type": "STATE", ...} or `meltano state get` output {"singer_state": ...}'
REMEDY = "restore it from the last STATE your target stored, or delete it to start again from start_date"
EMPTIED = " (a `> state.json` redirect empties the file before the tap reads it)"
EXAMPLE_BOOKMARK = '{"replication_key_value": "2026-11-24T06:00:00Z", ...}'


def read_state(text: str, where: str) -> tuple[dict, str | None]:
    """The Singer state `text` holds, and what it was unwrapped from (None for a plain state).

    `where` names the file in messages (`--state state.json`). Raises TapError, one line, for a
    file that holds no state or a bookmark that cannot be one."""
    try:
        content: t.Any = json.loads(text)
        lines = None
    except ValueError as exc:
        content, lines = _last_state_line(text, where, exc)
    state, unwrapped = _unwrap(content, where)
    if lines is not None:
        unwrapped = f"the last of {lines} STATE line(s)"
    check_bookmarks(state, where)
    return state, unwrapped


def _last_state_line(text: str, where: str, error: ValueError) -> tuple[dict, int]:
    """A file of JSON lines (a tap's output): its last STATE message, and how many it has."""
    states = []
    for line in text.splitlines():
        if not line.strip():
            continue
        try:
            message = json.loads(line)
        except ValueError:
            raise TapError(f"{where} is not complete JSON ({error}): {REMEDY}") from None
        if isinstance(message, dict) and message.get("type") == "STATE":
            states.append(message)
    if not states:
        raise TapError(f"{where} holds JSON lines but no STATE message: give it {FORMS}")
    return states[-1], len(states)


def _unwrap(content: t.Any, where: str) -> tuple[dict, str | None]:
    if not isinstance(content, dict):
        raise TapError(f"{where} holds a JSON {type(content).__name__}, not a state: give it {FORMS}")
    if content.get("type") == "STATE" and "value" in content:
        return _state_object(content["value"], where, "the STATE message's value"), "a STATE message"
    if "singer_state" in content:
        return _state_object(content["singer_state"], where, "singer_state"), "singer_state (`meltano state get`)"
    if content and not {"bookmarks", "currently_syncing"} & content.keys():  # the keys of a Singer state
        keys = ", ".join(list(content)[:5])
        raise TapError(f"{where} is not a Singer state (it has {keys}; no bookmarks): give it {FORMS}")
    return _state_object(content, where, "the state"), None


def _state_object(value: t.Any, where: str, what: str) -> dict:
    if value is None:
        return {}  # Meltano's answer for a state ID with no state yet
    if not isinstance(value, dict) or not isinstance(value.get("bookmarks", {}), dict):
        raise TapError(f"{where}: {what} is not a Singer state (an object with \"bookmarks\"): give it {FORMS}")
    return value


def check_bookmarks(state: dict, where: str) -> None:
    """Each stream's bookmark has the shape Singer states take here, and a readable date."""
    for stream, bookmark in (state.get("bookmarks") or {}).items():
        entries = [bookmark]
        if isinstance(bookmark, dict) and "partitions" in bookmark:
            partitions = bookmark["partitions"]
            entries = partitions if isinstance(partitions, list) else [partitions]
        for entry in entries:
            problem = _bookmark_problem(entry)
            if problem:
                raise TapError(f"{where}: {stream}'s {problem}; fix it, or remove it to read that stream from start_date")


def _bookmark_problem(entry: t.Any) -> str | None:
    if not isinstance(entry, dict):
        return f"bookmark {json.dumps(entry)[:40]} is not an object like {EXAMPLE_BOOKMARK}"
    value = entry.get("replication_key_value")
    if value is None:
        return None
    try:
        parse_when(value)
    except (ValueError, TypeError):
        return f"replication_key_value {json.dumps(value)[:40]} is not a date-time such as \"2026-11-24T06:00:00Z\""
    return None
