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

# A doubtful case (several dates in one article, like "When was Harvard founded?") and two reports of one event
# that disagree: the support view and "Articles differ" are checked on them.
HARVARD_QUESTION = "When was Harvard founded?"
HARVARD_ARTICLE = (
    "Harvard University\n\n"
    "Harvard University is a private research university in Cambridge, Massachusetts, United States. It was founded"
    " in 1636 as Harvard College by a vote of the Great and General Court of the Massachusetts Bay Colony, and it is"
    " the oldest institution of higher learning in the country.\n\n"
    "The college was named in 1639 for its first benefactor, the young clergyman John Harvard, who left the school"
    " his library of about 400 books and half of his estate when he died in 1638. The first classes met in a single"
    " wooden house in Newtowne, a village that was renamed Cambridge in 1638.\n\n"
    "For its first two centuries the college trained mainly Congregational ministers. Charles William Eliot,"
    " president from 1869 to 1909, turned it into a modern research university. In 1900 Harvard became one of the"
    " founding members of the Association of American Universities, together with thirteen other universities.\n\n"
    "Radcliffe College, established in 1879 as a school for women, was fully merged into Harvard in 1999. Today the"
    " university has about 21,000 students and an endowment of more than 50 billion dollars, the largest of any"
    " university in the world.\n"
)
FERRY_QUESTION = "How many passengers were injured in the Skarvik ferry fire?"
FERRY_REPORTS = (
    {
        "title": "Ferry fire off Skarvik: twelve passengers hurt",
        "date": "2026-03-01",
        "source": "Coast Herald",
        "text": "Ferry fire off Skarvik: twelve passengers hurt\n\nA fire broke out in the engine room of the ferry"
        " Nordlys off Skarvik on Saturday evening. Twelve passengers were injured in the Skarvik ferry fire, the"
        " harbour police said. The ferry was towed back to port by two tugboats.",
    },
    {
        "title": "Skarvik ferry fire: injured count revised",
        "date": "2026-03-03",
        "source": "Island Daily",
        "text": "Skarvik ferry fire: injured count revised\n\nThe harbour police revised their figures on Monday."
        " Nineteen passengers were injured in the Skarvik ferry fire, most of them by smoke. Investigators are"
        " still looking into the cause of the fire in the engine room.",
    },
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
    """A corpus with the seed article, an article full of injection attempts, the Harvard article and the two
    ferry reports, indexed by the CLI."""
    corpus, index = root / "corpus", root / "index"
    corpus.mkdir()
    shutil.copy(SEED_ARTICLE, corpus / SEED_ARTICLE.name)
    (corpus / "harbour-notes.txt").write_text(INJECTED_ARTICLE, encoding="utf-8")
    (corpus / "harvard.txt").write_text(HARVARD_ARTICLE, encoding="utf-8")
    reports = "".join(json.dumps(report) + "\n" for report in FERRY_REPORTS)
    (corpus / "ferry-fire.jsonl").write_text(reports, encoding="utf-8")
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
