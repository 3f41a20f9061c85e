"""The Dagster UI on the project's workspace draws vendor tables -> continuity -> report."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from lifeboat.instance import PROJECT_ROOT
from pipelines.registry import vendors
from tests.lifeboat.continuity.helpers import demo_credentials

WORKSPACE = PROJECT_ROOT / "workspace.yaml"
# Loading the code location imports Dagster, dlt and every connector: allow a slow machine.
STARTUP_LIMIT = 240.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.status == 200
    except (urllib.error.URLError, OSError):
        return False


def require_wiring(data_dir: Path) -> None:
    """Fail at once, saying why, when definitions.py does not hold the continuity assets."""
    from assets.continuity import REPORT_KEY
    from definitions import build_definitions
    from lifeboat.config import load_inventory

    defs = build_definitions(load_inventory(PROJECT_ROOT / "lifeboat.yaml", vendors()), data_dir)
    if REPORT_KEY not in defs.resolve_asset_graph().get_all_asset_keys():
        pytest.fail("definitions.py does not merge assets.continuity.continuity(...)")


@pytest.fixture
def webserver(tmp_path: Path) -> Iterator[str]:
    """dagster-webserver on a free port of 127.0.0.1, with a private DAGSTER_HOME."""
    require_wiring(tmp_path)
    dagster_home = tmp_path / "dagster"
    dagster_home.mkdir()
    shutil.copyfile(PROJECT_ROOT / "dagster.yaml", dagster_home / "dagster.yaml")
    env = {
        **demo_credentials(),
        **os.environ,
        "DAGSTER_HOME": str(dagster_home),
        "LIFEBOAT_HOME": str(tmp_path / "home"),
    }
    with serve_webserver(env, tmp_path / "webserver.log") as url:
        yield url


@contextmanager
def serve_webserver(env: dict[str, str], log_path: Path) -> Iterator[str]:
    """dagster-webserver on a free port of 127.0.0.1 with `env`, until the block ends."""
    port = free_port()
    log = log_path.open("wb")
    command = [sys.executable, "-m", "dagster_webserver", "-w", str(WORKSPACE)]
    server = subprocess.Popen(
        [*command, "-h", "127.0.0.1", "-p", str(port)],
        cwd=PROJECT_ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + STARTUP_LIMIT
        while not answers(f"{url}/server_info"):
            if server.poll() is not None or time.monotonic() > deadline:
                output = log_path.read_text()[-2000:]
                pytest.fail(f"dagster-webserver did not start:\n{output}")
            time.sleep(0.5)
        yield url
    finally:
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
        log.close()


# Every asset node and lineage edge of the graph, in the SVG's own coordinates.
GRAPH = """
() => {
  const svg = document.querySelector('svg[class*="AssetNodeLineageGraph"]');
  if (!svg) return null;
  const nodes = [];
  svg.querySelectorAll('foreignObject').forEach((fo) => {
    const name = fo.querySelector('[class*="AssetNode_assetName"]');
    if (!name) return;
    nodes.push({
      name: name.textContent.trim(),
      x: +fo.getAttribute('x'), y: +fo.getAttribute('y'),
      w: +fo.getAttribute('width'), h: +fo.getAttribute('height'),
    });
  });
  const edges = [];
  svg.querySelectorAll('path[stroke*="lineage-edge"]').forEach((path) => {
    const a = path.getPointAtLength(0), b = path.getPointAtLength(path.getTotalLength());
    edges.push({x1: a.x, y1: a.y, x2: b.x, y2: b.y});
  });
  return {nodes, edges};
}
"""


def linked(graph: dict) -> set[tuple[str, str]]:
    """(from, to) names of the edges: an edge leaves a node's right side, enters one's left."""

    def at(x: float, y: float, side: str) -> str | None:
        for node in graph["nodes"]:
            edge_x = node["x"] + node["w"] if side == "right" else node["x"]
            if abs(x - edge_x) <= 40 and node["y"] <= y <= node["y"] + node["h"]:
                return node["name"]
        return None

    pairs = set()
    for edge in graph["edges"]:
        source, target = at(edge["x1"], edge["y1"], "right"), at(edge["x2"], edge["y2"], "left")
        if source and target:
            pairs.add((source, target))
    return pairs


def test_lineage_from_a_vendor_table_to_the_report_is_drawn(
    browser, webserver: str, artifacts: Path
) -> None:
    page = browser.new_page(viewport={"width": 1600, "height": 1000})
    page.goto(
        f"{webserver}/assets/stripe/customers?view=lineage&lineageScope=downstream&lineageDepth=3"
    )
    page.wait_for_selector('[class*="AssetNode_assetName"]:has-text("report")', timeout=120_000)
    skip = page.get_by_role("button", name="Skip")
    if skip.count():  # Dagster's newsletter prompt on a fresh instance
        skip.click()
    graph = None
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        graph = page.evaluate(GRAPH)
        if graph and {("customers", "contacts"), ("contacts", "report")} <= linked(graph):
            break
        time.sleep(0.5)
    page.screenshot(path=str(artifacts / "asset-lineage.png"))
    assert graph is not None, "no asset graph on the page"
    names = {node["name"] for node in graph["nodes"]}
    assert {"customers", "contacts", "open_work", "vendor_status", "report"} <= names
    edges = linked(graph)
    assert ("customers", "contacts") in edges
    assert ("contacts", "report") in edges
    assert ("contacts", "open_work") in edges
    assert ("open_work", "report") in edges
    page.close()
