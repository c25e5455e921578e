-- A quarantined file someone gave up on (`etl quarantine drop`, or quarantined_batch_job) is recorded as
-- 'dropped': the file sensor never loads that version again, but loads the file once it changes.
ALTER TABLE utilities.processed_files
    DROP CONSTRAINT processed_files_status_check,
    ADD CONSTRAINT processed_files_status_check CHECK (status IN ('loaded', 'quarantined', 'dropped'));

-- A batch's first rejected rows (by file row) are shown on its materialisations after each load: with the
-- event type and the file row in the index, each part is a short index scan, not a sort of all the batch's rejections.
DROP INDEX etl.rejected_events_batch_idx;
CREATE INDEX rejected_events_batch_type_row_idx ON etl.rejected_events (batch_id, event_type, file_row);
