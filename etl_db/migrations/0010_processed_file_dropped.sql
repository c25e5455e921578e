-- A quarantined file someone gave up on (`etl quarantine drop`, or quarantined_batch_job) is recorded as
-- 'dropped': the file sensor never loads that version again, but loads the file once it changes.
ALTER TABLE utilities.processed_files
    DROP CONSTRAINT processed_files_status_check,
    ADD CONSTRAINT processed_files_status_check CHECK (status IN ('loaded', 'quarantined', 'dropped'));
