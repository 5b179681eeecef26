"""pytest-loadtest: load and performance testing as a pytest plugin.

Write tasks as test functions::

    import pytest_loadtest as lt

    @lt.task(weight=3)
    def test_browse(load_client):
        load_client.get("/products")

and run ``pytest --load-users 100 --load-duration 60s``. Without ``--load-users`` each
task runs once as an ordinary test.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pytest_loadtest import metrics
    from pytest_loadtest.errors import MissingHostError
    from pytest_loadtest.measuring import measure
    from pytest_loadtest.tasks import UserSpec, task, user, user_fixture
    from pytest_loadtest.users import LoadUser
    from pytest_loadtest.waits import (
        WaitTime,
        between,
        constant,
        constant_pacing,
        constant_throughput,
    )

# The pytest plugin imports this package in every pytest run, so the API loads on
# first use: a run that writes no load test pays nothing for it.
_HOMES = {
    "LoadUser": "pytest_loadtest.users",
    "MissingHostError": "pytest_loadtest.errors",
    "UserSpec": "pytest_loadtest.tasks",
    "WaitTime": "pytest_loadtest.waits",
    "between": "pytest_loadtest.waits",
    "constant": "pytest_loadtest.waits",
    "constant_pacing": "pytest_loadtest.waits",
    "constant_throughput": "pytest_loadtest.waits",
    "measure": "pytest_loadtest.measuring",
    "task": "pytest_loadtest.tasks",
    "user": "pytest_loadtest.tasks",
    "user_fixture": "pytest_loadtest.tasks",
}


def __getattr__(name: str) -> Any:
    if name == "metrics":
        return importlib.import_module("pytest_loadtest.metrics")
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'pytest_loadtest' has no attribute {name!r}")
    value = getattr(importlib.import_module(home), name)
    globals()[name] = value
    return value


__all__ = [
    "LoadUser",
    "MissingHostError",
    "UserSpec",
    "WaitTime",
    "between",
    "constant",
    "constant_pacing",
    "constant_throughput",
    "measure",
    "metrics",
    "task",
    "user",
    "user_fixture",
]

__version__ = "0.1.0.dev0"
