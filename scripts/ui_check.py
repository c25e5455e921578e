"""`make ui-check`: start the platform as `make dev` does and check the UI in a real headless Chromium.

The platform runs in an environment of its own (its own ETL and Dagster databases on the embedded server,
recreated each time, a temporary shared directory and DAGSTER_HOME), seeded with the sample history, a batch
with rejected rows and a file that cannot be read. The check then asserts that a newcomer can answer the
issue's questions from the UI alone, and screenshots each answer:

- the asset graphs and the sensors, running;
- which rows of a batch were rejected and why (the `rejected_rows` table of its materialisation);
- why a file was quarantined (the `batch_file_readable` check of its partition, with the reason);
- which stores dropped (the `flagged_stores` table of sales_drop_check);
- what the file sensor and the alert sender did, in their tick lists ("1 new file: ...", "sent 1 message to
  ..."; the only free text Dagster 1.13's tick list shows is a tick's cursor, etl_project/defs/tick_reports.py),
  and a skipped tick's reason on hover ("No new files among N");
- the quarantined file's reason and next step on its partition page, and no ingestion check shown as Skipped;
- a failed `etl quarantine retry` (run by this script) announced by run_failure_slack_sensor.

It fails listing every answer it could not find, after taking all the screenshots. Screenshots go to
.ui_check/ (git-ignored); `--write-readme-images` writes them to docs/images/ for the docs (docs/concepts/ui.md) instead. Uses
Debian's Chromium (`CHROMIUM` overrides the path) driven by Playwright; no browser is downloaded.
"""

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from pathlib import Path

import psycopg2
from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import Locator, Page, sync_playwright
from psycopg2 import sql

from etl_project.database.embedded import embedded_server_uri, with_database
from etl_project.generator.events import generate_history
from etl_project.generator.from_database import DatabaseIds
from etl_project.resources import EtlDatabase
from etl_testkit.batch_files import write_raw_batch

#: The repository's root (run as `python -m scripts.<name>` from it).
ROOT = Path(__file__).resolve().parent.parent

README_IMAGES = ROOT / "docs" / "images"
LOCAL_IMAGES = ROOT / ".ui_check"
PORT = int(os.getenv("UI_CHECK_PORT", "3300"))
BASE = f"http://127.0.0.1:{PORT}"
CHROMIUM = os.getenv("CHROMIUM", "/usr/bin/chromium")
# The flags a closed network needs: no background connections, no sandbox as root.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ETL_DATABASE = "etl_ui_check"
DAGSTER_DATABASE = "dagster_ui_check"
REJECTS_BATCH = "ui_check__bad_rows"
UNREADABLE_BATCH = "ui_check__wrong_header"
#: Data flows within minutes of the start (history loaded, store_daily_sales refreshed, the check evaluated):
#: every answer that needs data must be there this long after the webserver answers.
DATA_TIMEOUT_S = int(os.getenv("UI_CHECK_DATA_TIMEOUT", "300"))


def fresh_databases() -> tuple[str, str]:
    """Empty ETL and Dagster databases on the embedded server (dropped and created again)."""
    server = embedded_server_uri()
    conn = psycopg2.connect(server)
    conn.autocommit = True
    with conn.cursor() as cur:
        for name in (ETL_DATABASE, DAGSTER_DATABASE):
            cur.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
            cur.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    conn.close()
    dagster_url = with_database(server, DAGSTER_DATABASE).replace(
        "postgresql://", "postgresql+psycopg2://", 1
    )
    return with_database(server, ETL_DATABASE), dagster_url


def seed_files(shared: Path, etl_url: str) -> None:
    """The sample history (a sales drop yesterday), a batch with rejected rows and a file with a wrong header."""
    yesterday = datetime.now(timezone.utc).date() - timedelta(days=1)
    with EtlDatabase(url=etl_url).connect() as conn:
        generate_history(shared, end_date=yesterday, days=9, ids=DatabaseIds(conn))
    created = f"{yesterday} 12:00:00"
    store = {"created_at": created, "name": "Corner shop", "tax_id": 12345678, "status": "active"}
    sale = {"sale_date": created, "order_id": 1, "store_id": 999999, "product_id": 1, "quantity": 1}
    rows = [
        ("order_event", {"created_at": created, "user_id": 7}),
        ("store_event", {**store, "tax_id": "12x"}),
        ("store_event", {**store, "status": "gone"}),
        ("sales_event", sale),
    ]
    write_raw_batch(shared, REJECTS_BATCH, [(REJECTS_BATCH, t, json.dumps(p), created) for t, p in rows])
    (shared / f"{UNREADABLE_BATCH}.csv").write_text('"id","name"\n"1","x"\n', encoding="utf-8")


def wait_for_webserver(process: subprocess.Popen, timeout: float = 180) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"`etl dev` exited early with code {process.returncode}")
        try:
            with urllib.request.urlopen(f"{BASE}/server_info", timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(1)
    raise SystemExit(f"the webserver did not answer on {BASE} within {timeout:.0f} s")


def open_page(page: Page, path: str) -> None:
    page.goto(f"{BASE}{path}")
    page.wait_for_load_state("networkidle")
    skip = page.get_by_text("Skip", exact=True)  # the first-visit newsletter dialog
    if skip.count():
        skip.first.click()


class UiCheck:
    """Opens pages, looks for texts, takes screenshots; remembers what was missing instead of stopping."""

    def __init__(self, page: Page, images: Path):
        self.page = page
        self.images = images
        self.missing: list[str] = []
        self.data_deadline = time.time() + DATA_TIMEOUT_S

    def answer(
        self,
        what: str,
        path: str,
        texts: list[str] | Callable[[], list[str]],
        image: str,
        needs_data: bool = False,
        reveal: Callable[[Page], None] | None = None,
        also_at: tuple[str, ...] = (),
        never: tuple[str, ...] = (),
    ) -> bool:
        """Open `path` (and `reveal` what is behind a click or hover) until it, or one of the pages `also_at`,
        shows all `texts`, reloading while data is still arriving; then screenshot."""
        deadline = max(self.data_deadline if needs_data else 0, time.time() + 30)
        while True:
            wanted = texts() if callable(texts) else texts
            for candidate in [path, *also_at]:
                open_page(self.page, candidate)
                if reveal is not None:
                    try:
                        reveal(self.page)
                        self.page.wait_for_timeout(1_000)  # let a dialog or tooltip finish appearing
                    except PlaywrightError:
                        pass  # not there yet
                absent = [t for t in wanted if not self._shows(t, wait_ms=5_000)]
                if wanted and not absent:
                    path = candidate
                    break
            if (wanted and not absent) or time.time() > deadline:
                break
            time.sleep(5)
        self.page.screenshot(path=str(self.images / image))
        contradicting = [t for t in never if self._shows(t, wait_ms=1_000)]
        if contradicting:
            self.missing.append(
                f"{what}: {path} also shows {', '.join(map(repr, contradicting))} (see {image})"
            )
            print(f"MISSING: {self.missing[-1]}")
            return False
        if absent or not wanted:
            self.missing.append(
                f"{what}: {path} does not show {', '.join(map(repr, absent)) or 'its data'} (see {image})"
            )
            print(f"MISSING: {self.missing[-1]}")
            return False
        print(f"ok: {what}: {path} shows {', '.join(wanted)}")
        return True

    def _shows(self, text: str, wait_ms: int) -> bool:
        try:
            self.page.get_by_text(text, exact=False).first.wait_for(timeout=wait_ms)
            return True
        except PlaywrightError:
            return False


def _tick_row(page: Page, status: str) -> Locator:
    return page.locator("tr").filter(has_text=status).first


def _hover_a_skipped_tick(page: Page) -> None:
    _tick_row(page, "0 runs requested").locator("td").nth(1).locator("span").first.hover(timeout=10_000)


def _show_the_quarantined_partitions_evaluation(page: Page) -> None:
    """The check's Partitions tab, then the quarantined batch's partition: its evaluation and reason."""
    page.get_by_text("Partitions", exact=True).last.click(timeout=10_000)
    page.wait_for_load_state("networkidle")
    page.get_by_text(UNREADABLE_BATCH, exact=True).first.click(timeout=10_000)
    page.wait_for_load_state("networkidle")
    page.get_by_text("missing column").first.scroll_into_view_if_needed(timeout=10_000)


def _show_a_tick_announcing_the_failed_retry(page: Page) -> None:
    """Hover the skipped ticks of run_failure_slack_sensor until one says it queued the retry's failure."""
    rows = page.locator("tr").filter(has_text="0 runs requested")
    for i in range(min(rows.count(), 20)):
        rows.nth(i).locator("td").nth(1).locator("span").first.hover(timeout=5_000)
        page.wait_for_timeout(500)
        if page.get_by_text("quarantined_batch_job failed").count():
            return


def retry_the_unreadable_file(env: dict[str, str], etl_url: str) -> str:
    """`etl quarantine retry` of the wrong-header file, once it is quarantined: a run that fails (the file is
    still broken), which run_failure_slack_sensor must announce. Returns what the command printed."""
    deadline = time.time() + DATA_TIMEOUT_S
    while time.time() < deadline:
        with EtlDatabase(url=etl_url).connect() as conn, conn.cursor() as cur:
            cur.execute(
                "SELECT 1 FROM utilities.processed_files WHERE batch_id = %s AND status = 'quarantined'",
                (UNREADABLE_BATCH,),
            )
            if cur.fetchone():
                break
        time.sleep(5)
    done = subprocess.run(
        [str(ROOT / ".venv" / "bin" / "etl"), "quarantine", "retry", UNREADABLE_BATCH],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    return done.stdout + done.stderr


def _dropping_store_names(etl_url: str) -> Callable[[], list[str]]:
    """The names of the history's dropping stores (its first two, when active), once loaded."""

    def names() -> list[str]:
        with EtlDatabase(url=etl_url).connect() as conn, conn.cursor() as cur:
            cur.execute("SELECT name FROM etl.stores WHERE id IN (1, 2) AND status = 'active' ORDER BY id")
            found = [row[0] for row in cur.fetchall()]
        return ["flagged_stores", *found] if found else []

    return names


def check_ui(check: UiCheck, etl_url: str) -> None:
    check.page.set_viewport_size({"width": 1600, "height": 1000})
    check.answer(
        "ingestion graph",
        "/locations/etl_project/asset-groups/ingestion/lineage",
        # "Passed": the nodes' check counts, shown once the batches' statuses have loaded
        ["raw_events", "stores", "products", "orders", "sales", "store_daily_sales", "Passed"],
        "asset-graph-ingestion.png",
        needs_data=True,
    )
    check.answer(
        "analytics graph, in sync once refreshed (a quarantined batch beside it)",
        "/locations/etl_project/asset-groups/analytics/lineage",
        ["store_daily_sales", "Asset checks", "Materialized"],
        "asset-graph-analytics.png",
        needs_data=True,
        never=("Unsynced",),
    )
    check.answer(
        "sensors and schedules",
        "/automation",
        ["batch_file_sensor", "sales_drop_slack_sensor", "analytics_automation_sensor"],
        "sensors.png",
    )
    sensor = "/locations/etl_project/sensors/batch_file_sensor"
    check.answer(
        "what the file sensor did, in its tick list",
        sensor,
        ["new file:"],  # the colon: the tick's own words, not the sensor's description
        "sensor-ticks.png",
        needs_data=True,
    )
    check.answer(
        "what the alert sender did, in its tick list",
        "/locations/etl_project/sensors/alert_delivery_sensor",
        ["to dry-run (log only)"],  # "sent 1 message to dry-run (log only)": no Slack is configured here
        "alert-delivery-ticks.png",
        needs_data=True,
    )
    check.answer(
        "why the file sensor skipped a tick",
        sensor,
        ["No new files among"],
        "sensor-skipped-tick.png",
        needs_data=True,
        reveal=_hover_a_skipped_tick,
    )
    check.answer(
        "which rows were rejected and why",
        f"/assets/stores?view=partitions&partition={REJECTS_BATCH}",
        ["rejected_rows", "tax_id must be an integer"],
        "rejected-rows.png",
        needs_data=True,
    )
    check.answer(
        "why a file was quarantined",
        "/assets/raw_events?view=checks&checkDetail=batch_file_readable",
        # The reason itself (not the check's description, which names the kinds of problems).
        [UNREADABLE_BATCH, "missing column"],
        "quarantined-file.png",
        needs_data=True,
        reveal=_show_the_quarantined_partitions_evaluation,
    )
    check.answer(
        "why a file was quarantined, on its partition page",
        f"/assets/raw_events?view=partitions&partition={UNREADABLE_BATCH}",
        ["quarantined: not loaded", "missing column", f"etl quarantine retry {UNREADABLE_BATCH}"],
        "quarantined-partition.png",
        needs_data=True,
    )
    check.answer(
        "no check of the ingestion contradicts another (none skipped)",
        "/assets/raw_events?view=checks",
        # batch_file_readable is listed as Failed (the quarantined partition): its latest execution, a newer
        # batch's pass, must say so rather than contradict it
        [
            "batch_file_readable",
            "rows_accounted_for",
            "rejected_share",
            f"Still quarantined: {UNREADABLE_BATCH}",
        ],
        "raw-events-checks.png",
        needs_data=True,
        never=("Skipped", "Not Evaluated"),  # freshness_check: evaluated by every load run, not only when due
    )
    check.answer(
        "the failed `etl quarantine retry` announced",
        "/locations/etl_project/sensors/run_failure_slack_sensor",
        ["quarantined_batch_job failed"],
        "failed-retry-announced.png",
        needs_data=True,
        reveal=_show_a_tick_announcing_the_failed_retry,
    )
    check.answer(
        "sales_drop_check listed",
        "/assets/store_daily_sales?view=checks",
        ["sales_drop_check"],
        "sales-drop-check.png",
        needs_data=True,
    )
    check.answer(
        "which stores dropped",
        "/assets/store_daily_sales?view=checks&checkDetail=sales_drop_check",
        _dropping_store_names(etl_url),
        "sales-drop-table.png",
        needs_data=True,
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--write-readme-images",
        action="store_true",
        help=f"write the screenshots to {README_IMAGES.relative_to(ROOT)}/ (default: {LOCAL_IMAGES.name}/)",
    )
    images = README_IMAGES if parser.parse_args().write_readme_images else LOCAL_IMAGES
    images.mkdir(parents=True, exist_ok=True)
    etl_url, dagster_url = fresh_databases()
    with tempfile.TemporaryDirectory(prefix="etl_ui_check_") as tmp:
        shared = Path(tmp) / "shared_data"
        seed_files(shared, etl_url)
        env = {
            **os.environ,
            "ETL_DATABASE_URL": etl_url,
            "DAGSTER_POSTGRES_URL": dagster_url,
            "DAGSTER_HOME": str(Path(tmp) / "dagster_home"),
            "ETL_SHARED_DATA_DIR": str(shared),
        }
        env.pop("DAGSTER_WEBSERVER_URL", None)
        log_path = Path(tmp) / "etl-dev.log"
        with open(log_path, "w") as log:
            platform = subprocess.Popen(
                [str(ROOT / ".venv" / "bin" / "etl"), "dev", "--port", str(PORT)],
                cwd=ROOT,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        try:
            try:
                wait_for_webserver(platform)
            except SystemExit:
                print(log_path.read_text()[-5000:])
                raise
            printed = retry_the_unreadable_file(env, etl_url)
            print(f"etl quarantine retry {UNREADABLE_BATCH}: {printed.strip()}")
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(
                    executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True
                )
                try:
                    check = UiCheck(browser.new_page(), images)
                    check_ui(check, etl_url)
                finally:
                    browser.close()
        finally:
            os.killpg(platform.pid, signal.SIGTERM)
            try:
                platform.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(platform.pid, signal.SIGKILL)
    where = images.relative_to(ROOT)
    if check.missing:
        print(f"UI check FAILED ({len(check.missing)} missing); screenshots in {where}/:")
        print("\n".join(f"  - {m}" for m in check.missing))
        return 1
    print(f"UI check passed; screenshots in {where}/")
    return 0


if __name__ == "__main__":
    sys.exit(main())
