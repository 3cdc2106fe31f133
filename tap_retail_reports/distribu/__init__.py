"""Distribu: synchronous JSON sales, customer and inventory reports, 60 requests a minute."""

from __future__ import annotations

from singer_sdk import typing as th

from tap_retail_reports.core.config import Vendor, check_int


def _check(config: dict) -> list[str]:
    return (check_int("distribu.requests_per_minute", config.get("requests_per_minute"), 1)
            + check_int("distribu.concurrent_windows", config.get("concurrent_windows"), 1))


def _streams(config: dict) -> list:
    from tap_retail_reports.distribu.streams import STREAMS

    return list(STREAMS)


VENDOR = Vendor(
    key="distribu",
    title="Distribu",
    default_base_url="https://distribu.app",
    settings=[
        th.Property("api_key", th.StringType, secret=True, description="A dk_ key with the reports:read scope"),
        th.Property("requests_per_minute", th.IntegerType, description="Client-side request budget; default 60"),
        th.Property("concurrent_windows", th.IntegerType,
                    description="The most days of a report read at once (a ceiling: the tap adapts to Distribu's "
                                "answers), within requests_per_minute; default 2"),
    ],
    credential_sets=(("api_key",),),
    check=_check,
    streams=_streams,
)
