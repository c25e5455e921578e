"""SQL that validates and loads a staged batch, generated from the event schemas in `etl_project.schemas`.

Validation runs inside PostgreSQL, set-based, so a batch of a million rows never passes through Python objects.
Values travel as bound parameters (the placeholders of `etl_project.loading.params`); identifiers and constants
come only from the schema declarations (composed with `psycopg2.sql`), never from file names or file contents.

One module per stage of a load (see `staging` and `batch_loader` one level up for the connections that run it):
1. `staging`: the file lands in the load's staging parts (unlogged tables; payload already parsed as jsonb);
2. `envelope`: rows with an invalid envelope leave the parts for the load's staging rejections table (one rule
   gives both the predicate and the reason); the rest are the raw events;
3. `validate` assembles, per event type, `fields` (the payload checks) and `references` (references to other
   tables and duplicate ids) into one table of every event with its rejection reason (NULL when valid) and its
   typed values; valid rows go to the event table (entities through the load's entity table, `ids`, where they
   get their ids and where later event types find them as references), the others to a rejections table;
4. `replace`: finding a batch's rows (its raw_id range) and deleting an earlier load of it;
5. `replay`: re-validating rows rejected for a reference that had not arrived yet.

`common` holds what several stages share. Rejection reasons are built with `etl_project.loading.rejections`.
"""
