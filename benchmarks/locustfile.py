"""Locust's side of the benchmark: the same request as ``loadtask.py``, no wait.

Run one class by name: ``locust -f locustfile.py ... PlainUser`` or ``... FastUser``.
"""

from __future__ import annotations

from locust import FastHttpUser, HttpUser, constant, task


class PlainUser(HttpUser):
    """requests-based, as the plugin's ``--load-client requests``."""

    wait_time = constant(0)

    @task
    def root(self) -> None:
        self.client.get("/")


class FastUser(FastHttpUser):
    """geventhttpclient-based, as the plugin's ``--load-client fast``."""

    wait_time = constant(0)

    @task
    def root(self) -> None:
        self.client.get("/")
