"""Simulated Flipkart Report Management API: client-credentials tokens, report jobs, signed downloads.

rows.py writes each report type's rows; reports.py checks a report's parameters and gives its file names
and CSVs; app.py serves them over HTTP (tokens, jobs, downloads, gateway faults) on the machinery
Flipkart shares with FoxyCart (../jobs/).

Routes (relative to /flipkart; answers are application/json):
  GET  /oauth-service/oauth/token?grant_type=client_credentials&scope=Seller_Api   HTTP Basic
       client_id:client_secret -> {access_token, token_type, expires_in, scope}; bad -> 401
       invalid_client. The partner token `credentials.FLIPKART_ACCESS_TOKEN` is accepted as Bearer too.
  GET  /oauth-service/oauth/token?grant_type=refresh_token&refresh_token=...   the same Basic
       credentials -> a partner access token {access_token, token_type, expires_in (60 days), scope}
       and, as `refresh_token_rotation` says, no refresh_token, the same one, or a new one that
       replaces the used one. `credentials.FLIPKART_REFRESH_TOKEN` is valid at the start; an unknown
       or replaced refresh token is 400 invalid_grant.
  POST /reports/{report_type}     Bearer; JSON {correlation_id (optional, a UUID), parameters} ->
       {"report_id": "R-<26 chars>"}. Unknown type 404; bad parameters 400 naming the problem.
  GET  /reports/{report_id}/detail   Bearer; status TRIGGERED, then PROCESSING (after a third of
       processing_seconds), then COMPLETED with `location` (a fresh x_secret_key on every GET) and
       metadata {expiry, file_name, row_count}, or FAILED, or EXPIRED (no location).
       `metadata.expiry` is "YYYY-MM-DD HH:MM:SS", naive, in Asia/Kolkata (IST): the link works until
       then (link_ttl_seconds after the GET). The `expiry_form` knob gives other readings.
  GET  /storage/reports/{report_id}?x_secret_key=...   the file as application/octet-stream; a request
       with an Authorization header is refused with 400 (counted as a credential violation); a wrong
       key is 403; a link past its expiry (or a report past report_ttl_seconds) is 410 Gone.

Parameters (strict; dates yyyy-MM-dd, to_date >= from_date, both inclusive):
  from_date, to_date                 gst_returns_report, sales_ledger, settled_transaction_ledger,
                                     financial_year_ledger, fbf_orders_report, returns_report, orders_report
  warehouse_id, from_date, to_date   stock_ledger
  warehouse_id, month ("May"), year  mir_ledger: a month is available from the 8th of the next
                                     month, by the sandbox clock in IST (earlier: 400)
  warehouse_id                       current_inventory_report, stranded_inventory_report,
                                     unsellable_inventory_report (snapshots as of the creation day, IST)
Warehouses are `credentials.FLIPKART_WAREHOUSE_IDS`.

Files: the format per report type comes from the `formats` knob (csv, csv_bom, gzip, zip or xlsx;
defaults in reports.DEFAULT_FORMATS). A CSV is named `<type>.csv`, or `<type>_<warehouse_id>.csv` for
warehouse-scoped types; metadata.file_name is that name (plus .gz for gzip), or `<same base>.zip` for a
zip, which holds that one CSV, except sales_ledger's zip: sales_report.csv and cash_back_report.csv.
An xlsx is `<same base>.xlsx`, a workbook with the CSV's rows on `Sheet1` (sales_ledger's: two sheets,
`sales_report` and `cash_back_report`), its cells typed: numbers, booleans, dates and (naive IST)
date-times. Times in the CSVs are naive IST "YYYY-MM-DD HH:MM:SS", dates "YYYY-MM-DD".

Knobs (`POST /_sandbox/vendor/flipkart`): those of `jobs/knobs.py`, plus
  expire_next: N          the next N reports created end EXPIRED as soon as they finish
  report_ttl_seconds      a COMPLETED report turns EXPIRED this long after it finished (default 86400)
  formats: {type: format} file format per report type (merged into the current ones); the type "*"
                          sets every type's, e.g. {"*": "xlsx"} (sales_ledger's stays a zip unless xlsx)
  csv_repeat_header_every: N   every CSV built from now on repeats its header line after every N rows
  csv_new_header_after: N      every CSV built from now on has, after N rows, a header with its columns
                          in reverse order, and the rows after it in that order (0: off, the default)
  xlsx_text_cells: true   every workbook built from now on holds text cells only, as the CSV's (default false:
                          numbers, dates, date-times and booleans typed)
  timeout_499_next: N     the next N report calls (create or detail) answer 499 {"code":
                          "CONNECTION_TIMED_OUT", "message": "Connection timed out"}, as the gateway does
  accepted_next: N        the next N report calls answer 202 {"message": ...} with no report_id or status
                          ("accepted, not ready"): nothing in it may be read as an answer
  create_status           the status of a successful creation: 200 (default), 201 or 202, each with report_id
  running_detail_status   the status of a detail answer while the report is TRIGGERED or PROCESSING:
                          200 (default) or 202, each with its status
  partner_token_lifetime_seconds   lifetime of access tokens from the refresh grant (default 60 days)
  refresh_token_rotation  what a refresh grant answers: "absent" (no refresh_token, the default),
                          "same" (the used one again) or "rotate" (a new one; the used one stops working)
  reports_need_partner_token  true: report calls refuse client-credentials tokens with 403, as
                          Flipkart's public documentation says its Reports API does
  expiry_form             how metadata.expiry is written: ist (default, naive India time), utc (naive
                          UTC), offset (ISO 8601 with +05:30), epoch_seconds, epoch_millis (numbers),
                          absent (no expiry), unreadable ("soon")
`fail_next` makes reports end FAILED; `revoke_tokens` also revokes the partner token (until `reset`).
For tests, `App.expected_rows(report_type, parameters, as_of=None)` gives exactly what the file holds.

Liberties a real vendor takes, served on purpose so the tap is tested against them:
- Every time is naive India time (IST), in the files and in metadata.expiry alike.
- Each type has its own container: a gzip'd CSV, a zip (sales_ledger's with two CSVs), a CSV with a
  byte-order mark, a plain CSV; warehouse-scoped types make one file per warehouse.
- A COMPLETED report hands out a fresh signed link on every detail GET; the link, and later the
  report itself, expire (410).
- Columns that are filled in pairs leave the other pair empty (IGST or CGST + SGST, debit or credit);
  codes keep their leading zeros (hsn_code "0902"); booleans are "true"/"false".
- Text is not ASCII and not tidy: Devanagari and en dashes in titles, quotes, commas, and buyer
  comments with line breaks.
- A month's mir_ledger exists only from the 8th of the following month (earlier: 400).
"""
from tap_retail_reports.sandbox.flipkart.app import EXPIRY_FORMS, App, expiry_text
from tap_retail_reports.sandbox.flipkart.reports import (
    DEFAULT_FORMATS,
    IST,
    PARAMETERS,
    REPORT_TYPES,
    SNAPSHOT_TYPES,
    BadParameters,
    check_parameters,
    csv_names,
    file_name,
)
from tap_retail_reports.sandbox.flipkart.rows import COLUMNS, MONTHS, ROWS, WAREHOUSES

__all__ = [
    "COLUMNS", "DEFAULT_FORMATS", "EXPIRY_FORMS", "IST", "MONTHS", "PARAMETERS", "REPORT_TYPES", "ROWS", "SNAPSHOT_TYPES",
    "WAREHOUSES", "App", "BadParameters", "check_parameters", "csv_names", "expiry_text", "file_name",
]
