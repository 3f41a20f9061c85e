"""The report as a person gets it: every file written, self-contained, escaped, no secrets."""

from __future__ import annotations

import argparse
import csv
import socket
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import pytest

from lifeboat.config import Inventory, load_inventory
from lifeboat.continuity import cli
from lifeboat.continuity.report import build_all, markdown_table, write_report
from lifeboat.continuity.topology import NOT_CONFIGURED, topology_status
from lifeboat.instance import PROJECT_ROOT
from pipelines.registry import vendors
from replication.history import Event, History, history_path
from tests.lifeboat.continuity.helpers import add_record, demo_credentials, one

OUTPUTS = (
    "contacts.csv",
    "contacts.parquet",
    "open_work.csv",
    "open_work.parquet",
    "vendor_status.csv",
    "report.html",
    "report.md",
)


class Resources(HTMLParser):
    """Everything in a page that a browser would fetch by itself."""

    def __init__(self) -> None:
        super().__init__()
        self.fetched: list[str] = []
        self.scripts = 0
        self.links: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if tag == "script":
            self.scripts += 1
        if tag == "a" and values.get("href"):
            self.links.append(values["href"] or "")
            return
        for name in ("src", "href", "data", "poster", "srcset"):
            if values.get(name):
                self.fetched.append(f"{tag} {name}={values[name]}")


def shipped() -> Inventory:
    return load_inventory(PROJECT_ROOT / "lifeboat.yaml", vendors())


def test_report_writes_every_file_self_contained(copied_home: Path) -> None:
    outputs = build_all(copied_home, shipped())
    directory = copied_home / "continuity"
    for name in OUTPUTS:
        assert (directory / name).stat().st_size > 0, name
    assert outputs.html == directory / "report.html"
    html = outputs.html.read_text(encoding="utf-8")
    page = Resources()
    page.feed(html)
    assert page.fetched == [], "the page must fetch nothing"
    assert page.scripts == 1, "one inline script, no other"
    assert "url(" not in html and "@import" not in html
    for target in ("contacts.csv", "open_work.csv", "vendor_status.csv", "report.md"):
        assert target in page.links
    # Links leave the page only for a subscriber's channel or a runbook's own addresses
    # (a vendor's status page, its support): followed by a person, never fetched.
    runbooks = {
        url
        for vendor in shipped().vendors.values()
        for url in (vendor.runbook.status_page, vendor.runbook.support)
        if url
    }
    assert all(
        not link.startswith(("http:", "https:"))
        or "youtube.com/channel" in link
        or link in runbooks
        for link in page.links
    )
    # Every vendor, the topology, contacts and open work are on the page.
    for vendor, entry in shipped().registry.items():
        assert f'id="runbook-{vendor}"' in html
        assert f'aria-label="{entry.title} rows held"' in html
    assert NOT_CONFIGURED in html
    assert '<svg class="timeline"' in html
    _, email, name = one(
        copied_home, "stripe", "SELECT id, email, name FROM customers WHERE NOT _deleted LIMIT 1"
    )[0]
    assert f'href="mailto:{email}"' in html
    assert name.replace("'", "&#39;") in html
    assert outputs.contacts > 1000 and outputs.open_work > 10
    assert outputs.vendors == len(shipped().enabled_vendors())
    markdown = outputs.markdown.read_text(encoding="utf-8")
    for heading in (
        "## Summary",
        "## Vendors and copies",
        "## Database topology",
        "## Open work",
        "## Contacts",
        "## Runbooks",
    ):
        assert heading in markdown
    for entry in shipped().registry.values():
        assert f"### {entry.title} — healthy" in markdown


def test_vendor_text_is_escaped_and_secrets_never_written(
    copied_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    secrets = demo_credentials()
    for name, value in secrets.items():
        monkeypatch.setenv(name, value)
    add_record(
        copied_home,
        "hubspot",
        "contacts",
        id="9990100",
        email="mallory@example.com",
        firstname="<script>alert(1)</script>",
        lastname="| **bold**",
        _deleted=False,
        archived=False,
    )
    outputs = build_all(copied_home, shipped())
    html = outputs.html.read_text(encoding="utf-8")
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "<script>alert(1)" not in html
    assert "<script>alert(1)" not in outputs.markdown.read_text(encoding="utf-8")
    for path in (copied_home / "continuity").iterdir():
        content = path.read_bytes()
        for value in secrets.values():
            if len(value) > 8 and "@" not in value:
                assert value.encode() not in content, f"{path.name} holds a secret"


def test_markdown_cells_cannot_break_the_table() -> None:
    table = markdown_table(["a", "b"], [["x | y", "line\nbreak <b>"]])
    assert table.splitlines()[2] == "| x \\| y | line break &lt;b&gt; |"


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_topology_health_and_last_switch_are_shown(
    copied_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "with-mysql.yaml"
    port = closed_port()
    config.write_text(
        (PROJECT_ROOT / "lifeboat.yaml").read_text()
        + f"\nmysql:\n  servers:\n    alpha: {{host: 127.0.0.1, port: {port}}}\n"
        f"    beta: {{host: 127.0.0.1, port: {port + 1 if port < 65535 else port - 1}}}\n"
        "  tls: disabled\n  probe_timeout: 1s\n  lag_threshold: 1s\n"
    )
    for var in ("MONITOR", "SWITCH", "REPLICATION"):
        monkeypatch.setenv(f"LIFEBOAT_MYSQL_{var}_USER", "lifeboat")
        monkeypatch.setenv(f"LIFEBOAT_MYSQL_{var}_PASSWORD", "not-a-real-password-123")
    History(history_path(copied_home)).record(
        Event(
            kind="switch",
            source="alpha",
            target="beta",
            outcome="success",
            blocked_ms=180.0,
            who="maria@office",
        )
    )
    inventory = load_inventory(config, vendors())
    status = topology_status(copied_home, inventory)
    assert status.configured and status.healthy is False
    assert {s["server"]: s["role"] for s in status.servers} == {
        "alpha": "unreachable",
        "beta": "unreachable",
    }
    assert status.last_switch and status.last_switch["target"] == "beta"
    build_all(copied_home, shipped())  # the exports the report reads
    html = write_report(copied_home, inventory, status).html.read_text(encoding="utf-8")
    assert "unreachable" in html
    assert "switch from <b>alpha</b> to <b>beta</b>" in html
    assert "by maria@office, writes blocked 180 ms" in html
    assert "not-a-real-password" not in html


def test_no_topology_is_said_plainly(copied_home: Path) -> None:
    status = topology_status(copied_home, shipped())
    assert (status.configured, status.summary, status.last_switch) == (False, NOT_CONFIGURED, None)


def test_lifeboat_report_prints_the_path(
    copied_home: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LIFEBOAT_CONFIG", str(PROJECT_ROOT / "lifeboat.yaml"))
    parser = argparse.ArgumentParser(prog="lifeboat")
    cli.register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["report", "--no-probe", "--as-of", "2026-01-03T00:00:00+00:00"])
    assert args.func(args) == 0
    printed = capsys.readouterr().out
    html = copied_home / "continuity" / "report.html"
    assert f"report: {html}" in printed
    assert "As of 2026-01-03 00:00 UTC" in html.read_text(encoding="utf-8")


def test_a_running_sandbox_topology_is_probed_and_shown(copied_home: Path) -> None:
    from replication.sandbox import Sandbox
    from replication.topology import read_env_file

    sandbox = Sandbox(copied_home / "sandbox")
    sandbox.up()
    try:
        passwords = [
            value
            for name, value in read_env_file(copied_home / "sandbox" / "credentials.env").items()
            if "PASSWORD" in name
        ]
        status = topology_status(copied_home, shipped())
        build_all(copied_home, shipped(), probe_topology=False)
        html = write_report(copied_home, shipped(), status).html.read_text(encoding="utf-8")
    finally:
        sandbox.destroy()
    assert status.configured and status.healthy, status.summary
    roles = {s["server"]: s["role"] for s in status.servers}
    assert roles == {"alpha": "primary", "beta": "replica", "gamma": "replica"}
    assert "healthy: primary alpha, 2 replica(s) in step" in html
    assert "No switch or failover recorded." in html
    assert passwords and not any(password in html for password in passwords)


def test_a_copy_being_written_is_left_out_and_said_so(copied_home: Path) -> None:
    database = copied_home / "warehouse" / "stripe.duckdb"
    # Another process writing the copy holds DuckDB's lock on the file, as a sync does.
    writer = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import duckdb, sys; c = duckdb.connect(sys.argv[1]); print('locked', flush=True); "
            "sys.stdin.read()",
            str(database),
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert writer.stdout is not None and writer.stdout.readline().strip() == "locked"
        outputs = build_all(copied_home, shipped(), probe_topology=False)
    finally:
        writer.communicate("")
    html = outputs.html.read_text(encoding="utf-8")
    assert "so left out of contacts and open work: Stripe." in html
    with (copied_home / "continuity" / "contacts.csv").open(encoding="utf-8") as handle:
        vendors = {v for row in csv.DictReader(handle) for v in row["vendors"].split(", ")}
    assert "stripe" not in vendors and {"hubspot", "zendesk", "mailchimp"} <= vendors
