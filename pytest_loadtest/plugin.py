"""The pytest plugin: options, hookspecs, fixtures, and the choice of mode.

Importing it costs nothing: gevent, the clients and the report code load only when a
run needs them. Load mode (``--load-users``) registers a :class:`~loadrun.LoadRun`;
otherwise a :class:`~smoke.SmokeRun` checks that each task's requests succeeded.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

from pytest_loadtest import events, settings

if TYPE_CHECKING:
    from pytest_loadtest.client import LoadClient
    from pytest_loadtest.fastclient import FastLoadClient
    from pytest_loadtest.users import LoadUser

SETTINGS_KEY = pytest.StashKey["settings.Settings"]()
LATE_KEY = pytest.StashKey[list[str]]()


def pytest_addoption(parser: pytest.Parser) -> None:
    settings.add_options(parser)


def pytest_addhooks(pluginmanager: pytest.PytestPluginManager) -> None:
    from pytest_loadtest import hooks

    pluginmanager.add_hookspecs(hooks)


def _distributed(config: pytest.Config) -> bool:
    """Whether pytest-xdist will run this session on workers (``-n``/``--dist``)."""
    option = config.known_args_namespace
    return bool(getattr(option, "numprocesses", None)) or getattr(option, "dist", "no") != "no"


@pytest.hookimpl(tryfirst=True)
def pytest_load_initial_conftests(early_config: pytest.Config) -> None:
    # Patch before conftests import requests; never in an xdist controller.
    if settings.load_mode_requested(early_config) and not _distributed(early_config):
        from pytest_loadtest import _gevent

        early_config.stash[LATE_KEY] = _gevent.patch()


@pytest.hookimpl(trylast=True)
def pytest_configure(config: pytest.Config) -> None:
    # trylast: conftests' pytest_configure may set options first (the examples set
    # the host of the demo target they start).
    run_settings = settings.Settings.from_config(config)
    config.stash[SETTINGS_KEY] = run_settings
    run_events = events.Events(hook=config.hook)
    events.activate(run_events)
    if not run_settings.load_mode:
        from pytest_loadtest.smoke import SmokeRun

        smoke = SmokeRun(run_events)
        run_events.listener = smoke
        config.pluginmanager.register(smoke, "loadtest-smoke")
        return
    if _distributed(config):
        raise pytest.UsageError(
            "--load-users: running a load test on pytest-xdist workers (-n/--dist) is not "
            "supported yet; run it without -n"
        )
    from pytest_loadtest.loadrun import LoadRun

    # Load mode reports a raising hook at once; smoke mode in its summary, since a
    # line written while a test runs would be captured with the test's output.
    run_events.on_hook_error = _HookErrorReporter(config)
    config.pluginmanager.register(LoadRun(config, run_settings, run_events), "loadtest-run")
    for module in config.stash.get(LATE_KEY, []):
        config.issue_config_time_warning(
            pytest.PytestConfigWarning(
                f"pytest-loadtest: {module} was imported before gevent patched the standard "
                "library; its requests may block other virtual users"
            ),
            stacklevel=2,
        )


class _HookErrorReporter:
    """Writes a raising hook implementation's traceback, the first time it raises."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config

    def __call__(self, error: events.HookError) -> None:
        reporter = self.config.pluginmanager.get_plugin("terminalreporter")
        if reporter is not None:
            for line in events.describe(error):
                reporter.write_line(line)


def pytest_collection_finish(session: pytest.Session) -> None:
    events.active().refresh()  # conftests found during collection may implement hooks


def pytest_unconfigure(config: pytest.Config) -> None:
    events.activate(events.Events())


@pytest.fixture
def load_client(request: pytest.FixtureRequest) -> Iterator[LoadClient | FastLoadClient]:
    """An instrumented HTTP client, one per virtual user.

    A ``requests.Session`` (``LoadClient``), or with ``--load-client fast`` a
    geventhttpclient-based ``FastLoadClient`` with the same request interface.

    Relative URLs join the user type's ``host``, else ``--load-host``. Every request
    fires ``pytest_loadtest_request`` and is counted in the stats.
    """
    from pytest_loadtest.users import user_spec_for

    run_settings = request.config.stash[SETTINGS_KEY]
    host = run_settings.host
    if isinstance(request.node, pytest.Function):
        host = user_spec_for(request.node).host or host
    client = run_settings.client_class()(host, events.active())
    yield client
    client.close()


@pytest.fixture
def load_user(request: pytest.FixtureRequest) -> LoadUser:
    """The virtual user running the task: ``id``, a ``state`` dict, its ``user_type``."""
    from pytest_loadtest.users import LoadUser, user_type_id

    node = request.node
    user_type = user_type_id(node) if isinstance(node, pytest.Function) else node.nodeid
    return LoadUser(1, user_type)
