"""Vroom: eight analytics reports, JSON arrays over HTTP Basic."""

from __future__ import annotations

from singer_sdk import typing as th

from tap_retail_reports.core.config import Vendor, check_int, check_string_list


def _check(config: dict) -> list[str]:
    return (check_int("vroom.window_days", config.get("window_days"), 1)
            + check_int("vroom.concurrent_windows", config.get("concurrent_windows"), 1)
            + check_string_list("vroom.site_ids", config.get("site_ids")))


def _streams(config: dict) -> list:
    from tap_retail_reports.vroom.streams import STREAMS

    return list(STREAMS)


VENDOR = Vendor(
    key="vroom",
    title="Vroom",
    default_base_url="https://www.vroomdelivery.com/api/retailer/v1",
    settings=[
        th.Property("username", th.StringType, description="Management portal e-mail"),
        th.Property("password", th.StringType, secret=True, description="Management portal password"),
        th.Property("site_ids", th.ArrayType(th.StringType), description="Site IDs to read; default all stores"),
        th.Property("window_days", th.IntegerType, description="Days per request window; default 1"),
        th.Property("concurrent_windows", th.IntegerType,
                    description="The most windows of a report read at once (a ceiling: the tap starts at 2 and "
                                "adapts to Vroom's answers); default 8, 1 reads them one by one"),
    ],
    credential_sets=(("username", "password"),),
    check=_check,
    streams=_streams,
)
