"""Batch partitions: one dynamic partition per batch file, keyed by the batch id (the file name).

Which batch ids are valid partition keys is the file format's rule: `etl_project.schemas.invalid_batch_id_reason`.
"""

import dagster as dg

batch_partitions = dg.DynamicPartitionsDefinition(name="batches")
