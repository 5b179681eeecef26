"""``lt.measure``: any timed block reported as a request entry to the active events."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

import pytest
from servers import RecordingListener

from pytest_loadtest import events
from pytest_loadtest.measuring import is_interruption, measure

if TYPE_CHECKING:
    from collections.abc import Iterator


@pytest.fixture
def recorder() -> Iterator[RecordingListener]:
    recorder = RecordingListener()
    previous = events.active()
    events.activate(recorder.events())
    try:
        yield recorder
    finally:
        events.activate(previous)


def test_a_block_is_recorded_with_its_name_kind_and_time(recorder: RecordingListener) -> None:
    before = time.time()
    with measure("SELECT cart", kind="db"):
        time.sleep(0.03)
    after = time.time()

    [record] = recorder.records
    assert (record.request_type, record.name, record.response_length) == ("db", "SELECT cart", 0)
    assert record.error is None
    assert 30 <= record.response_time <= (after - before) * 1000
    assert before <= record.start_time <= after
    [hooked] = recorder.hooked
    assert (hooked["response"], hooked["url"], hooked["context"]) == (None, "", {})
    assert hooked["exception"] is None


def test_the_default_kind_is_custom(recorder: RecordingListener) -> None:
    with measure("step"):
        pass

    assert [(r.request_type, r.name) for r in recorder.records] == [("custom", "step")]


def test_an_exception_fails_the_entry_and_propagates(recorder: RecordingListener) -> None:
    problem = ConnectionResetError("socket closed")
    with pytest.raises(ConnectionResetError) as raised, measure("ws send", kind="websocket"):
        raise problem

    assert raised.value is problem
    [record] = recorder.records
    assert (record.request_type, record.name, record.error) == ("websocket", "ws send", problem)
    assert recorder.hooked[0]["exception"] is problem


def test_a_pytest_failure_inside_fails_the_entry(recorder: RecordingListener) -> None:
    with pytest.raises(pytest.fail.Exception), measure("check"):
        pytest.fail("wrong answer")

    [record] = recorder.records
    assert isinstance(record.error, pytest.fail.Exception)


@pytest.mark.parametrize("stop", [KeyboardInterrupt, SystemExit])
def test_an_interruption_is_not_recorded(
    recorder: RecordingListener, stop: type[BaseException]
) -> None:
    with pytest.raises(stop), measure("cut short"):
        raise stop

    assert recorder.records == []


def test_a_killed_greenlet_is_not_recorded(recorder: RecordingListener) -> None:
    # greenlet, not gevent: importing it here patches nothing.
    greenlet = pytest.importorskip("greenlet")
    with pytest.raises(greenlet.GreenletExit), measure("killed"):
        raise greenlet.GreenletExit

    assert recorder.records == []


def test_is_interruption_leaves_ordinary_failures_alone() -> None:
    assert is_interruption(GeneratorExit())
    assert not is_interruption(ValueError())
    assert not is_interruption(pytest.fail.Exception("x"))


def test_as_a_decorator_each_call_is_timed_on_its_own(recorder: RecordingListener) -> None:
    @measure("fib", kind="cpu")
    def fib(n: int) -> int:
        return n if n < 2 else fib(n - 1) + fib(n - 2)

    assert fib(3) == 2

    calls = recorder.records
    assert len(calls) == 5  # fib(3), fib(2), fib(1), fib(0), fib(1)
    assert {(r.request_type, r.name, r.error) for r in calls} == {("cpu", "fib", None)}
    # Nested calls finish first, so the outermost call is recorded last and is the longest.
    assert calls[-1].response_time == max(r.response_time for r in calls)
