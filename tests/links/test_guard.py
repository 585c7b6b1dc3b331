"""Address safety: private, loopback and link-local addresses are refused, also on the connected socket."""

from __future__ import annotations

import pytest
import requests

from links.helpers import check
from llm_path.links.guard import Adapter, UnsafeAddressError


def test_private_address_refused_without_allow_private(server):
    """Loopback is refused before any connection unless allow_private is set."""
    result = check(server.add("/ok"), allow_private=False)
    assert result.status == "refused"
    assert "--allow-private" in result.detail
    assert server.hits["/ok"] == 0


def test_connection_guard_refuses_private_peer(server):
    """The connected socket is checked too, so a changed DNS answer cannot reach loopback."""
    adapter = Adapter(True, max_retries=0)
    request = requests.Request("HEAD", server.add("/ok")).prepare()
    with pytest.raises(UnsafeAddressError):
        adapter.send(request, timeout=(1, 1))
    adapter.close()
    assert server.hits["/ok"] == 0
