"""What FoxyCart's and Flipkart's simulators share: report jobs on a clock tests can move, tokens, and a
download route with its faults. app.py is their base, `AsyncVendorApp`; knobs.py lists and checks the
knobs both take (`POST /_sandbox/vendor/<prefix>`)."""

from tap_retail_reports.sandbox.jobs.app import AsyncVendorApp, Job, days, iso_utc
from tap_retail_reports.sandbox.jobs.knobs import BODY_FAULTS, COUNTERS, DEFAULTS, PER_REPORT, UNKNOWN_STATUS

__all__ = ["BODY_FAULTS", "COUNTERS", "DEFAULTS", "PER_REPORT", "UNKNOWN_STATUS", "AsyncVendorApp", "Job", "days",
           "iso_utc"]
