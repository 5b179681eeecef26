"""The public API: what ``import pytest_loadtest as lt`` offers, pinned."""

from __future__ import annotations

import importlib
import inspect

import pytest

import pytest_loadtest as lt


def test_all_is_pinned() -> None:
    assert lt.__all__ == [
        "LoadUser",
        "MissingHostError",
        "UserSpec",
        "WaitTime",
        "between",
        "constant",
        "constant_pacing",
        "constant_throughput",
        "measure",
        "metrics",
        "task",
        "user",
        "user_fixture",
    ]


def test_every_name_resolves_to_what_it_says() -> None:
    importlib.import_module("pytest_loadtest.measuring")  # a loaded submodule must not shadow
    importlib.import_module("pytest_loadtest.metrics")
    for name in lt.__all__:
        assert getattr(lt, name) is not None
    assert inspect.isfunction(lt.measure)
    assert inspect.isfunction(lt.task)
    assert inspect.ismodule(lt.metrics)
    assert callable(lt.metrics.counter)
    assert inspect.isclass(lt.LoadUser)


def test_unknown_name_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="has no attribute 'nope'"):
        lt.nope  # noqa: B018
