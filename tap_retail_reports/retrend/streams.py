"""Retrend's three reports, one stream each; they differ only in the report they ask for."""

from __future__ import annotations

from singer_sdk import typing as th

from tap_retail_reports.retrend.client import RetrendStream


def report_schema() -> dict:
    """The fields common to the three reports. The document names the reports' figures but not their
    fields: those are learned from the answers (RetrendStream.learn_figures), never guessed."""
    return th.PropertiesList(
        th.Property("store_num", th.IntegerType, required=True),
        th.Property("duration", th.StringType, required=True, description="daily, weekly, monthly, quarterly or yearly"),
        th.Property("start_date", th.DateType, required=True, description="First day of the period"),
        th.Property("end_date", th.DateType, description="End of the period, as Retrend gives it"),
        th.Property("report_name", th.StringType),
        th.Property("client_id", th.CustomType({"type": ["string", "integer", "null"]})),
        th.Property("created_at", th.DateTimeType, description="When Retrend computed the report"),
        th.Property(
            "_period_completed",
            th.BooleanType,
            description="False for a period still in progress (from run-now, with refresh_current_period); "
            "a later run replaces the row once the period is over",
        ),
    ).to_dict()


class ConversationDeltaReportStream(RetrendStream):
    """Conversation volumes over time, intent breakdowns, channel mix with percent change."""

    name = "retrend_conversation_delta_report"
    report = "conversation_delta_report"
    schema = report_schema()


class CategoryInterestTrendsStream(RetrendStream):
    """Top and rising broadtypes and subtypes, with bar-chart data."""

    name = "retrend_category_interest_trends"
    report = "category_interest_trends"
    schema = report_schema()


class DirectSearchOOSImpactStream(RetrendStream):
    """Direct-search volume, out-of-stock counts and rates, top searched products, time series."""

    name = "retrend_direct_search_oos_impact"
    report = "direct_search_oos_impact"
    schema = report_schema()


STREAMS = {cls.report: cls for cls in (ConversationDeltaReportStream, CategoryInterestTrendsStream, DirectSearchOOSImpactStream)}
