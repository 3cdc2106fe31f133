"""The tap's settings: its own, each vendor's, and the checks a config gets beyond its JSON schema."""

from __future__ import annotations

from singer_sdk import typing as th

from tap_retail_reports.core.config import Vendor, check_date, check_int, unknown_settings
from tap_retail_reports.distribu import VENDOR as DISTRIBU
from tap_retail_reports.flipkart import VENDOR as FLIPKART
from tap_retail_reports.foxycart import VENDOR as FOXYCART
from tap_retail_reports.retrend import VENDOR as RETREND
from tap_retail_reports.vroom import VENDOR as VROOM

VENDORS: tuple[Vendor, ...] = (RETREND, FOXYCART, DISTRIBU, FLIPKART, VROOM)

# The tap's own settings; the SDK adds its built-in ones (stream maps, ...) to config_jsonschema.
OWN_SETTINGS = th.PropertiesList(
    th.Property(
        "start_date",
        th.StringType,
        description="Earliest date to read (date or date-time); default 30 days before today",
    ),
    th.Property(
        "end_date", th.StringType, description="End of the range read (exclusive); default now, never later than now"
    ),
    th.Property(
        "lookback_days",
        th.IntegerType,
        description="Days before the bookmark to read again for restated data; vendor default if absent",
    ),
    th.Property(
        "max_concurrent_jobs",
        th.IntegerType,
        default=8,
        description="Asynchronous report jobs in flight at once",
    ),
    th.Property(
        "job_timeout_minutes",
        th.IntegerType,
        default=120,
        description="Give up on a window of an asynchronous report after this long in a run, every re-creation included",
    ),
    th.Property("user_agent", th.StringType, description="User-Agent sent with every request"),
    *(vendor.schema_property() for vendor in VENDORS),
)


def config_problems(config: dict, schema: dict) -> list[str]:
    """Every semantic problem with a config, one line each, against `schema` (the tap's and the SDK's settings):
    a misspelt setting first (its default would be used silently), then dates, numbers and each vendor's."""
    problems = unknown_settings(config, schema, nested=[vendor.key for vendor in VENDORS])
    more, start = check_date("start_date", config.get("start_date"))
    problems += more
    more, end = check_date("end_date", config.get("end_date"))
    problems += more
    if start and end and end <= start:
        problems.append(f"end_date ({config['end_date']}) must be after start_date ({config['start_date']})")
    problems += check_int("lookback_days", config.get("lookback_days"), 0)
    problems += check_int("max_concurrent_jobs", config.get("max_concurrent_jobs"), 1)
    problems += check_int("job_timeout_minutes", config.get("job_timeout_minutes"), 1)
    for vendor in VENDORS:
        problems += vendor.problems(config)
    return problems
