"""The benchmark target: nginx on a free loopback port, pinned to one CPU."""

from __future__ import annotations

import contextlib
import socket
import string
import subprocess
import time
from typing import TYPE_CHECKING

from provision import program

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

TEMPLATE = "nginx.conf.template"


def free_port() -> int:
    """A port that was free a moment ago (nginx binds it right after)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _wait_until_listening(port: int, process: subprocess.Popen[bytes], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"nginx exited with {process.returncode} at start")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
            return
        time.sleep(0.05)
    raise RuntimeError(f"nginx did not listen on 127.0.0.1:{port} within {timeout} s")


@contextlib.contextmanager
def nginx(prefix: Path, cpu: int, template_dir: Path) -> Iterator[str]:
    """Run nginx (master and one worker) on ``cpu``; yields its base URL; stops it after."""
    binary = program("nginx")
    if binary is None:
        raise RuntimeError("nginx is not installed")
    prefix.mkdir(parents=True, exist_ok=True)
    port = free_port()
    template = string.Template((template_dir / TEMPLATE).read_text())
    config = prefix / "nginx.conf"
    config.write_text(template.substitute(prefix=prefix, port=port))
    log = (prefix / "stderr.log").open("wb")
    process = subprocess.Popen(
        ["taskset", "-c", str(cpu), binary, "-p", str(prefix), "-c", str(config)],
        stdout=log,
        stderr=log,
    )
    try:
        _wait_until_listening(port, process, timeout=10)
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()  # SIGTERM: nginx's fast shutdown, the worker goes with it
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()
