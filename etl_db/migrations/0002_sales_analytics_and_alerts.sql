-- Daily sales per store (the store_daily_sales asset) and the bookkeeping that makes alerts reach people once.

CREATE TABLE etl.store_daily_sales (
    store_id     bigint        NOT NULL,
    sale_date    date          NOT NULL,
    amount       numeric(18,2) NOT NULL,  -- sum of quantity * product price
    items        bigint        NOT NULL,  -- sum of quantity
    sales_lines  bigint        NOT NULL,
    refreshed_at timestamptz   NOT NULL DEFAULT now(),
    PRIMARY KEY (store_id, sale_date)
);
CREATE INDEX store_daily_sales_date_idx ON etl.store_daily_sales (sale_date);

-- One row per (store, day) ever alerted: the guarantee that a store's drop on a day is announced once,
-- whatever the number of check evaluations or sensor restarts.
CREATE TABLE utilities.sales_drop_alerts (
    store_id     bigint      NOT NULL,
    as_of_date   date        NOT NULL,
    message_id   bigint      NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (store_id, as_of_date)
);

-- Messages waiting to be delivered (an outbox): written in the same transaction as the alerts above,
-- delivered in id order, retried on later sensor ticks until the channel accepts them.
CREATE TABLE utilities.alert_outbox (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    evaluation_key  text        NOT NULL UNIQUE,  -- the check evaluation it reports
    as_of_date      date        NOT NULL,
    message         jsonb       NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    attempts        integer     NOT NULL DEFAULT 0,
    last_error      text,
    last_attempt_at timestamptz,
    delivered_at    timestamptz,
    delivered_via   text
);
CREATE INDEX alert_outbox_pending_idx ON utilities.alert_outbox (id) WHERE delivered_at IS NULL;
