"""Retrend's reports, computed from the seed per store, report and calendar period, never stored; the
periods themselves are written here independently of the tap, so tests compare two readings."""

from __future__ import annotations

import datetime as dt
import random
import typing as t

REPORTS = ("conversation_delta_report", "category_interest_trends", "direct_search_oos_impact")
DURATIONS = ("daily", "weekly", "monthly", "quarterly", "yearly")
CLIENT_ID = "client-7781"

REPORT_NAMES = {
    "conversation_delta_report": "Conversation Delta Report",
    "category_interest_trends": "Category Interest Trends",
    "direct_search_oos_impact": "Direct Search OOS Impact",
}
INTENTS = ("product_search", "availability", "recommendation", "order_status", "store_hours", "returns")
CHANNELS = ("kiosk", "web_chat", "sms", "voice")
BROADTYPES = ("wine", "spirits", "beer", "cider", "mixers", "snacks", "tobacco", "accessories")
SUBTYPES = (
    "red wine", "white wine", "rose", "sparkling", "bourbon", "scotch", "tequila", "vodka",
    "gin", "ipa", "lager", "stout", "hard seltzer", "tonic", "chips", "cigars",
)
PRODUCTS = (
    ("P-10023", "Cabernet Sauvignon 750ml"), ("P-10087", "Prosecco Brut 750ml"),
    ("P-20011", "Kentucky Bourbon 1L"), ("P-20045", "Blanco Tequila 750ml"),
    ("P-30002", "Hazy IPA 6-pack"), ("P-30019", "Mexican Lager 12-pack"),
    ("P-40007", "Premium Tonic 4-pack"), ("P-50003", "Sea Salt Chips 200g"),
)


def period_start(day: dt.date, duration: str) -> dt.date:
    """The first day of the calendar period (UTC; weeks start on Monday) that holds `day`."""
    if duration == "daily":
        return day
    if duration == "weekly":
        return day - dt.timedelta(days=day.weekday())
    if duration == "monthly":
        return day.replace(day=1)
    if duration == "quarterly":
        return dt.date(day.year, 3 * ((day.month - 1) // 3) + 1, 1)
    return dt.date(day.year, 1, 1)


def period_end(start: dt.date, duration: str) -> dt.date:
    """The first day after the period (exclusive end)."""
    if duration == "daily":
        return start + dt.timedelta(days=1)
    if duration == "weekly":
        return start + dt.timedelta(days=7)
    months = {"monthly": 1, "quarterly": 3, "yearly": 12}[duration]
    index = start.year * 12 + start.month - 1 + months
    return dt.date(index // 12, index % 12 + 1, 1)


def buckets(start: dt.date, end: dt.date, duration: str) -> list[str]:
    """Labels of a report's time series: hours of a day, days of a week or month, weeks of a quarter, months of a year."""
    if duration == "daily":
        return [f"{start.isoformat()}T{hour:02d}:00:00Z" for hour in range(24)]
    if duration in ("weekly", "monthly"):
        return [(start + dt.timedelta(days=n)).isoformat() for n in range((end - start).days)]
    if duration == "quarterly":
        return [(start + dt.timedelta(weeks=n)).isoformat() for n in range(((end - start).days + 6) // 7)]
    return [dt.date(start.year, month, 1).isoformat() for month in range(1, 13)]


def _pct(now: float, before: float) -> float | None:
    """The change from `before` to `now` in percent, None from zero."""
    return None if not before else round(100.0 * (now - before) / before, 2)


def build_report(
    seed: int, store: int, report: str, duration: str, start: dt.date, *, created_at: dt.datetime | None = None
) -> dict:
    """The report object for one store, report, duration and period: the same for a seed."""
    rng = random.Random(f"{seed}:{store}:{report}:{duration}:{start.isoformat()}")
    end = period_end(start, duration)
    if created_at is None:  # reports of completed periods are computed in the small hours after
        created_at = dt.datetime.combine(end, dt.time(2, rng.randrange(60)), dt.timezone.utc)
    labels = buckets(start, end, duration)
    common = {
        "report_name": REPORT_NAMES[report],
        "client_id": CLIENT_ID,
        "store_num": store,
        "duration": duration,
        "start_date": start.isoformat(),
        "end_date": (end - dt.timedelta(days=1)).isoformat(),  # last day of the period
        "created_at": created_at.isoformat(timespec="seconds").replace("+00:00", "Z"),
    }
    build = {
        "conversation_delta_report": _conversation_delta,
        "category_interest_trends": _category_interest,
        "direct_search_oos_impact": _direct_search_oos,
    }[report]
    return {**common, **build(rng, labels)}



def _conversation_delta(rng: random.Random, labels: list[str]) -> dict:
    volumes: list[dict[str, t.Any]] = [{"period": label, "conversations": rng.randrange(5, 60)} for label in labels]
    total = sum(v["conversations"] for v in volumes)
    previous = max(1, int(total * rng.uniform(0.7, 1.3)))
    intents = []
    for intent in INTENTS:
        now, before = rng.randrange(0, total + 1), rng.randrange(1, total + 2)
        intents.append({"intent": intent, "count": now, "previous_count": before, "percent_change": _pct(now, before)})
    channels = []
    for channel in CHANNELS:
        now, before = rng.randrange(0, total + 1), rng.randrange(1, total + 2)
        channels.append({
            "channel": channel,
            "conversations": now,
            "share": round(now / total, 4) if total else 0.0,
            "percent_change": _pct(now, before),
        })
    return {
        "total_conversations": total,
        "previous_total_conversations": previous,
        "percent_change": _pct(total, previous),
        "volumes": volumes,
        "intent_breakdown": intents,
        "channel_mix": channels,
    }

def _category_interest(rng: random.Random, labels: list[str]) -> dict:
    def ranked(names: t.Sequence[str], field: str, count: int) -> list[dict]:
        chosen = rng.sample(list(names), count)
        return [
            {field: name, "rank": rank, "interest": rng.randrange(20, 500), "growth_pct": round(rng.uniform(-40, 120), 1)}
            for rank, name in enumerate(chosen, 1)
        ]

    shown = rng.sample(list(BROADTYPES), 4)
    return {
        "top_broadtypes": ranked(BROADTYPES, "broadtype", 5),
        "rising_broadtypes": ranked(BROADTYPES, "broadtype", 3),
        "top_subtypes": ranked(SUBTYPES, "subtype", 8),
        "rising_subtypes": ranked(SUBTYPES, "subtype", 5),
        "bar_data": {
            "labels": labels,
            "series": [{"name": name, "values": [rng.randrange(0, 80) for _ in labels]} for name in shown],
        },
    }

def _direct_search_oos(rng: random.Random, labels: list[str]) -> dict:
    searches = [rng.randrange(10, 200) for _ in labels]
    oos = [rng.randrange(0, max(1, s // 4)) for s in searches]
    volume, oos_total = sum(searches), sum(oos)
    products = []
    for product_id, name in rng.sample(list(PRODUCTS), 5):
        count = rng.randrange(5, 150)
        missed = rng.randrange(0, count // 2 + 1)
        products.append({
            "product_id": product_id,
            "name": name,
            "searches": count,
            "oos_searches": missed,
            "oos_rate": round(missed / count, 4),
        })
    return {
        "direct_search_volume": volume,
        "oos_search_count": oos_total,
        "oos_rate": round(oos_total / volume, 4) if volume else 0.0,
        "estimated_lost_revenue": round(oos_total * rng.uniform(8, 30), 2),
        "top_searched_products": products,
        "time_series": {
            "search_volume": [{"period": label, "value": value} for label, value in zip(labels, searches, strict=True)],
            "oos_rate": [
                {"period": label, "value": round(missed / count, 4)}
                for label, count, missed in zip(labels, searches, oos, strict=True)
            ],
        },
    }


