"""Load test: N concurrent askers through the HTTP API of `qa-bot serve`, over an index of corpus/.

python bench/bench_load.py [--concurrency 4] [--questions 1000] [--duration 900] [--rss-every 30] [--quick]
python bench/bench_load.py --soak     # 8 askers for 10 minutes, however many questions that is

Every other question is made of 1 to 60 words of the seed article, so questions come in many token lengths as
real ones do (a model that keeps memory per input shape shows up as growth). Runs until --questions answers are
in or --duration seconds have passed, whichever comes first, and
reports throughput, latency p50/p95 (client side: HTTP, queueing and answering), errors, and the
server's resident memory: after the warm-up, every --rss-every seconds (the curve), at the end, its
peak, and whether it levels off (it grew by at most LEVEL_SHARE over the run's second half).
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
SEED_WORDS = (CORPUS_DIR / "kurdistan24-coalition-spokesman-peshmerga.txt").read_text(encoding="utf-8").split()
MIB = 2**20
SOAK = {"concurrency": 8, "duration": 600.0, "questions": 10**9, "rss_every": 60.0}
LEVEL_SHARE = 0.02  # RSS growth over the second half of a run, as a share of its RSS then, that counts as level
RSS_GOAL_MIB = 1536  # the README's 1.5 GiB for a serving process


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
        if number % 2 == 0:
            return QUESTIONS[number // 2 % len(QUESTIONS)]
        first, length = number * 7 % len(SEED_WORDS), 1 + number // 2 % 60
        return "What does the article say about " + " ".join(SEED_WORDS[first : first + length]) + "?"

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


def second_half_growth(curve: list[tuple[float, int]], start: int, end: int, seconds: float) -> tuple[int, int]:
    """(RSS growth over the run's second half, RSS at its middle) in bytes, from the curve and the run's ends."""
    points = [(0.0, start), *curve, (seconds, end)]
    middle = min(points, key=lambda point: abs(point[0] - seconds / 2))[1]
    return end - middle, middle


def rss_figures(sampler: PeakSampler, before: int, after: int, seconds: float, asked: int) -> list[Figure]:
    growth, middle = second_half_growth(sampler.curve, before, after, seconds)
    level = growth <= LEVEL_SHARE * middle
    points = ", ".join(f"{at:.0f} s: {rss / MIB:,.0f}" for at, rss in sampler.curve)
    return [
        Figure("server RSS after warm-up", before / MIB, "MiB"),
        Figure("server RSS after the run", after / MIB, "MiB"),
        Figure("server RSS growth over the run", (after - before) / MIB, "MiB", note=f"{asked} questions"),
        Figure(
            "server RSS growth over the second half of the run",
            growth / MIB,
            "MiB",
            note=("levels off" if level else "still growing") + f": level is at most {LEVEL_SHARE:.0%} of "
            f"{middle / MIB:,.0f} MiB",
        ),
        Figure(
            f"server RSS every {sampler.curve_every_s:g} s, last sample",
            (sampler.curve[-1][1] if sampler.curve else after) / MIB,
            "MiB",
            note=points or "no sample: the run was shorter than --rss-every",
        ),
        Figure("server peak RSS during the run", max(sampler.peak, after) / MIB, "MiB", target=f"<= {RSS_GOAL_MIB}"),
    ]


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
            "--rss-every": {"type": float, "default": 30.0, "help": "seconds between RSS samples (default 30)"},
            "--soak": {"action": "store_true", "help": "8 askers for 10 minutes, RSS every 60 s: does it level off?"},
        },
    )
    if args.soak:
        vars(args).update(SOAK)
    settings = bench_settings(args)
    workdir = args.workdir / ("load-quick" if args.quick else "load")
    workdir.mkdir(parents=True, exist_ok=True)
    sync_index(CORPUS_DIR, workdir / "index", settings, progress=False)
    with serve_process(workdir / "index", CORPUS_DIR, settings, workdir) as (server, url, log_path):
        wait_until_serving(url, server, log_path)
        warm_up(url)
        process = psutil.Process(server.pid)
        rss_before = tree_rss(process)
        with PeakSampler(process, curve_every_s=args.rss_every) as sampler:
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
        *rss_figures(sampler, rss_before, rss_after, elapsed.seconds, asked),
    ]
    report(f"Load through the HTTP API (server log: {log_path})", figures, args)


if __name__ == "__main__":
    main_guard(main)
