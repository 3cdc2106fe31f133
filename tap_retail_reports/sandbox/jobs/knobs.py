"""The knobs FoxyCart's and Flipkart's simulators share, their defaults, and the checks of their values.

Knobs common to both apps (`POST /_sandbox/vendor/<prefix>`, each optional; the answer is the state):
  advance_seconds: N              move the app's clock N seconds forward (tokens, jobs and links age)
  clock_rate: R                   from now on the app's clock runs R times as fast as real time (default
                                  1.0): a job of processing_seconds 120 at rate 10 is ready 12 s after
                                  its creation (benchmarks use it, with the tap's waits scaled alike)
  token_lifetime_seconds          lifetime of tokens issued from now on
  revoke_tokens: true             every token issued so far answers 401 from now on
  refuse_grants                   false (default), or how token grants are refused from now on (the app's
                                  access withdrawn): "invalid_grant" (400, as for a revoked refresh token)
                                  or "invalid_client" (401); with revoke_tokens, credentials lost for good
  processing_seconds              how long (sandbox clock) a new report takes to finish (default 1.0)
  link_ttl_seconds                how long a download link works (default 600)
  fail_next: N                    the next N reports created fail
  rows_per_day                    rows per day per CSV (default 20): raise it for large files
  data_start, data_end            "YYYY-MM-DD" or null: the first and last days with data (default null:
                                  every day has rows, made from a generator seeded with the day)
  truncate_next_downloads: N      the next N downloads send the full Content-Length, stop half-way, close
  corrupt_next_downloads: N       the next N downloads send the right length with garbled middle bytes
  expired_link_next_downloads: N  the next N downloads answer as an expired link, even if fresh
  Bodies that are not the report, each with status 200 (the tap must not make rows of them):
  html_next_downloads: N          an HTML sign-in page
  xml_error_next_downloads: N     an XML storage error document (not about expiry)
  expired_body_next_downloads: N  an XML error document saying the link expired
  json_error_next_downloads: N    {"error": ...}
  empty_next_downloads: N         a 0-byte body
  plain_csv_next_downloads: N     a bare CSV of made-up rows (FoxyCart always sends a zip)
  stall_next_downloads: N         the next N downloads send their first bytes, then trickle one byte
                                  every 0.5 s for stall_seconds (default 60), then the rest
  unknown_status_next_polls: N    the next N polls of a report answer status "ON_HOLD" (unknown to the tap)
  purge_reports: true             forget every report made so far: polls and downloads answer
                                  purged_status (404 or 410, default 404), as after a restart
  csv_extra_column: {col: value}  every file built from now on gains this column (a new vendor column)
  csv_cell_values: {col: value}   every file built from now on has this value in every cell of that column
  csv_cell_values_from_row: N     ... in its data rows after the first N only (default 0: every row)
  Other readings of the files (neither vendor documents its columns; see `files.Variant`):
  csv_column_names                snake (default, as generated), portal (Title Case: "Transaction Date",
                                  "Order Total"), camel (transactionDate)
  csv_date_format                 iso (default, 2026-10-05), mdy (10/05/2026), dmy (05/10/2026), ymd_slash
  csv_time_format                 seconds (default, 13:45:07), minutes (13:45), ampm (1:45:07 PM),
                                  t_separator (2026-10-05T13:45:07)
  csv_time_zone                   naive (default: local times), offset (with the zone's offset, +05:30), utc (Z)
  csv_short_rows_every: N         data rows 1, N+1, 2N+1, ... of a CSV lack their last two values (0: off)
  csv_long_rows_every: N          every Nth data row of a CSV has one value more than its header, "spare"
  csv_new_column_after: N         after N data rows, the header again with one more column, late_column,
                                  which the rows below it fill with whole numbers
  per_report: {name: {knob: value}}  processing_seconds, link_ttl_seconds, rows_per_day and the
                                  counters above for one report name (or Flipkart type) only; its
                                  counters are used before the global ones
  download_base_url               null (default: the API's own), or the base URL download links point at
                                  instead, as for storage on another host: the TLS port's
                                  "https://127.0.0.1:<tls port>/<vendor>" puts downloads alone behind the private CA
  reset: true                     forget reports, tokens, downloads and counts (the knobs stay)
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import typing as t

from tap_retail_reports.sandbox.files import VARIANT_CHOICES, FileStore

# Bodies a storage service may answer with status 200 that are not the report (knob -> body).
BODY_FAULTS: dict[str, bytes] = {
    "html_next_downloads": b"<!DOCTYPE html>\n<html><head><title>Sign in</title></head>"
                           b"<body><form action=\"/login\">Please sign in</form></body></html>\n",
    "xml_error_next_downloads": b'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>InternalError</Code>'
                                b"<Message>We encountered an internal error. Please try again.</Message></Error>",
    "expired_body_next_downloads": b'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>AccessDenied</Code>'
                                   b"<Message>Request has expired</Message></Error>",
    "json_error_next_downloads": b'{"error": "internal error, try again later"}',
    "empty_next_downloads": b"",
    "plain_csv_next_downloads": b"id,name\r\n1,not the report\r\n",
}

DEFAULTS: dict[str, t.Any] = {
    "processing_seconds": 1.0,
    "link_ttl_seconds": 600.0,
    "fail_next": 0,
    "rows_per_day": 20,
    "data_start": None,  # no bound: any day a user asks for has rows
    "data_end": None,
    "truncate_next_downloads": 0,
    "corrupt_next_downloads": 0,
    "expired_link_next_downloads": 0,
    **dict.fromkeys(BODY_FAULTS, 0),
    "stall_next_downloads": 0,
    "stall_seconds": 60.0,
    "unknown_status_next_polls": 0,
    "purged_status": 404,
    "csv_extra_column": {},
    "csv_cell_values": {},
    "csv_cell_values_from_row": 0,
    **{f"csv_{name}": choices[0] for name, choices in VARIANT_CHOICES.items()},
    "csv_short_rows_every": 0,
    "csv_long_rows_every": 0,
    "csv_new_column_after": 0,
    "refuse_grants": False,
    "download_base_url": None,
}
RAGGED_KNOBS = {"csv_short_rows_every": "short_rows_every", "csv_long_rows_every": "long_rows_every",
                "csv_new_column_after": "new_column_after"}  # knob -> files.Layout field
COUNTERS = ("fail_next", "truncate_next_downloads", "corrupt_next_downloads", "expired_link_next_downloads",
            *BODY_FAULTS, "stall_next_downloads", "unknown_status_next_polls")
PER_REPORT = ("processing_seconds", "link_ttl_seconds", "rows_per_day", *COUNTERS)
ACTIONS = ("advance_seconds", "clock_rate", "revoke_tokens", "per_report", "reset", "purge_reports")
UNKNOWN_STATUS = "ON_HOLD"
GRANT_REFUSALS = {"invalid_grant": 400, "invalid_client": 401}  # refuse_grants: OAuth's answer and its status


def check_common_knob(key: str, value: t.Any, files: FileStore) -> t.Any:
    """The knob's value, checked; a knob that shapes the files built from now on is set on `files`."""
    if key in COUNTERS or key == "rows_per_day":
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise ValueError(f"{key} must be a whole number >= 0, got {value!r}")
        return value
    if key in ("data_start", "data_end"):
        if value is None:
            return None
        try:
            dt.date.fromisoformat(value)
        except (TypeError, ValueError):
            raise ValueError(f"{key} must be a date YYYY-MM-DD or null, got {value!r}") from None
        return value
    if key in ("csv_cell_values_from_row", *RAGGED_KNOBS):
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise ValueError(f"{key} must be a whole number >= 0, got {value!r}")
        if key == "csv_cell_values_from_row":
            files.cell_values_from_row = value
        else:
            files.layout = dataclasses.replace(files.layout, **{RAGGED_KNOBS[key]: value})  # type: ignore[arg-type]  # an int field
        return value
    if key.removeprefix("csv_") in VARIANT_CHOICES:
        choices = VARIANT_CHOICES[key.removeprefix("csv_")]
        if value not in choices:
            raise ValueError(f"{key} must be one of {', '.join(choices)}, got {value!r}")
        files.variant = dataclasses.replace(files.variant, **{key.removeprefix("csv_"): value})
        return value
    if key in ("csv_extra_column", "csv_cell_values"):
        if not isinstance(value, dict) or not all(isinstance(v, str) for v in [*value, *value.values()]):
            raise ValueError(f"{key} must be an object {{column: text}}, got {value!r}")
        setattr(files, "extra_column" if key == "csv_extra_column" else "cell_values", dict(value))
        return value
    if key == "refuse_grants":
        if value not in GRANT_REFUSALS and value is not False:
            raise ValueError(f"refuse_grants must be false or one of {', '.join(GRANT_REFUSALS)}, got {value!r}")
        return value
    if key == "download_base_url":
        if value is not None and not (isinstance(value, str) and value.startswith(("http://", "https://"))):
            raise ValueError(f"download_base_url must be null or an http(s) URL, got {value!r}")
        return value.rstrip("/") if value else None
    if key == "purged_status":
        if value not in (404, 410):
            raise ValueError(f"purged_status must be 404 or 410, got {value!r}")
        return value
    if key in ("processing_seconds", "link_ttl_seconds", "token_lifetime_seconds", "report_ttl_seconds",
               "stall_seconds"):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
            raise ValueError(f"{key} must be a number of seconds >= 0, got {value!r}")
        return float(value)
    return value
