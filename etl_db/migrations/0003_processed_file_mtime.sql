-- The file's modification time when it was loaded: with its size, lets the sensor notice a file replaced
-- after it was loaded without reading or hashing anything.
ALTER TABLE utilities.processed_files ADD COLUMN file_mtime_ns bigint;
