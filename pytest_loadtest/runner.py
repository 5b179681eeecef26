"""The load runner: virtual users as greenlets, ramping, and a graceful stop.

The user count can change at any time (``set_target``): the runner works out which
user types to start or stop from the largest-remainder spread, so ramping profiles and
a distributed master can drive it the same way. Numbers go to a ``RequestStats``; the
runner never reads them.
"""

from __future__ import annotations

import random
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import gevent
import gevent.event
import gevent.pool
import pytest

from pytest_loadtest.errors import MissingHostError
from pytest_loadtest.events import Events, TaskRun, current_task
from pytest_loadtest.fixtures import UserFixtures
from pytest_loadtest.stats import RequestStats
from pytest_loadtest.users import (
    LoadUser,
    TaskDef,
    UserType,
    distribute,
    phase_id,
    spawn_order,
)

__all__ = ["Runner"]


@dataclass(eq=False)
class _Running:
    """A running user and the event that asks it to stop (and cuts its wait short)."""

    user: LoadUser
    stop: gevent.event.Event = field(default_factory=gevent.event.Event)


ClientFactory = Callable[[str | None], Any]

#: Iterations without a wait after which a user hands the hub over.
YIELD_EVERY = 16


@dataclass(eq=False)
class _Slot:
    """One task as one user runs it."""

    task: TaskDef
    call: Callable[..., Any]
    run: TaskRun = field(init=False)
    kwargs: dict[str, Any] | None = None

    def __post_init__(self) -> None:
        self.run = TaskRun(self.task.node_id)


def _traceback_text(error: BaseException) -> str:
    """The frames of the user's code (as Locust's exceptions table has them)."""
    # Skip the runner's own frame: the user's code starts one frame down.
    tb = error.__traceback__.tb_next if error.__traceback__ is not None else None
    return "".join(traceback.format_tb(tb))


class Runner:
    """Runs virtual users of the given types until told to stop."""

    def __init__(
        self,
        user_types: list[UserType],
        *,
        events: Events,
        stats: RequestStats,
        make_client: ClientFactory,
        host: str | None,
        shared: dict[str, dict[str, Any]],
        seed: int | None = None,
    ) -> None:
        self.user_types = user_types
        self.events = events
        self.stats = stats
        self.make_client = make_client
        self.host = host
        self.shared = shared
        self.rng = random.Random(seed)
        self.group = gevent.pool.Group()
        self.running: list[list[_Running]] = [[] for _ in user_types]
        self.target = 0
        self.fatal: BaseException | None = None
        self.done = gevent.event.Event()
        self._ramp: gevent.Greenlet | None = None
        self._next_id = 0

    @property
    def user_count(self) -> int:
        return sum(len(users) for users in self.running)

    def set_target(self, users: int, spawn_rate: float | None) -> None:
        """Move to ``users`` running users, starting ``spawn_rate`` per second.

        ``None`` starts every missing user within one second. Users beyond the target
        stop after their current iteration.
        """
        if self._ramp is not None:
            self._ramp.kill(block=True)
        self.target = users
        wanted = distribute([t.spec.weight for t in self.user_types], users)
        current = [len(running) for running in self.running]
        for index in spawn_order(
            current, [min(c, w) for c, w in zip(current, wanted, strict=True)]
        ):
            self._stop_one(index)
        starts = spawn_order([min(c, w) for c, w in zip(current, wanted, strict=True)], wanted)
        rate = spawn_rate if spawn_rate is not None else max(len(starts), 1)
        self._ramp = gevent.spawn(self._spawn, starts, rate)

    def _spawn(self, order: list[int], rate: float) -> None:
        began = time.monotonic()
        for position, index in enumerate(order):
            delay = began + position / rate - time.monotonic()
            if delay > 0:
                gevent.sleep(delay)
            self._next_id += 1
            running = _Running(LoadUser(self._next_id, self.user_types[index].node_id))
            self.running[index].append(running)
            self.group.spawn(self._run_user, running, index)
        self.events.fire("pytest_loadtest_spawning_complete", user_count=self.user_count)

    def _stop_one(self, index: int) -> None:
        self.running[index].pop().stop.set()

    def stop(self, timeout: float) -> None:
        """Stop every user: wait up to ``timeout`` s for running iterations, then kill."""
        if self._ramp is not None:
            self._ramp.kill(block=True)
        for running in self.running:
            while running:
                running.pop().stop.set()
        self.group.join(timeout=timeout)
        self.group.kill(block=True, timeout=max(timeout, 1.0))

    def abort(self, error: BaseException) -> None:
        """End the run early because of ``error`` (the first one wins)."""
        if self.fatal is None:
            self.fatal = error
        self.done.set()

    def _run_user(self, running: _Running, index: int) -> None:
        user = running.user
        user_type = self.user_types[index]
        client = self.make_client(user_type.spec.host or self.host)
        values = {**self.shared[user_type.node_id], "load_client": client, "load_user": user}
        fixtures = UserFixtures(user_type.context_item, values)
        instance = user_type.cls() if user_type.cls is not None else None
        self.events.fire("pytest_loadtest_user_start", user=user)
        try:
            if self._call_hook(instance, "on_start", fixtures, user_type):
                self._loop(running, user_type, instance, fixtures)
        finally:
            current_task.set(None)
            self._call_hook(instance, "on_stop", fixtures, user_type)
            for error in fixtures.teardown():
                self._record_exception(phase_id(user_type.node_id, "teardown"), error)
            client.close()
            if running in self.running[index]:
                self.running[index].remove(running)
            self.events.fire("pytest_loadtest_user_stop", user=user)

    def _loop(
        self, running: _Running, user_type: UserType, instance: object, fixtures: UserFixtures
    ) -> None:
        pick = user_type.task_picker(self.rng)
        wait = user_type.spec.wait
        stopped = running.stop.is_set
        record_iteration = self.stats.record_iteration
        # Per task, resolved once per user: the function to call, the TaskRun that
        # attributes its requests, and its keyword arguments (None until resolved).
        slots = [
            _Slot(task, partial(task.function, instance) if instance is not None else task.function)
            for task in user_type.tasks
        ]
        unyielded = 0
        while not stopped():
            slot = slots[pick()]
            run = slot.run
            run.failed = False  # a failed request sets it
            current_task.set(run)
            started = time.monotonic()
            try:
                kwargs = slot.kwargs
                if kwargs is None:  # a user fixture that raises here fails the iteration
                    task = slot.task
                    kwargs = slot.kwargs = fixtures.kwargs(task.argnames, task.item)
                slot.call(**kwargs)
            except pytest.skip.Exception:
                pass
            except (Exception, pytest.fail.Exception) as error:
                if isinstance(error, MissingHostError):
                    self.abort(error)
                    return
                run.failed = True
                self._record_exception(run.node_id, error)
            record_iteration(run.node_id, run.failed)
            if stopped():
                return
            pause = wait(started, time.monotonic(), self.rng) if wait is not None else 0.0
            if pause > 0:
                running.stop.wait(pause)
                continue
            unyielded += 1
            if unyielded == YIELD_EVERY:
                # A task that never blocks would starve the other users (and the stop):
                # hand over now and then, not every iteration (a hub round trip each).
                unyielded = 0
                gevent.sleep(0)

    def _call_hook(
        self, instance: object, name: str, fixtures: UserFixtures, user_type: UserType
    ) -> bool:
        """Call ``on_start``/``on_stop`` of a user class; False if it raised."""
        method = getattr(instance, name, None)
        if method is None:
            return True
        current_task.set(None)
        try:
            method(**fixtures.kwargs(user_type.hook_argnames(name), user_type.context_item))
        except (Exception, pytest.fail.Exception) as error:
            if isinstance(error, MissingHostError):
                self.abort(error)
            self._record_exception(phase_id(user_type.node_id, name), error)
            return False
        return True

    def _record_exception(self, task: str | None, error: BaseException) -> None:
        self.stats.record_exception(task, error, _traceback_text(error), time.time())
