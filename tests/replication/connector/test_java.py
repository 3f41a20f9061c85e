"""A Java program on MariaDB Connector/J keeps its one connection through switches and a failover.

How the program is built: `build_client` compiles java/LifeboatClient.java with javac against
Connector/J 3.x from Maven (`mvn dependency:copy` into ~/.cache/lifeboat/java) when Maven can
fetch it, else Debian's libmariadb-java (/usr/share/java/mariadb-java-client.jar, 2.7).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from tests.replication.connector.clients import (
    INSERT_SQL,
    SELECT_SQL,
    SWITCHES,
    create_table,
    journey,
)

if TYPE_CHECKING:
    from tests.replication.connector.conftest import Connected

SOURCE = Path(__file__).parent / "java" / "LifeboatClient.java"
CACHE = Path.home() / ".cache" / "lifeboat" / "java"
CONNECTOR_J = "org.mariadb.jdbc:mariadb-java-client:3.5.3"
DEBIAN_JAR = Path("/usr/share/java/mariadb-java-client.jar")
MAVEN_TIMEOUT = 120
ANSWER_TIMEOUT = 60.0


@dataclass(frozen=True)
class Client:
    classpath: str
    driver_jar: Path


def _maven_jar() -> Path | None:
    """Connector/J 3.x from Maven, fetched once into the cache; None when Maven cannot."""
    cached = sorted(CACHE.glob("mariadb-java-client-3*.jar"))
    if cached:
        return cached[-1]
    if shutil.which("mvn") is None:
        return None
    CACHE.mkdir(parents=True, exist_ok=True)
    try:
        subprocess.run(
            [
                "mvn",
                "-q",
                "-B",
                "dependency:copy",
                f"-Dartifact={CONNECTOR_J}",
                f"-DoutputDirectory={CACHE}",
            ],
            cwd=CACHE,
            capture_output=True,
            timeout=MAVEN_TIMEOUT,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return None
    cached = sorted(CACHE.glob("mariadb-java-client-3*.jar"))
    return cached[-1] if cached else None


def build_client() -> Client:
    """Compile the client against the newest Connector/J at hand (skip if there is no JDK)."""
    if shutil.which("javac") is None or shutil.which("java") is None:
        pytest.skip("no JDK on this machine (apt-get install default-jdk-headless)")
    jar = _maven_jar() or (DEBIAN_JAR if DEBIAN_JAR.exists() else None)
    if jar is None:
        pytest.fail(
            "MariaDB Connector/J is missing: Maven could not fetch it and Debian's is not "
            "installed (apt-get install libmariadb-java; .ci/run does)"
        )
    classes = CACHE / "classes" / jar.stem
    if not (classes / "LifeboatClient.class").exists() or (
        (classes / "LifeboatClient.class").stat().st_mtime < SOURCE.stat().st_mtime
    ):
        classes.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            ["javac", "-cp", str(jar), "-d", str(classes), str(SOURCE)],
            check=True,
            capture_output=True,
        )
    return Client(f"{classes}{os.pathsep}{jar}", jar)


class JavaError(AssertionError):
    """Connector/J reported an SQLException."""


class JavaSession:
    """The Java program's one connection, asked over its stdin, answered on its stdout."""

    def __init__(self, name: str, client: Client, url: str, user: str, password: str) -> None:
        self.name = name
        self.proc = subprocess.Popen(
            ["java", "-cp", client.classpath, "LifeboatClient", url, user],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, "LIFEBOAT_PASSWORD": password},
        )
        self.answers: list[str] = []
        self._answer()

    def _answer(self) -> list[str]:
        assert self.proc.stdout is not None
        lines = []
        deadline = time.monotonic() + ANSWER_TIMEOUT
        while True:
            # readline blocks; the deadline only bounds a program that keeps talking.
            line = self.proc.stdout.readline()
            if not line:
                stderr = self.proc.stderr.read() if self.proc.stderr else ""
                raise JavaError(f"the Java client exited: {stderr[-2000:]}")
            line = line.rstrip("\n")
            if line == "END":
                break
            lines.append(line)
            if time.monotonic() > deadline:
                raise JavaError(f"the Java client never ended its answer: {lines}")
        self.answers.extend(lines)
        errors = [line for line in lines if line.startswith("ERR ")]
        if errors:
            raise JavaError(f"Connector/J: {errors}")
        return lines

    def ask(self, command: str) -> list[str]:
        assert self.proc.stdin is not None
        self.proc.stdin.write(command + "\n")
        self.proc.stdin.flush()
        return self._answer()

    def run(self, sql: str) -> list[tuple[str, ...]]:
        rows = self.ask(f"Q {sql}")
        return [tuple(line.split("\t")[1:]) for line in rows if line.startswith("ROW")]

    def prepare(self) -> None:
        self.ask(f"PREPARE {INSERT_SQL}\t{SELECT_SQL}")

    def insert(self, n: int) -> None:
        self.ask(f"INSERT {self.name} {n}")

    def written(self) -> list[int]:
        return [int(line.split("\t")[1]) for line in self.ask(f"WRITTEN {self.name}")]

    def thread_id(self) -> int:
        return int(self.ask("ID")[0])

    def connects(self) -> int:
        # The program opens its connection once and never again; a broken one fails a command.
        return 1

    def close(self) -> None:
        if self.proc.stdin is not None:
            self.proc.stdin.close()
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


@pytest.mark.parametrize("server_prepared", [True, False], ids=["binary", "text"])
def test_connector_j_keeps_its_connection(connected: Connected, server_prepared: bool) -> None:
    client = build_client()
    create_table(connected)
    app = connected.app
    url = (
        f"jdbc:mariadb://{connected.host}:{connected.writer_port}/"
        f"?useServerPrepStmts={str(server_prepared).lower()}&connectTimeout=10000"
    )
    name = f"connector-j-{'binary' if server_prepared else 'text'}"
    session = JavaSession(name, client, url, app.user, app.password)
    try:
        driver = session.ask("DRIVER")[0]
        seen = journey(connected, session)
    finally:
        session.close()
    assert seen.written == SWITCHES + 2, f"Connector/J {driver}"
