"""Hook specifications: the ``pytest_loadtest_*`` events.

Implement any of them in a ``conftest.py`` or a plugin. They are fired with keyword
arguments, so an implementation may take only the arguments it needs (pluggy's rule).
An implementation that raises is reported once, with its traceback, and the run goes on.

These fire in load mode, and ``pytest_loadtest_request*`` fire in smoke mode too.
"""

from __future__ import annotations

from typing import Any


def pytest_loadtest_test_start(user_count: int) -> None:
    """The load phase starts; ``user_count`` users are about to be spawned.

    Example::

        def pytest_loadtest_test_start(user_count):
            print(f"starting {user_count} users")
    """


def pytest_loadtest_test_stop(user_count: int) -> None:
    """The load phase has ended: every user has stopped (or was killed).

    ``user_count`` is the number of users that were running when the stop began.
    """


def pytest_loadtest_request(
    request_type: str,
    name: str,
    response_time: float,
    response_length: int,
    response: Any,
    exception: BaseException | None,
    context: dict[str, Any],
    url: str,
    start_time: float,
) -> None:
    """A request (or an ``lt.measure`` block) finished, successfully or not.

    ``response_time`` is in milliseconds, ``start_time`` is a Unix timestamp in
    seconds, ``exception`` is ``None`` on success. ``context`` is the dict given as
    ``context=`` to the client call (empty by default).

    Example::

        def pytest_loadtest_request(name, response_time, exception):
            if exception is None and response_time > 1000:
                print(f"slow: {name} took {response_time:.0f} ms")
    """


def pytest_loadtest_request_success(
    request_type: str,
    name: str,
    response_time: float,
    response_length: int,
    response: Any,
    context: dict[str, Any],
    url: str,
    start_time: float,
) -> None:
    """A request succeeded (fired after ``pytest_loadtest_request``)."""


def pytest_loadtest_request_failure(
    request_type: str,
    name: str,
    response_time: float,
    response_length: int,
    response: Any,
    exception: BaseException,
    context: dict[str, Any],
    url: str,
    start_time: float,
) -> None:
    """A request failed (fired after ``pytest_loadtest_request``).

    Example::

        def pytest_loadtest_request_failure(name, exception):
            print(f"{name} failed: {exception}")
    """


def pytest_loadtest_user_start(user: Any) -> None:
    """A virtual user started, before its ``on_start``. ``user`` is its ``load_user`` object."""


def pytest_loadtest_user_stop(user: Any) -> None:
    """A virtual user stopped, after its ``on_stop`` and user fixture teardown."""


def pytest_loadtest_spawning_complete(user_count: int) -> None:
    """Every user asked for has been spawned (the ramp-up is over)."""


def pytest_loadtest_quitting() -> None:
    """The load run is over and its results are about to be reported."""
