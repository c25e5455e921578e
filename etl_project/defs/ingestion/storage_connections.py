"""One held connection to Dagster's storage for the run that loads batches, instead of one per event.

A loaded batch records 5 materialisations and 12 check evaluations, each costing three or four storage calls,
and dagster-postgres connects anew for every call: profiled on 30 backlog batches in one run, 9.4 s of its
16.5 s were spent connecting. The instance of dagster.local.yaml and deploy/dagster.yaml holds a connection in
every process already (`etl_project.instance_storage`); a load run makes sure of it for an instance configured
with dagster-postgres' own storages.
"""

import dagster as dg

from etl_project.instance_storage import hold_connections


def hold_storage_connections(instance: dg.DagsterInstance) -> None:
    """Have this process's event-log and run storages keep one connection open (once per storage object)."""
    for storage in (instance.event_log_storage, instance.run_storage):
        hold_connections(storage)
