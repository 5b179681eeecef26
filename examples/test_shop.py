"""A shop under load: visitors who browse and search, and shoppers who log in and buy.

``pytest examples/`` runs each task once, as a smoke test;
``pytest examples/ --load-users 20 --load-duration 10s`` runs them as 20 virtual users.
"""

from __future__ import annotations

import random
from typing import TYPE_CHECKING

import pytest_loadtest as lt

if TYPE_CHECKING:
    from pytest_loadtest.client import LoadClient

# The module-level tasks form one user type, the visitors: three of every four users.
lt.user(weight=3, wait=lt.between(0.2, 1.0))


@lt.task(weight=3)
def test_browse(load_client: LoadClient, load_user: lt.LoadUser) -> None:
    response = load_client.get("/products")
    # Time work that is not a request: it gets its own row in the stats.
    with lt.measure("parse product list"):
        ids = [product["id"] for product in response.json()["products"]]
    assert ids
    load_user.state["product_ids"] = ids  # this user's later tasks pick from these


@lt.task(weight=2)
def test_view_product(load_client: LoadClient, load_user: lt.LoadUser) -> None:
    product_id = random.choice(load_user.state.get("product_ids", [1]))
    # One stats row for every product page, rather than one per id.
    response = load_client.get(f"/products/{product_id}", name="/products/<id>")
    assert response.json()["id"] == product_id


@lt.task
def test_search(load_client: LoadClient) -> None:
    hits = load_client.get("/search?q=shoe").json()["hits"]
    assert hits, "searching for 'shoe' found nothing"
    assert all("shoe" in hit["name"].lower() for hit in hits)


@lt.user(weight=1, wait=lt.between(0.5, 2.0))
class TestShopper:
    """A user type of its own: one instance per virtual user, so ``self`` is its state."""

    def on_start(self, load_client: LoadClient, load_user: lt.LoadUser) -> None:
        # Once per virtual user: the session cookie stays in this user's client.
        load_client.post("/login", json={"user": f"shopper-{load_user.id}"})
        self.items_in_cart = 0

    # The shop refuses some carts; the threshold lets the task pass while few are refused.
    @lt.task(weight=3, thresholds=["fail_ratio<30%"])
    def test_add_to_cart(self, load_client: LoadClient) -> None:
        product = {"id": random.randint(1, 8)}
        with load_client.post("/cart", json=product, catch_response=True) as response:
            body = response.json()
            if body.get("ok") is True:
                self.items_in_cart = body["items"]
            else:
                response.failure(body.get("reason", "cart refused"))

    @lt.task(thresholds=["p95<500ms", "fail_ratio<20%"])
    def test_checkout(self, load_client: LoadClient) -> None:
        response = load_client.post("/checkout")
        if response.ok:  # a 500 is already counted as a failed request
            assert response.json()["items"] == self.items_in_cart
            self.items_in_cart = 0
