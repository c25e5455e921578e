-- Stores whose sales on %(as_of_date)s fell against the average of the 7 days before it.
--
-- Only active stores are examined (closed and test stores never alert), each by its id. Days without sales
-- count as zero in the baseline (the sum of the 7 days divided by 7), and a store with no sales on the
-- as-of date but sales in the baseline is -100%%. A store whose baseline is zero cannot be compared and is
-- not examined; one whose baseline is below %(min_baseline_amount)s is examined but never flagged.
WITH baseline AS (
    SELECT store_id, sum(amount) / 7.0 AS baseline_amount
    FROM etl.store_daily_sales
    WHERE sale_date BETWEEN %(as_of_date)s::date - 7 AND %(as_of_date)s::date - 1
    GROUP BY store_id
    HAVING sum(amount) > 0
),
as_of AS (
    SELECT store_id, amount
    FROM etl.store_daily_sales
    WHERE sale_date = %(as_of_date)s::date
),
compared AS (
    SELECT st.id AS store_id,
           st.name AS store_name,
           coalesce(a.amount, 0) AS as_of_amount,
           b.baseline_amount,
           (coalesce(a.amount, 0) - b.baseline_amount) / b.baseline_amount * 100 AS percent_change,
           b.baseline_amount >= %(min_baseline_amount)s AS baseline_large_enough
    FROM etl.stores st
    JOIN baseline b ON b.store_id = st.id
    LEFT JOIN as_of a ON a.store_id = st.id
    WHERE st.status = 'active'
)
SELECT store_id, store_name, as_of_amount,
       round(baseline_amount, 2) AS baseline_amount,
       round(percent_change, 1) AS percent_change,
       baseline_large_enough,
       baseline_large_enough AND percent_change <= %(threshold_percent)s AS flagged
FROM compared
ORDER BY percent_change, store_id;
