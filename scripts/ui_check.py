"""`make ui-check`: start the platform as `make dev` does and check the UI in a real headless Chromium.

Asserts that the asset graph shows the event assets, the daily sales asset and its check, and that both
sensors are listed and running; saves screenshots under docs/images/ (the README shows them). Uses Debian's
Chromium (`CHROMIUM` overrides the path) driven by Playwright; no browser is downloaded.
"""

import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from playwright.sync_api import Page, sync_playwright

ROOT = Path(__file__).resolve().parent.parent
IMAGES = ROOT / "docs" / "images"
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


def expect_texts(page: Page, texts: list[str], where: str, timeout_ms: int = 60_000) -> None:
    for text in texts:
        page.get_by_text(text, exact=False).first.wait_for(timeout=timeout_ms)
    print(f"ok: {where} shows {', '.join(texts)}")


def open_page(page: Page, path: str) -> None:
    page.goto(f"{BASE}{path}")
    page.wait_for_load_state("networkidle")
    skip = page.get_by_text("Skip", exact=True)  # the first-visit newsletter dialog
    if skip.count():
        skip.first.click()


def check_ui(page: Page) -> None:
    page.set_viewport_size({"width": 1600, "height": 1000})
    open_page(page, "/locations/etl_project/asset-groups/ingestion/lineage")
    expect_texts(
        page, ["raw_events", "stores", "products", "orders", "sales", "store_daily_sales"], "ingestion graph"
    )
    page.screenshot(path=str(IMAGES / "asset-graph-ingestion.png"))

    open_page(page, "/locations/etl_project/asset-groups/analytics/lineage")
    expect_texts(page, ["store_daily_sales", "Asset checks"], "analytics graph")
    page.screenshot(path=str(IMAGES / "asset-graph-analytics.png"))

    open_page(page, "/assets/store_daily_sales?view=checks")
    expect_texts(page, ["sales_drop_check"], "store_daily_sales checks tab")
    page.screenshot(path=str(IMAGES / "sales-drop-check.png"))

    open_page(page, "/automation")
    expect_texts(
        page,
        ["batch_file_sensor", "sales_drop_slack_sensor", "analytics_automation_sensor"],
        "automation page",
    )
    page.screenshot(path=str(IMAGES / "sensors.png"))


def main() -> int:
    IMAGES.mkdir(parents=True, exist_ok=True)
    env = {**os.environ}
    platform = subprocess.Popen(
        [str(ROOT / ".venv" / "bin" / "etl"), "dev", "--port", str(PORT)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        wait_for_webserver(platform)
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
            try:
                check_ui(browser.new_page())
            finally:
                browser.close()
    finally:
        os.killpg(platform.pid, signal.SIGTERM)
        try:
            platform.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(platform.pid, signal.SIGKILL)
    print(f"UI check passed; screenshots in {IMAGES.relative_to(ROOT)}/")
    return 0


if __name__ == "__main__":
    sys.exit(main())
