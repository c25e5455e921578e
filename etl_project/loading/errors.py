"""What a failed load means: transient (try again) or terminal (a bug or a data problem: trying again fails the
same way), as dlt's loader splits its errors.

Transient: the connection was lost or the server is restarting (`OperationalError`, `InterfaceError`: connection
already closed), or PostgreSQL rolled the transaction back to resolve a conflict (`TransactionRollbackError`:
serialization failure 40001, deadlock 40P01). Re-running a batch replaces it, so a retry never duplicates.
Everything else is terminal: the loader's own `TerminalLoadError`s (rows that do not add up), a data problem
PostgreSQL refuses that is not a file's fault, a programming error. A file that cannot be read is neither: it is
quarantined (`BatchFileError`) and the run goes on. Transient too: a bucket's object that could not be read to
its end (`SourceReadError`: replaced while it was read, or the store did not answer); the retry reads the
version there then, which a quarantine would have wrongly recorded as unreadable.
"""

from __future__ import annotations

import psycopg2
import psycopg2.extensions


class SourceReadError(OSError):
    """The batch's data could not be read to its end through no fault of its content: the object was replaced
    or deleted while it was read, or the store did not answer. Another attempt reads what is there then."""


class TerminalLoadError(Exception):
    """A load failed in a way another attempt would repeat: a bug, or data the loader cannot account for."""


class RowsNotAccountedForError(TerminalLoadError, AssertionError):
    """loaded + rejected differs from the rows read: a bug in the loader; the load's transaction rolls back.
    (An AssertionError too, as it was before it had a type of its own.)"""


#: psycopg2 errors that another attempt may not meet.
TRANSIENT_DATABASE_ERRORS: tuple[type[psycopg2.Error], ...] = (
    psycopg2.OperationalError,
    psycopg2.InterfaceError,
    psycopg2.extensions.TransactionRollbackError,
)


def is_transient(err: BaseException) -> bool:
    """Whether trying the load again may succeed (see the module's docstring)."""
    if isinstance(err, SourceReadError):
        return True
    return isinstance(err, TRANSIENT_DATABASE_ERRORS) and not isinstance(err, TerminalLoadError)
