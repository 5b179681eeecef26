"""The decorators that turn test functions into load tasks and classes into user types.

They only attach small frozen specs to the decorated objects; collection reads them
(see ``users.py``). Nothing here imports gevent or the clients.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, TypeVar, overload

import pytest

from pytest_loadtest._attrs import MODULE_USERS_ATTR, TASK_ATTR, USER_ATTR, USER_FIXTURE_ATTR
from pytest_loadtest.settings import parse_host
from pytest_loadtest.waits import WaitTime

__all__ = ["TaskSpec", "UserSpec", "task", "task_spec", "user", "user_fixture", "user_spec"]

F = TypeVar("F", bound=Callable[..., Any])
C = TypeVar("C", bound=type)


def _check_weight(weight: object, where: str) -> int:
    if isinstance(weight, bool) or not isinstance(weight, int) or weight < 1:
        raise ValueError(f"{where}: weight must be a whole number >= 1, got {weight!r}")
    return weight


@dataclass(frozen=True)
class TaskSpec:
    """What ``@lt.task`` attached to a function."""

    weight: int = 1
    thresholds: tuple[str, ...] = ()


@overload
def task(func: F, /) -> F: ...
@overload
def task(*, weight: int = 1, thresholds: Iterable[str] = ()) -> Callable[[F], F]: ...
def task(
    func: F | None = None, /, *, weight: int = 1, thresholds: Iterable[str] = ()
) -> F | Callable[[F], F]:
    """Mark a test function (or method of a test class) as a load task.

    ``@lt.task`` has weight 1; ``@lt.task(weight=3)`` is picked three times as often
    as a weight-1 task of the same user type. ``thresholds`` are expressions scoped
    to the requests this task makes.
    """
    if isinstance(thresholds, str):
        thresholds = (thresholds,)
    spec_thresholds = tuple(thresholds)

    def decorate(function: F) -> F:
        where = f"lt.task on {getattr(function, '__qualname__', function)!r}"
        if not callable(function):
            raise TypeError(f"{where}: expected a function")
        setattr(function, TASK_ATTR, TaskSpec(_check_weight(weight, where), spec_thresholds))
        return function

    if func is not None:
        return decorate(func)
    return decorate


def task_spec(obj: object) -> TaskSpec | None:
    """The task spec of a collected test function, or ``None`` for an ordinary test."""
    spec = getattr(obj, TASK_ATTR, None)
    return spec if isinstance(spec, TaskSpec) else None


@dataclass(frozen=True)
class UserSpec:
    """A user type's settings; ``lt.user(...)`` makes one.

    Applied to a class it configures that class's user type; declared at module level
    (``lt.user(weight=2)`` as a statement, or assigned to any name) it configures the
    module-level tasks of that module.
    """

    weight: int = 1
    wait: WaitTime | None = None
    host: str | None = None
    sequential: bool = False

    def __call__(self, cls: C) -> C:
        if not isinstance(cls, type):
            raise TypeError(f"lt.user(...) decorates a test class, got {cls!r}")
        setattr(cls, USER_ATTR, self)
        # The decorator call also ran at module level and registered itself there:
        # it belongs to the class, not to the module's tasks.
        registered = sys._getframe(1).f_globals.get(MODULE_USERS_ATTR)
        if registered:
            registered[:] = [spec for spec in registered if spec is not self]
        return cls


def user(
    *,
    weight: int = 1,
    wait: WaitTime | None = None,
    host: str | None = None,
    sequential: bool = False,
) -> UserSpec:
    """Declare a user type's weight, wait time, base URL, and task order.

    ``sequential=True`` runs the tasks in definition order instead of picking them by
    weight.
    """
    where = "lt.user"
    _check_weight(weight, where)
    if wait is not None and not isinstance(wait, WaitTime):
        raise TypeError(
            f"{where}: wait must come from lt.constant, lt.between, lt.constant_pacing "
            f"or lt.constant_throughput, got {wait!r}"
        )
    if host is not None:
        if not isinstance(host, str):
            raise TypeError(f"{where}: host must be a URL string, got {host!r}")
        try:
            host = parse_host(host)
        except ValueError as error:
            raise ValueError(
                f"{where}: invalid host {host!r}: expected an http:// or https:// URL "
                f"like http://127.0.0.1:8080 ({error})"
            ) from None
    if not isinstance(sequential, bool):
        raise TypeError(f"{where}: sequential must be True or False, got {sequential!r}")
    spec = UserSpec(weight, wait, host, sequential)
    caller = sys._getframe(1)
    if caller.f_code.co_name == "<module>":
        caller.f_globals.setdefault(MODULE_USERS_ATTR, []).append(spec)
    return spec


def user_spec(obj: object) -> UserSpec | None:
    """The spec ``lt.user`` attached to a class, if any."""
    spec = getattr(obj, USER_ATTR, None)
    return spec if isinstance(spec, UserSpec) else None


def user_fixture(func: F) -> F:
    """A fixture set up once per virtual user and torn down when that user stops.

    Write it like a pytest fixture (a generator for teardown); it may request
    ``load_client``, ``load_user``, session-scoped fixtures and other user fixtures. In
    smoke mode it is an ordinary function-scoped fixture.
    """
    setattr(func, USER_FIXTURE_ATTR, True)
    return pytest.fixture(func)  # type: ignore[return-value]
