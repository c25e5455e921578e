"""What the file sensor does with files whose names are not valid UTF-8 (see loading/undecodable_names.py)."""

import logging

import dagster as dg

from etl_project.loading import record_undecodable_names
from etl_project.resources import EtlDatabase
from etl_project.resources.shared_directory import BatchFile


def quarantine_undecodable_names(
    log: logging.Logger | dg.DagsterLogManager, etl_database: EtlDatabase, files: list[BatchFile]
) -> None:
    """Record each such file as quarantined (once per version, so the quarantine alert announces it once) and
    say so on the tick; the tick then goes on with the other files."""
    if not files:
        return
    with etl_database.connect() as conn:
        newly = record_undecodable_names(conn, [(f.name, f.size, f.mtime_ns) for f in files])
    for file in files:
        note = "quarantined" if file.name in newly else "quarantined earlier"
        log.warning(f"Skipping {file.name}: the file name is not valid UTF-8 ({note}; rename it to load it)")
