"""Vroom's eight analytics reports, one stream each.

`create_promo_code` is not here: it writes to the vendor, and an extractor only reads.
"""

from __future__ import annotations

import datetime as dt
import typing as t
from functools import cached_property

from singer_sdk import typing as th

from tap_retail_reports.core.records import READ_AT, RowIdentities, day_reading, fill_missing_key
from tap_retail_reports.core.windows import iso
from tap_retail_reports.vroom.client import VroomStream, VroomWindowedStream

if t.TYPE_CHECKING:
    from singer_sdk.helpers.types import Context, Record

    from tap_retail_reports.core.windows import Window

Money = th.NumberType  # Vroom's "Decimal": sent as numbers, sometimes as strings; typed as numbers
When = th.DateTimeType

LINE_ITEM_PROPERTIES = [
    th.Property("site_id", th.StringType),
    th.Property("order_id", th.StringType),
    th.Property("sales_channel", th.StringType),
    th.Property("external_order_id", th.StringType),
    th.Property("created_at", When),
    th.Property("customer_name", th.StringType),
    th.Property("customer_email", th.StringType),
    th.Property("customer_phone", th.StringType),
    th.Property("product_upc_or_plu", th.StringType),
    th.Property("product_title", th.StringType),
    th.Property("product_price", Money),
    th.Property("product_container_deposit", Money),
    th.Property("original_quantity", th.IntegerType),
    th.Property("final_quantity", th.IntegerType),
    th.Property("upsell", th.BooleanType),
    th.Property("cart_position", th.IntegerType),
    th.Property("added_by_store", th.BooleanType),
    th.Property("product_merchandise_code", th.StringType),
]

ORDER_MONEY_FIELDS = (
    "total", "merchandise", "delivery_fee", "tip", "tip_refund", "net_tip", "refund_amount",
    "upcharge_amount", "adjusted_total", "adjusted_total_less_tips", "processing_fee",
    "processing_fee_refund", "processing_fee_on_upcharge", "net_processing_fee",
    "third_party_fulfillment_fee", "third_party_fulfillment_fee_refund",
    "net_third_party_fulfillment_fee", "ebt_fees", "net_remit", "promotion_code_original_discount",
    "promotion_code_final_discount", "mix_match_combo_original_discount",
    "mix_match_combo_final_discount", "loyalty_original_discount", "loyalty_final_discount",
    "delivery_latitude", "delivery_longitude", "delivery_distance", "subscription_discount",
)
ORDER_TIME_FIELDS = (
    "created_at", "scheduled_time", "placed_time", "confirm_time", "ready_time",
    "driver_start_time", "driver_end_time", "complete_time",
)


class OrdersStream(VroomWindowedStream):
    name = "vroom_orders"
    endpoint = "orders"
    primary_keys = ("order_id",)
    replication_key = "created_at"
    schema = th.PropertiesList(
        th.Property("site_id", th.StringType),
        th.Property("order_id", th.StringType, required=True),
        th.Property("sales_channel", th.StringType),
        th.Property("external_order_id", th.StringType),
        th.Property("created_at", When),
        th.Property("customer_name", th.StringType),
        th.Property("customer_email", th.StringType),
        th.Property("customer_phone", th.StringType),
        *(th.Property(name, Money) for name in ORDER_MONEY_FIELDS),
        th.Property("promotion_code", th.StringType),
        th.Property("mix_match_combo_original_count", th.IntegerType),
        th.Property("mix_match_combo_final_count", th.IntegerType),
        th.Property("loyalty_code", th.StringType),
        th.Property("canceled", th.BooleanType),
        th.Property("driver", th.StringType),
        th.Property("delivery_address", th.StringType),
        th.Property("order_type", th.StringType),
        *(th.Property(name, When) for name in ORDER_TIME_FIELDS if name != "created_at"),
        th.Property("cancelation_reason", th.StringType),
        th.Property("subscribed", th.BooleanType),
        th.Property("auto_retention_conversion", th.BooleanType),
        th.Property("is_new_customer", th.BooleanType),
        # No `line_items`: orders are read without include_line_items (vroom_line_items carries
        # them), so the column would always be empty; were Vroom to send it, _extra_fields keeps it.
    ).to_dict()


class LineItemsStream(VroomWindowedStream):
    name = "vroom_line_items"
    endpoint = "line_items"
    primary_keys = ("order_id", "cart_position")
    replication_key = "created_at"
    schema = th.PropertiesList(*LINE_ITEM_PROPERTIES).to_dict()


class TransactionsStream(VroomWindowedStream):
    name = "vroom_transactions"
    endpoint = "transactions"
    primary_keys = ("transaction_id",)
    replication_key = "time"
    sends_site_ids = False  # the endpoint documents only from_time and to_time, both required
    schema = th.PropertiesList(
        th.Property("site_id", th.StringType),
        th.Property("amount", Money),
        th.Property("transaction_id", th.StringType, required=True),
        th.Property("payout_id", th.StringType),
        th.Property("type", th.StringType),
        th.Property("time", When),
        th.Property("source", th.StringType),
        th.Property("deposit_status", th.StringType),
        th.Property("estimated_deposit", th.StringType, description="MM/DD/YYYY, as Vroom sends it"),
        th.Property("additional_details", th.StringType),
    ).to_dict()

    def post_process(self, row: Record, context: Context | None = None) -> Record | None:
        """Vroom cannot filter transactions by store, so vroom.site_ids is applied here."""
        if self.wanted_sites and row.get("site_id") not in self.wanted_sites:
            return None
        return super().post_process(row, context)

    @cached_property
    def wanted_sites(self) -> frozenset[str]:
        return frozenset(self.vendor_config.get("site_ids") or ())


class HashedEventStream(VroomWindowedStream):
    """Event rows with no id of their own, keyed on site, time and a hash of a fixed list of documented fields
    (`hashed_fields`), so that a field Vroom adds later changes no key; identical rows, which share a window,
    are told apart by their repeat count."""

    primary_keys = ("site_id", "created_at", "_row_hash")
    replication_key = "created_at"
    hashed_fields: t.ClassVar[tuple[str, ...]]

    def records_in_window(self, window: Window, context: Context | None) -> t.Iterable[dict]:
        identities = RowIdentities(self.hashed_fields)
        for row in super().records_in_window(window, context):
            row["_row_hash"] = identities(row)
            yield row


ROW_HASH = th.Property(
    "_row_hash",
    th.StringType,
    description="SHA-256 of the stream's documented fields as Vroom sent them (and of the repeat count, for identical rows)",
)


class SearchTermsStream(HashedEventStream):
    name = "vroom_search_terms"
    endpoint = "search_terms"
    hashed_fields = (
        "site_id", "created_at", "ip_hash", "term", "num_search_results",
        "selected_product_upc_or_plu", "selected_product_title", "selection_position",
    )
    schema = th.PropertiesList(
        th.Property("site_id", th.StringType),
        th.Property("created_at", When),
        th.Property("ip_hash", th.StringType),
        th.Property("term", th.StringType),
        th.Property("num_search_results", th.IntegerType),
        th.Property("selected_product_upc_or_plu", th.StringType),
        th.Property("selected_product_title", th.StringType),
        th.Property("selection_position", th.IntegerType),
        ROW_HASH,
    ).to_dict()


class AuditLogsStream(HashedEventStream):
    name = "vroom_audit_logs"
    endpoint = "audit_logs"
    hashed_fields = ("site_id", "created_at", "action", "additional_details", "user")
    schema = th.PropertiesList(
        th.Property("site_id", th.StringType, description="'Management' for cross-site actions"),
        th.Property("created_at", When),
        th.Property("action", th.StringType),
        th.Property("additional_details", th.StringType),
        th.Property("user", th.StringType),
        ROW_HASH,
    ).to_dict()


class SalesByProductStream(VroomWindowedStream):
    """Sales per product per day, one UTC day a request, stamped `date` and `_read_at`: a product gone from a
    re-read day keeps its old row in an upserting target, and `_read_at` tells the latest reading."""

    name = "vroom_sales_by_product"
    endpoint = "sales_by_product"
    primary_keys = ("date", "upc_or_plu")
    replication_key = "date"
    fixed_window_days = 1  # the rows are aggregates over the request's range
    schema = th.PropertiesList(
        th.Property("date", th.DateType, required=True),
        th.Property("upc_or_plu", th.StringType, required=True),
        th.Property("title", th.StringType),
        th.Property("total_sales", Money),
        th.Property("units_sold", th.IntegerType),
        th.Property("category", th.StringType),
        th.Property("image_url", th.StringType),
        READ_AT,
    ).to_dict()

    def records_in_window(self, window: Window, context: Context | None) -> t.Iterable[dict]:
        return day_reading(super().records_in_window(window, context), window.start.date().isoformat())


class CustomerContactsStream(VroomStream):
    """All customer contacts, read whole each run: their attributes (last order, unsubscribed) change. A
    contact with only a phone gets the key `no-email:<16 hex>`, a hash of its phone, name and created_at."""

    name = "vroom_customer_contacts"
    endpoint = "customer_contacts"
    primary_keys = ("email",)
    replication_key = None
    # Full table: ACTIVATE_VERSION lets a target delete (or flag) a contact Vroom no longer lists.
    emit_activate_version_messages = True
    schema = th.PropertiesList(
        th.Property("name", th.StringType),
        th.Property("email", th.StringType, required=True),
        th.Property("phone", th.StringType),
        th.Property("created_at", When),
        th.Property("last_order_id", th.StringType),
        th.Property("last_order_time", When),
        th.Property("unsubscribed", th.BooleanType),
        th.Property("site_ids", th.ArrayType(th.StringType)),
    ).to_dict()

    def get_records(self, context: Context | None) -> t.Iterable[dict]:
        return fill_missing_key(super().get_records(context), "email", ("phone", "name", "created_at"))


OrderGroup = th.ObjectType(
    th.Property("count", th.IntegerType),
    th.Property("order_ids", th.ArrayType(th.StringType)),
    additional_properties=True,
)
ORDER_GROUPS = (
    "orders_pending_less_than_ten_mins", "orders_pending_more_than_ten_mins",
    "orders_preparing_less_than_one_hour", "orders_preparing_more_than_one_hour",
    "orders_ready_less_than_one_hour", "orders_ready_more_than_one_hour",
    "orders_completed", "orders_canceled",
)


class OrderStatusesStream(VroomStream):
    """Live order statuses per store (Vroom's default: the last 24 hours), stamped `snapshot_at`."""

    name = "vroom_order_statuses"
    endpoint = "order_statuses"
    primary_keys = ("site_id", "snapshot_at")
    replication_key = None
    schema = th.PropertiesList(
        th.Property("site_id", th.StringType, required=True),
        th.Property("snapshot_at", When, required=True, description="When the tap took the snapshot"),
        *(th.Property(name, OrderGroup) for name in ORDER_GROUPS),
    ).to_dict()

    def get_records(self, context: Context | None) -> t.Iterable[dict]:
        snapshot_at = iso(dt.datetime.now(dt.timezone.utc).replace(microsecond=0))
        for row in super().get_records(context):
            row["snapshot_at"] = snapshot_at
            yield row


STREAMS = (
    CustomerContactsStream,
    OrderStatusesStream,
    SearchTermsStream,
    AuditLogsStream,
    LineItemsStream,
    OrdersStream,
    TransactionsStream,
    SalesByProductStream,
)
