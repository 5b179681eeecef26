"""User types built from collected tasks, and the arithmetic of spreading users over them.

A module's module-level tasks form one user type; a test class holding tasks forms
another. The spreading math is pure: the runner asks it which types to start or stop.
"""

from __future__ import annotations

import bisect
import inspect
import itertools
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import pytest

from pytest_loadtest._attrs import MODULE_USERS_ATTR
from pytest_loadtest.tasks import TaskSpec, UserSpec, task_spec, user_spec

__all__ = [
    "USER_PHASES",
    "LoadUser",
    "TaskDef",
    "UserType",
    "collect_user_types",
    "distribute",
    "hook_argnames",
    "phase_id",
    "spawn_order",
    "user_spec_for",
    "user_type_id",
]


@dataclass(eq=False)
class LoadUser:
    """One virtual user, as the ``load_user`` fixture gives it to tasks.

    ``id`` counts from 1 in spawn order, ``state`` is a dict the user's tasks may keep
    anything in, ``user_type`` is the node id of its module or class.
    """

    id: int
    user_type: str
    state: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class TaskDef:
    """One collected task: a pytest item and what ``@lt.task`` said of it."""

    item: pytest.Function
    spec: TaskSpec

    @property
    def node_id(self) -> str:
        return self.item.nodeid

    @property
    def function(self) -> Callable[..., Any]:
        """The plain function (unbound for methods: the runner passes the user instance)."""
        return self.item.function  # type: ignore[no-any-return]

    @property
    def argnames(self) -> tuple[str, ...]:
        """The fixture names the function itself asks for, without ``self``."""
        return tuple(self.item._fixtureinfo.argnames)


@dataclass
class UserType:
    """A kind of virtual user: its settings and the tasks it runs."""

    node_id: str
    spec: UserSpec
    cls: type | None
    tasks: list[TaskDef] = field(default_factory=list)

    @property
    def context_item(self) -> pytest.Function:
        """The item whose fixture scope resolves this type's fixtures and hooks."""
        return self.tasks[0].item

    def hook_argnames(self, name: str) -> tuple[str, ...]:
        """The fixture names this type's ``on_start``/``on_stop`` ask for."""
        return hook_argnames(self.cls, name)

    def task_picker(self, rng: random.Random) -> Callable[[], int]:
        """A function returning the index of the next task: by weight, or in order."""
        if self.spec.sequential:
            cycle = itertools.cycle(range(len(self.tasks)))
            return cycle.__next__
        cumulative = list(itertools.accumulate(task.spec.weight for task in self.tasks))
        total = cumulative[-1]
        return lambda: bisect.bisect_right(cumulative, rng.random() * total)


#: The per-user phases outside tasks whose exceptions count against a user type.
USER_PHASES = ("on_start", "on_stop", "teardown")


def phase_id(user_type: str, phase: str) -> str:
    """The attribution id of a user type's ``on_start``/``on_stop``/fixture teardown."""
    return f"{user_type}::{phase}"


def hook_argnames(cls: type | None, name: str) -> tuple[str, ...]:
    """The fixture names ``cls.on_start``/``cls.on_stop`` ask for (none if undefined)."""
    method = getattr(cls, name, None)
    if method is None:
        return ()
    return tuple(inspect.signature(method).parameters)[1:]  # without self


def _module_spec(item: pytest.Function) -> UserSpec:
    declared = getattr(item.module, MODULE_USERS_ATTR, [])
    if len(declared) > 1:
        raise pytest.UsageError(
            f"{item.module.__name__}: {len(declared)} module-level lt.user(...) declarations; "
            "a module's tasks form one user type, so declare at most one"
        )
    return declared[0] if declared else UserSpec()


def user_type_id(item: pytest.Function) -> str:
    """The node id of the user type ``item`` belongs to: its class, or its module."""
    if item.cls is not None and item.parent is not None:
        return item.parent.nodeid
    return item.nodeid.split("::", 1)[0]


def user_spec_for(item: pytest.Function) -> UserSpec:
    """The ``lt.user`` settings that apply to ``item``'s user type."""
    if item.cls is not None:
        return user_spec(item.cls) or UserSpec()
    return _module_spec(item)


def collect_user_types(items: Sequence[pytest.Item]) -> list[UserType]:
    """Group the task items into user types, in collection order."""
    types: dict[str, UserType] = {}
    for item in items:
        if not isinstance(item, pytest.Function):
            continue
        spec = task_spec(item.function)
        if spec is None:
            continue
        key = user_type_id(item)
        if key not in types:
            types[key] = UserType(key, user_spec_for(item), item.cls)
        types[key].tasks.append(TaskDef(item, spec))
    return list(types.values())


def distribute(weights: Sequence[int], total: int) -> list[int]:
    """Spread ``total`` users over types by weight with the largest-remainder rule.

    Ties in the remainder go to the earlier type. ``distribute([3, 1], 8) == [6, 2]``.
    """
    weight_sum = sum(weights)
    shares = [divmod(weight * total, weight_sum) for weight in weights]
    counts = [quotient for quotient, _ in shares]
    by_remainder = sorted(range(len(weights)), key=lambda index: -shares[index][1])
    for index in by_remainder[: total - sum(counts)]:
        counts[index] += 1
    return counts


def spawn_order(current: Sequence[int], target: Sequence[int]) -> list[int]:
    """Type indices to start (or stop) to go from ``current`` to ``target`` counts.

    Interleaved so that every prefix of the ramp keeps the types near their shares:
    the k-th of n users of a type takes the slot ``(k + 0.5) / n``.
    """
    slots: list[tuple[float, int]] = []
    for index, (now, wanted) in enumerate(zip(current, target, strict=True)):
        needed = abs(wanted - now)
        slots.extend(((k + 0.5) / needed, index) for k in range(needed))
    return [index for _, index in sorted(slots)]
