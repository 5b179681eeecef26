"""The floor under every generator: N greenlets requesting one URL with no wait and no stats.

``python bare_loop.py requests|ghc URL USERS SECONDS`` prints one JSON object:
``{"requests": ..., "failures": ..., "elapsed_s": ...}``.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable

#: A function that sends one request and says whether it succeeded.
Send = Callable[[], bool]


def _requests_sender(url: str) -> Send:
    import requests

    session = requests.Session()
    session.trust_env = False  # as Locust's HttpUser and the plugin's client do

    def send() -> bool:
        response = session.get(url)
        return response.status_code == 200 and response.content == b"ok\n"

    return send


def _ghc_sender(url: str) -> Send:
    from geventhttpclient import HTTPClient
    from geventhttpclient.url import URL

    parsed = URL(url)
    client = HTTPClient.from_url(parsed, concurrency=1)
    path = parsed.request_uri

    def send() -> bool:
        response = client.get(path)
        return bool(response.status_code == 200 and response.read() == b"ok\n")

    return send


SENDERS: dict[str, Callable[[str], Send]] = {"requests": _requests_sender, "ghc": _ghc_sender}


def _loop(send: Send, deadline: float) -> tuple[int, int]:
    requests = failures = 0
    while time.perf_counter() < deadline:
        requests += 1
        if not send():
            failures += 1
    return requests, failures


def main(argv: list[str]) -> None:
    client, url, users, seconds = argv[0], argv[1], int(argv[2]), float(argv[3])
    from gevent import monkey

    monkey.patch_all()
    import gevent

    senders = [SENDERS[client](url) for _ in range(users)]
    start = time.perf_counter()
    greenlets = [gevent.spawn(_loop, send, start + seconds) for send in senders]
    gevent.joinall(greenlets, raise_error=True)
    elapsed = time.perf_counter() - start
    counts = [greenlet.value for greenlet in greenlets]
    result = {
        "requests": sum(requests for requests, _ in counts),
        "failures": sum(failures for _, failures in counts),
        "elapsed_s": elapsed,
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main(sys.argv[1:])
