"""Shared by the UI end-to-end tests: a corpus, an index built by the CLI, and `qa-bot serve` running."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.conftest import BUNDLED_READER_MISSING, bundled_reader_available

REPO = Path(__file__).resolve().parents[1]
SEED_ARTICLE = REPO / "corpus" / "kurdistan24-coalition-spokesman-peshmerga.txt"
SEED_QUESTION = "Which bases has the Coalition consolidated its presence in?"
SEED_ANSWERS = ("Erbil", "Camp Taji")  # the seed article's answer to SEED_QUESTION (a list question)
SEED_SENTENCE = "by consolidating its presence in a few large bases"

SCRIPT_PAYLOAD = "<script>window.__pwned=1</script>"
IMAGE_PAYLOAD = '<img src=x onerror="window.__pwned=1">'
MARKDOWN_PAYLOAD = "[click me](http://example.invalid/) ![pixel](http://example.invalid/pixel.png)"
INJECTED_TITLE = f"Harbour notes {SCRIPT_PAYLOAD}"
INJECTED_ARTICLE = (
    f"{INJECTED_TITLE}\n\n"
    f"The harbour inspector of Port Zarin wrote {SCRIPT_PAYLOAD} and {IMAGE_PAYLOAD} and {MARKDOWN_PAYLOAD} "
    "on the crate labels.\n"
)

SERVER_START_LIMIT_S = 900  # loading torch and both models on a busy 2-core machine


def require_bundled_reader() -> None:
    """The UI end-to-end tests assert real answers, so they need the trained reader."""
    if not bundled_reader_available():
        pytest.skip(BUNDLED_READER_MISSING)


def child_env() -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        HF_HUB_OFFLINE="1",
        TRANSFORMERS_OFFLINE="1",
        GRADIO_ANALYTICS_ENABLED="False",
        OMP_NUM_THREADS="1",
        PYTHONPATH=os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")])),
    )
    return env


def run_cli(*args: str | Path, cwd: Path) -> subprocess.CompletedProcess:
    result = subprocess.run(
        [sys.executable, "-m", "qa_bot.cli", *map(str, args)],
        cwd=cwd,
        env=child_env(),
        capture_output=True,
        text=True,
        check=False,  # the assertion below shows the CLI's own error
    )
    assert result.returncode == 0, f"qa-bot {' '.join(map(str, args))} failed:\n{result.stderr[-3000:]}"
    return result


def make_site(root: Path) -> tuple[Path, Path]:
    """A corpus with the seed article and an article full of injection attempts, indexed by the CLI."""
    corpus, index = root / "corpus", root / "index"
    corpus.mkdir()
    shutil.copy(SEED_ARTICLE, corpus / SEED_ARTICLE.name)
    (corpus / "harbour-notes.txt").write_text(INJECTED_ARTICLE, encoding="utf-8")
    run_cli("index", corpus, "--index-dir", index, cwd=root)
    return corpus, index


def ask_json(question: str, index: Path) -> dict:
    return json.loads(run_cli("ask", question, "--json", "--index-dir", index, cwd=index.parent).stdout)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start_server(corpus: Path, index: Path) -> tuple[subprocess.Popen, str]:
    """`qa-bot serve` on a free local port, once it answers; returns the process and its URL."""
    port = free_port()
    url = f"http://127.0.0.1:{port}/"
    log_path = index.parent / "serve.log"
    with log_path.open("w") as log:
        server = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "qa_bot.cli",
                "serve",
                "--index-dir",
                str(index),
                "--corpus-dir",
                str(corpus),
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
            ],
            cwd=index.parent,
            env=child_env(),
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    deadline = time.monotonic() + SERVER_START_LIMIT_S
    while not _answers(url):
        if server.poll() is not None or time.monotonic() > deadline:
            stop_server(server)
            pytest.fail(f"qa-bot serve did not come up at {url}:\n{log_path.read_text()[-3000:]}")
        time.sleep(1)
    return server, url


def stop_server(server: subprocess.Popen) -> None:
    server.terminate()
    try:
        server.wait(timeout=30)
    except subprocess.TimeoutExpired:
        server.kill()
        server.wait()


@contextmanager
def running_server(corpus: Path, index: Path) -> Iterator[str]:
    """`qa-bot serve` on a free local port; yields its URL and stops it afterwards."""
    server, url = start_server(corpus, index)
    try:
        yield url
    finally:
        stop_server(server)


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status == 200
    except (urllib.error.URLError, OSError):
        return False
