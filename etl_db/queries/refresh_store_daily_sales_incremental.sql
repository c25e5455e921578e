-- Refresh etl.store_daily_sales incrementally: only the store-days named by the change log written by loads,
-- reloads and replays since the previous refresh (migration 0008 describes it). Run it in a REPEATABLE READ
-- transaction, as the platform does: the changes consumed and the rows read then come from one snapshot, so a
-- load committing meanwhile is consumed by this refresh or left, whole, to the next.
-- %(raw_id_range)s is the width of a load's raw_id range (2^32).

-- 1. Consume the change log.
CREATE TEMP TABLE consumed_changes ON COMMIT DROP AS
WITH consumed AS (DELETE FROM etl.store_daily_sales_changes RETURNING *)
SELECT kind, raw_id_base, store_id, sale_date, product_id, items, sales_lines FROM consumed;

CREATE TEMP TABLE loaded_ranges ON COMMIT DROP AS
SELECT DISTINCT raw_id_base FROM consumed_changes WHERE kind = 'load';
ANALYZE loaded_ranges;

-- 2. Quantity changes per store, day and product: the sales in the loads' ranges as they are now, and the
-- recorded deltas of other loads (a reload's deletions, a replay's late sales). A delta of a load whose range
-- is read here is already in that range's current rows.
CREATE TEMP TABLE quantity_changes ON COMMIT DROP AS
SELECT store_id, sale_date, product_id, sum(items) AS items, sum(sales_lines) AS sales_lines
FROM (
    SELECT s.store_id, (s.sale_date AT TIME ZONE current_setting('TimeZone'))::date AS sale_date, s.product_id,
           s.quantity AS items, 1 AS sales_lines
    FROM loaded_ranges r
    JOIN etl.sales s ON s.raw_id > r.raw_id_base AND s.raw_id < r.raw_id_base + %(raw_id_range)s
    UNION ALL
    SELECT c.store_id, c.sale_date, c.product_id, c.items, c.sales_lines
    FROM consumed_changes c
    WHERE c.kind = 'sales' AND NOT EXISTS (SELECT FROM loaded_ranges r WHERE r.raw_id_base = c.raw_id_base)
) changes
GROUP BY 1, 2, 3;
ANALYZE quantity_changes;

INSERT INTO etl.store_daily_product_sales AS q (store_id, sale_date, product_id, items, sales_lines)
SELECT store_id, sale_date, product_id, items, sales_lines FROM quantity_changes
ON CONFLICT (sale_date, store_id, product_id) DO UPDATE
SET items = q.items + EXCLUDED.items, sales_lines = q.sales_lines + EXCLUDED.sales_lines;

-- Only a change that adds no sales line can leave nothing (an index lookup each; not a join with the whole
-- table): a negative one, or one whose lines cancel out (a replayed sale and the reload that removed it again,
-- consumed together), which the insert above would otherwise leave as a new row of zeros.
DELETE FROM etl.store_daily_product_sales q
USING (SELECT store_id, sale_date, product_id FROM quantity_changes WHERE sales_lines <= 0) c
WHERE q.store_id = c.store_id AND q.sale_date = c.sale_date AND q.product_id = c.product_id
  AND q.sales_lines = 0;

-- 3. The store-days to recompute: those whose quantities changed, and those selling a product that a load
-- inserted (a new price, or a product back after a reload dropped it) or a reload deleted.
CREATE TEMP TABLE changed_products ON COMMIT DROP AS
SELECT p.id AS product_id
FROM loaded_ranges r
JOIN etl.products p ON p.raw_id > r.raw_id_base AND p.raw_id < r.raw_id_base + %(raw_id_range)s
UNION
SELECT product_id FROM consumed_changes WHERE kind = 'product';
ANALYZE changed_products;

CREATE TEMP TABLE touched_store_days ON COMMIT DROP AS
SELECT store_id, sale_date FROM quantity_changes
UNION
SELECT q.store_id, q.sale_date
FROM changed_products c
JOIN etl.store_daily_product_sales q ON q.product_id = c.product_id;
ANALYZE touched_store_days;

-- 4. Recompute them.
DELETE FROM etl.store_daily_sales d
USING touched_store_days t
WHERE d.store_id = t.store_id AND d.sale_date = t.sale_date;

INSERT INTO etl.store_daily_sales (store_id, sale_date, amount, items, sales_lines)
SELECT q.store_id, q.sale_date, sum(q.items * p.price), sum(q.items), sum(q.sales_lines)
FROM touched_store_days t
JOIN etl.store_daily_product_sales q ON q.store_id = t.store_id AND q.sale_date = t.sale_date
JOIN etl.products p ON p.id = q.product_id
GROUP BY 1, 2;

SELECT count(*), min(sale_date), max(sale_date) FROM touched_store_days;
