"""SQL that validates and loads a staged batch, generated from the event schemas in `etl_project.schemas`.

Validation runs inside PostgreSQL, set-based, so a batch of a million rows never passes through Python objects.
Every statement takes the batch id as a bound parameter `%(batch_id)s`; identifiers and constants come only
from the schema declarations (composed with `psycopg2.sql`), never from file names or file contents.

The rejection reasons are stable strings of the form `<category>: <detail>`; the category (before the colon)
is what the run metadata counts.
"""

from __future__ import annotations

from psycopg2 import sql

from etl_project.loading.batch_file import STAGED_COLUMNS
from etl_project.schemas import EVENT_SCHEMAS, EventSchema, FieldType, PayloadField

ISO_TIMESTAMP = r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?(Z|[+-]\d{2}(:?\d{2})?)?$"
NAIVE_TIMESTAMP = r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(\.\d{1,6})?$"
ISO_DATE = r"^\d{4}-\d{2}-\d{2}$"
INTEGER = r"^-?\d{1,18}$"
DECIMAL_2 = r"^-?\d{1,12}(\.\d{1,2})?$"
#: Longest excerpt of an offending value quoted in a rejection reason.
SHOWN_VALUE_CHARS = 80

STAGING_TABLE = sql.Identifier("staged_rows")
ENVELOPE_TABLE = sql.Identifier("staged_envelopes")
VALIDATED_TABLE = sql.Identifier("validated_events")

#: Entity tables accept an optional explicit `id` in the payload; `"id": null` counts as no id.
ID_FIELD = PayloadField("id", FieldType.INTEGER, required=False, must_be_positive=True)
HAS_EXPLICIT_ID = sql.SQL("coalesce(jsonb_typeof(payload -> 'id'), 'null') <> 'null'")


def _table(name: str) -> sql.Composed:
    return sql.SQL("etl.{}").format(sql.Identifier(name))


def create_staging_table() -> sql.Composed:
    columns = sql.SQL(", ").join(
        sql.SQL("{} {}").format(sql.Identifier(c), sql.SQL("integer" if c == "file_row" else "text"))
        for c in STAGED_COLUMNS
    )
    return sql.SQL("CREATE TEMP TABLE {} ({}) ON COMMIT DROP").format(STAGING_TABLE, columns)


def copy_into_staging() -> sql.Composed:
    return sql.SQL("COPY {} ({}) FROM STDIN WITH (FORMAT csv, FORCE_NULL ({}))").format(
        STAGING_TABLE,
        sql.SQL(", ").join(map(sql.Identifier, STAGED_COLUMNS)),
        sql.Identifier("parse_error"),
    )


def _shown(expr: sql.Composable) -> sql.Composed:
    """An offending value quoted for a rejection reason, cut to a readable length."""
    return sql.SQL("quote_literal(left(coalesce({}, 'null'), {}))").format(
        expr, sql.Literal(SHOWN_VALUE_CHARS)
    )


def classify_envelopes() -> sql.Composed:
    """One row per staged row with `reason` NULL when its envelope (not yet its payload) is valid."""
    known_types = sql.SQL(", ").join(sql.Literal(s.event_type) for s in EVENT_SCHEMAS)
    return sql.SQL(
        """
        CREATE TEMP TABLE {envelope} ON COMMIT DROP AS
        SELECT s.file_row, s.event_type, s.payload, s.batch_created_at,
               pg_input_is_valid(s.payload, 'jsonb') AS json_ok,
               CASE
                   WHEN s.parse_error IS NOT NULL THEN 'unreadable row: ' || s.parse_error
                   WHEN s.batch_id IS DISTINCT FROM %(batch_id)s
                       THEN 'batch mismatch: batch_id ' || {shown_batch} || ' differs from the file''s batch'
                   WHEN NOT (s.batch_created_at ~ {naive_ts} AND pg_input_is_valid(s.batch_created_at, 'timestamp'))
                       THEN 'invalid batch_created_at: ' || {shown_created}
                   WHEN s.event_type IS NULL OR s.event_type NOT IN ({known_types})
                       THEN 'unknown event type: ' || {shown_type}
               END AS reason
        FROM {staging} s
        """
    ).format(
        envelope=ENVELOPE_TABLE,
        staging=STAGING_TABLE,
        shown_batch=_shown(sql.SQL("s.batch_id")),
        naive_ts=sql.Literal(NAIVE_TIMESTAMP),
        shown_created=_shown(sql.SQL("s.batch_created_at")),
        known_types=known_types,
        shown_type=_shown(sql.SQL("s.event_type")),
    )


def finish_envelope_reasons() -> sql.Composed:
    """JSON problems come last so that a row with several problems reports the first in file order."""
    return sql.SQL(
        """
        UPDATE {envelope} SET reason = CASE
            WHEN NOT json_ok THEN 'malformed JSON: payload is not valid JSON'
            WHEN jsonb_typeof(payload::jsonb) <> 'object' THEN 'malformed JSON: payload is not a JSON object'
        END
        WHERE reason IS NULL AND (NOT json_ok OR jsonb_typeof(payload::jsonb) <> 'object')
        """
    ).format(envelope=ENVELOPE_TABLE)


def insert_raw_events() -> sql.Composed:
    return sql.SQL(
        """
        INSERT INTO etl.raw_events (batch_id, event_type, payload, batch_created_at, file_row)
        SELECT %(batch_id)s, event_type, payload::jsonb, batch_created_at::timestamp, file_row
        FROM {envelope} WHERE reason IS NULL
        ORDER BY file_row
        """
    ).format(envelope=ENVELOPE_TABLE)


def reject_envelopes() -> sql.Composed:
    return sql.SQL(
        """
        INSERT INTO etl.rejected_events
            (raw_id, batch_id, batch_created_at, rejection_reason, payload, event_type, file_row)
        SELECT NULL, %(batch_id)s,
               CASE WHEN batch_created_at ~ {naive_ts} AND pg_input_is_valid(batch_created_at, 'timestamp')
                    THEN batch_created_at::timestamp END,
               reason, payload, event_type, file_row
        FROM {envelope} WHERE reason IS NOT NULL
        """
    ).format(envelope=ENVELOPE_TABLE, naive_ts=sql.Literal(NAIVE_TIMESTAMP))


def _type_ok(field: PayloadField, value: sql.Composable, text: sql.Composable) -> sql.Composed:
    """True when the JSON value `value` (its text `text`) has the field's type."""
    if field.type is FieldType.TEXT:
        return sql.SQL("jsonb_typeof({}) = 'string'").format(value)
    if field.type is FieldType.INTEGER:
        return sql.SQL("(jsonb_typeof({}) = 'number' AND {} ~ {})").format(value, text, sql.Literal(INTEGER))
    if field.type is FieldType.DECIMAL:
        return sql.SQL("(jsonb_typeof({}) IN ('number', 'string') AND {} ~ {})").format(
            value, text, sql.Literal(DECIMAL_2)
        )
    if field.type is FieldType.TIMESTAMP:
        return sql.SQL(
            "(jsonb_typeof({}) = 'string' AND {} ~ {} AND pg_input_is_valid({}, 'timestamptz'))"
        ).format(value, text, sql.Literal(ISO_TIMESTAMP), text)
    if field.type is FieldType.DATE:
        return sql.SQL("(jsonb_typeof({}) = 'string' AND {} ~ {} AND pg_input_is_valid({}, 'date'))").format(
            value, text, sql.Literal(ISO_DATE), text
        )
    raise AssertionError(field.type)


_TYPE_WORDS = {
    FieldType.TEXT: "a string",
    FieldType.INTEGER: "an integer",
    FieldType.DECIMAL: "a decimal with at most 2 places",
    FieldType.TIMESTAMP: "an ISO timestamp (YYYY-MM-DD HH:MM:SS, optional offset)",
    FieldType.DATE: "a date (YYYY-MM-DD)",
}


def _field_problem(field: PayloadField) -> sql.Composed:
    """SQL text expression: why the payload's value for `field` is invalid, or NULL when it is valid."""
    name = sql.Literal(field.name)
    value = sql.SQL("(r.payload -> {})").format(name)
    text = sql.SQL("(r.payload ->> {})").format(name)
    whens = [
        sql.SQL("WHEN {v} IS NULL OR jsonb_typeof({v}) = 'null' THEN {missing}").format(
            v=value,
            missing=sql.Literal(f"missing field: {field.name}") if field.required else sql.SQL("NULL"),
        ),
        sql.SQL("WHEN NOT {ok} THEN {msg} || left(({v})::text, {n})").format(
            ok=_type_ok(field, value, text),
            msg=sql.Literal(f"wrong type: {field.name} must be {_TYPE_WORDS[field.type]}, got "),
            v=value,
            n=sql.Literal(SHOWN_VALUE_CHARS),
        ),
    ]
    if field.type is FieldType.TEXT:
        whens.append(
            sql.SQL("WHEN btrim({t}) = '' THEN {msg}").format(
                t=text, msg=sql.Literal(f"empty field: {field.name}")
            )
        )
    if field.allowed_values:
        whens.append(
            sql.SQL("WHEN {t} NOT IN ({allowed}) THEN {msg} || {shown} || {expected}").format(
                t=text,
                allowed=sql.SQL(", ").join(map(sql.Literal, field.allowed_values)),
                msg=sql.Literal(f"invalid {field.name}: "),
                shown=_shown(text),
                expected=sql.Literal(f" (expected one of {', '.join(field.allowed_values)})"),
            )
        )
    if field.must_be_positive:
        whens.append(
            sql.SQL("WHEN ({t})::numeric <= 0 THEN {msg} || {t}").format(
                t=text, msg=sql.Literal(f"not positive: {field.name} must be > 0, got ")
            )
        )
    return sql.SQL("CASE {} END").format(sql.SQL(" ").join(whens))


def _checked_fields(schema: EventSchema) -> tuple[PayloadField, ...]:
    return ((ID_FIELD,) if schema.is_entity else ()) + schema.fields


def _cast(field: PayloadField, payload: sql.Composable) -> sql.Composed:
    return sql.SQL("({} ->> {})::{}").format(payload, sql.Literal(field.name), sql.SQL(field.type.value))


def reference_categories(schema: EventSchema) -> list[str]:
    """Rejection categories that a later batch can cure (a referenced row that had not arrived yet)."""
    return [f"unknown {f.name}" for f in schema.fields if f.references]


def validate_events(schema: EventSchema, only_late_references: bool = False) -> sql.Composed:
    """Create `validated_events`: each of the batch's events of this type with its rejection reason or NULL.

    Field checks run first, in declaration order; then references to other tables (loaded before this one,
    so rows of the same batch count) and, for entity tables, duplicate ids. With `only_late_references`, only
    the batch's rows rejected for an unknown reference are validated again (the replay of late data).
    """
    rows = sql.SQL("r.batch_id = %(batch_id)s AND r.event_type = {}").format(sql.Literal(schema.event_type))
    if only_late_references:
        rows = sql.SQL(
            "{} AND r.raw_id IN (SELECT raw_id FROM etl.rejected_events WHERE batch_id = %(batch_id)s "
            "AND split_part(rejection_reason, ':', 1) IN ({}))"
        ).format(rows, sql.SQL(", ").join(map(sql.Literal, reference_categories(schema))))
    problems = sql.SQL(", ").join(_field_problem(f) for f in _checked_fields(schema))
    joins: list[sql.Composable] = []
    late_checks: list[sql.Composable] = []
    for field in schema.fields:
        if not field.references:
            continue
        alias = sql.Identifier(f"ref_{field.name}")
        joins.append(
            sql.SQL(
                "LEFT JOIN {table} {alias} ON {alias}.id = CASE WHEN v.reason IS NULL THEN {cast} END"
            ).format(table=_table(field.references), alias=alias, cast=_cast(field, sql.SQL("v.payload")))
        )
        late_checks.append(
            sql.SQL("CASE WHEN {alias}.id IS NULL THEN {msg} || (v.payload ->> {name}) END").format(
                alias=alias,
                msg=sql.Literal(f"unknown {field.name}: no row in etl.{field.references} with id "),
                name=sql.Literal(field.name),
            )
        )
    if schema.is_entity:
        id_cast = _cast(ID_FIELD, sql.SQL("v.payload"))
        joins.append(
            sql.SQL(
                "LEFT JOIN {table} existing ON existing.id = CASE WHEN v.reason IS NULL THEN {cast} END"
            ).format(table=_table(schema.table), cast=id_cast)
        )
        late_checks.append(
            sql.SQL(
                "CASE WHEN existing.id IS NOT NULL THEN 'duplicate id: ' || existing.id || "
                "' was already loaded by batch ' || quote_literal(existing.batch_id) END"
            )
        )
        late_checks.append(
            sql.SQL(
                "CASE WHEN v.reason IS NULL AND coalesce(jsonb_typeof(v.payload -> 'id'), 'null') <> 'null' "
                "AND row_number() OVER ("
                "PARTITION BY CASE WHEN v.reason IS NULL THEN {cast} END ORDER BY v.file_row) > 1 "
                "THEN 'duplicate id: ' || (v.payload ->> 'id') || ' appears earlier in this batch' END"
            ).format(cast=id_cast)
        )
    late = sql.SQL(", ").join(late_checks) if late_checks else sql.SQL("NULL")
    return sql.SQL(
        """
        CREATE TEMP TABLE {validated} ON COMMIT DROP AS
        SELECT v.raw_id, v.file_row, v.batch_created_at, v.payload,
               COALESCE(v.reason, {late}) AS reason
        FROM (
            SELECT r.raw_id, r.file_row, r.batch_created_at, r.payload, COALESCE({problems}) AS reason
            FROM etl.raw_events r
            WHERE {rows}
        ) v
        {joins}
        """
    ).format(
        validated=VALIDATED_TABLE,
        late=late,
        problems=problems,
        rows=rows,
        joins=sql.SQL("\n").join(joins),
    )


def insert_valid_events(schema: EventSchema, explicit_ids: bool) -> sql.Composed:
    """Insert the valid rows of `validated_events` into the schema's table.

    Entity rows with an explicit id are inserted first (`explicit_ids=True`), then the table's id sequence is
    moved past them, then rows without one take the next ids (`explicit_ids=False`).
    """
    payload = sql.SQL("payload")
    columns = [sql.Identifier(f.name) for f in schema.fields]
    values = [_cast(f, payload) for f in schema.fields]
    where = sql.SQL("reason IS NULL")
    if schema.is_entity:
        if explicit_ids:
            columns.insert(0, sql.Identifier("id"))
            values.insert(0, _cast(ID_FIELD, payload))
            where = sql.SQL("reason IS NULL AND {}").format(HAS_EXPLICIT_ID)
        else:  # the identity column numbers them
            where = sql.SQL("reason IS NULL AND NOT {}").format(HAS_EXPLICIT_ID)
    return sql.SQL(
        """
        INSERT INTO {table} (raw_id, batch_id, batch_created_at, {columns})
        SELECT raw_id, %(batch_id)s, batch_created_at, {values}
        FROM {validated} WHERE {where}
        ORDER BY file_row
        """
    ).format(
        table=_table(schema.table),
        columns=sql.SQL(", ").join(columns),
        values=sql.SQL(", ").join(values),
        validated=VALIDATED_TABLE,
        where=where,
    )


def advance_id_sequence(schema: EventSchema) -> sql.Composed:
    """Move the table's id sequence forward past ids given explicitly, so the next implicit id never collides.

    Never backwards: the generator reserves ids from the same sequence before their batch is loaded.
    """
    return sql.SQL(
        "SELECT setval(pg_get_serial_sequence({name}, 'id'), max(id)) FROM {table} "
        "HAVING max(id) > coalesce(pg_sequence_last_value(pg_get_serial_sequence({name}, 'id')::regclass), 0)"
    ).format(name=sql.Literal(f"etl.{schema.table}"), table=_table(schema.table))


def reject_invalid_events(schema: EventSchema) -> sql.Composed:
    return sql.SQL(
        """
        INSERT INTO etl.rejected_events
            (raw_id, batch_id, batch_created_at, rejection_reason, payload, event_type, file_row)
        SELECT raw_id, %(batch_id)s, batch_created_at, reason, payload::text, {event_type}, file_row
        FROM {validated} WHERE reason IS NOT NULL
        """
    ).format(validated=VALIDATED_TABLE, event_type=sql.Literal(schema.event_type))


def forget_replayed_rejections() -> sql.Composed:
    """After a replay: rows now loaded leave etl.rejected_events; the others keep their (updated) reason."""
    return sql.SQL(
        """
        WITH moved AS (
            DELETE FROM etl.rejected_events e USING {validated} v
            WHERE e.batch_id = %(batch_id)s AND e.raw_id = v.raw_id AND v.reason IS NULL
            RETURNING e.raw_id
        )
        UPDATE etl.rejected_events e SET rejection_reason = v.reason, rejected_at = now()
        FROM {validated} v
        WHERE e.batch_id = %(batch_id)s AND e.raw_id = v.raw_id AND v.reason IS NOT NULL
          AND e.rejection_reason IS DISTINCT FROM v.reason
        """
    ).format(validated=VALIDATED_TABLE)


def batches_with_late_references() -> sql.Composed:
    categories = [c for schema in EVENT_SCHEMAS for c in reference_categories(schema)]
    return sql.SQL(
        "SELECT DISTINCT batch_id FROM etl.rejected_events "
        "WHERE raw_id IS NOT NULL AND split_part(rejection_reason, ':', 1) IN ({}) ORDER BY batch_id"
    ).format(sql.SQL(", ").join(map(sql.Literal, categories)))


def drop_validated() -> sql.Composed:
    return sql.SQL("DROP TABLE {}").format(VALIDATED_TABLE)


def select_batch_preview(table: str, limit: int) -> sql.Composed:
    return sql.SQL("SELECT * FROM {} WHERE batch_id = %(batch_id)s ORDER BY raw_id LIMIT {}").format(
        _table(table), sql.Literal(limit)
    )


def delete_batch(table: str) -> sql.Composed:
    return sql.SQL("DELETE FROM {} WHERE batch_id = %(batch_id)s").format(_table(table))


#: Tables holding a batch's rows, children before parents, for replacing a batch.
BATCH_TABLES: tuple[str, ...] = (
    *(s.table for s in reversed(EVENT_SCHEMAS)),
    "rejected_events",
    "raw_events",
)
