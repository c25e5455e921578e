"""The text people read when stores' sales fall (one message per failed evaluation of sales_drop_check)."""

from collections.abc import Sequence
from urllib.parse import quote

from etl_project.defs.sales_analytics.messengers import AlertMessage


def sales_drop_message(
    as_of: str, stores: Sequence[dict], threshold_percent: float, webserver_url: str
) -> AlertMessage:
    """One message for one evaluation of sales_drop_check, listing each flagged store."""
    count = len(stores)
    title = (
        f":chart_with_downwards_trend: Sales drop on {as_of}: {count} store{'s' if count != 1 else ''} "
        f"at or below {threshold_percent:+g}% against their 7-day average"
    )
    lines = [
        f"{s['store_name']} (store id {s['store_id']}): {s['as_of_amount']:,.2f} on {as_of} vs "
        f"7-day average {s['baseline_amount']:,.2f} ({s['percent_change']:+.1f}%)"
        for s in stores
    ]
    link = f"{webserver_url.rstrip('/')}/assets/{quote('store_daily_sales')}?view=checks"
    return AlertMessage(title=title, lines=lines, link=link, link_text="Open sales_drop_check in Dagster")
