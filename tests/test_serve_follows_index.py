"""End to end: `qa-bot serve` answers through `/ask` from a sync that `qa-bot index` made beside it, within seconds,
and holds no descriptors to the versions that sync deleted."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
from gradio_client import Client

from tests.ui_support import make_site, require_bundled_reader, run_cli, start_server, stop_server

pytestmark = pytest.mark.slow

FERRY = "Ferry timetable\n\nThe ferry to Port Zarin leaves the harbour at seven o'clock every morning.\n"
QUESTION = "When does the ferry to Port Zarin leave?"
FOLLOW_WITHIN_S = 30.0  # the server checks every 2 s; the rest is slack for a busy 2-core machine


def cites_the_ferry(client: Client) -> bool:
    response = client.predict(QUESTION, api_name="/ask")
    return any(c["title"] == "Ferry timetable" for a in response["answers"] for c in a["citations"])


def wait_for(condition, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(1)
    return condition()


def deleted_files_held(pid: int, index: Path) -> list[str]:
    held = []
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            target = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:
            continue
        if target.startswith(str(index.resolve())) and target.endswith(" (deleted)"):
            held.append(target)
    return held


@pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="needs /proc to read the server's descriptors")
def test_a_running_server_answers_from_a_sync_made_by_the_cli(tmp_path: Path) -> None:
    require_bundled_reader()
    corpus, index = make_site(tmp_path)
    server, url = start_server(corpus, index)
    try:
        client = Client(url, verbose=False)
        assert not cites_the_ferry(client)

        (corpus / "ferry.txt").write_text(FERRY, encoding="utf-8")
        run_cli("index", corpus, "--index-dir", index, cwd=tmp_path)
        assert wait_for(lambda: cites_the_ferry(client), FOLLOW_WITHIN_S)

        (corpus / "ferry.txt").unlink()  # this sync deletes the version the server started with
        run_cli("index", corpus, "--index-dir", index, cwd=tmp_path)
        assert wait_for(lambda: not cites_the_ferry(client), FOLLOW_WITHIN_S)
        assert wait_for(lambda: not deleted_files_held(server.pid, index), 10), deleted_files_held(server.pid, index)
    finally:
        stop_server(server)
