-- Rebuild etl.store_daily_sales: per store (by id, never by name) and sale_date, the sum of
-- quantity * the product's price. Runs in the caller's transaction, so readers see the old or the new table.
DELETE FROM etl.store_daily_sales;

INSERT INTO etl.store_daily_sales (store_id, sale_date, amount, items, sales_lines)
SELECT s.store_id, s.sale_date, sum(s.quantity * p.price), sum(s.quantity), count(*)
FROM etl.sales s
JOIN etl.products p ON p.id = s.product_id
GROUP BY s.store_id, s.sale_date;
