"""A scripted journey: the same steps in the same order, one step a second per user."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest_loadtest as lt

if TYPE_CHECKING:
    from pytest_loadtest.client import LoadClient


# sequential=True runs the tasks in the order they are written, over and over;
# constant_pacing(1.0) starts a step every second however long the last one took.
@lt.user(weight=1, sequential=True, wait=lt.constant_pacing(1.0))
class TestJourney:
    @lt.task
    def test_home(self, load_client: LoadClient) -> None:
        load_client.get("/")

    @lt.task
    def test_find_a_hat(self, load_client: LoadClient) -> None:
        hits = load_client.get("/search?q=hat").json()["hits"]
        assert [hit["name"] for hit in hits] == ["Sun hat"]
        self.hat_id = hits[0]["id"]

    @lt.task
    def test_view_the_hat(self, load_client: LoadClient) -> None:
        # In a smoke run each task gets a fresh instance, so the search result is not kept.
        hat_id = getattr(self, "hat_id", 5)
        load_client.get(f"/products/{hat_id}", name="/products/<id>")
