"""SQL predicates that decide whether a payload's text is a valid value of its column type, on PostgreSQL 15 to 18.

`pg_input_is_valid()` exists only from PostgreSQL 16, and a cast that fails raises and aborts the whole load. So
the shape of a value is checked with string functions that cannot raise, and the value is cast only once its
check passed: a bad value becomes a rejection reason on every supported major, never an error inside a run.

Timestamps accept `YYYY-MM-DD`, `YYYY-MM-DD HH:MM[:SS[.ffffff]]`, the same with `T`, and either with `Z` or an
offset (`+02`, `+0200`, `+02:00`). Values without an offset are read in the session's TimeZone, which every
connection of the platform sets to ETL_TIMEZONE.
"""

from __future__ import annotations

from psycopg2 import sql

#: Every timestamp shape accepted; the ranges of month, day, hour, minute and second are checked apart.
ISO_TIMESTAMP = r"^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?(Z|[+-](0\d|1[0-5])(:?[0-5]\d)?)?)?$"
#: The shape the legacy generator writes, which is checked without the regex engine (about 0.5 us a row less).
LEGACY_TIMESTAMP_SHAPE = "____-__-__ __:__:__"
#: A decimal with at most two places that fits numeric(14,2) (`12`, `12.5`, `12.50`; a JSON number or a string).
DECIMAL_2 = r"^-?\d{1,12}(\.\d{1,2})?$"
#: Words used in rejection reasons for the accepted timestamp shapes.
TIMESTAMP_WORDS = "an ISO 8601 date or timestamp (YYYY-MM-DD[ HH:MM:SS][+HH:MM])"

_MONTHS_OF_31_DAYS = ("01", "03", "05", "07", "08", "10", "12")


def _c(text: str) -> sql.Composed:
    """A string constant compared byte by byte (digits order the same in every collation; "C" is the cheap one)."""
    return sql.SQL('({} COLLATE "C")').format(sql.Literal(text))


def digits_shaped(text: sql.Composable, shape: str) -> sql.Composed:
    """True when `text` is `shape` with an ASCII digit at each `_` (`____-__-__` is the regex \\d{4}-\\d{2}-\\d{2}).

    LIKE and translate() cost a fraction of a regex match (measured: 0.5 us a row less for a date).
    """
    return sql.SQL("({t} LIKE {shape} AND translate({t}, '0123456789', '') = {rest})").format(
        t=text, shape=sql.Literal(shape), rest=sql.Literal(shape.replace("_", ""))
    )


def _part(text: sql.Composable, start: int, length: int) -> sql.Composed:
    return sql.SQL("substr({}, {}, {})").format(text, sql.Literal(start), sql.Literal(length))


def _calendar_ok(text: sql.Composable) -> sql.Composed:
    """The date and time of day of an ISO-shaped `text` exist (fixed positions: the shape check ran first).

    Year 0 and February 29 of a common year are refused, as PostgreSQL's own input would refuse them.
    """
    year, month, day = _part(text, 1, 4), _part(text, 6, 2), _part(text, 9, 2)
    hour, minute, second = _part(text, 12, 2), _part(text, 15, 2), _part(text, 18, 2)
    leap_year = sql.SQL(
        "(mod(({y})::int, 4) = 0 AND (mod(({y})::int, 100) <> 0 OR mod(({y})::int, 400) = 0))"
    ).format(y=year)
    return sql.SQL(
        """({year} <> '0000' AND {month} BETWEEN {m01} AND {m12}
            AND ({day} BETWEEN {d01} AND {d28}
                 OR ({day} BETWEEN {d29} AND {d30} AND {month} <> '02')
                 OR ({day} = {d31} AND {month} IN ({long_months}))
                 OR ({day} = {d29} AND {month} = '02' AND {leap_year}))
            AND (length({t}) = 10
                 OR ({hour} <= {h23} AND {minute} <= {m59}
                     AND (substr({t}, 17, 1) <> ':' OR {second} <= {s59}))))"""
    ).format(
        t=text,
        year=year,
        month=month,
        day=day,
        hour=hour,
        minute=minute,
        second=second,
        m01=_c("01"),
        m12=_c("12"),
        d01=_c("01"),
        d28=_c("28"),
        d29=_c("29"),
        d30=_c("30"),
        d31=_c("31"),
        long_months=sql.SQL(", ").join(map(sql.Literal, _MONTHS_OF_31_DAYS)),
        leap_year=leap_year,
        h23=_c("23"),
        m59=_c("59"),
        s59=_c("59"),
    )


def timestamp_text_ok(text: sql.Composable) -> sql.Composed:
    """True when `text` (not NULL) casts to timestamptz and to timestamp without error, in an accepted shape."""
    return sql.SQL("(({plain} OR {t} ~ {iso}) AND {calendar})").format(
        plain=digits_shaped(text, LEGACY_TIMESTAMP_SHAPE),
        t=text,
        iso=sql.Literal(ISO_TIMESTAMP),
        calendar=_calendar_ok(text),
    )


def bigint_text_ok(text: sql.Composable) -> sql.Composed:
    """True when the text of a JSON number (`->>` of a jsonb number: digits, a sign, maybe a point, never an
    exponent) is an integer that fits a bigint (`5`, not `5.0` or `1e30`)."""
    return sql.SQL(
        "(strpos({t}, '.') = 0 AND (length({t}) < 19 "
        "OR ({t})::numeric BETWEEN -9223372036854775808 AND 9223372036854775807))"
    ).format(t=text)


def decimal_text_ok(text: sql.Composable) -> sql.Composed:
    return sql.SQL("{} ~ {}").format(text, sql.Literal(DECIMAL_2))


def json_text_ok(text: sql.Composable) -> sql.Composed:
    """True when `text` parses as jsonb; `utilities.text_is_jsonb` (migration 0007) is pg_input_is_valid where
    the server has it, and a cast that catches its error on PostgreSQL 15. Used only on the careful path."""
    return sql.SQL("utilities.text_is_jsonb({})").format(text)
