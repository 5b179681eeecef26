"""The pytest plugin: options, hookspecs, fixtures. (Work in progress.)"""

from __future__ import annotations

import pytest

from pytest_loadtest import settings


def pytest_addoption(parser: pytest.Parser) -> None:
    settings.add_options(parser)


def pytest_addhooks(pluginmanager: pytest.PytestPluginManager) -> None:
    from pytest_loadtest import hooks

    pluginmanager.add_hookspecs(hooks)


def pytest_configure(config: pytest.Config) -> None:
    settings.Settings.from_config(config)
