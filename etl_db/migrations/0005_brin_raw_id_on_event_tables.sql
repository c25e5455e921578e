-- A load appends its rows with one contiguous raw_id range, so a BRIN index finds a batch's rows (to replace
-- them) as well as a btree does, at a fraction of the cost per inserted row (measured: about 0.4 s less for
-- the 800k sales of a 1M-event batch).
DROP INDEX etl.stores_raw_id_idx;
DROP INDEX etl.products_raw_id_idx;
DROP INDEX etl.orders_raw_id_idx;
DROP INDEX etl.sales_raw_id_idx;
CREATE INDEX stores_raw_id_brin ON etl.stores USING brin (raw_id);
CREATE INDEX products_raw_id_brin ON etl.products USING brin (raw_id);
CREATE INDEX orders_raw_id_brin ON etl.orders USING brin (raw_id);
CREATE INDEX sales_raw_id_brin ON etl.sales USING brin (raw_id);
