"""The test servers' port: free when asked for, never a fixed one (leadmill.core.tests.servers)."""

import socket

import pytest

from .servers import free_port

pytestmark = pytest.mark.django_db  # the shared fixtures clear caches held in the database


def test_a_free_port_can_be_listened_on():
    port = free_port()

    with socket.socket() as server:
        server.bind(("127.0.0.1", port))
        server.listen()


def test_a_port_of_the_range_in_use_is_skipped(monkeypatch):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        monkeypatch.setenv("LEADMILL_TEST_PORTS", f"{port}-{port}")

        with pytest.raises(
            RuntimeError, match=f"no free port in LEADMILL_TEST_PORTS={port}-{port}"
        ):
            free_port()
