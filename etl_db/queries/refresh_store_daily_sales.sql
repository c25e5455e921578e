-- Rebuild etl.store_daily_sales from all of etl.sales: per store (by id, never by name) and day, the sum of
-- quantity * the product's price. A sale counts on its day in the session's TimeZone, which the platform sets
-- to ETL_TIMEZONE (set it the same way when running this by hand). Also rebuilds the quantities per store, day
-- and product that incremental refreshes maintain, and consumes the change log: run it in a REPEATABLE READ
-- transaction (as the platform does), so that the changes consumed are the ones the rebuild read.
-- %(raw_id_range)s is unused here; incremental refreshes need it.
SET LOCAL work_mem = '256MB';
SET LOCAL maintenance_work_mem = '512MB';
-- Sorted aggregation: rows come out in index order, the table is written clustered by its key, and its
-- indexes are then built from presorted rows (hashing millions of groups spills to disk anyway).
SET LOCAL enable_hashagg = off;

DELETE FROM etl.store_daily_sales_changes;

-- Written without its indexes, which are then built once (sorted): inserting millions of rows into them one
-- by one costs several times more.
TRUNCATE etl.store_daily_product_sales;
ALTER TABLE etl.store_daily_product_sales DROP CONSTRAINT store_daily_product_sales_pkey;
DROP INDEX etl.store_daily_product_sales_product_idx;

INSERT INTO etl.store_daily_product_sales (store_id, sale_date, product_id, items, sales_lines)
SELECT store_id, (sale_date AT TIME ZONE current_setting('TimeZone'))::date, product_id, sum(quantity), count(*)
FROM etl.sales
GROUP BY 2, 1, 3;  -- in key order (day first), so the table is written clustered by it

ALTER TABLE etl.store_daily_product_sales
    ADD CONSTRAINT store_daily_product_sales_pkey PRIMARY KEY (sale_date, store_id, product_id);
ANALYZE etl.store_daily_product_sales;
CREATE INDEX store_daily_product_sales_product_idx ON etl.store_daily_product_sales (product_id);

-- The same for the table itself (readers wait for the commit, then see the new table).
TRUNCATE etl.store_daily_sales;
ALTER TABLE etl.store_daily_sales DROP CONSTRAINT store_daily_sales_pkey;

INSERT INTO etl.store_daily_sales (store_id, sale_date, amount, items, sales_lines)
SELECT q.store_id, q.sale_date, sum(q.items * p.price), sum(q.items), sum(q.sales_lines)
FROM etl.store_daily_product_sales q
JOIN etl.products p ON p.id = q.product_id
GROUP BY 2, 1;  -- day first, as its key: the sales-drop check reads a few days of it

ALTER TABLE etl.store_daily_sales ADD CONSTRAINT store_daily_sales_pkey PRIMARY KEY (sale_date, store_id);

SELECT count(*), min(sale_date), max(sale_date) FROM etl.store_daily_sales;
