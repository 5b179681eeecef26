"""The option parsers, and how a bad value becomes a usage error naming its option."""

from __future__ import annotations

import re

import pytest

from pytest_loadtest.settings import (
    Settings,
    load_mode_requested,
    parse_duration,
    parse_host,
    parse_spawn_rate,
    parse_users,
)

MISPLACED_UNITS = "units must run from largest to smallest: h, m, s, ms"
BAD_PORT = "the port must be a number from 1 to 65535"
NO_QUERY = "a base URL takes no query or fragment"
SPACES = "contains spaces or control characters"


@pytest.fixture(autouse=True)
def _no_patching(monkeypatch: pytest.MonkeyPatch) -> None:
    """``pytester.parseconfig`` runs the plugin in this process: keep it from patching
    the test process for gevent (the patch itself is tested in subprocess runs)."""
    monkeypatch.setattr("pytest_loadtest._gevent.patch", list)


def exactly(message: str) -> str:
    """A ``pytest.raises(match=)`` pattern for the whole message, taken literally."""
    return f"^{re.escape(message)}$"


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("90", 90.0),
        ("1.5", 1.5),
        ("0", 0.0),
        ("45s", 45.0),
        ("1m30s", 90.0),
        ("2h", 7200.0),
        ("500ms", 0.5),
        ("1h2m3s", 3723.0),
        ("1.5s", 1.5),
        ("1.5h", 5400.0),
        ("100m", 6000.0),
        ("1m500ms", 60.5),
        ("2h1ms", 7200.001),
        ("0s", 0.0),
        (" 5s ", 5.0),
    ],
)
def test_parse_duration_accepts(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("", "empty"),
        ("   ", "empty"),
        ("10x", "unknown unit 'x'"),
        ("5sec", "unknown unit 'sec'"),
        ("1H", "unknown unit 'H'"),
        ("1e3", "unknown unit 'e'"),
        ("1m-3s", "expected a number at '-3s'"),
        ("-5", "expected a number at '-5'"),
        ("s", "expected a number at 's'"),
        (".5s", "expected a number at '.5s'"),
        ("inf", "expected a number at 'inf'"),
        ("nan", "expected a number at 'nan'"),
        ("1s1m", MISPLACED_UNITS),
        ("1ms1s", MISPLACED_UNITS),
        ("1m1m", "unit 'm' given twice"),
        ("5s5s", "unit 's' given twice"),
        ("1.2.3s", "missing unit after '1.2'"),
        ("1m30", "missing unit after '30'"),
        (" 5 s", "contains spaces"),
        ("1" * 400, "too large"),
        ("1" * 400 + "h", "too large"),
    ],
)
def test_parse_duration_refuses(text: str, reason: str) -> None:
    with pytest.raises(ValueError, match=exactly(reason)):
        parse_duration(text)


@pytest.mark.parametrize(("text", "users"), [("1", 1), ("5", 5), ("100", 100), (" 7 ", 7)])
def test_parse_users_accepts(text: str, users: int) -> None:
    assert parse_users(text) == users


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("5x", "not a whole number"),
        ("-3", "not a whole number"),
        ("+5", "not a whole number"),
        ("1.5", "not a whole number"),
        ("1e3", "not a whole number"),
        ("", "not a whole number"),
        ("\u0661\u0662", "not a whole number"),  # Arabic-Indic digits: isdecimal() alone is True
        ("0", "0 users would run nothing"),
        ("00", "0 users would run nothing"),
    ],
)
def test_parse_users_refuses(text: str, reason: str) -> None:
    with pytest.raises(ValueError, match=exactly(reason)):
        parse_users(text)


@pytest.mark.parametrize(("text", "rate"), [("10", 10.0), ("0.5", 0.5), ("2.25", 2.25)])
def test_parse_spawn_rate_accepts(text: str, rate: float) -> None:
    assert parse_spawn_rate(text) == rate


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("0", "0 would never start a user"),
        ("0.0", "0 would never start a user"),
        ("-1", "not a plain decimal number"),
        ("fast", "not a plain decimal number"),
        ("", "not a plain decimal number"),
        ("inf", "not a plain decimal number"),
        ("nan", "not a plain decimal number"),
        ("1e3", "not a plain decimal number"),
        ("1_0", "not a plain decimal number"),
        ("1" * 400, "too large"),
    ],
)
def test_parse_spawn_rate_refuses(text: str, reason: str) -> None:
    with pytest.raises(ValueError, match=exactly(reason)):
        parse_spawn_rate(text)


@pytest.mark.parametrize(
    ("text", "host"),
    [
        ("http://127.0.0.1:8080", "http://127.0.0.1:8080"),
        ("https://example.com/", "https://example.com"),
        ("http://localhost", "http://localhost"),
        ("http://h:65535", "http://h:65535"),
        ("http://h/api/v1/", "http://h/api/v1"),
        ("http://[::1]:8080/", "http://[::1]:8080"),
        (" http://h:1 ", "http://h:1"),
    ],
)
def test_parse_host_accepts(text: str, host: str) -> None:
    assert parse_host(text) == host


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("", "empty"),
        ("localhost:8000", "no scheme; did you mean 'http://localhost:8000'?"),
        ("ftp://x", "scheme 'ftp' is not http or https"),
        ("http://", "no host name"),
        ("http:///path", "no host name"),
        ("http://a b", SPACES),
        ("http://h\x00", SPACES),
        ("http://h:99999", BAD_PORT),
        ("http://h:port", BAD_PORT),
        ("http://h:0", BAD_PORT),
        ("http://h:", BAD_PORT),
        ("http://h/?q=1", NO_QUERY),
        ("http://h/?", NO_QUERY),
        ("http://h#top", NO_QUERY),
        ("http://user:pw@h", "user:password@ is not supported in the host"),
        ("http://[::1", "Invalid IPv6 URL"),
    ],
)
def test_parse_host_refuses(text: str, reason: str) -> None:
    with pytest.raises(ValueError, match=exactly(reason)):
        parse_host(text)


DEFAULTS = Settings(users=None, duration_s=60.0, spawn_rate=None, host=None, stop_timeout_s=5.0)


def test_defaults_are_smoke_mode_without_host(pytester: pytest.Pytester) -> None:
    settings = Settings.from_config(pytester.parseconfig())
    assert settings == DEFAULTS
    assert settings.load_mode is False


def test_every_option_from_the_command_line(pytester: pytest.Pytester) -> None:
    config = pytester.parseconfig(
        "--load-users=8",
        "--load-duration=1m30s",
        "--load-spawn-rate=2.5",
        "--load-host=http://127.0.0.1:9000/",
        "--load-stop-timeout=0",
    )
    settings = Settings.from_config(config)
    assert settings == Settings(
        users=8, duration_s=90.0, spawn_rate=2.5, host="http://127.0.0.1:9000", stop_timeout_s=0.0
    )
    assert settings.load_mode is True


def test_every_option_from_the_ini(pytester: pytest.Pytester) -> None:
    pytester.makeini(
        """
        [pytest]
        load_users = 3
        load_duration = 500ms
        load_spawn_rate = 1
        load_host = https://example.com/api/
        load_stop_timeout = 2m
        """
    )
    assert Settings.from_config(pytester.parseconfig()) == Settings(
        users=3,
        duration_s=0.5,
        spawn_rate=1.0,
        host="https://example.com/api",
        stop_timeout_s=120.0,
    )


def test_command_line_wins_over_ini_even_over_a_bad_ini_value(pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\nload_users = 3\nload_duration = 10x\nload_stop_timeout = 1s\n")
    config = pytester.parseconfig("--load-users=4", "--load-duration=2s")
    assert Settings.from_config(config) == Settings(
        users=4, duration_s=2.0, spawn_rate=None, host=None, stop_timeout_s=1.0
    )


EXPECTED = {
    "--load-users": "a whole number of users >= 1",
    "--load-duration": "a duration like 90, 45s, 1m30s, 2h or 500ms",
    "--load-spawn-rate": "a number of users per second > 0, like 10 or 0.5",
    "--load-host": "an http:// or https:// URL like http://127.0.0.1:8080",
    "--load-stop-timeout": "a duration like 0, 5s, 1m30s or 500ms",
}


@pytest.mark.parametrize(
    ("flag", "value", "reason"),
    [
        ("--load-users", "5x", "not a whole number"),
        ("--load-users", "0", "0 users would run nothing"),
        ("--load-duration", "10x", "unknown unit 'x'"),
        ("--load-duration", "0", "must be more than 0"),
        ("--load-duration", "0ms", "must be more than 0"),
        ("--load-duration", "", "empty"),
        ("--load-spawn-rate", "fast", "not a plain decimal number"),
        ("--load-spawn-rate", "0", "0 would never start a user"),
        ("--load-host", "ftp://x", "scheme 'ftp' is not http or https"),
        ("--load-host", "http://h:99999", BAD_PORT),
        ("--load-stop-timeout", "-1s", "expected a number at '-1s'"),
        ("--load-stop-timeout", "1m1m", "unit 'm' given twice"),
    ],
)
def test_bad_command_line_value_names_the_option_and_the_form(
    pytester: pytest.Pytester, flag: str, value: str, reason: str
) -> None:
    config = pytester.parseconfig(f"{flag}={value}")
    with pytest.raises(pytest.UsageError) as excinfo:
        Settings.from_config(config)
    assert str(excinfo.value) == (
        f"{flag}: invalid value {value!r}: expected {EXPECTED[flag]} ({reason})"
    )


@pytest.mark.parametrize("override", [False, True], ids=["ini-file", "-o"])
def test_bad_ini_value_names_the_ini_key(pytester: pytest.Pytester, override: bool) -> None:
    if override:
        config = pytester.parseconfig("-o", "load_spawn_rate=-1")
    else:
        pytester.makeini("[pytest]\nload_spawn_rate = -1\n")
        config = pytester.parseconfig()
    with pytest.raises(pytest.UsageError) as excinfo:
        Settings.from_config(config)
    assert str(excinfo.value) == (
        "load_spawn_rate (ini): invalid value '-1': "
        f"expected {EXPECTED['--load-spawn-rate']} (not a plain decimal number)"
    )


def test_smoke_mode_still_validates_every_option(pytester: pytest.Pytester) -> None:
    config = pytester.parseconfig("--load-host=localhost:8000")
    with pytest.raises(pytest.UsageError, match=r"^--load-host: invalid value 'localhost:8000'"):
        Settings.from_config(config)


@pytest.mark.parametrize(
    ("ini", "args", "requested"),
    [
        ("", [], False),
        ("", ["--load-users=3"], True),
        ("load_users = 3", [], True),
        ("load_users = 3", ["--load-users=0"], False),
        ("load_users = x", ["--load-users=2"], True),
        ("", ["--load-users=0"], False),
        ("load_users = many", [], False),
    ],
)
def test_load_mode_requested_never_raises(
    pytester: pytest.Pytester, ini: str, args: list[str], requested: bool
) -> None:
    pytester.makeini(f"[pytest]\n{ini}\n")
    assert load_mode_requested(pytester.parseconfig(*args)) is requested
