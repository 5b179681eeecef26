"""What only the requests client does, against a real loopback server.

The behaviours both clients share (what a request reports, the failure rule, transport
errors, redirects, cookies, ``catch_response``) are checked on both in
``test_fastclient.py``; this file keeps what comes from :class:`LoadClient` being a
:class:`requests.Session`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
from servers import LoopbackServer, RecordingListener

from pytest_loadtest.client import LoadClient, ResponseContextManager

if TYPE_CHECKING:
    from collections.abc import Iterator


@pytest.fixture
def recorder() -> RecordingListener:
    return RecordingListener()


@pytest.fixture
def client(server: LoopbackServer, recorder: RecordingListener) -> Iterator[LoadClient]:
    with LoadClient(server.base_url, recorder.events()) as client:
        yield client


def test_a_streamed_body_counts_its_content_length(
    client: LoadClient, recorder: RecordingListener
) -> None:
    with client.get("/bytes/300", stream=True) as response:
        # Recorded before the body is read: the length is what the headers announce.
        assert response.raw.tell() == 0
        assert [record.response_length for record in recorder.records] == [300]
        assert len(response.content) == 300


@pytest.mark.parametrize("method", ["get", "post", "put", "patch", "delete", "head", "options"])
def test_the_inherited_verbs_take_the_client_keywords(
    client: LoadClient, recorder: RecordingListener, method: str
) -> None:
    manager = getattr(client, method)(
        "/status/500", catch_response=True, name="verb", context={"v": 1}
    )

    assert isinstance(manager, ResponseContextManager)
    with manager as response:
        response.success()
    assert [(r.request_type, r.name, r.error) for r in recorder.records] == [
        (method.upper(), "verb", None)
    ]
    assert [hooked["context"] for hooked in recorder.hooked] == [{"v": 1}]
