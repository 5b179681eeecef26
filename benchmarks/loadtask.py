"""The plugin's benchmark task: one GET of ``/`` per iteration, no wait (the default)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest_loadtest as lt

if TYPE_CHECKING:
    from pytest_loadtest.client import LoadClient


@lt.task
def test_root(load_client: LoadClient) -> None:
    load_client.get("/")
