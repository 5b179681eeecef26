"""Fixtures for tasks in load mode: which are supported, and their values per user.

In load mode a task is not run through pytest's test protocol, so its fixtures are
resolved here:

- ``load_client`` and ``load_user``: one per virtual user (made by the runner);
- ``@lt.user_fixture`` fixtures: called once per virtual user, torn down when it stops;
- session, package, module and class-scoped fixtures: set up once by pytest, before the
  load phase, and shared by every user;
- values of direct ``@pytest.mark.parametrize`` arguments.

Anything else (a function-scoped fixture such as ``tmp_path`` or ``monkeypatch``) is
refused before the load phase starts, with a message that says what is supported.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterable
from types import GeneratorType
from typing import Any

import pytest
from _pytest.fixtures import FixtureDef

from pytest_loadtest._attrs import USER_FIXTURE_ATTR

__all__ = [
    "PER_USER_BUILTINS",
    "UnsupportedFixture",
    "UserFixtures",
    "check_fixtures",
    "requested",
    "setup_shared",
]

PER_USER_BUILTINS = frozenset({"load_client", "load_user"})

SUPPORTED = (
    "in load mode a task may use session, package, module or class-scoped fixtures "
    "(set up once before the load phase), load_client, load_user, @lt.user_fixture "
    "fixtures (once per virtual user) and @pytest.mark.parametrize arguments"
)


class UnsupportedFixture(Exception):
    """A fixture that load mode cannot honour."""


def _fixturedef(item: pytest.Function, name: str) -> FixtureDef[Any] | None:
    # The item's own closure first: it alone holds the pseudo-fixtures of direct
    # @parametrize arguments; a name only on_start asks for is looked up afresh.
    defs = item._fixtureinfo.name2fixturedefs.get(
        name
    ) or item.session._fixturemanager.getfixturedefs(name, item)
    return defs[-1] if defs else None


def requested(item: pytest.Function) -> tuple[str, ...]:
    """What ``item`` needs set up: its arguments and the autouse fixtures over it."""
    return tuple(item._fixtureinfo.initialnames)


def _direct_param(item: pytest.Function, name: str, fixturedef: FixtureDef[Any]) -> bool:
    # pytest backs a direct @parametrize argument with a pseudo-fixture of its own.
    callspec = getattr(item, "callspec", None)
    return (
        callspec is not None
        and name in callspec.params
        and getattr(fixturedef.func, "__module__", "").startswith("_pytest.")
    )


def _kind(item: pytest.Function, name: str) -> tuple[str, FixtureDef[Any] | None]:
    """One of builtin, param, user, shared; raises UnsupportedFixture otherwise."""
    if name in PER_USER_BUILTINS:
        return "builtin", None
    fixturedef = _fixturedef(item, name)
    if fixturedef is None:
        raise UnsupportedFixture(f"{item.nodeid}: fixture {name!r} not found")
    if _direct_param(item, name, fixturedef):
        return "param", fixturedef
    if getattr(fixturedef.func, USER_FIXTURE_ATTR, False):
        if inspect.iscoroutinefunction(fixturedef.func) or inspect.isasyncgenfunction(
            fixturedef.func
        ):
            raise UnsupportedFixture(f"{item.nodeid}: user fixture {name!r} is async; {SUPPORTED}")
        return "user", fixturedef
    if fixturedef.scope != "function":
        return "shared", fixturedef
    raise UnsupportedFixture(f"{item.nodeid}: fixture {name!r} is function-scoped; {SUPPORTED}")


def check_fixtures(item: pytest.Function, names: Iterable[str]) -> list[str]:
    """The shared fixture names behind ``names`` (recursively); raises UnsupportedFixture."""
    shared: list[str] = []
    pending, seen = list(names), set()
    while pending:
        name = pending.pop()
        if name in seen:
            continue
        seen.add(name)
        kind, fixturedef = _kind(item, name)
        if kind == "shared":
            shared.append(name)
        elif kind == "user" and fixturedef is not None:
            pending.extend(fixturedef.argnames)
    return shared


def setup_shared(item: pytest.Function, names: Iterable[str]) -> dict[str, Any]:
    """Set up shared fixtures through pytest, once, and return their values.

    The collectors above ``item`` are pushed onto pytest's setup state (without the
    item's own function-scoped setup), so that module and class-scoped fixtures of
    several modules can be alive at once during the load phase. The run tears them
    down with ``SetupState.teardown_exact`` afterwards.
    """
    state = item.session._setupstate
    for collector in item.listchain()[:-1]:
        if collector not in state.stack:
            state.stack[collector] = ([collector.teardown], None)
            collector.setup()
    return {name: item._request.getfixturevalue(name) for name in names}


class UserFixtures:
    """One virtual user's fixture values, resolved lazily and torn down in reverse."""

    def __init__(self, item: pytest.Function, values: dict[str, Any]) -> None:
        self._item = item
        self._values = dict(values)
        self._teardowns: list[GeneratorType[Any, Any, Any]] = []

    def kwargs(self, names: Iterable[str], item: pytest.Function | None = None) -> dict[str, Any]:
        """Keyword arguments for a call that asks for ``names``."""
        return {name: self.value(name, item or self._item) for name in names}

    def value(self, name: str, item: pytest.Function) -> Any:
        if name in self._values:
            return self._values[name]
        kind, fixturedef = _kind(item, name)
        if kind == "param":  # differs per item, so not cached by name
            return item.callspec.params[name]
        if kind == "shared":  # pytest caches it
            return item._request.getfixturevalue(name)
        assert fixturedef is not None
        value = self._values[name] = self._call(fixturedef, item)
        return value

    def _call(self, fixturedef: FixtureDef[Any], item: pytest.Function) -> Any:
        function: Callable[..., Any] = fixturedef.func
        result = function(**self.kwargs(fixturedef.argnames, item))
        if inspect.isgenerator(result):
            self._teardowns.append(result)
            return next(result)
        return result

    def teardown(self) -> list[BaseException]:
        """Finish every generator fixture, last first; returns what they raised."""
        errors: list[BaseException] = []
        while self._teardowns:
            generator = self._teardowns.pop()
            try:
                next(generator)
            except StopIteration:
                continue
            except Exception as error:
                errors.append(error)
                continue
            name = generator.gi_code.co_name
            errors.append(RuntimeError(f"user fixture {name!r} yielded more than once"))
        return errors
