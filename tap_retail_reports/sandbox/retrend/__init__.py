"""Simulated Retrend Reports API: sessions, `general` and `run-now`, seeded typed reports.

data.py computes the reports and the calendar periods; app.py serves them over HTTP with sessions and knobs.

- `POST /session` with `organization-id` and `api-key` headers gives `{"token", "expires"}`;
  `expires` is an ISO-8601 UTC date-time, `token_lifetime_seconds` after issue (default 3600).
- `POST /v2/reports/general` and `POST /v2/reports/run-now` need `organization-id` and a live
  `x-session`; the body is `{store_num, report, duration, start_date?}`. Answers are
  `{"report": {...}}` (or the bare report object with `wrap_reports: false`).
- `general` serves completed periods only: a period still in progress (or in the future) is a
  404 `{"error": "report not ready ..."}`; without start_date it is the latest completed period.
  `run-now` also serves the period in progress (it computes the report on demand, so its
  `created_at` is the time of the call); without start_date it is the period in progress.
- Periods are calendar periods in UTC: ISO weeks starting Monday, months, quarters, years.
  A start_date that is not the first day of its period is a 400.

Test knobs, through `POST /_sandbox/vendor/retrend` (each optional; the answer is the state):
  token_lifetime_seconds  lifetime of tokens issued from now on
  latency_seconds         delay before answering each report call
  revoke_tokens: true     every token issued so far answers 401 from now on
  refuse_sessions         true: every report call answers 401, even with a fresh token
  wrap_reports            false: answer with the bare report object
  today                   "YYYY-MM-DD" to fix the sandbox's today (null: the real UTC date)
  reset_calls: true       forget the counted report calls
  missing_periods         ["YYYY-MM-DD", ...]: period starts with no report (404) for any store
  silent_stores           [store_num, ...]: stores with no report at all (404), as a closed store
  odd_answers             {"YYYY-MM-DD": kind}: a 200 for that period start (any store) that is not its
                          report; kind "report_null" ({"report": null}), "null" (a JSON null),
                          "empty" ({}), "previous_period" or "next_period" (the report of the period
                          before or after the one asked)
The state lists every report call as {endpoint, store_num, report, duration, start_date,
statuses}, the kiosk headers seen and the tokens issued, so tests can check that no request
was repeated and that no token reached a log. A refused session's 401 names the token,
and a refused api-key's names the key, as some APIs do, which is what the tap's redaction is for.
"""
from tap_retail_reports.sandbox.retrend.app import KIOSK_HEADERS, ODD_ANSWERS, STORES, App
from tap_retail_reports.sandbox.retrend.data import (
    DURATIONS,
    REPORT_NAMES,
    REPORTS,
    buckets,
    build_report,
    period_end,
    period_start,
)

__all__ = [
    "DURATIONS", "KIOSK_HEADERS", "ODD_ANSWERS", "REPORTS", "REPORT_NAMES", "STORES", "App", "buckets", "build_report",
    "period_end", "period_start",
]
