"""The sales-drop verdict, Dagster-free: which stores' sales fell sharply on a day, and when that verdict is final.

rule.py             the rule's settings (`RuleSettings`: threshold, minimum baseline, time zone, verdict
                    schedule) and the day judged (`judged_day`: the run's etl/sales_drop_as_of tag, else yesterday)
judged_window.py    what the verdict judges, fingerprinted (`judged_window`): store_daily_sales' data version
findings.py         the rule applied (`find_sales_drops`, sales_drop.sql) and the verdict read from it (`judge`)
sales_drop.sql, judged_window.sql   the rule and the window in plain SQL, runnable by analysts (psql -v ...)

`etl_project/defs/sales_analytics/` declares the asset, the check, the schedule and the sensor that call these.
"""
