-- Rebuild etl.store_daily_sales from all of etl.sales: per store (by id, never by name) and day, the sum of
-- quantity * the product's price. A sale counts on its day in the session's TimeZone, which the platform sets
-- to ETL_TIMEZONE (set it the same way when running this by hand). Also rebuilds the quantities per store, day
-- and product that incremental refreshes maintain, and consumes the change log: run it in a REPEATABLE READ
-- transaction (as the platform does), so that the changes consumed are the ones the rebuild read.
-- %(raw_id_range)s is unused here; incremental refreshes need it.
DELETE FROM etl.store_daily_sales_changes;

TRUNCATE etl.store_daily_product_sales;

INSERT INTO etl.store_daily_product_sales (store_id, sale_date, product_id, items, sales_lines)
SELECT store_id, (sale_date AT TIME ZONE current_setting('TimeZone'))::date, product_id, sum(quantity), count(*)
FROM etl.sales
GROUP BY 1, 2, 3;

DELETE FROM etl.store_daily_sales;

INSERT INTO etl.store_daily_sales (store_id, sale_date, amount, items, sales_lines)
SELECT q.store_id, q.sale_date, sum(q.items * p.price), sum(q.items), sum(q.sales_lines)
FROM etl.store_daily_product_sales q
JOIN etl.products p ON p.id = q.product_id
GROUP BY 1, 2;

SELECT count(*), min(sale_date), max(sale_date) FROM etl.store_daily_sales;
