"""Load test: N concurrent askers through the HTTP API of `qa-bot serve`, over an index of corpus/.

python bench/bench_load.py [--concurrency 4] [--questions 1000] [--duration 900] [--quick]

Runs until --questions answers are in or --duration seconds have passed, whichever comes first, and
reports throughput, latency p50/p95 (client side: HTTP, queueing and answering), errors, and how the
server's resident memory grew between the warm-up and the end of the run.
"""

from __future__ import annotations

import itertools
import threading
import time
from dataclasses import dataclass, field

import numpy as np
import psutil
from _common import REPO_ROOT, Figure, Timer, bench_settings, main_guard, parse_args, report
from bench_serve import PeakSampler, serve_process, tree_rss, wait_until_serving

from qa_bot.index import sync_index

CORPUS_DIR = REPO_ROOT / "corpus"
# About the bundled seed article, plus one it cannot answer: the mix a user of the quick start sends.
QUESTIONS = [
    "Which bases host Coalition troops?",
    "Who is the Coalition spokesman?",
    "How many brigades got new uniforms?",
    "Which country provided the airstrike?",
    "What do the Coalition forces do with the Peshmerga?",
    "What is the capital of Australia?",
]
MIB = 2**20


@dataclass
class LoadRun:
    """Shared by the asker threads: hands out question numbers and collects the outcomes."""

    total: int
    deadline: float
    latencies_ms: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    _numbers: itertools.count = field(default_factory=itertools.count)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def next_question(self) -> str | None:
        with self._lock:
            number = next(self._numbers)
        if number >= self.total or time.monotonic() >= self.deadline:
            return None
        return QUESTIONS[number % len(QUESTIONS)]

    def record(self, latency_ms: float, error: str | None) -> None:
        with self._lock:
            if error is None:
                self.latencies_ms.append(latency_ms)
            else:
                self.errors.append(error)


def asker(url: str, run: LoadRun) -> None:
    from gradio_client import Client

    client = Client(url, verbose=False)
    while (question := run.next_question()) is not None:
        began = time.perf_counter()
        try:
            response = client.predict(question, api_name="/ask")
            error = None if isinstance(response, dict) and "answers" in response else f"bad response {response!r}"
        except Exception as failure:  # noqa: BLE001 - whatever a user would see counts as an error; the run goes on
            error = f"{type(failure).__name__}: {str(failure).splitlines()[0] if str(failure) else ''}"
        run.record((time.perf_counter() - began) * 1000, error)


def warm_up(url: str) -> None:
    """One answered question, so model and allocator warm-up is not counted as growth."""
    from gradio_client import Client

    Client(url, verbose=False).predict(QUESTIONS[0], api_name="/ask")


def main(argv: list[str] | None = None) -> None:
    args = parse_args(
        __doc__.splitlines()[0],
        argv,
        **{
            "--concurrency": {"type": int, "default": 4, "help": "askers at once (default 4)"},
            "--questions": {"type": int, "default": 1000, "help": "questions in all (default 1000)"},
            "--duration": {"type": float, "default": 900.0, "help": "stop after this many seconds (default 900)"},
        },
    )
    settings = bench_settings(args)
    workdir = args.workdir / ("load-quick" if args.quick else "load")
    workdir.mkdir(parents=True, exist_ok=True)
    sync_index(CORPUS_DIR, workdir / "index", settings, progress=False)
    with serve_process(workdir / "index", CORPUS_DIR, settings, workdir) as (server, url, log_path):
        wait_until_serving(url, server, log_path)
        warm_up(url)
        process = psutil.Process(server.pid)
        rss_before = tree_rss(process)
        with PeakSampler(process) as sampler:
            run = LoadRun(args.questions, time.monotonic() + args.duration)
            askers = [threading.Thread(target=asker, args=(url, run)) for _ in range(args.concurrency)]
            with Timer() as elapsed:
                for thread in askers:
                    thread.start()
                for thread in askers:
                    thread.join()
            rss_after = tree_rss(process)

    asked = len(run.latencies_ms) + len(run.errors)
    latencies = np.asarray(run.latencies_ms or [np.nan])
    over = f"{asked} questions, {args.concurrency} concurrent askers, {elapsed.seconds:.0f} s"
    figures = [
        Figure("load test throughput", len(run.latencies_ms) / elapsed.seconds, "questions/s", note=over),
        Figure("load test latency p50", float(np.percentile(latencies, 50)), "ms"),
        Figure("load test latency p95", float(np.percentile(latencies, 95)), "ms"),
        Figure("load test errors", len(run.errors), "questions", note=run.errors[0] if run.errors else ""),
        Figure("server RSS after warm-up", rss_before / MIB, "MiB"),
        Figure("server RSS after the run", rss_after / MIB, "MiB"),
        Figure(f"server RSS growth over {asked} questions", (rss_after - rss_before) / MIB, "MiB"),
        Figure("server peak RSS during the run", max(sampler.peak, rss_after) / MIB, "MiB"),
    ]
    report(f"Load through the HTTP API (server log: {log_path})", figures, args)


if __name__ == "__main__":
    main_guard(main)
