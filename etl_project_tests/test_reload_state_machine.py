"""Any sequence of what happens to batch files in production keeps every batch intact (issue 20).

A hypothesis state machine drives the real platform (the file sensor, load runs, quarantined_batch_job, the
replay and the refresh, on a real Dagster instance and PostgreSQL) through: entity files with and without ids,
sales files referencing other batches' rows (some before those rows exist), the same bytes dropped again,
replacements with more, fewer and changed rows, broken files, Materialize of a loaded partition, `retry` and
`drop` of a quarantined one, late-data replays and refreshes. After every step: no sale references a missing
row; every row of every loaded file is loaded or rejected; no entity's id ever changed; and after a refresh
`store_daily_sales` equals a rebuild from all sales.
"""

from __future__ import annotations

import os
import uuid
from datetime import datetime
from pathlib import Path

import dagster as dg
import psycopg2
import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule, run_state_machine_as_test
from psycopg2 import sql

from etl_project.analytics import refresh_store_daily_sales
from etl_project.database.embedded import with_database
from etl_project.defs.ingestion.partitions import batch_partitions
from etl_project.defs.ingestion.quarantine import quarantined_batch_job
from etl_project.defs.ingestion.resources import DataQualityLimits
from etl_project.defs.ingestion.sensors import batch_file_sensor
from etl_project.loading import batches_to_replay, file_sha256, replay_batch
from etl_project.resources import EtlDatabase, SharedDirectory
from etl_project_tests.helpers import materialize_batches
from etl_testkit.legacy_files import write_legacy_file

pytestmark = pytest.mark.every_postgres_major

NOW = datetime(2025, 4, 20, 9, 20)
CREATED = NOW.strftime("%Y-%m-%d %H:%M:%S")
#: Entity batches: e1's rows never carry ids (the legacy way), e2's always do (2000 + position).
IMPLICIT, EXPLICIT = "e1", "e2"
SALES_BATCHES = ("s1", "s2")
ENTITIES = {"stores": "store_event", "products": "product_event", "orders": "order_event"}
#: Ids a sale may reference: whatever the tables hold, and e2's ids before e2 is loaded (late data).
EXPLICIT_IDS = [2001, 2002, 2003]
FROM_SCRATCH = """
SELECT s.store_id, (s.sale_date AT TIME ZONE current_setting('TimeZone'))::date,
       sum(s.quantity * p.price), sum(s.quantity), count(*)
FROM etl.sales s JOIN etl.products p ON p.id = s.product_id GROUP BY 1, 2 ORDER BY 1, 2"""
MAINTAINED = "SELECT store_id, sale_date, amount, items, sales_lines FROM etl.store_daily_sales ORDER BY 1, 2"
#: (table, batch, position among the batch's rows of its type) -> id, as first seen.
IDS_BY_POSITION = """
SELECT r.event_type, r.batch_id, row_number() OVER (PARTITION BY r.batch_id, r.event_type ORDER BY r.raw_id), e.id
FROM etl.raw_events r JOIN (
    SELECT raw_id, id FROM etl.stores UNION ALL SELECT raw_id, id FROM etl.products
    UNION ALL SELECT raw_id, id FROM etl.orders) e ON e.raw_id = r.raw_id"""
DANGLING = """
SELECT count(*) FROM etl.sales s
WHERE NOT EXISTS (SELECT 1 FROM etl.stores t WHERE t.id = s.store_id)
   OR NOT EXISTS (SELECT 1 FROM etl.products p WHERE p.id = s.product_id)
   OR NOT EXISTS (SELECT 1 FROM etl.orders o WHERE o.id = s.order_id)"""


class ReloadMachine(RuleBasedStateMachine):
    """One fresh database, Dagster instance and shared directory per example."""

    server_url: str
    template: str
    root: Path

    def __init__(self) -> None:
        super().__init__()
        name = f"etl_sm_{uuid.uuid4().hex[:10]}"
        admin = psycopg2.connect(self.server_url)
        admin.autocommit = True
        with admin.cursor() as cur:
            cur.execute(
                sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(
                    sql.Identifier(name), sql.Identifier(self.template)
                )
            )
        admin.close()
        self.database = name
        self.url = with_database(self.server_url, name)
        self.db = psycopg2.connect(self.url)
        self.db.autocommit = True
        self._instance = dg.instance_for_test()
        self.instance = self._instance.__enter__()
        self.directory = self.root / name
        self.directory.mkdir()
        self.resources = {
            "etl_database": EtlDatabase(url=self.url),
            "shared_directory": SharedDirectory(path=str(self.directory), settle_seconds=0),
            "data_quality_limits": DataQualityLimits(),
        }
        self.ids_seen: dict[tuple[str, str, int], int] = {}
        self.rows_of_loaded_version: dict[str, int] = {}
        self.writes = 0

    def teardown(self) -> None:
        self._instance.__exit__(None, None, None)
        self.db.close()
        admin = psycopg2.connect(self.server_url)
        admin.autocommit = True
        with admin.cursor() as cur:
            cur.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(self.database))
            )
        admin.close()

    # -- what happens to files --------------------------------------------------------------------------------

    def _write(self, batch_id: str, events: list[tuple[str, dict]]) -> None:
        """The batch's file as the legacy writer writes it, with a new modification time; then the sensor."""
        content = _legacy_bytes(self.directory, batch_id, events)
        self._drop(batch_id, content)

    def _drop(self, batch_id: str, content: bytes) -> None:
        path = self.directory / f"{batch_id}.csv"
        path.unlink(missing_ok=True)
        path.write_bytes(content)
        self.writes += 1
        moment = 1_700_000_000_000_000_000 + self.writes * 1_000_000_000
        os.utime(path, ns=(moment, moment))
        self._sensor_and_runs()

    def _sensor_and_runs(self) -> None:
        """A tick of batch_file_sensor, and the runs it requested (one batch per run)."""
        context = dg.build_sensor_context(instance=self.instance, resources=self.resources)
        result = batch_file_sensor(context)
        if isinstance(result, dg.SkipReason):
            return
        added = [key for request in result.dynamic_partitions_requests for key in request.partition_keys]
        keys = {r.partition_key for r in result.run_requests if r.partition_key} | set(added)
        for key in sorted(keys):
            materialize_batches(self.instance, self.resources, [key])

    def _ids(self, table: str) -> list[int]:
        with self.db.cursor() as cur:
            cur.execute(sql.SQL("SELECT id FROM etl.{} ORDER BY id").format(sql.Identifier(table)))
            return [row[0] for row in cur.fetchall()]

    def _ledger(self) -> dict[str, tuple]:
        with self.db.cursor() as cur:
            cur.execute(
                "SELECT batch_id, status, checksum_sha256, size_bytes, file_mtime_ns FROM utilities.processed_files"
            )
            return {row[0]: row[1:] for row in cur.fetchall()}

    @initialize()
    def start_empty(self) -> None:
        pass

    @rule(
        implicit=st.booleans(),
        counts=st.tuples(st.integers(1, 3), st.integers(1, 3), st.integers(1, 3)),
        variant=st.integers(0, 2),
    )
    def entity_file(self, implicit: bool, counts: tuple[int, int, int], variant: int) -> None:
        """A new file, or a replacement with more, fewer or changed rows."""
        batch_id = IMPLICIT if implicit else EXPLICIT
        events = []
        for (table, event_type), count in zip(ENTITIES.items(), counts, strict=True):
            for position in range(1, count + 1):
                payload = _entity_payload(table, f"{batch_id}{variant}", position)
                if not implicit:
                    payload = {"id": 2000 + position, **payload}
                events.append((event_type, payload))
        self._write(batch_id, events)

    @rule(
        batch_id=st.sampled_from(SALES_BATCHES),
        picks=st.lists(st.tuples(*[st.integers(0, 9)] * 3), max_size=4),
    )
    def sales_file(self, batch_id: str, picks: list[tuple[int, int, int]]) -> None:
        """Sales of rows other batches hold, or of e2's ids before e2 is loaded (they wait for a replay)."""
        stores, products, orders = (sorted(set(self._ids(t)) | set(EXPLICIT_IDS)) for t in ENTITIES)
        events = [
            (
                "sales_event",
                {
                    "sale_date": CREATED,
                    "order_id": orders[o % len(orders)],
                    "store_id": stores[s % len(stores)],
                    "product_id": products[p % len(products)],
                    "quantity": 1 + (s + p + o) % 5,
                },
            )
            for s, p, o in picks
        ]
        self._write(batch_id, events)

    @rule(batch_id=st.sampled_from([IMPLICIT, EXPLICIT, *SALES_BATCHES]))
    def broken_file(self, batch_id: str) -> None:
        self._drop(batch_id, b"not,a,batch\n1,2,3\n")

    @rule(batch_id=st.sampled_from([IMPLICIT, EXPLICIT, *SALES_BATCHES]))
    def same_bytes_again(self, batch_id: str) -> None:
        path = self.directory / f"{batch_id}.csv"
        if path.exists():
            self._drop(batch_id, path.read_bytes())

    @rule(batch_id=st.sampled_from([IMPLICIT, EXPLICIT, *SALES_BATCHES]))
    def materialize_in_the_ui(self, batch_id: str) -> None:
        if self.instance.has_dynamic_partition(batch_partitions.name, batch_id):
            materialize_batches(self.instance, self.resources, [batch_id])

    @rule(
        batch_id=st.sampled_from([IMPLICIT, EXPLICIT, *SALES_BATCHES]),
        action=st.sampled_from(["retry", "drop"]),
    )
    def quarantine_action(self, batch_id: str, action: str) -> None:
        if self._ledger().get(batch_id, ("",))[0] != "quarantined":
            return
        quarantined_batch_job.execute_in_process(
            run_config={
                "ops": {"handle_quarantined_batch": {"config": {"batch_id": batch_id, "action": action}}}
            },
            instance=self.instance,
            resources=self.resources,
            raise_on_error=False,
        )

    @rule()
    def replay_late_rows(self) -> None:
        for batch_id in batches_to_replay(self.db):
            replay_batch(self.db, batch_id)

    @rule()
    def refresh(self) -> None:
        refresh_store_daily_sales(self.db)
        with self.db.cursor() as cur:
            cur.execute(MAINTAINED)
            maintained = cur.fetchall()
            cur.execute(FROM_SCRATCH)
            assert maintained == cur.fetchall()

    # -- what must always hold --------------------------------------------------------------------------------

    @invariant()
    def no_dangling_reference(self) -> None:
        with self.db.cursor() as cur:
            cur.execute(DANGLING)
            assert cur.fetchone()[0] == 0

    @invariant()
    def every_row_accounted_for(self) -> None:
        for batch_id, (status, checksum, size, mtime) in self._ledger().items():
            path = self.directory / f"{batch_id}.csv"
            stat = path.stat()
            assert (size, mtime) == (stat.st_size, stat.st_mtime_ns), (
                f"{batch_id}: the ledger missed a version"
            )
            if status == "loaded":
                assert checksum == file_sha256(path)[0]
                self.rows_of_loaded_version[batch_id] = _data_rows(path)
            if batch_id in self.rows_of_loaded_version:  # this version's rows, or the kept earlier version's
                assert self._rows_in_tables(batch_id) == self.rows_of_loaded_version[batch_id], batch_id

    @invariant()
    def ids_never_move(self) -> None:
        """A row keeps its id for as long as its position is in its batch; a position a new version removed
        and a later one brings back is a new row."""
        with self.db.cursor() as cur:
            cur.execute(IDS_BY_POSITION)
            now = {
                (event_type, batch_id, position): id_
                for event_type, batch_id, position, id_ in cur.fetchall()
            }
        for key, id_ in now.items():
            first = self.ids_seen.get(key, id_)
            assert first == id_, f"{key[0]} {key[2]} of {key[1]} moved from id {first} to {id_}"
        self.ids_seen = now

    def _rows_in_tables(self, batch_id: str) -> int:
        with self.db.cursor() as cur:
            cur.execute(
                "SELECT (SELECT count(*) FROM etl.stores WHERE batch_id = %(b)s)"
                " + (SELECT count(*) FROM etl.products WHERE batch_id = %(b)s)"
                " + (SELECT count(*) FROM etl.orders WHERE batch_id = %(b)s)"
                " + (SELECT count(*) FROM etl.sales WHERE batch_id = %(b)s)"
                " + (SELECT count(*) FROM etl.rejected_events WHERE batch_id = %(b)s)",
                {"b": batch_id},
            )
            return cur.fetchone()[0]


def _entity_payload(table: str, name: str, position: int) -> dict:
    if table == "stores":
        return {"created_at": CREATED, "name": f"{name}s{position}", "tax_id": position, "status": "active"}
    if table == "products":
        return {"created_at": CREATED, "name": f"{name}p{position}", "price": round(1.5 * position, 2)}
    return {"created_at": CREATED, "user_id": position}


def _legacy_bytes(directory: Path, batch_id: str, events: list[tuple[str, dict]]) -> bytes:
    scratch = directory.parent / f"{directory.name}_versions"
    scratch.mkdir(exist_ok=True)
    return write_legacy_file(scratch, batch_id, NOW, events).read_bytes()


def _data_rows(path: Path) -> int:
    """Rows after the header (the legacy writer writes one line per row: json.dumps has no line breaks)."""
    return max(0, len(path.read_bytes().splitlines()) - 1)


def test_any_sequence_of_reloads_keeps_every_batch_intact(pg_server_url, template_database, tmp_path):
    ReloadMachine.server_url = pg_server_url
    ReloadMachine.template = template_database
    ReloadMachine.root = tmp_path
    run_state_machine_as_test(
        ReloadMachine,
        settings=settings(
            max_examples=int(os.getenv("ETL_STATE_MACHINE_EXAMPLES", "8")),
            stateful_step_count=10,
            deadline=None,
            suppress_health_check=list(HealthCheck),
        ),
    )
