-- One outbox for every alert kind (sales drops, no sales data, ingestion silence, failed runs, quarantined
-- files, failed data-quality checks), one row per message and destination, and the episodes that make an
-- ongoing problem announced once.

ALTER TABLE utilities.alert_outbox RENAME COLUMN evaluation_key TO alert_key;  -- what the message is about, once
ALTER TABLE utilities.alert_outbox ALTER COLUMN as_of_date DROP NOT NULL;      -- only sales verdicts have a day
ALTER TABLE utilities.alert_outbox ADD COLUMN kind text NOT NULL DEFAULT 'sales_drop';
-- Where it goes ('#sales-alerts', 'webhook', ...): each destination has its own queue, in id order, so one
-- destination being down never holds back another. Rows from before had one destination: 'any'.
ALTER TABLE utilities.alert_outbox ADD COLUMN destination text NOT NULL DEFAULT 'any';
ALTER TABLE utilities.alert_outbox ALTER COLUMN kind DROP DEFAULT;
ALTER TABLE utilities.alert_outbox ALTER COLUMN destination DROP DEFAULT;
ALTER TABLE utilities.alert_outbox DROP CONSTRAINT alert_outbox_evaluation_key_key;
ALTER TABLE utilities.alert_outbox ADD CONSTRAINT alert_outbox_alert_key_destination_key UNIQUE (alert_key, destination);
DROP INDEX utilities.alert_outbox_pending_idx;
-- `delivered_at IS NULL` still means "to deliver" (etl status counts these).
CREATE INDEX alert_outbox_pending_idx ON utilities.alert_outbox (destination, id) WHERE delivered_at IS NULL;

-- A problem that lasts (a failing check on a partition, no batch loaded for too long) is one episode from
-- its first failure to its recovery: announced when it opens, and for some kinds when it closes.
CREATE TABLE utilities.alert_episodes (
    subject    text        PRIMARY KEY,  -- e.g. 'silence:ingestion', 'check:raw_events:rows_accounted_for:b1'
    episode    integer     NOT NULL DEFAULT 1,  -- how many times it opened
    opened_at  timestamptz NOT NULL DEFAULT now(),
    closed_at  timestamptz,                     -- NULL while the problem lasts
    -- The Dagster evaluation record that last opened or closed it: replaying older records (a sensor tick
    -- that crashed before saving its cursor) changes nothing.
    last_evaluation_id bigint NOT NULL DEFAULT 0
);
