"""Copies of every shipped vendor from a real emulator, and a way to add the odd record to them."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import duckdb

from emulators.control import EmulatorControl
from emulators.server import Emulator, EmulatorServer
from lifeboat.config import Inventory, load_inventory
from lifeboat.instance import DEMO_ENV, PROJECT_ROOT
from pipelines.base import VendorContext
from pipelines.registry import vendors
from pipelines.runner import sync, warehouse_path

# Deletions drawn upstream between the two syncs, so the copies hold records marked deleted.
DELETIONS = {
    "stripe.customers": {"deleted": 4, "updated": 0},
    "hubspot.contacts": {"deleted": 4, "updated": 0},
    "zendesk.users": {"deleted": 3, "updated": 0},
    "mailchimp.members": {"deleted": 6, "updated": 0},
}


def demo_credentials() -> dict[str, str]:
    values = {}
    for line in DEMO_ENV.read_text().splitlines():
        if "=" in line and not line.startswith("#"):
            name, value = line.strip().split("=", 1)
            values[name] = value
    return values


def shipped_inventory(tmp: Path, url: str) -> Inventory:
    """lifeboat.yaml as shipped, pointed at this emulator."""
    path = tmp / "lifeboat.yaml"
    path.write_text(
        (PROJECT_ROOT / "lifeboat.yaml").read_text().replace("http://127.0.0.1:8765", url)
    )
    return load_inventory(path, vendors())


def sync_all(url: str, home: Path, tmp: Path) -> None:
    inventory = shipped_inventory(tmp, url)
    env = demo_credentials()
    for vendor, config in inventory.enabled_vendors().items():
        ctx = VendorContext(
            vendor,
            inventory.base_url(vendor),
            {name: env[var] for name, var in config.credentials.items()},
            config.options,
            tuple(inventory.enabled_datasets(vendor)),
            entry=inventory.registry[vendor],
        )
        sync(ctx, home)


def build_copies(root: Path) -> Path:
    """Copy every vendor, let a day of changes and deletions happen upstream, copy again."""
    home = root / "home"
    home.mkdir(parents=True)
    server = EmulatorServer(Emulator(seed=42)).start()
    try:
        sync_all(server.url, home, root)
        EmulatorControl(server.url).advance(seconds=3600, changes=DELETIONS)
        sync_all(server.url, home, root)
    finally:
        server.stop()
    return home


def clone(source: Path, target: Path) -> Path:
    shutil.copytree(source, target)
    return target


def add_record(home: Path, vendor: str, table: str, **values: Any) -> None:
    """Insert a record shaped like the copy's others: an existing row with these values."""
    with duckdb.connect(str(warehouse_path(home, vendor))) as con:
        replace = ", ".join(f"? AS {name}" for name in values)
        con.execute(
            f"INSERT INTO {table} SELECT * REPLACE ({replace}) FROM {table} LIMIT 1",
            list(values.values()),
        )


def update_records(home: Path, vendor: str, sql: str, params: list[Any] | None = None) -> None:
    with duckdb.connect(str(warehouse_path(home, vendor))) as con:
        con.execute(sql, params or [])


def one(home: Path, vendor: str, sql: str, params: list[Any] | None = None) -> Any:
    with duckdb.connect(str(warehouse_path(home, vendor)), read_only=True) as con:
        return con.execute(sql, params or []).fetchall()
