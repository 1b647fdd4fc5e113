"""Peak memory (RSS) of `qa-bot serve` with the SQuAD index loaded, after answering one question over HTTP.

python bench/bench_serve.py [--quick]
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Self

import psutil
from _common import (
    REPO_ROOT,
    Figure,
    Timer,
    bench_settings,
    ensure_index,
    heldout_questions,
    index_paths,
    main_guard,
    parse_args,
    report,
)

from qa_bot.errors import QABotError
from qa_bot.settings import Settings

STARTUP_TIMEOUT_S = 600  # loading two models on a busy 2-core machine can take a while


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def tree_memory(process: psutil.Process) -> tuple[int, int]:
    """Resident memory of the server and any children it started, and the part of it not backed by a file (RSS
    less shared pages: the heap, which the kernel cannot page out without swap, unlike mapped files)."""
    resident = anonymous = 0
    for member in [process, *process.children(recursive=True)]:
        try:
            memory = member.memory_info()
        except psutil.NoSuchProcess:
            continue
        resident += memory.rss
        anonymous += memory.rss - memory.shared
    return resident, anonymous


def tree_rss(process: psutil.Process) -> int:
    return tree_memory(process)[0]


def kernel_peak_rss(pid: int) -> int:
    """The kernel's high-water mark (VmHWM) of one process, 0 where /proc does not report it."""
    try:
        status = Path(f"/proc/{pid}/status").read_text(encoding="ascii")
    except OSError:
        return 0
    line = next((line for line in status.splitlines() if line.startswith("VmHWM:")), "")
    return int(line.split()[1]) * 1024 if line else 0


class PeakSampler(threading.Thread):
    """Samples a process's RSS (and its anonymous part) every 50 ms, so peaks between reads of the high-water mark
    are caught too; it samples while its ``with`` block runs. With ``curve_every_s`` it also keeps the RSS every
    that many seconds in ``curve``, as (seconds since the start, bytes)."""

    def __init__(self, process: psutil.Process, curve_every_s: float | None = None) -> None:
        super().__init__(daemon=True)
        self.process = process
        self.peak = self.peak_anonymous = 0
        self.curve_every_s = curve_every_s
        self.curve: list[tuple[float, int]] = []
        self.stopped = threading.Event()

    def run(self) -> None:
        began = time.monotonic()
        while not self.stopped.wait(0.05):
            try:
                resident, anonymous = tree_memory(self.process)
            except psutil.NoSuchProcess:
                return
            self.peak, self.peak_anonymous = max(self.peak, resident), max(self.peak_anonymous, anonymous)
            since = time.monotonic() - began
            if self.curve_every_s and since >= self.curve_every_s * (len(self.curve) + 1):
                self.curve.append((since, resident))

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self.stopped.set()
        self.join()


def wait_until_serving(url: str, server: subprocess.Popen, log_path: Path) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    while time.monotonic() < deadline:
        if server.poll() is not None:
            tail = log_path.read_text(encoding="utf-8", errors="replace")[-2000:]
            raise QABotError(f"qa-bot serve exited with code {server.returncode} before serving; log tail: {tail!r}")
        try:
            with urllib.request.urlopen(url, timeout=5):
                return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            time.sleep(0.5)
    raise QABotError(f"qa-bot serve did not answer on {url} within {STARTUP_TIMEOUT_S} s; see {log_path}")


@contextmanager
def serve_process(
    index_dir: Path, corpus_dir: Path, settings: Settings, workdir: Path
) -> Iterator[tuple[subprocess.Popen, str, Path]]:
    """`qa-bot serve` on a free 127.0.0.1 port: (process, URL, log path), stopped on exit.

    It yields as soon as the process starts; ``wait_until_serving`` waits for it to answer.
    """
    port = free_port()
    env = {
        **os.environ,
        "HF_HUB_OFFLINE": "1",
        "QA_BOT_READER": settings.reader,
        "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO_ROOT), os.environ.get("PYTHONPATH")])),
    }
    command = [sys.executable, "-m", "qa_bot.cli", "serve", "--index-dir", str(index_dir)]
    command += ["--corpus-dir", str(corpus_dir), "--host", "127.0.0.1", "--port", str(port)]
    log_path = workdir / "serve.log"
    with log_path.open("w", encoding="utf-8") as log:
        server = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env, cwd=workdir)
    try:
        yield server, f"http://127.0.0.1:{port}/", log_path
    finally:
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


@dataclass
class ServeFigures:
    startup_s: float  # process start until the page answers over HTTP
    first_answer_ms: float  # one question through the HTTP API, right after start-up
    peak_rss: int  # bytes, the server and its children


def measure_serve(index_dir: Path, corpus_dir: Path, settings: Settings, workdir: Path, question: str) -> ServeFigures:
    """Start `qa-bot serve` on the index, wait until it answers, ask one question; its start-up and memory."""
    with (
        serve_process(index_dir, corpus_dir, settings, workdir) as (server, url, log_path),
        PeakSampler(psutil.Process(server.pid)) as sampler,
    ):
        with Timer() as startup:
            wait_until_serving(url, server, log_path)
        from gradio_client import Client

        client = Client(url, verbose=False)
        with Timer() as first_answer:
            client.predict(question, api_name="/ask")
        time.sleep(0.2)  # one more sample after the answer
        peak = max(sampler.peak, kernel_peak_rss(server.pid))
    return ServeFigures(startup.seconds, first_answer.ms, peak)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(__doc__.splitlines()[0], argv)
    settings = bench_settings(args)
    index_dir, _, _ = ensure_index(args, settings)
    corpus_dir, _ = index_paths(args)
    question = heldout_questions(args, 1)[0].question
    served = measure_serve(index_dir, corpus_dir, settings, args.workdir, question)
    figures = [
        Figure("qa-bot serve peak RSS (index loaded, 1 question)", served.peak_rss / 2**30, "GiB", "<= 1.5"),
        Figure("qa-bot serve startup until HTTP answers", served.startup_s, "s", readme=False),
        Figure("first question through the HTTP API", served.first_answer_ms, "ms", readme=False),
    ]
    report("Server memory", figures, args)


if __name__ == "__main__":
    main_guard(main)
