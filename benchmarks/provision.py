"""Installs what the benchmarks need: Debian's nginx and wrk, and Locust in a venv of its own.

Locust gets its own venv because it ships a pytest plugin that would load into every pytest
run of the project's venv. The venv lives in a cache directory that ignores itself in git.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
CACHE = HERE / ".cache"
LOCUST_VENV = CACHE / "locust-venv"

#: Debian package -> the program it provides.
APT_PACKAGES = {"nginx-light": "nginx", "wrk": "wrk"}


class ProvisionError(RuntimeError):
    """A tool could not be installed; the message says what to do."""


def _run(command: list[str], what: str, env: dict[str, str] | None = None) -> None:
    result = subprocess.run(command, capture_output=True, text=True, env=env, check=False)
    if result.returncode != 0:
        tail = "\n".join((result.stdout + result.stderr).strip().splitlines()[-15:])
        raise ProvisionError(f"{what} failed ({' '.join(command)}):\n{tail}")


def program(name: str) -> str | None:
    """The path of ``name`` on PATH or in the sbin directories (nginx lives in /usr/sbin)."""
    return shutil.which(name) or shutil.which(name, path="/usr/sbin:/sbin")


def ensure_apt_packages() -> None:
    """apt-get install the missing Debian packages (after one ``apt-get update``)."""
    missing = [package for package, binary in APT_PACKAGES.items() if program(binary) is None]
    if not missing:
        return
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        raise ProvisionError(
            f"{', '.join(missing)} missing: install them with "
            f"`apt-get install {' '.join(missing)}` (as root) and run again"
        )
    print(f"installing {', '.join(missing)} with apt-get ...", flush=True)
    _run(["apt-get", "update", "-q"], "apt-get update")
    _run(
        ["apt-get", "install", "-y", "-q", "--no-install-recommends", *missing],
        "apt-get install",
        env=dict(os.environ, DEBIAN_FRONTEND="noninteractive"),
    )


def ensure_cache() -> Path:
    """The cache directory, created with a ``.gitignore`` that ignores all of it."""
    CACHE.mkdir(exist_ok=True)
    ignore = CACHE / ".gitignore"
    if not ignore.exists():
        ignore.write_text("# Created by benchmarks/run.py: the Locust venv and run files.\n*\n")
    return CACHE


def ensure_locust() -> Path:
    """The ``locust`` program of the cache venv, created and pip-installed if missing."""
    locust = LOCUST_VENV / "bin" / "locust"
    if locust.exists():
        return locust
    ensure_cache()
    print("creating a venv for Locust and installing it with pip ...", flush=True)
    shutil.rmtree(LOCUST_VENV, ignore_errors=True)  # a half-made venv from an interrupted run
    _run([sys.executable, "-m", "venv", str(LOCUST_VENV)], "creating the Locust venv")
    _run([str(LOCUST_VENV / "bin" / "pip"), "install", "-q", "locust"], "pip install locust")
    return locust


def ensure_geventhttpclient(python: str) -> None:
    """pip-install geventhttpclient (the ``fast`` extra) for ``python`` if it is missing."""
    probe = subprocess.run([python, "-c", "import geventhttpclient"], capture_output=True)
    if probe.returncode == 0:
        return
    print("installing geventhttpclient into the project's environment ...", flush=True)
    _run([python, "-m", "pip", "install", "-q", "geventhttpclient>=2.3.8"], "pip install")
