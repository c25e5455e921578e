"""Batch partitions: one dynamic partition per batch file, keyed by the batch id (the file name).

Which batch ids are valid partition keys is the file format's rule: `etl_project.schemas.invalid_batch_id_reason`.
"""

import dagster as dg

#: The name of the partitions definition (a str where Dagster types `name` as optional).
BATCH_PARTITIONS_NAME = "batches"
batch_partitions = dg.DynamicPartitionsDefinition(name=BATCH_PARTITIONS_NAME)
