"""The ``--load-*`` options in real pytest runs: exit codes, messages, precedence."""

from __future__ import annotations

import pytest

# Loaded with ``-p show_settings``: shows what the plugin understood, both early (before
# conftests load, where load mode must be known to patch in time) and after configure.
SHOW_SETTINGS = """
from pytest_loadtest.settings import Settings, load_mode_requested

EARLY = []

def pytest_load_initial_conftests(early_config, parser, args):
    EARLY.append(load_mode_requested(early_config))

def pytest_report_header(config):
    return [f"early load mode: {EARLY}", f"settings: {Settings.from_config(config)!r}"]
"""


@pytest.fixture
def project(pytester: pytest.Pytester) -> pytest.Pytester:
    pytester.makepyfile(test_trivial="def test_ok():\n    pass\n")
    return pytester


def test_plain_run_without_options_passes(project: pytest.Pytester) -> None:
    result = project.runpytest_subprocess()
    assert result.ret == 0
    result.assert_outcomes(passed=1)
    assert result.stderr.str() == ""


def test_help_lists_the_loadtest_group(project: pytest.Pytester) -> None:
    result = project.runpytest_subprocess("--help")
    assert result.ret == 0
    result.stdout.fnmatch_lines(
        [
            "load testing (pytest-loadtest):",
            "  --load-users=N *",
            "  --load-duration=D *",
            "  --load-spawn-rate=R *",
            "  --load-host=URL *",
            "  --load-stop-timeout=D",
        ]
    )
    result.stdout.fnmatch_lines(["  load_users (string):*same as --load-users*"])


@pytest.mark.parametrize(
    ("flag", "value", "expected"),
    [
        ("--load-users", "5x", "a whole number of users >= 1"),
        ("--load-users", "-3", "a whole number of users >= 1"),
        ("--load-users", "1.5", "a whole number of users >= 1"),
        ("--load-duration", "10x", "a duration like 90, 45s, 1m30s, 2h or 500ms"),
        ("--load-duration", "1s1m", "a duration like 90, 45s, 1m30s, 2h or 500ms"),
        ("--load-duration", "0", "a duration like 90, 45s, 1m30s, 2h or 500ms"),
        ("--load-spawn-rate", "fast", "a number of users per second > 0*"),
        ("--load-spawn-rate", "0", "a number of users per second > 0*"),
        ("--load-host", "localhost:8000", "an http:// or https:// URL*"),
        ("--load-host", "http://h:99999", "an http:// or https:// URL*"),
        ("--load-host", "http://h/?q=1", "an http:// or https:// URL*"),
        ("--load-stop-timeout", "-1s", "a duration like 0, 5s, 1m30s or 500ms"),
        ("--load-stop-timeout", " 5 s", "a duration like 0, 5s, 1m30s or 500ms"),
    ],
)
def test_bad_command_line_value_is_a_usage_error(
    project: pytest.Pytester, flag: str, value: str, expected: str
) -> None:
    result = project.runpytest_subprocess(f"{flag}={value}")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        [f"ERROR: {flag}: invalid value {value!r}: expected {expected} (*)"]
    )


@pytest.mark.parametrize(
    ("config_file", "key", "value"),
    [
        ("pytest.ini", "load_users", "0"),
        ("pyproject.toml", "load_users", "-3"),
        ("pytest.ini", "load_duration", "1m1m"),
        ("pyproject.toml", "load_spawn_rate", "0"),
        ("pytest.ini", "load_host", "ftp://x"),
        ("pyproject.toml", "load_stop_timeout", "inf"),
        ("-o", "load_duration", "10x"),
    ],
)
def test_bad_ini_value_is_a_usage_error(
    project: pytest.Pytester, config_file: str, key: str, value: str
) -> None:
    args: list[str] = []
    if config_file == "pytest.ini":
        project.makefile(".ini", pytest=f"[pytest]\n{key} = {value}\n")
    elif config_file == "pyproject.toml":
        # A number stays a TOML number, as a user would write it.
        toml_value = value if value.lstrip("-").isdigit() else f'"{value}"'
        project.makepyprojecttoml(f"[tool.pytest.ini_options]\n{key} = {toml_value}\n")
    else:
        args = ["-o", f"{key}={value}"]
    result = project.runpytest_subprocess(*args)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([f"ERROR: {key} (ini): invalid value {value!r}: expected *"])


def test_command_line_wins_over_ini(project: pytest.Pytester) -> None:
    project.makepyfile(show_settings=SHOW_SETTINGS)
    project.makepyprojecttoml(
        """
        [tool.pytest.ini_options]
        load_users = 2
        load_duration = "10s"
        load_spawn_rate = "fast"
        load_host = "http://ini.example:1"
        """
    )
    result = project.runpytest_subprocess(
        "-p", "show_settings", "--load-users=7", "--load-spawn-rate=4", "--load-host=http://cli:2/"
    )
    assert result.ret == 0
    result.stdout.fnmatch_lines(
        [
            "early load mode: [True]",
            "settings: Settings(users=7, duration_s=10.0, spawn_rate=4.0,"
            " host='http://cli:2', stop_timeout_s=5.0, *",
        ]
    )


@pytest.mark.parametrize(
    ("ini", "early", "users"),
    [("", False, None), ("load_users = 3", True, 3)],
    ids=["smoke", "ini-load-users"],
)
def test_load_mode_is_known_before_conftests(
    project: pytest.Pytester, ini: str, early: bool, users: int | None
) -> None:
    project.makepyfile(show_settings=SHOW_SETTINGS)
    project.makeini(f"[pytest]\n{ini}\n")
    result = project.runpytest_subprocess("-p", "show_settings")
    assert result.ret == 0
    result.stdout.fnmatch_lines(
        [f"early load mode: [{early}]", f"settings: Settings(users={users}, duration_s=60.0, *"]
    )
