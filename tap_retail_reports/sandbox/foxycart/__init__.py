"""Simulated FoxyCart hAPI: the refresh-token grant, the store, report jobs and zipped CSV downloads.

data.py generates the store's customers and transactions and each report's CSVs; app.py serves them over
HTTP (tokens, jobs, downloads, errors) on the machinery FoxyCart shares with Flipkart (../jobs/).

Routes (relative to /foxycart; every API answer is `application/hal+json`):
  POST /token                    form `grant_type=refresh_token&refresh_token=...`, HTTP Basic
                                 client_id:client_secret -> {access_token, token_type, expires_in,
                                 refresh_token, scope}; bad Basic 401 invalid_client, bad refresh
                                 token 400 invalid_grant (application/json, as OAuth servers answer)
  GET  /stores/{id}              the store: id, store_name, timezone, _links["fx:reports"]
  POST /stores/{id}/reports      JSON {name, version: "1", datetime_start, datetime_end}, datetimes
                                 exactly "YYYY-MM-DD HH:MM:SS" in the store's zone -> 201 + Location
  GET  /reports/{id}             `queued`, then `ready` with a fresh `fx:download_url` on every GET
                                 (or `error`)
  GET  /downloads/{id}/{name}_report.{epoch_ms}.zip?foo=...   the zip, no credentials allowed
The API routes need `Authorization: Bearer <token>` (401 otherwise) and `FOXY-API-VERSION: 1`
(400 otherwise). A download with an Authorization or FOXY-API-VERSION header is refused with 400
and counted as a credential violation; an unknown `foo` or an expired link is a 403 with an
S3-like XML body.

Zips: `complete` holds transactions.csv, transaction_items.csv and coupons.csv; `customers`
customers.csv; `customers_ltv` customers_ltv.csv; `transactions` transactions.csv. Times in the
CSVs are naive store-local "YYYY-MM-DD HH:MM:SS"; a row is in a report when its own time (for
customers, date_created) lies in [datetime_start, datetime_end] compared as local times. Each
local day's rows spread over that day's real hours, so 2026-11-01 (America/Los_Angeles) has 25
hours and repeats 01:xx. Every day starts with a row at 00:00:00 and ends with one at 23:59:59.

Knobs (`POST /_sandbox/vendor/foxycart`): those of `jobs/knobs.py`, plus `timezone` (the store's IANA
zone, default America/Los_Angeles) and `error_shape`: how API errors read, `hal` (default, as hAPI
documents: `{"total": 1, "_embedded": {"fx:errors": [{"logref", "message"}]}}`), `hal_with_message`
(a top-level `message` too), `hal_single` (`fx:errors` one object) or `plain` (`{"error": "..."}`).
`fail_next` makes reports end in status `error`. The state lists token grants, reports (with their
links), polls, downloads and credential violations.
For tests, `App.expected_rows(name, start, end)` gives exactly what the report's zip holds.

Liberties a real vendor takes, served on purpose so the tap is tested against them:
- Times are naive store-local text; the day clocks fall back repeats 01:xx (two rows read 01:30:00),
  and every day has a row at 00:00:00 and one at 23:59:59, on the edges of an inclusive window.
- Text is not ASCII and not tidy: accented names, an apostrophe, a quoted product name, an en dash,
  and notes with commas and line breaks.
- Booleans are spelled two ways in one file (`is_test` 1/0, `hide_transaction` true/false); a
  transaction's `status` may be empty; customers_ltv's dates and average are empty without orders.
- A ready report hands out a fresh download link on every GET; a link is refused with credentials
  (400) and, wrong or expired, answers an S3-like XML 403.
"""
from tap_retail_reports.sandbox.foxycart.app import API_VERSION_HEADER, ERROR_SHAPES, App, hapi_error
from tap_retail_reports.sandbox.foxycart.data import DATETIME_FORMAT, FILES, PORTAL_NAMES, REPORT_NAMES, money

__all__ = ["API_VERSION_HEADER", "DATETIME_FORMAT", "ERROR_SHAPES", "FILES", "PORTAL_NAMES", "REPORT_NAMES", "App",
           "hapi_error", "money"]
