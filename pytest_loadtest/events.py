"""Event dispatch: the one path from a finished request to the stats and the hooks.

The clients and ``lt.measure`` call :meth:`Events.request`; they know nothing of stats.
The run's own listener (the stats recorder) is called directly, and the
``pytest_loadtest_*`` hook implementations only when there are any: pluggy's call
machinery costs microseconds that a load generator should not spend per request.

Each hook implementation is called on its own, so one that raises is reported (once,
with its traceback) and the others, and the run, go on.
"""

from __future__ import annotations

import traceback
from collections.abc import Callable
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    import pluggy


class TaskRun:
    """The task a greenlet (or a smoke test) is running: for attribution, and to mark
    the iteration failed when one of its requests fails."""

    __slots__ = ("failed", "node_id")

    def __init__(self, node_id: str) -> None:
        self.node_id = node_id
        self.failed = False


#: What the current greenlet (or test) is running; ``None`` outside tasks.
current_task: ContextVar[TaskRun | None] = ContextVar("pytest_loadtest_current_task", default=None)


class RequestListener(Protocol):
    """What the run's stats recorder offers :class:`Events` (see ``stats.RequestStats``)."""

    def record_request(
        self,
        task: str | None,
        request_type: str,
        name: str,
        response_time: float,
        response_length: int,
        error: BaseException | None,
        start_time: float,
    ) -> None: ...


@dataclass
class HookError:
    """A hook implementation that raised: reported once, counted every time."""

    hook: str
    plugin: str
    traceback: str
    count: int = 1


def describe(error: HookError) -> list[str]:
    """How a raising hook implementation is reported: a heading, then its traceback."""
    times = "" if error.count == 1 else f" {error.count} times"
    return [
        f"pytest-loadtest: {error.hook} in {error.plugin} raised{times} "
        "(reported once; the run goes on):",
        error.traceback.rstrip(),
    ]


@dataclass
class Events:
    """Fires events to the run's listener and to the hook implementations."""

    hook: pluggy.HookRelay | None = None
    listener: RequestListener | None = None
    #: Called with each :class:`HookError` the first time that implementation raises.
    on_hook_error: Callable[[HookError], None] | None = None
    errors: dict[tuple[str, str], HookError] = field(default_factory=dict)
    _impls: dict[str, list[tuple[str, Callable[..., Any], tuple[str, ...]]]] = field(
        default_factory=dict
    )

    def refresh(self) -> None:
        """Look the hook implementations up again (after conftests were loaded)."""
        self._impls.clear()

    def _implementations(
        self, hookname: str
    ) -> list[tuple[str, Callable[..., Any], tuple[str, ...]]]:
        impls = self._impls.get(hookname)
        if impls is None:
            impls = []
            caller = getattr(self.hook, hookname, None) if self.hook is not None else None
            if caller is not None:
                for impl in reversed(caller.get_hookimpls()):  # pluggy's LIFO call order
                    impls.append((impl.plugin_name, impl.function, tuple(impl.argnames)))
            self._impls[hookname] = impls
        return impls

    def fire(self, hookname: str, **kwargs: Any) -> None:
        """Call every implementation of ``hookname`` with the arguments it asks for."""
        for plugin, function, argnames in self._implementations(hookname):
            try:
                function(**{name: kwargs[name] for name in argnames})
            except Exception:
                self._hook_failed(hookname, plugin)

    def has_implementations(self, hookname: str) -> bool:
        return bool(self._implementations(hookname))

    def _hook_failed(self, hookname: str, plugin: str) -> None:
        key = (hookname, plugin)
        known = self.errors.get(key)
        if known is not None:
            known.count += 1
            return
        error = HookError(hookname, plugin, traceback.format_exc())
        self.errors[key] = error
        if self.on_hook_error is not None:
            self.on_hook_error(error)

    def request(
        self,
        *,
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
        """A request finished; ``exception`` is ``None`` when it succeeded."""
        run = current_task.get()
        if exception is not None and run is not None:
            run.failed = True
        if self.listener is not None:
            self.listener.record_request(
                run.node_id if run is not None else None,
                request_type,
                name,
                response_time,
                response_length,
                exception,
                start_time,
            )
        if self.hook is None:
            return
        outcome = (
            "pytest_loadtest_request_success"
            if exception is None
            else "pytest_loadtest_request_failure"
        )
        if self._implementations("pytest_loadtest_request") or self._implementations(outcome):
            kwargs = {
                "request_type": request_type,
                "name": name,
                "response_time": response_time,
                "response_length": response_length,
                "response": response,
                "exception": exception,
                "context": context,
                "url": url,
                "start_time": start_time,
            }
            self.fire("pytest_loadtest_request", **kwargs)
            self.fire(outcome, **kwargs)


#: The events of the current pytest run; the plugin installs it, ``lt.measure`` uses it.
_active: Events = Events()


def active() -> Events:
    """The :class:`Events` of the current run (an inert one outside a pytest run)."""
    return _active


def activate(events: Events) -> None:
    global _active
    _active = events
