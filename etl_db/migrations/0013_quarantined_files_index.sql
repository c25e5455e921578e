-- Every load names the batches still quarantined in its passed batch_file_readable evaluation (the UI lists the
-- check as Failed while one is): a partial index over the few quarantined records keeps that lookup one short
-- scan however many files the ledger holds.
CREATE INDEX processed_files_quarantined_idx ON utilities.processed_files (loaded_at, batch_id)
    WHERE status = 'quarantined';
