"""The playground's server side of the first hour."""

from __future__ import annotations

import socket
from pathlib import Path
from urllib.parse import urlsplit

from tests.support.inprocess import STOPPED, post_message, recording, serving_in_process


def test_a_closed_event_stream_ends_quietly(db_path: Path) -> None:
    """As `copbot serve` runs it (aiohttp's test server would cancel the handler instead)."""
    with recording() as records, serving_in_process(db_path) as url:
        address = urlsplit(url).netloc
        host, port = address.split(":")
        with socket.create_connection((host, int(port)), timeout=10) as tab:
            tab.sendall(f"GET /api/playground/events HTTP/1.1\r\nHost: {address}\r\n\r\n".encode())
            received = b""
            while b"data:" not in received:  # open, and waiting for a change
                received += tab.recv(4096)
            assert received.startswith(b"HTTP/1.1 200")
        # The tab is closed. Each change wakes its stream, which finds the page gone.
        for n in range(50):
            post_message(url, f"anyone there? {n}")
            with records.arrived:
                if records.arrived.wait_for(lambda: records.count(STOPPED) or records.loud(), 0.5):
                    break
        assert records.loud() == []
        assert records.count(STOPPED) == 1
