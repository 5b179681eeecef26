"""Exceptions that users of pytest-loadtest may see or catch."""

from __future__ import annotations


class MissingHostError(ValueError):
    """A relative URL was requested but no host is set for it.

    Raised by the clients. In load mode it stops the run with a usage error (exit 4).
    """

    def __init__(self, url: str) -> None:
        super().__init__(
            f"--load-host: the relative URL {url!r} needs a host: give --load-host URL "
            "(ini load_host, e.g. http://127.0.0.1:8080) or lt.user(host=...)"
        )
        self.url = url
