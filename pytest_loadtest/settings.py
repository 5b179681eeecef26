"""The ``--load-*`` options: registration, parsers, and one frozen :class:`Settings` object.

Every option has an ini twin of the same name with ``_`` for ``-`` (``--load-users`` and
``load_users``); the command line wins. Values are kept as text by argparse and parsed
here, so that every bad value, from either place, is one :class:`pytest.UsageError`
(exit 4) that names where it came from and the form that was expected.

Importing this module costs nothing beyond the standard library and pytest.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Generic, TypeVar
from urllib.parse import urlsplit

import pytest

if TYPE_CHECKING:
    import argparse
    from collections.abc import Callable

    from pytest_loadtest.client import LoadClient
    from pytest_loadtest.fastclient import FastLoadClient
    from pytest_loadtest.report.compare import CompareRule
    from pytest_loadtest.thresholds import Threshold

__all__ = [
    "Settings",
    "add_options",
    "load_mode_requested",
    "parse_duration",
    "parse_host",
    "parse_spawn_rate",
    "parse_users",
]

_NUMBER = re.compile(r"\d+(?:\.\d+)?")
# A duration part: a number and whatever letters follow it, so that an unknown unit can be
# named in the error instead of reported as unreadable text.
_DURATION_PART = re.compile(r"(?P<number>\d+(?:\.\d+)?)(?P<unit>[a-zA-Z]*)")
# Milliseconds per unit, largest unit first: the order the parts must come in.
_UNIT_MS = {"h": 3_600_000, "m": 60_000, "s": 1_000, "ms": 1}
_UNIT_RANK = {unit: rank for rank, unit in enumerate(_UNIT_MS)}


def parse_duration(text: str) -> float:
    """Parse a duration into seconds (>= 0).

    A plain number is seconds (``90``, ``1.5``); otherwise parts of a number and a unit,
    units ``h``, ``m``, ``s``, ``ms`` from largest to smallest, each at most once:
    ``45s``, ``1m30s``, ``2h``, ``500ms``, ``1h2m3s``, ``1.5s``. Surrounding whitespace is
    ignored. Raises :class:`ValueError` whose message says what is wrong.
    """
    text = text.strip()
    if not text:
        raise ValueError("empty")
    if any(char.isspace() for char in text):
        raise ValueError("contains spaces")
    if _NUMBER.fullmatch(text):
        return _finite(float(text))
    total_ms = 0.0
    last_rank = -1
    pos = 0
    while pos < len(text):
        part = _DURATION_PART.match(text, pos)
        if part is None:
            raise ValueError(f"expected a number at {text[pos:]!r}")
        number, unit = part["number"], part["unit"]
        if not unit:
            raise ValueError(f"missing unit after {number!r}")
        if unit not in _UNIT_MS:
            raise ValueError(f"unknown unit {unit!r}")
        rank = _UNIT_RANK[unit]
        if rank == last_rank:
            raise ValueError(f"unit {unit!r} given twice")
        if rank < last_rank:
            raise ValueError("units must run from largest to smallest: h, m, s, ms")
        last_rank = rank
        total_ms += float(number) * _UNIT_MS[unit]
        pos = part.end()
    return _finite(total_ms / 1000)


def parse_users(text: str) -> int:
    """Parse a number of virtual users: a whole number >= 1."""
    text = text.strip()
    if not text.isdecimal() or not text.isascii():
        raise ValueError("not a whole number")
    users = int(text)
    if users < 1:
        raise ValueError("0 users would run nothing")
    return users


def parse_spawn_rate(text: str) -> float:
    """Parse a spawn rate in users per second: a plain decimal number > 0 (``10``, ``0.5``)."""
    text = text.strip()
    if not _NUMBER.fullmatch(text):
        raise ValueError("not a plain decimal number")
    rate = _finite(float(text))
    if rate <= 0:
        raise ValueError("0 would never start a user")
    return rate


def parse_host(text: str) -> str:
    """Parse a base URL: ``http://`` or ``https://``, a host, optional port and path.

    A query, a fragment and ``user:password@`` are refused (the last so that no secret
    ends up in reports). Returns the URL with any trailing slash removed.
    """
    text = text.strip()
    if not text:
        raise ValueError("empty")
    if any(char.isspace() or not char.isprintable() for char in text):
        raise ValueError("contains spaces or control characters")
    if "://" not in text:
        raise ValueError(f"no scheme; did you mean 'http://{text}'?")
    if "?" in text or "#" in text:
        raise ValueError("a base URL takes no query or fragment")
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https"):
        raise ValueError(f"scheme {parts.scheme!r} is not http or https")
    if "@" in parts.netloc:
        raise ValueError("user:password@ is not supported in the host")
    if not parts.hostname:
        raise ValueError("no host name")
    try:
        port = parts.port
    except ValueError:
        port = 0
    if port == 0 or parts.netloc.endswith(":"):
        raise ValueError("the port must be a number from 1 to 65535")
    return text.rstrip("/")


def _finite(value: float) -> float:
    if not math.isfinite(value):
        raise ValueError("too large")
    return value


def _positive_duration(text: str) -> float:
    seconds = parse_duration(text)
    if seconds <= 0:
        raise ValueError("must be more than 0")
    return seconds


T = TypeVar("T")
D = TypeVar("D")


def _argparse(help: str) -> str:
    """``help`` with ``%`` escaped: argparse %-formats help texts."""
    return help.replace("%", "%%")


@dataclass(frozen=True)
class _Option(Generic[T, D]):
    """One row of the option table: a flag, its ini twin, its parser and its default."""

    flag: str
    metavar: str
    help: str
    parse: Callable[[str], T]
    expected: str
    default: D

    @property
    def name(self) -> str:
        """The argparse dest and the ini key: ``--load-users`` gives ``load_users``."""
        return self.flag.removeprefix("--").replace("-", "_")

    def register(self, parser: pytest.Parser, group: pytest.OptionGroup) -> None:
        group.addoption(
            self.flag, dest=self.name, metavar=self.metavar, default=None, help=_argparse(self.help)
        )
        parser.addini(self.name, f"same as {self.flag}: {self.help}")

    def given(self, config: pytest.Config, cli: argparse.Namespace) -> tuple[str, str] | None:
        """Where the value was given (the flag or the ini key) and its text, or None if unset.

        ``cli`` is the parsed command line: ``config.option``, or early in the run (before
        it is filled) ``config.known_args_namespace``.
        """
        text: str | None = getattr(cli, self.name, None)
        if text is not None:
            return self.flag, text
        ini: str = config.getini(self.name)
        return (f"{self.name} (ini)", ini) if ini else None

    def value(self, config: pytest.Config) -> T | D:
        """The parsed value, or the default; a bad value raises :class:`pytest.UsageError`."""
        given = self.given(config, config.option)
        if given is None:
            return self.default
        where, text = given
        try:
            return self.parse(text)
        except ValueError as exc:
            raise pytest.UsageError(
                f"{where}: invalid value {text!r}: expected {self.expected} ({exc})"
            ) from None


_USERS = _Option(
    flag="--load-users",
    metavar="N",
    help="concurrent virtual users; turns on load mode (without it, each task runs once "
    "as a plain test)",
    parse=parse_users,
    expected="a whole number of users >= 1",
    default=None,
)
_DURATION = _Option(
    flag="--load-duration",
    metavar="D",
    help="how long to run after the start: 90, 45s, 1m30s, 2h or 500ms (default: 60s)",
    parse=_positive_duration,
    expected="a duration like 90, 45s, 1m30s, 2h or 500ms",
    default=60.0,
)
_SPAWN_RATE = _Option(
    flag="--load-spawn-rate",
    metavar="R",
    help="users started per second while ramping up (default: all users within 1 s)",
    parse=parse_spawn_rate,
    expected="a number of users per second > 0, like 10 or 0.5",
    default=None,
)
_HOST = _Option(
    flag="--load-host",
    metavar="URL",
    help="base URL for relative request paths, e.g. http://127.0.0.1:8080 "
    "(a user type's own host wins)",
    parse=parse_host,
    expected="an http:// or https:// URL like http://127.0.0.1:8080",
    default=None,
)
_STOP_TIMEOUT = _Option(
    flag="--load-stop-timeout",
    metavar="D",
    help="grace for running iterations when the run ends; 0 stops them at once (default: 5s)",
    parse=parse_duration,
    expected="a duration like 0, 5s, 1m30s or 500ms",
    default=5.0,
)


def _writable_file(option: str) -> Callable[[str], str]:
    """A parser that checks, before the run, that ``option``'s file can be written."""

    def parse(text: str) -> str:
        from pytest_loadtest.report.writing import check_writable

        check_writable(text, option)
        return text

    return parse


def _csv_prefix(text: str) -> str:
    from pytest_loadtest.report.csvfiles import check_prefix

    check_prefix(text)
    return text


def _baseline(text: str) -> dict[str, Any]:
    from pytest_loadtest.report.compare import load_baseline

    return load_baseline(text)


_JSON = _Option(
    flag="--load-json",
    metavar="PATH",
    help="write the full results as JSON (schema pytest-loadtest/1) to PATH",
    parse=_writable_file("--load-json"),
    expected="a writable file path",
    default=None,
)
_REPORT = _Option(
    flag="--load-report",
    metavar="PATH",
    help="write a self-contained HTML report (tables, verdicts, charts) to PATH",
    parse=_writable_file("--load-report"),
    expected="a writable file path",
    default=None,
)
_CSV = _Option(
    flag="--load-csv",
    metavar="PREFIX",
    help="write Locust-compatible PREFIX_stats.csv, _stats_history.csv, _failures.csv, "
    "_exceptions.csv and _metrics.csv",
    parse=_csv_prefix,
    expected="a file name prefix in a writable directory, like results/run1",
    default=None,
)
_BASELINE = _Option(
    flag="--load-baseline",
    metavar="PATH",
    help="compare with the JSON file of an earlier run (--load-json) and print the changes",
    parse=_baseline,
    expected="the JSON file of an earlier run",
    default=None,
)

CLIENTS = ("requests", "fast")


def parse_client(text: str) -> str:
    """The ``load_client`` implementation: ``requests`` or ``fast`` (geventhttpclient)."""
    name = text.strip()
    if name not in CLIENTS:
        raise ValueError(f"unknown client {name!r}")
    if name == "fast":
        try:
            import geventhttpclient  # noqa: F401
        except ImportError:
            raise ValueError(
                "geventhttpclient is not installed: pip install 'pytest-loadtest[fast]'"
            ) from None
    return name


_CLIENT = _Option(
    flag="--load-client",
    metavar="NAME",
    help="the load_client implementation: requests (a requests.Session; default) or fast "
    "(geventhttpclient, extra 'fast')",
    parse=parse_client,
    expected="requests or fast",
    default="requests",
)

_OPTIONS: tuple[_Option[Any, Any], ...] = (
    _USERS,
    _DURATION,
    _SPAWN_RATE,
    _HOST,
    _STOP_TIMEOUT,
    _JSON,
    _REPORT,
    _CSV,
    _BASELINE,
    _CLIENT,
)


@dataclass(frozen=True)
class _ListOption(Generic[T]):
    """A repeatable option whose ini twin takes one value per line.

    The parser gets the text and where it came from, and its ``ValueError`` message
    must say everything (the expected form included): it is shown after ``where:``.
    """

    flag: str
    ini: str
    metavar: str
    help: str
    parse: Callable[[str, str], T]

    def register(self, parser: pytest.Parser, group: pytest.OptionGroup) -> None:
        dest = self.flag.removeprefix("--").replace("-", "_")
        group.addoption(
            self.flag,
            dest=dest,
            metavar=self.metavar,
            action="append",
            default=None,
            help=_argparse(f"{self.help} (repeatable)"),
        )
        parser.addini(self.ini, f"same as {self.flag}, one per line: {self.help}", type="linelist")

    def values(self, config: pytest.Config) -> tuple[T, ...]:
        """Every value, parsed: the command line's if given, else the ini's."""
        texts: list[str] | None = getattr(
            config.option, self.flag.removeprefix("--").replace("-", "_"), None
        )
        where = self.flag
        if not texts:
            texts, where = config.getini(self.ini), f"{self.ini} (ini)"
        parsed = []
        for text in texts:
            try:
                parsed.append(self.parse(text, where))
            except ValueError as exc:
                raise pytest.UsageError(f"{where}: {exc}") from None
        return tuple(parsed)


def _threshold(text: str, where: str) -> Threshold:
    from pytest_loadtest.thresholds import parse_threshold

    return parse_threshold(text, source=where)


def _compare_rule(text: str, where: str) -> CompareRule:
    from pytest_loadtest.report.compare import CompareRuleError, parse_compare_fail

    try:
        return parse_compare_fail(text)
    except CompareRuleError as error:  # its message names the option, as ``where`` does
        raise ValueError(str(error).removeprefix("--load-compare-fail ")) from None


_THRESHOLDS = _ListOption(
    flag="--load-threshold",
    ini="load_thresholds",
    metavar="EXPR",
    help="a pass/fail threshold such as 'p95<300ms', 'fail_ratio<1%' or 'GET /cart: p99<1s'",
    parse=_threshold,
)
_COMPARE_FAIL = _ListOption(
    flag="--load-compare-fail",
    ini="load_compare_fail",
    metavar="EXPR",
    help="fail when the run regressed against --load-baseline by more than the bound: "
    "'p95:10%', 'rps:-5%', 'fail_ratio:+0.5%'",
    parse=_compare_rule,
)


def add_options(parser: pytest.Parser) -> None:
    """Register every ``--load-*`` option (group "loadtest") and its ini twin."""
    group = parser.getgroup("loadtest", "load testing (pytest-loadtest)")
    for option in _OPTIONS:
        option.register(parser, group)
    _THRESHOLDS.register(parser, group)
    _COMPARE_FAIL.register(parser, group)


def load_mode_requested(config: pytest.Config) -> bool:
    """Whether a valid ``--load-users`` (or ini ``load_users``) asks for load mode.

    Cheap and safe before ``pytest_configure``, e.g. in ``pytest_load_initial_conftests``.
    It never raises: a bad value answers False, and :meth:`Settings.from_config`
    reports it.
    """
    try:
        given = _USERS.given(config, config.known_args_namespace)
        if given is None:
            return False
        _USERS.parse(given[1])
    except (ValueError, pytest.UsageError):
        return False
    return True


@dataclass(frozen=True)
class Settings:
    """The run's load settings, parsed and validated."""

    #: Concurrent virtual users; None is smoke mode.
    users: int | None
    duration_s: float
    #: Users started per second while ramping; None starts all users within 1 s.
    spawn_rate: float | None
    #: Base URL without a trailing slash. None is not an error here: a user type may
    #: bring its own host, and a relative URL without any host fails when requested.
    host: str | None
    #: 0 stops running iterations at once.
    stop_timeout_s: float
    thresholds: tuple[Threshold, ...] = ()
    json_path: str | None = None
    report_path: str | None = None
    csv_prefix: str | None = None
    #: The earlier run's JSON document, loaded and checked.
    baseline: dict[str, Any] | None = None
    compare_fail: tuple[CompareRule, ...] = ()
    #: The ``load_client`` implementation: "requests" or "fast".
    client: str = "requests"

    def client_class(self) -> type[LoadClient | FastLoadClient]:
        """The class ``load_client`` is made of (imported on first use)."""
        if self.client == "fast":
            from pytest_loadtest.fastclient import FastLoadClient

            return FastLoadClient
        from pytest_loadtest.client import LoadClient

        return LoadClient

    @property
    def load_mode(self) -> bool:
        """True when ``--load-users`` was given: the tasks run as concurrent users."""
        return self.users is not None

    @classmethod
    def from_config(cls, config: pytest.Config) -> Settings:
        """Read and validate every option, in smoke mode too.

        Raises :class:`pytest.UsageError` for the first bad value.
        """
        settings = cls(
            users=_USERS.value(config),
            duration_s=_DURATION.value(config),
            spawn_rate=_SPAWN_RATE.value(config),
            host=_HOST.value(config),
            stop_timeout_s=_STOP_TIMEOUT.value(config),
            thresholds=_THRESHOLDS.values(config),
            json_path=_JSON.value(config),
            report_path=_REPORT.value(config),
            csv_prefix=_CSV.value(config),
            baseline=_BASELINE.value(config),
            compare_fail=_COMPARE_FAIL.values(config),
            client=_CLIENT.value(config),
        )
        if settings.compare_fail and settings.baseline is None:
            raise pytest.UsageError(
                "--load-compare-fail: needs --load-baseline PATH, the JSON file of an earlier run"
            )
        return settings
