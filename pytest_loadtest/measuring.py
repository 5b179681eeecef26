"""``lt.measure``: time any block of code as a request entry (a DB call, gRPC, a websocket)."""

from __future__ import annotations

import sys
import time
from contextlib import contextmanager
from typing import TYPE_CHECKING

from pytest_loadtest import events

if TYPE_CHECKING:
    from collections.abc import Iterator

_STOPS = (KeyboardInterrupt, SystemExit, GeneratorExit)


def is_interruption(exc: BaseException) -> bool:
    """Whether ``exc`` stops the run or kills the user rather than failing the block.

    Ctrl-C, interpreter exit and gevent's ``GreenletExit`` (a user killed when the run
    ends) cut a block short; it is not recorded as a failed request.
    """
    if isinstance(exc, _STOPS):
        return True
    # greenlet is only imported in load mode; if it was not, no GreenletExit exists.
    greenlet = sys.modules.get("greenlet")
    return greenlet is not None and isinstance(exc, greenlet.GreenletExit)


@contextmanager
def measure(name: str, kind: str = "custom") -> Iterator[None]:
    """Time the block and record it as a request of type ``kind`` named ``name``.

    An exception raised in the block records the entry as failed with that exception,
    and propagates. Works as a decorator too, timing each call::

        with lt.measure("SELECT cart", kind="db"):
            cursor.execute(...)

        @lt.measure("grpc GetCart", kind="grpc")
        def get_cart(stub): ...
    """
    start_time = time.time()
    start = time.perf_counter()
    try:
        yield
    except BaseException as exc:
        if not is_interruption(exc):
            _record(name, kind, start, start_time, exc)
        raise
    _record(name, kind, start, start_time, None)


def _record(
    name: str, kind: str, start: float, start_time: float, exception: BaseException | None
) -> None:
    events.active().request(
        request_type=kind,
        name=name,
        response_time=(time.perf_counter() - start) * 1000,
        response_length=0,
        response=None,
        exception=exception,
        context={},
        url="",
        start_time=start_time,
    )
