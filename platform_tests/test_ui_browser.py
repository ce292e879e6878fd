"""The Dagster UI in a real browser, as a new user meets it: `dagster dev` on a free loopback
port over a small materialized data home, driven by Playwright in Debian's Chromium (never a
browser Playwright downloads). Screenshots are kept in platform_tests/artifacts/ (git-ignored).

What is expected comes from the Definitions object: the assets and groups of the lineage, the
columns and checks of an asset page.
"""

import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import dagster as dg
import pytest

from lakehouse.definitions import defs
from lakehouse.simulator.sample import SAMPLE_SOURCES
from platform_tests.browser import CHROMIUM, chromium_page, open_page, responds
from platform_tests.production.services import free_port, wait_until

pytestmark = pytest.mark.slow
REPO = Path(__file__).resolve().parents[1]
ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}
FIRST, LAST = "2013-01-01", "2013-01-03"
STAGED_FLIGHTS = dg.AssetKey(["staged", "flights"])
UI_TIMEOUT_MS = 60_000


def require_chromium() -> None:
    """Skip without Debian's Chromium (fail in CI, where .ci/run installs it)."""
    if CHROMIUM.exists():
        return
    missing = f"{CHROMIUM} is not installed (apt-get install chromium)"
    if IN_CI:
        pytest.fail(f"{missing}; .ci/run must install it", pytrace=False)
    pytest.skip(missing)


def expected_groups() -> dict[str, set[str]]:
    """Every asset of the Definitions by group: what the lineage must show."""
    groups: dict[str, set[str]] = {}
    for node in defs.resolve_asset_graph().asset_nodes:
        groups.setdefault(node.group_name, set()).add(node.key.path[-1])
    return groups


@pytest.fixture(scope="module")
def ui(landed_sample: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """`dagster dev` over three materialized sample days; yields the UI's base URL."""
    require_chromium()
    home = tmp_path_factory.mktemp("ui")
    dagster_home = home / ".dagster"
    dagster_home.mkdir()
    shutil.copy(REPO / "dagster.yaml", dagster_home / "dagster.yaml")
    shutil.copytree(landed_sample, home / "data" / "landing")
    env = {
        **os.environ,
        "LAKEHOUSE_HOME": str(home / "data"),
        "DAGSTER_HOME": str(dagster_home),
    }
    bin_dir = Path(sys.executable).parent
    subprocess.run(
        [
            bin_dir / "lakehouse",
            "materialize",
            "--start",
            FIRST,
            "--end",
            LAST,
            *(arg for name in SAMPLE_SOURCES for arg in ("--source", name)),  # those landed
        ],  # fmt: skip
        env=env,
        check=True,
        capture_output=True,
    )
    port = free_port()
    log = (home / "dagster-dev.log").open("wb")
    # Its own session, so the webserver, daemon and code servers it starts stop together.
    server = subprocess.Popen(
        [
            bin_dir / "dagster",
            "dev",
            "-w",
            REPO / "workspace.yaml",
            "-h",
            "127.0.0.1",
            "-p",
            str(port),
        ],
        cwd=dagster_home,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until(lambda: responds(f"{base}/server_info"), "dagster dev", timeout=180)
        yield base
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()
        log.close()


@pytest.fixture(scope="module")
def browser_page(ui: str) -> Iterator[Any]:
    """A page in Debian's Chromium with a fresh profile."""
    ARTIFACTS.mkdir(exist_ok=True)
    with chromium_page(UI_TIMEOUT_MS) as page:
        yield page


def shown_as(name: str, label: str) -> bool:
    """Whether a node label shows `name`: whole, or cut in the middle (`airpor…_quarantine`)."""
    if "…" not in label:
        return label == name
    head, tail = label.split("…", 1)
    return name.startswith(head) and name.endswith(tail) and len(name) > len(head) + len(tail)


def test_the_lineage_shows_every_asset_from_raw_to_staged_to_marts(
    ui: str, browser_page: Any
) -> None:
    page = browser_page
    open_page(page, f"{ui}/asset-groups")
    expected = expected_groups()
    page.locator("foreignObject").first.wait_for()
    page.locator('[aria-label="settings"]').last.click()
    page.get_by_role("menuitem", name=re.compile("Expand all groups")).click()
    # The UI remembers the groups expanded; a reload centres the expanded graph.
    page.reload()
    page.locator("foreignObject").first.wait_for()
    # Only nodes in view are drawn: zoom out until every asset and group is, as the graph grows.
    total = sum(len(names) for names in expected.values())
    for _ in range(12):
        page.wait_for_timeout(700)
        if len(boxes := labelled_boxes(page)) >= total + len(expected):
            break
        page.locator('[aria-label="zoom_out"]').click()
    assert len(boxes) >= total + len(expected), f"only {len(boxes)} nodes drawn"
    page.screenshot(path=ARTIFACTS / "lineage.png")
    groups = {label: box for label, box in boxes if label in expected and box["width"] > 200}
    assert set(groups) == set(expected)
    shown: dict[str, list[str]] = {group: [] for group in expected}
    for label, box in boxes:
        if label in groups and box is groups[label]:
            continue
        center = (box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
        [group] = [g for g, b in groups.items() if inside(center, b)]
        shown[group].append(label)
    for group, names in expected.items():
        assert len(shown[group]) == len(names), (group, shown[group])
        for name in names:
            assert any(shown_as(name, label) for label in shown[group]), (group, name)
    # Laid out in the direction data flows.
    assert groups["raw"]["x"] < groups["staged"]["x"] < groups["marts"]["x"]


def labelled_boxes(page: Any) -> list[tuple[str, dict[str, float]]]:
    """Every drawn graph node with a label (groups and assets) and where it is on the page."""
    found = []
    for node in page.locator("foreignObject").all():
        label = (node.text_content() or "").strip()
        box = node.bounding_box()
        if label and box:
            found.append((label.split("Latest event")[0], box))
    return found


def inside(point: tuple[float, float], box: dict[str, float]) -> bool:
    x, y = point
    return box["x"] <= x <= box["x"] + box["width"] and box["y"] <= y <= box["y"] + box["height"]


def test_an_asset_page_shows_its_columns_checks_and_partitions(ui: str, browser_page: Any) -> None:
    page = browser_page
    node = defs.resolve_asset_graph().get(STAGED_FLIGHTS)
    schema = node.metadata["dagster/column_schema"]
    open_page(page, f"{ui}/assets/staged/flights")
    columns = page.locator("table").filter(has_text="Column name")
    columns.wait_for()
    for column in schema.columns:
        assert columns.get_by_text(column.name, exact=True).count() >= 1, column.name
    page.screenshot(path=ARTIFACTS / "asset-columns.png")

    open_page(page, f"{ui}/assets/staged/flights?view=checks")
    checks = sorted(
        key.name
        for key in defs.resolve_asset_graph().asset_check_keys
        if key.asset_key == STAGED_FLIGHTS
    )
    assert len(checks) >= 3
    page.get_by_text(f"Checks ({len(checks)})").wait_for()
    for check in checks:
        assert page.get_by_text(check, exact=True).count() >= 1, check
    page.screenshot(path=ARTIFACTS / "asset-checks.png")

    open_page(page, f"{ui}/assets/staged/flights?view=partitions")
    partitions = node.partitions_def
    assert partitions is not None
    keys = partitions.get_partition_keys()
    page.get_by_text("Materialized (3)").wait_for()  # the three sample days
    page.get_by_text(f"Missing ({len(keys) - 3})").wait_for()
    for day in (keys[0], keys[-1]):  # the ends of the source's calendar
        assert page.get_by_text(day, exact=True).count() >= 1, day
    page.screenshot(path=ARTIFACTS / "asset-partitions.png")


def test_a_one_partition_materialization_launched_from_the_ui_succeeds(
    ui: str, browser_page: Any
) -> None:
    page = browser_page
    open_page(page, f"{ui}/assets/raw/flights")
    page.get_by_role("button", name=re.compile("Materialize")).first.click()
    dialog = page.get_by_role("dialog")
    partitions = dialog.get_by_placeholder(re.compile("ex: 2013"))
    partitions.fill("2013-01-02")
    partitions.press("Enter")
    dialog.get_by_role("button", name="Launch 1 run").click()
    launched = page.get_by_text(re.compile(r"Launched run [0-9a-f]{8}"))
    launched.wait_for()
    match = re.search(r"Launched run ([0-9a-f]{8})", launched.inner_text())
    assert match is not None
    # The daemon dequeues the run and a subprocess executes it: give it time on a busy machine.
    deadline = time.monotonic() + 240
    while True:
        open_page(page, f"{ui}/runs")
        run = page.locator('[class*="RunsFeedRow_rowGrid"]').filter(has_text=match.group(1))
        run.wait_for()
        status = run.inner_text()
        if "Success" in status or "Failure" in status or time.monotonic() > deadline:
            break
        page.wait_for_timeout(5000)
    page.screenshot(path=ARTIFACTS / "run-from-ui.png")
    assert "Success" in status, status
    assert "raw / flights" in status
    assert "partition: 2013-01-02" in status


def test_a_mart_page_shows_its_column_lineage_and_whose_row_count_it_is(
    ui: str, browser_page: Any
) -> None:
    """The open-source UI does not draw `dagster/column_lineage`; the table beside it shows."""
    page = browser_page
    mart = dg.AssetKey(["marts", "mart_routes"])
    lineage = defs.resolve_asset_graph().get(mart).metadata["dagster/column_lineage"]
    open_page(page, f"{ui}/assets/marts/mart_routes")
    page.get_by_text("computed from", exact=True).wait_for()
    for column, deps in lineage.deps_by_column.items():
        for dep in deps:
            upstream = f"{dep.asset_key.to_user_string()}.{dep.column_name}"
            assert page.get_by_text(upstream, exact=True).count() >= 1, (column, upstream)
    page.get_by_text("computed from", exact=True).scroll_into_view_if_needed()
    page.screenshot(path=ARTIFACTS / "mart-column-lineage.png")

    # The asset's "Row count" is its latest partition's (the UI does not say so); this does.
    open_page(page, f"{ui}/assets/raw/flights")
    whose = r"^partition 2013-01-0[1-3] only; the table's total: `lakehouse status`$"
    page.get_by_text(re.compile(whose)).wait_for()
