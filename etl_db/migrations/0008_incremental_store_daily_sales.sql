-- Incremental store_daily_sales (issue 13): a refresh recomputes only the store-days that changed since the
-- previous refresh, found from what the loads record here, never by scanning etl.sales.
--
-- The change log. Each writer adds its rows in its own transaction, so a refresh sees a change exactly when it
-- sees the rows it describes; a refresh deletes the rows it consumed in its own (repeatable read) transaction.
--   'load'    a load inserted sales and products in its raw_id range [raw_id_base, raw_id_base + 2^32): one
--             row per load, whatever its size (the only cost a load pays);
--   'sales'   a quantity delta of one (store, day, product): negative when a reload deletes a previous load's
--             sales, positive when a replay inserts late sales. raw_id_base names the load the sales belong
--             to: when the same refresh also reads that load's range, the range already shows the change;
--   'product' a product a reload deleted (its price may come back different, or not at all);
--   'rebuild' the next refresh is a full rebuild (this migration writes one: the history already loaded).
CREATE TABLE etl.store_daily_sales_changes (
    change_id    bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    kind         text   NOT NULL CHECK (kind IN ('load', 'sales', 'product', 'rebuild')),
    raw_id_base  bigint,
    store_id     bigint,
    sale_date    date,
    product_id   bigint,
    items        bigint,
    sales_lines  bigint
);

-- Quantities per store, day and product, without prices: what a refresh adds deltas to, and where it finds the
-- store-days of a product whose price changed. Maintained by the refresh, never by the load. Rows of sales
-- whose product is missing stay here, so a product arriving again brings its sales back.
CREATE TABLE etl.store_daily_product_sales (
    store_id     bigint NOT NULL,
    sale_date    date   NOT NULL,
    product_id   bigint NOT NULL,
    items        bigint NOT NULL,  -- sum of quantity
    sales_lines  bigint NOT NULL,
    -- Day first: a refresh mostly adds recent days, at the index's right edge, next to each other.
    PRIMARY KEY (sale_date, store_id, product_id)
);
-- The store-days a product's price change touches.
CREATE INDEX store_daily_product_sales_product_idx ON etl.store_daily_product_sales (product_id);

-- store_daily_sales keyed by day first, for the same reason; sales_drop_check reads 8 days of it by this key,
-- which makes the separate index on sale_date redundant.
ALTER TABLE etl.store_daily_sales DROP CONSTRAINT store_daily_sales_pkey;
ALTER TABLE etl.store_daily_sales ADD CONSTRAINT store_daily_sales_pkey PRIMARY KEY (sale_date, store_id);
DROP INDEX etl.store_daily_sales_date_idx;

-- A refresh finds a load's sales and products by the BRIN indexes on raw_id (migration 0005). A page range
-- not yet summarized matches every search, so the newest loads would be read by every refresh until the next
-- VACUUM: autosummarize has autovacuum summarize each range as soon as a load has filled it.
ALTER INDEX etl.sales_raw_id_brin SET (autosummarize = on);
ALTER INDEX etl.products_raw_id_brin SET (autosummarize = on);

-- Whatever is already loaded is counted by one full rebuild, the first refresh after this migration.
INSERT INTO etl.store_daily_sales_changes (kind) VALUES ('rebuild');
