"""Loopback HTTP servers for the link checker's tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from linkserver import LinkServer


@pytest.fixture
def server() -> Iterator[LinkServer]:
    with LinkServer() as s:
        yield s


@pytest.fixture
def other() -> Iterator[LinkServer]:
    """A second server, standing in for another host."""
    with LinkServer() as s:
        yield s
