-- Legacy compatibility (issue 11). The legacy pipeline writes sale_date as a timestamp and stored it as one:
-- the time of day is kept now (a sale at 23:59 and one at 00:01 are different days and instants). A sale's day
-- is its date in the platform's time zone (ETL_TIMEZONE, the session TimeZone of every connection), which is
-- also how an existing date becomes a timestamp here: midnight of that day in that zone. On a column that is
-- already timestamptz (an adopted legacy database) the conversion changes nothing.
ALTER TABLE etl.sales
    ALTER COLUMN sale_date TYPE timestamptz USING sale_date::timestamp AT TIME ZONE current_setting('TimeZone');

-- Whether a text parses as jsonb, without raising: the careful load path asks it for every row. PostgreSQL 16
-- has pg_input_is_valid() for that; on 15 a cast that catches its own error does the same, more slowly.
DO $migration$
BEGIN
    IF current_setting('server_version_num')::int >= 160000 THEN
        CREATE FUNCTION utilities.text_is_jsonb(value text) RETURNS boolean
            LANGUAGE sql STABLE PARALLEL SAFE
            RETURN pg_input_is_valid(value, 'jsonb');
    ELSE
        CREATE FUNCTION utilities.text_is_jsonb(value text) RETURNS boolean
            LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE
            AS $body$
            BEGIN
                PERFORM value::jsonb;
                RETURN true;
            EXCEPTION WHEN others THEN
                RETURN false;
            END
            $body$;
    END IF;
END
$migration$;
