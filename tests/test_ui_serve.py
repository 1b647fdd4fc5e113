"""`qa-bot serve` stops within a few seconds on SIGINT (Ctrl+C) or SIGTERM, even with requests in flight."""

from __future__ import annotations

import http.client
import json
import signal
import socket
import threading
import time
import urllib.request
from pathlib import Path

import pytest

from tests.ui_support import SEED_QUESTION, make_site, require_bundled_reader, start_server

pytestmark = pytest.mark.slow

STOP_LIMIT_S = 6  # the server gives requests in flight 3 s; the rest is slack for a busy machine
IN_FLIGHT = 12


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    require_bundled_reader()
    return make_site(tmp_path_factory.mktemp("ui-serve"))


def ask_over_http(url: str) -> None:
    """One /ask call through Gradio's REST route, reading its event stream until the server goes away."""
    request = urllib.request.Request(
        f"{url}gradio_api/call/ask",
        data=json.dumps({"data": [SEED_QUESTION]}).encode(),
        headers={"Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            event_id = json.loads(response.read())["event_id"]
        with urllib.request.urlopen(f"{url}gradio_api/call/ask/{event_id}", timeout=60) as response:
            response.read()
    except (OSError, http.client.HTTPException):  # the server stopped under it (mid-stream: IncompleteRead)
        pass


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_server_stops_promptly_with_requests_in_flight(site: tuple[Path, Path], signum: int) -> None:
    corpus, index = site
    server, url = start_server(corpus, index)
    try:
        askers = [threading.Thread(target=ask_over_http, args=(url,), daemon=True) for _ in range(IN_FLIGHT)]
        for asker in askers:
            asker.start()
        port = int(url.rsplit(":", 1)[1].strip("/"))
        with socket.create_connection(("127.0.0.1", port)) as idle:  # a client that never finishes its request
            idle.sendall(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n")
            time.sleep(3)  # the questions are queued and being answered
            assert server.poll() is None
            began = time.monotonic()
            server.send_signal(signum)
            try:
                server.wait(timeout=60)
            finally:
                stopped_after = time.monotonic() - began
        assert stopped_after < STOP_LIMIT_S, f"serve took {stopped_after:.1f} s to stop after {signum!r}"
    finally:
        if server.poll() is None:
            server.kill()
            server.wait()
