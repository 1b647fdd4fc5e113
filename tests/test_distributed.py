"""`qa-bot index --dask`: embedding on a real Dask cluster on loopback gives the same index as a local sync."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from qa_bot.cli import main
from qa_bot.index import VECTORS, OpenIndex
from qa_bot.retrieval import HybridRetriever
from tests.test_index import ARTICLES, QUESTIONS, index_settings, live_version_dir, minilm, write_corpus

pytestmark = pytest.mark.slow

MORE_ARTICLES = {  # enough passages for several batches per worker
    f"town{n}.txt": f"Town {n}\n\n"
    + " ".join(f"In {1900 + k} the council of Town {n} built road number {k} to the river." for k in range(24))
    for n in range(6)
}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_for_workers(address: str, count: int, timeout_s: float = 180) -> None:
    from distributed import Client

    with Client(address, timeout=30) as client:
        client.wait_for_workers(count, timeout=timeout_s)


@pytest.fixture(scope="module")
def scheduler() -> Iterator[str]:
    """A `dask scheduler` and two `dask worker` processes on 127.0.0.1, stopped by PID afterwards."""
    port = free_port()
    address = f"tcp://127.0.0.1:{port}"
    common = [sys.executable, "-m"]
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1]), "HF_HUB_OFFLINE": "1"}
    processes = [
        subprocess.Popen(
            [*common, "distributed.cli.dask_scheduler", "--host", "127.0.0.1", "--port", str(port), "--no-dashboard"],
            env=env,
        )
    ]
    try:
        time.sleep(2)
        for _ in range(2):
            processes.append(
                subprocess.Popen(
                    [*common, "distributed.cli.dask_worker", address, "--host", "127.0.0.1", "--nthreads", "1"]
                    + ["--no-dashboard", "--no-nanny"],
                    env=env,
                )
            )
        wait_for_workers(address, 2)
        yield address
    finally:
        for process in reversed(processes):
            process.terminate()
        for process in processes:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()


def test_dask_index_equals_the_local_index(scheduler: str, tmp_path: Path, monkeypatch, capsys) -> None:
    settings = index_settings(embedder_backend="torch")
    monkeypatch.setenv("QA_BOT_READER", settings.reader)
    monkeypatch.setenv("QA_BOT_PASSAGE_TOKENS", str(settings.passage_tokens))
    monkeypatch.setenv("QA_BOT_EMBEDDER_BACKEND", "torch")
    corpus = write_corpus(tmp_path / "corpus", {**ARTICLES, **MORE_ARTICLES})
    assert main(["index", str(corpus), "--index-dir", str(tmp_path / "local")]) == 0
    assert main(["index", str(corpus), "--index-dir", str(tmp_path / "dask"), "--dask", scheduler]) == 0
    assert "error" not in capsys.readouterr().err

    local, distributed = OpenIndex.load(tmp_path / "local"), OpenIndex.load(tmp_path / "dask", minilm().identity())
    rows = list(range(local.passage_count))
    assert local.passage_count > 40
    assert local.passages(rows) == distributed.passages(rows)
    local_vectors = np.load(live_version_dir(tmp_path / "local") / VECTORS)
    dask_vectors = np.load(live_version_dir(tmp_path / "dask") / VECTORS)
    assert np.allclose(local_vectors, dask_vectors, atol=1e-4)
    for question in QUESTIONS:
        assert [r.passage for r in HybridRetriever(local, minilm(), settings).retrieve(question, 5)] == [
            r.passage for r in HybridRetriever(distributed, minilm(), settings).retrieve(question, 5)
        ]


def test_an_unreachable_scheduler_is_one_line(tmp_path: Path, monkeypatch, capsys) -> None:
    monkeypatch.setenv("QA_BOT_READER", index_settings().reader)
    corpus = write_corpus(tmp_path / "corpus", ARTICLES)
    address = f"tcp://127.0.0.1:{free_port()}"
    monkeypatch.setattr("qa_bot.distributed.CONNECT_TIMEOUT_S", 2)
    assert main(["index", str(corpus), "--index-dir", str(tmp_path / "index"), "--dask", address]) == 1
    error = capsys.readouterr().err.strip()
    assert error.startswith(f"error: cannot reach the Dask scheduler at {address}") and "\n" not in error
    assert not (tmp_path / "index" / "CURRENT").exists()


def test_local_cluster_on_loopback(tmp_path: Path, monkeypatch, capsys) -> None:
    monkeypatch.setenv("QA_BOT_READER", index_settings().reader)
    monkeypatch.setenv("QA_BOT_EMBEDDER_BACKEND", "torch")
    monkeypatch.setenv("QA_BOT_THREADS", "1")
    corpus = write_corpus(tmp_path / "corpus", ARTICLES)
    assert main(["index", str(corpus), "--index-dir", str(tmp_path / "index"), "--dask", "local"]) == 0
    assert "3 added" in capsys.readouterr().out
    assert OpenIndex.load(tmp_path / "index", minilm().identity()).passage_count >= len(ARTICLES)
