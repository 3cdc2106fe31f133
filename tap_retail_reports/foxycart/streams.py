"""FoxyCart's reports, one stream each. Columns are learned from the files' headers."""

from __future__ import annotations

from tap_retail_reports.core.file_stream import file_schema
from tap_retail_reports.foxycart.client import FoxyCartStream


class CompleteStream(FoxyCartStream):
    """Transaction details, summaries, coupon usage, subscription forecasts: one CSV each in the zip."""

    name = "foxycart_complete"
    report_name = "complete"
    schema = file_schema()


class CustomersStream(FoxyCartStream):
    """Customers, for export to another system."""

    name = "foxycart_customers"
    report_name = "customers"
    schema = file_schema()


class CustomersLtvStream(FoxyCartStream):
    """Lifetime value per customer."""

    name = "foxycart_customers_ltv"
    report_name = "customers_ltv"
    schema = file_schema()


class TransactionsStream(FoxyCartStream):
    """Transactions."""

    name = "foxycart_transactions"
    report_name = "transactions"
    schema = file_schema()


STREAMS = {cls.report_name: cls for cls in (CompleteStream, CustomersStream, CustomersLtvStream, TransactionsStream)}
