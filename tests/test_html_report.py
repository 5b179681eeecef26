"""The HTML report: its cells from known stats, its escaping, and a real browser opening it.

The browser tests run headless Chromium (Debian package ``chromium``): ``--dump-dom``
for the rendered page, ``--screenshot`` for a picture, and the DevTools protocol (over
a websocket, standard library only) to record every request the page makes.
"""

from __future__ import annotations

import base64
import http.client
import json
import os
import re
import socket
import struct
import subprocess
import time
from collections import Counter
from dataclasses import replace
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from servers import LoopbackServer, unused_port

from pytest_loadtest.history import History, HistoryRow
from pytest_loadtest.metrics import MetricsRegistry, build_metric_results
from pytest_loadtest.report.html import build_report, render_html, write_report
from pytest_loadtest.report.results import (
    HookErrorResult,
    RunInfo,
    RunResult,
    TaskInfo,
    build_result,
)
from pytest_loadtest.stats import PERCENTILES, RequestStats, percentile_key
from pytest_loadtest.thresholds import Verdict

START = 1_700_000_000.0  # 2023-11-14 22:13:20 UTC
EVIL = "<script>alert(1)</script>"
# A name that would break out of an attribute, and one that would load an image.
QUOTE = '" onmouseover="alert(2)'
IMAGE = '<img src="http://img.invalid/x.png">'
BROWSE = "tests/test_shop.py::test_browse"
CART = f"tests/test_shop.py::TestCheckout::test_cart[{EVIL}]"
RUN = RunInfo(START, START + 10, 10.0, users=4, workers=2, host="http://127.0.0.1:8080")
TASKS = (TaskInfo(BROWSE, "tests/test_shop.py", 3), TaskInfo(CART, "TestCheckout", 1))
TRACEBACK = f"Traceback (most recent call last):\n  File {QUOTE}\nKeyError: {EVIL}\n"
VERDICTS = (
    Verdict("p95<300ms", None, "--load-threshold", 12.5, "12.5 ms", True),
    Verdict(f"{EVIL}: p99<1s", EVIL, "--load-threshold", 12.6, "12.6 ms", False),
)
COMPARISON = Verdict("rps:-5%", None, "--load-compare-fail", -0.01, "-1.0%", True)


def known_stats() -> RequestStats:
    stats = RequestStats()
    for _ in range(20):
        stats.record_request(BROWSE, "GET", "/products", 4.0, 1000, None, START + 1)
    for i in range(5):
        error = ValueError("refused") if i < 2 else None
        stats.record_request(CART, "POST", "/cart", 12.5, 50, error, START + 2 + i)
    stats.record_request(CART, "GET", EVIL, 0.412, 0, RuntimeError(IMAGE), START + 4)
    stats.record_iteration(BROWSE, failed=False)
    stats.record_iteration(CART, failed=True)
    for task in (BROWSE, CART, CART):
        stats.record_exception(task, KeyError(EVIL), TRACEBACK, START + 4)
    return stats


def known_result() -> RunResult:
    history = History()
    history.sample(START, 0, RequestStats())
    history.sample(START + 10, 4, known_stats())
    metrics = MetricsRegistry()
    metrics.add("counter", QUOTE, BROWSE, 3)
    for _ in range(2):
        metrics.record_time("db", CART, 2.5)
    hook_error = HookErrorResult("pytest_loadtest_request", EVIL, 2, f"Traceback\n{EVIL}\n")
    result = build_result(known_stats(), RUN, TASKS, history.rows, [hook_error])
    return replace(
        result,
        tasks=(
            replace(result.tasks[0], outcome="passed"),
            replace(result.tasks[1], outcome="failed"),
        ),
        metrics=build_metric_results(metrics, RUN.duration_s),
        thresholds=VERDICTS,
        comparisons=(COMPARISON,),
    )


class Page(HTMLParser):
    """What the tests read from a page: table cells, tags, attributes, CSS, texts by id."""

    def __init__(self, html: str) -> None:
        super().__init__(convert_charrefs=True)
        self.tables: dict[str, list[list[str]]] = {}
        self.tags: Counter[str] = Counter()
        self.attributes: list[tuple[str, str, str]] = []  # (tag, name, value)
        self.css: list[str] = []  # the <style> text and every style attribute
        self.text: dict[str, str] = {}  # the text of each element with an id and no children
        self._table: list[list[str]] = []
        self._cell: list[str] | None = None
        self._leaf: str | None = None
        self._in_style = False
        self.feed(html)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags[tag] += 1
        found = {name: value or "" for name, value in attrs}
        self.attributes += [(tag, name, value) for name, value in found.items()]
        self.css += [found["style"]] if "style" in found else []
        self._leaf = found.get("id")
        if tag == "table":
            self._table = self.tables.setdefault(found.get("id", ""), [])
        elif tag == "tr":
            self._table.append([])
        elif tag in ("td", "th"):
            self._cell = []
        self._in_style = tag == "style"

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self._cell is not None:
            self._table[-1].append("".join(self._cell).strip())
            self._cell = None
        self._leaf = None
        self._in_style = False

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)
        if self._in_style:
            self.css.append(data)
        if self._leaf is not None:
            self.text[self._leaf] = self.text.get(self._leaf, "") + data

    def row(self, table: str, first: str, second: str | None = None) -> list[str]:
        """The row of ``table`` whose first cells are ``first`` (and ``second``)."""
        for cells in self.tables[table]:
            if cells[:1] == [first] and (second is None or cells[1] == second):
                return cells
        raise AssertionError(f"no row {first!r} {second!r} in {self.tables[table]}")


def rendered() -> str:
    return render_html(build_report(known_result()))


# -- the page, as data and as HTML -------------------------------------------------------


def test_the_tables_hold_the_numbers() -> None:
    page = Page(rendered())
    assert page.tables["run"][1:] == [
        ["Start (UTC)", "2023-11-14 22:13:20"],
        ["End (UTC)", "2023-11-14 22:13:30"],
        ["Duration", "10.0 s"],
        ["Users", "4"],
        ["Workers", "2"],
        ["Host", "http://127.0.0.1:8080"],
        ["Requests", "26"],
        ["Failures", "3 (11.54%)"],
        ["Throughput", "2.60 req/s"],
    ]
    requests = page.tables["requests"]
    assert requests[0] == [
        "Type",
        "Name",
        "# reqs",
        "# fails (%)",
        "Avg",
        "Min",
        "Max",
        "Med",
        "req/s",
        "failures/s",
        "Avg size (B)",
    ]
    assert requests[1:] == [
        ["POST", "/cart", "5", "2 (40.00%)", "12.5", "12.5", "12.5", "12.5", "0.50", "0.20", "50"],
        [
            "GET",
            "/products",
            "20",
            "0 (0.00%)",
            "4.00",
            "4.00",
            "4.00",
            "4.00",
            "2.00",
            "0.00",
            "1,000",
        ],
        ["GET", EVIL, "1", "1 (100.00%)", "0.412", "0.412", "0.412", "0.412", "0.10", "0.10", "0"],
        [
            "",
            "Aggregated",
            "26",
            "3 (11.54%)",
            "5.50",
            "0.412",
            "12.5",
            "4.01",
            "2.60",
            "0.30",
            "779",
        ],
    ]
    percentiles = page.tables["percentiles"]
    headers = [f"{percentile_key(p)}%" for p in PERCENTILES]
    assert percentiles[0] == ["Type", "Name", *headers, "# reqs"]
    assert page.row("percentiles", "POST", "/cart") == ["POST", "/cart", *["12.5"] * 11, "5"]
    total = page.row("percentiles", "", "Aggregated")
    assert total[2:] == ["4.01"] * 4 + ["12.5"] * 7 + ["26"]


def test_verdicts_tasks_failures_exceptions_and_metrics() -> None:
    page = Page(rendered())
    assert page.text["status"] == "FAILED: 2 of 5 verdicts failed"
    assert page.tables["verdicts"][1:] == [
        ["PASS", "threshold", "p95<300ms", "whole run", "12.5 ms", "--load-threshold"],
        ["FAIL", "threshold", f"{EVIL}: p99<1s", EVIL, "12.6 ms", "--load-threshold"],
        ["PASS", "baseline", "rps:-5%", "whole run", "-1.0%", "--load-compare-fail"],
    ]
    assert page.tables["tasks"][1:] == [
        ["PASS", BROWSE, "tests/test_shop.py", "3", "1", "0", "20", "4.00"],
        ["FAIL", CART, "TestCheckout", "1", "1", "1", "6", "12.5"],
    ]
    assert page.tables["failures"][1:] == [
        ["2", "POST", "/cart", "ValueError('refused')", CART],
        ["1", "GET", EVIL, f"RuntimeError({IMAGE!r})", CART],
    ]
    [[count, message, tasks]] = page.tables["exceptions"][1:]
    assert (count, tasks) == ("3", f"{CART}\n{BROWSE}")
    assert message == f"KeyError({EVIL!r}){TRACEBACK.strip()}"  # the summary, then the traceback
    assert page.tags["details"] == 2  # the exception's traceback and the hook error's
    assert page.tables["metrics"][1:] == [
        [QUOTE, "counter", "3", "0.30", *["-"] * 6],
        ["db", "timer", "2", "0.20", *["2.50"] * 6],
    ]
    hook = f"pytest_loadtest_request{'Traceback'}\n{EVIL}"
    assert page.tables["hook-errors"][1:] == [["2", hook, EVIL]]


def test_every_string_from_the_run_is_escaped() -> None:
    html = rendered()
    page = Page(html)
    assert page.tags["script"] == 0
    assert page.tags["img"] == 0
    assert "onmouseover" not in {name for _, name, _ in page.attributes}
    assert "<script>alert" not in html
    assert html.count("&lt;script&gt;alert(1)&lt;/script&gt;") >= 10
    # The escaped text reads back as the run's string, in the page title too.
    assert page.row("requests", "GET", EVIL)[1] == EVIL


def test_nothing_points_off_the_page() -> None:
    html = rendered()
    page = Page(html)
    links = ("src", "href", "xlink:href", "srcset", "action", "formaction", "poster", "data")
    for tag, name, value in page.attributes:
        if name in links:
            assert value.startswith(("#", "data:")), (tag, name, value)
    css = "\n".join(page.css)
    for target in re.findall(r"url\(\s*['\"]?([^'\")]*)", css):
        assert target.startswith(("#", "data:")), target
    assert "@import" not in css
    assert not {"script", "link", "iframe", "object", "embed", "img", "base"} & set(page.tags)
    policy = [v for tag, name, v in page.attributes if tag == "meta" and name == "content"]
    assert "default-src 'none'; style-src 'unsafe-inline'; img-src data:" in policy[0]


def history_row(offset: float, users: int, rps: float, fail_rps: float, ms: float) -> HistoryRow:
    percentiles = {percentile_key(p): ms * p / 50 for p in PERCENTILES}
    return HistoryRow(
        START + offset, users, "", "Aggregated", rps, fail_rps, percentiles, 0, 0, 0, 0, 0, 0, 0
    )


def test_chart_geometry() -> None:
    history = (
        history_row(0, 0, 0.0, 0.0, 0.0),
        history_row(5, 2, 40.0, 10.0, 10.0),
        history_row(10, 4, 100.0, 0.0, 20.0),
    )
    rates, times, users = build_report(replace(known_result(), history=history)).charts
    # The plot spans x 56..696 over 10 s, and y 190..14 from 0 to the axis top.
    assert [(t.pos, t.label) for t in rates.x_ticks] == [
        (56.0, "00:00"),
        (184.0, "00:02"),
        (312.0, "00:04"),
        (440.0, "00:06"),
        (568.0, "00:08"),
        (696.0, "00:10"),
    ]
    assert [(t.pos, t.label) for t in rates.y_ticks] == [
        (190.0, "0"),
        (154.8, "20"),
        (119.6, "40"),
        (84.4, "60"),
        (49.2, "80"),
        (14.0, "100"),
    ]
    requests, failures = rates.series
    assert (requests.label, requests.segments) == (
        "requests/s",
        ("56.0,190.0 376.0,119.6 696.0,14.0",),
    )
    assert failures.segments == ("56.0,190.0 376.0,172.4 696.0,190.0",)
    assert requests.dots == ((56.0, 190.0), (376.0, 119.6), (696.0, 14.0))
    # A window without requests has no percentiles: the lines start at the second sample.
    p50, _, p99 = times.series
    assert [t.label for t in times.y_ticks] == ["0", "10", "20", "30", "40"]
    assert (p50.segments, p99.segments) == (
        ("376.0,146.0 696.0,102.0",),
        ("376.0,102.9 696.0,15.8",),
    )
    assert users.series[0].segments == ("56.0,190.0 376.0,102.0 696.0,14.0",)
    assert [t.label for t in users.y_ticks] == ["0", "1", "2", "3", "4"]


def test_a_run_too_short_to_chart() -> None:
    report = build_report(replace(known_result(), history=known_result().history[:1]))
    for chart in report.charts:
        assert (chart.series, chart.empty) == (
            (),
            "Not enough samples: the history is sampled once a second.",
        )
    page = Page(render_html(report))
    assert page.tags["svg"] == 3
    assert page.tags["polyline"] == 0


def test_an_empty_run_says_so() -> None:
    result = build_result(RequestStats(), RUN, (), ())
    page = Page(render_html(build_report(result)))
    assert page.text["status"] == "No verdicts: no task was judged and no threshold was given"
    assert page.tables["requests"][1:] == [
        ["", "Aggregated", "0", "0 (0.00%)", "-", "-", "-", "-", "0.00", "0.00", "0"]
    ]
    assert page.text["failures-empty"] == "No request failed."
    assert page.text["exceptions-empty"] == "No exception was raised."
    assert page.text["verdicts-empty"] == "No thresholds were given."


def test_write_report_replaces_the_file(tmp_path: Path) -> None:
    path = tmp_path / "deep" / "report.html"
    write_report(known_result(), path)
    first = path.read_text(encoding="utf-8")
    assert first.startswith("<!DOCTYPE html>")
    write_report(build_result(RequestStats(), RUN, (), ()), path)
    assert path.read_text(encoding="utf-8") != first
    assert [p.name for p in path.parent.iterdir()] == ["report.html"]  # no temporary file left


# -- a real browser ------------------------------------------------------------------------

CHROMIUM = Path("/usr/bin/chromium")
DEADLINE_S = 20.0


class Chromium:
    """Headless Chromium with a fresh profile per launch, kept off the network.

    Chromium's own services (clock sync, component updates, sign-in) call out even with
    ``--disable-background-networking``, so every launch sends all traffic to a closed
    loopback port and resolves no host name. A page's requests still show in DevTools.
    """

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.launches = 0

    def _command(self, *args: str) -> tuple[list[str], Path]:
        self.launches += 1
        profile = self.workdir / f"profile-{self.launches}"
        flags = [
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            f"--user-data-dir={profile}",
            f"--proxy-server=127.0.0.1:{unused_port()}",
            "--proxy-bypass-list=<-loopback>",
            "--host-resolver-rules=MAP * ~NOTFOUND",
        ]
        return [str(CHROMIUM), *flags, *args], profile

    def _run(self, *args: str) -> str:
        command, _ = self._command(*args)
        done = subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)
        assert done.returncode == 0, done.stderr[-2000:]
        return done.stdout

    def dump_dom(self, page: Path) -> str:
        """The page's DOM after it loaded, serialised."""
        return self._run("--dump-dom", page.as_uri())

    def screenshot(self, page: Path, png: Path) -> bytes:
        self._run(
            "--hide-scrollbars", "--window-size=1280,2400", f"--screenshot={png}", page.as_uri()
        )
        return png.read_bytes()

    def requests_made(self, page: Path) -> list[str]:
        """The URL of every request the page made until its load event, itself included."""
        command, profile = self._command("--remote-debugging-port=0", "about:blank")
        process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            with DevTools.connect(_devtools_port(profile, process)) as devtools:
                devtools.call("Network.enable")
                devtools.call("Page.enable")
                devtools.call("Page.navigate", url=page.as_uri())
                devtools.wait_for("Page.loadEventFired")
        finally:
            process.terminate()
            process.wait(timeout=10)
        return [
            event["params"]["request"]["url"]
            for event in devtools.events
            if event.get("method") == "Network.requestWillBeSent"
        ]


def _devtools_port(profile: Path, process: subprocess.Popen[bytes]) -> int:
    """The DevTools port Chromium chose: the first line of its ``DevToolsActivePort`` file."""
    active = profile / "DevToolsActivePort"
    deadline = time.monotonic() + DEADLINE_S
    while time.monotonic() < deadline and process.poll() is None:
        lines = active.read_text().split() if active.exists() else []
        if lines:
            return int(lines[0])
        time.sleep(0.05)
    raise AssertionError(f"Chromium gave no DevTools port (exit code {process.poll()})")


class DevTools:
    """A minimal client of the DevTools protocol: JSON messages over a websocket."""

    def __init__(self, sock: socket.socket) -> None:
        self._sock = sock
        self._reader = sock.makefile("rb")
        self._last_id = 0
        self.events: list[dict[str, Any]] = []

    @classmethod
    def connect(cls, port: int) -> DevTools:
        """Open the websocket of Chromium's first page."""
        listing = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        listing.request("GET", "/json/list")
        targets = json.loads(listing.getresponse().read())
        listing.close()
        url = next(t["webSocketDebuggerUrl"] for t in targets if t["type"] == "page")
        path = "/" + url.split("/", 3)[3]
        sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        key = base64.b64encode(os.urandom(16)).decode()
        sock.sendall(
            f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
            "Sec-WebSocket-Version: 13\r\n\r\n".encode()
        )
        devtools = cls(sock)
        status = devtools._reader.readline()
        assert b" 101 " in status, status
        while devtools._reader.readline() not in (b"\r\n", b""):
            pass
        return devtools

    def __enter__(self) -> DevTools:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._reader.close()
        self._sock.close()

    def call(self, method: str, **params: Any) -> dict[str, Any]:
        """Send a command and return its reply; the events that come first are kept."""
        self._last_id += 1
        self._send({"id": self._last_id, "method": method, "params": params})
        return self._until(lambda message: message.get("id") == self._last_id)

    def wait_for(self, event: str) -> None:
        self._until(lambda message: message.get("method") == event)

    def _until(self, wanted: Any) -> dict[str, Any]:
        deadline = time.monotonic() + DEADLINE_S
        while time.monotonic() < deadline:
            message = self._receive()
            if "method" in message:
                self.events.append(message)
            if wanted(message):
                return message
        raise AssertionError(f"DevTools: nothing wanted within {DEADLINE_S} s")

    def _send(self, message: dict[str, Any]) -> None:
        data = json.dumps(message).encode()
        mask = os.urandom(4)
        size = len(data)
        header = bytes([0x81])  # one text frame
        if size < 126:
            header += bytes([0x80 | size])
        else:
            header += bytes([0x80 | 127]) + struct.pack(">Q", size)
        masked = bytes(byte ^ mask[i % 4] for i, byte in enumerate(data))
        self._sock.sendall(header + mask + masked)

    def _receive(self) -> dict[str, Any]:
        """One message: its frames up to the final one (the server does not mask)."""
        data = b""
        final = False
        while not final:
            first, second = self._reader.read(2)
            final = bool(first & 0x80)
            size = second & 0x7F
            if size == 126:
                (size,) = struct.unpack(">H", self._reader.read(2))
            elif size == 127:
                (size,) = struct.unpack(">Q", self._reader.read(8))
            data += self._reader.read(size)
        message: dict[str, Any] = json.loads(data)
        return message


@pytest.fixture
def chromium(tmp_path: Path) -> Chromium:
    if not os.access(CHROMIUM, os.X_OK):
        pytest.fail(
            f"{CHROMIUM} not found: the HTML report tests need headless Chromium; "
            "install the Debian package: apt-get install chromium"
        )
    return Chromium(tmp_path / "chromium")


def test_the_request_recorder_sees_a_page_that_loads_things(
    tmp_path: Path, chromium: Chromium
) -> None:
    page = tmp_path / "loads.html"
    page.write_text(
        '<img src="http://img.invalid/pixel.png">'
        '<div style="background: url(http://img.invalid/bg.png)">x</div>'
    )
    made = chromium.requests_made(page)
    assert made[0] == page.as_uri()
    assert sorted(made[1:]) == ["http://img.invalid/bg.png", "http://img.invalid/pixel.png"]


def check_in_browser(chromium: Chromium, report: Path, cell: tuple[str, str, str]) -> Page:
    """Open ``report``: it renders its tables and three charts, and requests nothing."""
    assert chromium.requests_made(report) == [report.as_uri()]
    dom = chromium.dump_dom(report)
    page = Page(dom)
    assert page.tags["svg"] == 3
    assert {"run", "verdicts", "tasks", "requests", "percentiles"} <= set(page.tables)
    kind, name, count = cell
    assert page.row("requests", kind, name)[2] == count
    assert page.tags["script"] == 0
    return page


def test_chromium_opens_the_report_offline(tmp_path: Path, chromium: Chromium) -> None:
    report = tmp_path / "report.html"
    write_report(known_result(), report)
    page = check_in_browser(chromium, report, ("GET", EVIL, "1"))
    assert page.tags["polyline"] == 6  # rps, failures, p50, p95, p99, users
    assert page.text["status"] == "FAILED: 2 of 5 verdicts failed"


# -- end to end -----------------------------------------------------------------------------

TASKS_MODULE = """
import pytest_loadtest as lt

@lt.task
def test_small(load_client):
    load_client.get("/bytes/10")

@lt.task
def test_broken(load_client):
    load_client.get("/status/500")
"""


def test_load_report_from_a_run(
    pytester: pytest.Pytester, target: LoopbackServer, chromium: Chromium
) -> None:
    pytester.makepyfile(test_load=TASKS_MODULE)
    run = pytester.runpytest_subprocess(
        "--load-users", "2", "--load-duration", "2s", "--load-host", target.base_url,
        "--load-threshold", "p95<10s", "--load-report", "out/report.html",
    )  # fmt: skip
    assert run.ret == pytest.ExitCode.TESTS_FAILED  # test_broken fails by the default rule
    run.stdout.fnmatch_lines(["pytest-loadtest: wrote out/report.html"])
    report = pytester.path / "out" / "report.html"
    served = target.counts()[("GET", "/bytes/10")]
    page = check_in_browser(chromium, report, ("GET", "/bytes/10", f"{served:,}"))
    assert page.row("verdicts", "PASS")[2] == "p95<10s"
    outcomes = {row[1]: row[0] for row in page.tables["tasks"][1:]}
    assert outcomes == {"test_load.py::test_small": "PASS", "test_load.py::test_broken": "FAIL"}
    failed = target.counts()[("GET", "/status/500")]
    url = f"{target.base_url}/status/500"
    assert page.row("failures", f"{failed:,}", "GET")[2:4] == [
        "/status/500",
        f"HTTPError('500 Server Error: Internal Server Error for url: {url}')",
    ]
    png = chromium.screenshot(report, pytester.path / "report.png")
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    assert struct.unpack(">II", png[16:24]) == (1280, 2400)


def test_an_unwritable_report_path_is_a_usage_error(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_plain="def test_plain(): pass")
    (pytester.path / "taken").write_text("a file, not a directory")
    run = pytester.runpytest_subprocess("--load-report", "taken/report.html")
    assert run.ret == pytest.ExitCode.USAGE_ERROR
    run.stderr.fnmatch_lines(
        ["*--load-report: invalid value 'taken/report.html': expected a writable file path*"]
    )
    assert "is not a directory" in run.stderr.str()
