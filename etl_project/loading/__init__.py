"""Loading a batch file into PostgreSQL: streaming the file in, validating it in SQL, one transaction."""
