-- Rebuild etl.store_daily_sales: per store (by id, never by name) and day, the sum of quantity * the product's
-- price. A sale counts on its day in the session's TimeZone, which the platform sets to ETL_TIMEZONE (set it
-- the same way when running this by hand). Runs in the caller's transaction, so readers see the old or the new
-- table.
DELETE FROM etl.store_daily_sales;

INSERT INTO etl.store_daily_sales (store_id, sale_date, amount, items, sales_lines)
SELECT s.store_id, (s.sale_date AT TIME ZONE current_setting('TimeZone'))::date,
       sum(s.quantity * p.price), sum(s.quantity), count(*)
FROM etl.sales s
JOIN etl.products p ON p.id = s.product_id
GROUP BY 1, 2;
