"""Shared fixtures: a counting loopback server, and a probe for end-to-end runs."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from servers import LoopbackServer

# A conftest for pytester runs: it writes what the run measured (the result model, and
# every request the pytest_loadtest_request hook saw) to JSON files next to it.
PROBE = """
import dataclasses, json, pathlib

SEEN = []

def pytest_loadtest_request(name, request_type, response_time, exception):
    SEEN.append([request_type, name, response_time, exception is not None])

def pytest_terminal_summary(config):
    run = config.pluginmanager.get_plugin("loadtest-run")
    here = pathlib.Path(__file__).parent
    if run is not None and run.result is not None:
        (here / "result.json").write_text(json.dumps(dataclasses.asdict(run.result)))
    (here / "seen.json").write_text(json.dumps(SEEN))
"""


@pytest.fixture(scope="session")
def server() -> Iterator[LoopbackServer]:
    with LoopbackServer() as running:
        yield running


@pytest.fixture
def target(server: LoopbackServer) -> LoopbackServer:
    """The shared loopback server with its counts reset for this test."""
    server.reset()
    return server


class Probe:
    """Reads what a probed pytester run wrote."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def result(self) -> dict[str, Any]:
        data: dict[str, Any] = json.loads((self.path / "result.json").read_text())
        return data

    def seen(self) -> list[list[Any]]:
        data: list[list[Any]] = json.loads((self.path / "seen.json").read_text())
        return data


@pytest.fixture
def probe(pytester: pytest.Pytester) -> Probe:
    """Install the probe conftest in the pytester directory."""
    pytester.makeconftest(PROBE)
    return Probe(pytester.path)
