-- A batch file seen again with the content of its loaded version (same SHA-256) is not loaded again: the
-- ledger records the new modification time, how often the file was seen again, and when last.
ALTER TABLE utilities.processed_files
    ADD COLUMN seen_again integer NOT NULL DEFAULT 0,
    ADD COLUMN last_seen_at timestamptz;
