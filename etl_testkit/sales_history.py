"""A sales history with known drops: the scenario of the sales-drop tests, in one place."""

from datetime import date, timedelta

from etl_project.generator.events import Event

AS_OF = date(2025, 4, 20)
BASELINE_DAYS = [AS_OF - timedelta(days=n) for n in range(1, 8)]
#: store id -> (name, status, items per baseline day (or {day: items}), items on the as-of day); price 10.00
STORES = {
    1: ("Twin Shop", "active", 10, 5),  # -50%: flagged
    2: ("Twin Shop", "active", 10, 9),  # same name, -10%: not flagged
    3: ("Corner", "active", 10, 0),  # no sales on the day: -100%, flagged
    4: ("Tiny", "active", 1, 0),  # -100% but a baseline of 10.00 is below the minimum
    5: ("Closed", "closed", 10, 0),  # closed stores never alert
    6: ("Weekend", "active", {BASELINE_DAYS[0]: 20, BASELINE_DAYS[2]: 20, BASELINE_DAYS[4]: 20}, 6),  # -30%
}
EXPECTED_FLAGGED = [
    {
        "store": "Corner",
        "id": 3,
        "amount_of_the_day": 0.0,
        "seven_day_average": 100.0,
        "change_percent": -100.0,
    },
    {
        "store": "Twin Shop",
        "id": 1,
        "amount_of_the_day": 50.0,
        "seven_day_average": 100.0,
        "change_percent": -50.0,
    },
    {
        "store": "Weekend",
        "id": 6,
        "amount_of_the_day": 60.0,
        "seven_day_average": 85.71,
        "change_percent": -30.0,
    },
]


def history_events(as_of: date = AS_OF) -> list[Event]:
    """The scenario's events; `as_of` moves the whole history so that its drops fall on that day."""
    shift = as_of - AS_OF
    ts = "2025-04-01 09:00:00"
    events = [Event("product_event", {"id": 1, "created_at": ts, "name": "Widget", "price": 10.0})]
    events.append(Event("order_event", {"id": 1, "created_at": ts, "user_id": 1}))
    for store_id, (name, status, baseline, as_of_items) in STORES.items():
        events.append(
            Event(
                "store_event",
                {"id": store_id, "created_at": ts, "name": name, "tax_id": store_id, "status": status},
            )
        )
        per_day = baseline if isinstance(baseline, dict) else dict.fromkeys(BASELINE_DAYS, baseline)
        per_day = {**per_day, AS_OF: as_of_items, AS_OF - timedelta(days=8): 100}  # outside the window
        for day, items in per_day.items():
            if items:
                sale = {
                    "sale_date": (day + shift).isoformat(),
                    "order_id": 1,
                    "store_id": store_id,
                    "product_id": 1,
                }
                events.append(Event("sales_event", {**sale, "quantity": items}))
    return events
