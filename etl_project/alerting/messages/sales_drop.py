"""The messages people read about a day's sales: the stores that fell, or a day without any sales data."""

from collections.abc import Mapping, Sequence
from typing import Any

from etl_project.alerting.messengers import AlertMessage

#: Where sales_drop_check is shown in the UI, after DAGSTER_WEBSERVER_URL.
CHECK_PATH = "/assets/store_daily_sales?view=checks"


def sales_drop_message(
    as_of: str, stores: Sequence[Mapping[str, Any]], threshold_percent: float, check_link: str
) -> AlertMessage:
    """One message for one evaluation of sales_drop_check, one line per flagged store (rows of its
    `flagged_stores` table)."""
    count = len(stores)
    title = (
        f":chart_with_downwards_trend: Sales drop on {as_of}: {count} store{'s' if count != 1 else ''} "
        f"at or below {threshold_percent:+g}% against their 7-day average"
    )
    lines = [
        f"{s['store']} (store id {s['id']}): {s['amount_of_the_day']:,.2f} on {as_of} vs "
        f"7-day average {s['seven_day_average']:,.2f} ({s['change_percent']:+.1f}%)"
        for s in stores
    ]
    return AlertMessage(
        title=title, lines=lines, link=check_link, link_text="Open sales_drop_check in Dagster"
    )


def no_sales_data_message(as_of: str, check_link: str) -> AlertMessage:
    """A day without a single sale anywhere: an outage upstream, not every store down 100%."""
    return AlertMessage(
        title=f":warning: No sales data for {as_of}",
        lines=[
            f"No store has any sale on {as_of}: the files of that day are missing or held no sales. "
            "Store-by-store verdicts resume with the next day that has data."
        ],
        link=check_link,
        link_text="Open sales_drop_check in Dagster",
    )
