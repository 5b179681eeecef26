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

from pytest_loadtest import metrics
from pytest_loadtest.errors import MissingHostError
from pytest_loadtest.measure import measure
from pytest_loadtest.tasks import UserSpec, task, user, user_fixture
from pytest_loadtest.users import LoadUser
from pytest_loadtest.waits import WaitTime, between, constant, constant_pacing, constant_throughput

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
