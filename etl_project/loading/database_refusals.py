"""Errors PostgreSQL raises because of what a file holds, told apart from the ones worth retrying.

A payload nested deeper than the server's stack allows (`stack depth limit exceeded`, SQLSTATE 54001), a jsonb
value over 256 MB (54000) or a value no cast accepts (class 22) fail the same way on every attempt. Retried as
if the connection had dropped, such a file failed its step three times and stranded every other batch of the
run; it is quarantined instead, like a file that cannot be read. Lost connections, a restarting server or a
full disk (classes 08, 57, 53) are not about the file and are still retried.
"""

from __future__ import annotations

import psycopg2

#: SQLSTATE classes the file's content causes: data exception, program limit exceeded.
FILE_CAUSED_SQLSTATE_CLASSES = frozenset({"22", "54"})


def database_refusal(err: psycopg2.Error) -> str | None:
    """Why the database cannot take the file, for its quarantine record; None when the error is not the file's."""
    code = err.pgcode or ""
    if code[:2] not in FILE_CAUSED_SQLSTATE_CLASSES:
        return None
    message = (err.pgerror or str(err)).strip().splitlines()[0].removeprefix("ERROR:").strip()
    return f"the database cannot take this file: {message} (SQLSTATE {code})"
