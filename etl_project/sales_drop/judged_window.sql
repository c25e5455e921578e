-- A cheap fingerprint of what sales_drop_check reads for %(as_of_date)s: the store_daily_sales rows of that day
-- and of the 7 days before it (read by the (sale_date, store_id) key), and each store's name and status.
-- Equal fingerprints mean an equal verdict. store_daily_sales returns it as its data version.
SELECT count(*) AS window_rows,
       concat_ws(':', count(*), sum(amount), sum(hashtext(concat_ws(':', sale_date, store_id, amount))))
           AS window_fingerprint,
       (SELECT concat_ws(':', count(*), sum(hashtext(concat_ws(':', id, status, name)))) FROM etl.stores)
           AS stores_fingerprint
FROM etl.store_daily_sales
WHERE sale_date BETWEEN %(as_of_date)s::date - 7 AND %(as_of_date)s::date;
