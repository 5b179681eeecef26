"""Setup shared by the examples: a demo shop to test against, and one event hook.

Without ``--load-host`` (or the ini ``load_host``), the bundled demo shop is started for
the run, in a child process on loopback, and becomes the host. Point the examples at
your own service with ``--load-host URL`` and nothing is started.
"""

from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING

from pytest_loadtest.demo import DemoServer

if TYPE_CHECKING:
    import pytest

#: Failed requests by "METHOD name", from the event hook below.
failed_requests: Counter[str] = Counter()


def _setting(config: pytest.Config, name: str) -> object:
    """A pytest-loadtest setting from the command line or its ini twin; None if unset."""
    value = config.getoption(name, default=None)
    if value:
        return value
    try:
        return config.getini(name) or None
    except ValueError:  # the plugin is not installed, so the ini key is unknown
        return None


def pytest_configure(config: pytest.Config) -> None:
    if _setting(config, "load_host"):
        return
    if _setting(config, "load_users"):
        # A few refused carts and failed checkouts, rare enough that a short run's
        # small samples stay well inside the tasks' thresholds.
        server = DemoServer(cart_refusal_rate=0.05, checkout_error_rate=0.01)
    else:
        # A smoke run (no --load-users) runs each task once and fails it on any failed
        # request, so the demo's injected failures (refused carts, 500s at checkout)
        # are switched on only under load.
        server = DemoServer(cart_refusal_rate=0.0, checkout_error_rate=0.0)
    server.start()
    config.add_cleanup(server.stop)
    config.option.load_host = server.url


def pytest_loadtest_request_failure(request_type: str, name: str) -> None:
    """An event hook: take only the arguments you need (see ``pytest_loadtest.hooks``)."""
    failed_requests[f"{request_type} {name}"] += 1


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if failed_requests:
        worst = ", ".join(f"{name} x{count}" for name, count in failed_requests.most_common(3))
        terminalreporter.write_line(f"most failed requests: {worst}")
