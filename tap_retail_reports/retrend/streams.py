"""Retrend's three reports, one stream each; they differ only in the report they ask for."""

from __future__ import annotations

from tap_retail_reports.retrend.client import RetrendStream, report_schema


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
