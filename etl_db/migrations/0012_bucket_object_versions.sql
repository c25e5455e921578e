-- A batch object read from an S3-compatible bucket is one version per ETag (with its size and last-modified
-- time, kept in size_bytes and file_mtime_ns): two writes within one second of the same size differ only in
-- it. NULL for files of the shared directory, whose version is their size and modification time.
ALTER TABLE utilities.processed_files
    ADD COLUMN source_etag text;
