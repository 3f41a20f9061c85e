"""The business's MySQL topology as a Dagster resource: servers, accounts (via EnvVar), history."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
from pydantic import Field

from lifeboat.config import Inventory
from lifeboat.topology_config import MySQLConfig
from replication.history import History, history_path
from replication.topology import Topology, from_config, load_sandbox


class MySQLResource(dg.ConfigurableResource):
    """lifeboat.yaml's `mysql:` topology, or the local sandbox's when there is no such section.

    `topology_json` holds the `mysql:` section (server addresses, thresholds and the *names*
    of the variables that hold the accounts); the account fields come from `dg.EnvVar`, so
    Dagster reads them at run time and never shows them. Empty `topology_json` means the
    sandbox under `home`.
    """

    home: str = Field(description="lifeboat's data directory (sandbox, switch history).")
    topology_json: str = Field(
        default="",
        description="The `mysql:` section of lifeboat.yaml as JSON; empty for the sandbox.",
    )
    monitor_user: str = ""
    monitor_password: str = ""
    switch_user: str = ""
    switch_password: str = ""
    replication_user: str = ""
    replication_password: str = ""

    @property
    def home_path(self) -> Path:
        return Path(self.home)

    @property
    def uses_sandbox(self) -> bool:
        return not self.topology_json

    def topology(self) -> Topology:
        """The servers with their accounts; raises TopologyConfigError when there is none."""
        if self.uses_sandbox:
            return load_sandbox(self.home_path)
        config = MySQLConfig.model_validate_json(self.topology_json)
        environ = {
            config.monitor.user_env: self.monitor_user,
            config.monitor.password_env: self.monitor_password,
            config.switch.user_env: self.switch_user,
            config.switch.password_env: self.switch_password,
            config.replication.user_env: self.replication_user,
            config.replication.password_env: self.replication_password,
        }
        return from_config(config, environ)

    def history(self) -> History:
        """Where every switch and failover is recorded."""
        return History(history_path(self.home_path))


def mysql_resource(inventory: Inventory, data_dir: Path) -> MySQLResource:
    """The resource for this inventory: its `mysql:` section with EnvVar secrets, or the sandbox."""
    config = inventory.mysql
    if config is None:
        return MySQLResource(home=str(data_dir))
    return MySQLResource(
        home=str(data_dir),
        topology_json=config.model_dump_json(),
        monitor_user=dg.EnvVar(config.monitor.user_env),
        monitor_password=dg.EnvVar(config.monitor.password_env),
        switch_user=dg.EnvVar(config.switch.user_env),
        switch_password=dg.EnvVar(config.switch.password_env),
        replication_user=dg.EnvVar(config.replication.user_env),
        replication_password=dg.EnvVar(config.replication.password_env),
    )


def sensor_interval(inventory: Inventory) -> float:
    """Seconds between the health sensor's probes: lifeboat.yaml's, else the default."""
    if inventory.mysql is not None:
        return inventory.mysql.sensor_interval
    return float(MySQLConfig.model_fields["sensor_interval"].default)
