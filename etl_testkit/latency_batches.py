"""The batch files of the `latency` scenario: a steady history up to yesterday, then small drops of one store each.

History: `HISTORY_STORES` stores each selling the same amount every day for the 8 days up to yesterday, so
that the sales-drop check passes on it. A drop: one small batch with a new store, its order and its sales of
the 7 days before yesterday at the usual amount and of yesterday at a tenth of it (-90%): a complete day that
flags exactly that store, never alerted before, so each drop has one alert of its own to wait for.

"Yesterday" must be due for a verdict (shared contract 8: the day is due at the first ETL_SALES_DROP_SCHEDULE
time after it ends in ETL_TIMEZONE). `verdict_settings` picks a time zone where it is now mid-day and a daily
schedule at 01:00 there, so that yesterday is due whatever the time of the run, and the daily verdict itself
does not fire during it. Code that alerts on every refresh (no schedule setting) alerts on it too.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

from etl_project.generator.events import Event, write_batch_file
from etl_project.schemas import ORDER_EVENT, PRODUCT_EVENT, SALES_EVENT, STORE_EVENT

HISTORY_STORES = 50
#: Days of history: yesterday and the 7 days of its baseline.
HISTORY_DAYS = 8
PRODUCT_ID = 1
PRICE = 10.0
#: Items a store sells a day (200.00, above the default minimum baseline of 100), and on its drop day.
USUAL_QUANTITY = 20
DROP_QUANTITY = 2
#: Ids of the drops' stores and orders start here, far from the history's.
FIRST_DROP_ID = 100_000
#: The daily verdict's schedule (cron, in ETL_TIMEZONE): 01:00, hours before "now" in the chosen zone.
VERDICT_SCHEDULE = "0 1 * * *"


def verdict_settings(now: datetime | None = None) -> dict[str, str]:
    """ETL_TIMEZONE and ETL_SALES_DROP_SCHEDULE under which yesterday is due now: UTC when it is between 03:00
    and 21:00 there, else a fixed-offset zone where it is (Etc/GMT-6 is UTC+6)."""
    now = now or datetime.now(timezone.utc)
    for zone in ("UTC", "Etc/GMT-6", "Etc/GMT+6"):
        if 3 <= now.astimezone(ZoneInfo(zone)).hour < 21:
            return {"ETL_TIMEZONE": zone, "ETL_SALES_DROP_SCHEDULE": VERDICT_SCHEDULE}
    raise AssertionError("one of three zones six hours apart is always between 03:00 and 21:00")


def yesterday_in(zone: str) -> date:
    return datetime.now(ZoneInfo(zone)).date() - timedelta(days=1)


def _stamp(day: date) -> str:
    """Noon of `day`, written as the legacy pipeline writes timestamps (local time of ETL_TIMEZONE)."""
    return datetime.combine(day, time(12)).strftime("%Y-%m-%d %H:%M:%S")


def _store(store_id: int, name: str, day: date) -> Event:
    return Event(
        STORE_EVENT.event_type,
        {"id": store_id, "created_at": _stamp(day), "name": name, "tax_id": store_id, "status": "active"},
    )


def _sale(order_id: int, store_id: int, day: date, quantity: int) -> Event:
    return Event(
        SALES_EVENT.event_type,
        {
            "sale_date": _stamp(day),
            "order_id": order_id,
            "store_id": store_id,
            "product_id": PRODUCT_ID,
            "quantity": quantity,
        },
    )


def write_history(directory: Path, yesterday: date) -> Path:
    """One batch: the stores, the product, one order and every store's sales of the 8 days up to yesterday."""
    first_day = yesterday - timedelta(days=HISTORY_DAYS - 1)
    events = [_store(i, f"History store {i}", first_day) for i in range(1, HISTORY_STORES + 1)]
    events.append(
        Event(
            PRODUCT_EVENT.event_type,
            {"id": PRODUCT_ID, "created_at": _stamp(first_day), "name": "Bench item", "price": PRICE},
        )
    )
    events.append(Event(ORDER_EVENT.event_type, {"id": 1, "created_at": _stamp(first_day), "user_id": 1}))
    events += [
        _sale(1, store_id, first_day + timedelta(days=d), USUAL_QUANTITY)
        for d in range(HISTORY_DAYS)
        for store_id in range(1, HISTORY_STORES + 1)
    ]
    return write_batch_file(directory, "latency_history", datetime.combine(yesterday, time(12)), events)


def drop_store_name(index: int) -> str:
    return f"Latency drop store {index}"


def write_drop(directory: Path, index: int, yesterday: date) -> Path:
    """Drop number `index`: a new store selling as usual for 7 days, then a tenth of that yesterday.

    Written under a hidden name and renamed into `directory` complete, as the generator does.
    """
    store_id = order_id = FIRST_DROP_ID + index
    events = [
        _store(store_id, drop_store_name(index), yesterday - timedelta(days=7)),
        Event(ORDER_EVENT.event_type, {"id": order_id, "created_at": _stamp(yesterday), "user_id": 1}),
    ]
    events += [_sale(order_id, store_id, yesterday - timedelta(days=d), USUAL_QUANTITY) for d in range(1, 8)]
    events.append(_sale(order_id, store_id, yesterday, DROP_QUANTITY))
    return write_batch_file(
        directory, f"latency_drop_{index}", datetime.combine(yesterday, time(12)) + timedelta(hours=1), events
    )
