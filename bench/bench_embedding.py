"""Embedder backends in one run: torch fp32 (baseline) vs the int8 backends: throughput, retrieval p50, recall@5.

Throughput is measured interleaved (the same chunk of passages through one backend, then the other), so a
machine whose load changes during the run slows both alike. Recall@5 is measured on held-out SQuAD questions
for every pair (index built with backend A, questions embedded with backend B), which is what decides whether
an index may be queried with the other backend.

    python bench/bench_embedding.py [--quick] [--chunk 256] [--articles N] [--questions 1000]
"""

from __future__ import annotations

import numpy as np
from _common import (
    Figure,
    Timer,
    bench_settings,
    heldout_articles,
    limit_threads,
    main_guard,
    parse_args,
    report,
)

from qa_bot.embedding import Embedder
from qa_bot.eval import write_corpus
from qa_bot.index import OpenIndex, sync_index
from qa_bot.metrics import contains_answer
from qa_bot.retrieval import HybridRetriever
from qa_bot.settings import BACKENDS, Settings
from qa_bot.squad import select_questions

BASELINE = "torch"  # fp32, the reference
CANDIDATES = [backend for backend in BACKENDS if backend != BASELINE]
DEPTH = 5


def interleaved_throughput(embedders: dict[str, Embedder], texts: list[str], chunk: int) -> dict[str, float]:
    """passages/s per backend, each chunk embedded by every backend in turn."""
    seconds = dict.fromkeys(embedders, 0.0)
    for begin in range(0, len(texts), chunk):
        for backend, embedder in embedders.items():
            with Timer() as timer:
                embedder.encode(texts[begin : begin + chunk])
            seconds[backend] += timer.seconds
    return {backend: len(texts) / spent for backend, spent in seconds.items()}


def recall_at_5(retriever: HybridRetriever, examples: list, mode: str) -> float:
    hits = sum(
        any(contains_answer(r.passage.text, e.answers) for r in retriever.retrieve(e.question, DEPTH, mode))
        for e in examples
    )
    return 100 * hits / len(examples)


def p50_ms(retriever: HybridRetriever, questions: list[str], mode: str, top_k: int) -> float:
    latencies = []
    for question in questions:
        with Timer() as timer:
            retriever.retrieve(question, top_k, mode)
        latencies.append(timer.ms)
    return float(np.percentile(latencies, 50))


def main(argv: list[str] | None = None) -> None:
    args = parse_args(
        __doc__.splitlines()[0],
        argv,
        **{
            "--chunk": {"type": int, "default": 256, "help": "passages per turn"},
            "--articles": {"type": int, "default": None, "help": "use only this many held-out articles (all 44)"},
            "--questions": {"type": int, "default": 1000, "help": "held-out questions for recall@5"},
        },
    )
    settings = bench_settings(args)
    limit_threads(settings)
    corpus_dir = args.workdir / ("quick" if args.quick else "heldout") / "corpus"
    articles = heldout_articles(args)[: args.articles]
    write_corpus(articles, corpus_dir)
    embedders = {
        backend: Embedder(settings.embedder_path(), backend, settings.cache_path(), settings.threads)
        for backend in BACKENDS
    }
    indexes, build_rates = {}, {}
    for backend, embedder in embedders.items():
        index_dir = corpus_dir.parent / f"index-{backend}"
        with Timer() as timer:
            sync = sync_index(corpus_dir, index_dir, settings, rebuild=True, progress=False, embedder=embedder)
        build_rates[backend] = sync.passages / timer.seconds
        indexes[backend] = OpenIndex.load(index_dir)
    texts = [p.text for p in indexes[BASELINE].passages(list(range(indexes[BASELINE].passage_count)))]
    rates = interleaved_throughput(embedders, texts, args.chunk)
    figures = [
        *speed_figures(
            rates, build_rates, settings, f"{len(texts):,} held-out passages, chunks of {args.chunk}, interleaved"
        ),
        *recall_figures(indexes, embedders, select_questions(articles, 40 if args.quick else args.questions), settings),
        *latency_figures(indexes, embedders, articles, 10 if args.quick else 200, settings),
    ]
    report("Embedder backends (same run)", figures, args)


def speed_figures(rates: dict, build_rates: dict, settings: Settings, passages: str) -> list[Figure]:
    """Embedding and full-sync speed of each candidate backend against the baseline's, measured interleaved."""
    figures = [Figure(f"embedding throughput ({BASELINE} fp32)", rates[BASELINE], "passages/s", note=passages)]
    for backend in CANDIDATES:
        default = backend == settings.embedder_backend  # the targets are the default backend's
        figures += [
            Figure(f"embedding throughput ({backend})", rates[backend], "passages/s", ">= 150" if default else ""),
            Figure(
                f"embedding speed-up {backend} vs {BASELINE}",
                rates[backend] / rates[BASELINE],
                "x",
                ">= 2.5" if default else "",
            ),
            Figure(
                f"index build speed-up {backend} vs {BASELINE} (full sync incl. BM25, FAISS, SQLite)",
                build_rates[backend] / build_rates[BASELINE],
                "x",
                note=f"{build_rates[BASELINE]:.1f} vs {build_rates[backend]:.1f} passages/s, built one after the other",
            ),
        ]
    return figures


def recall_figures(indexes: dict, embedders: dict, examples: list, settings: Settings) -> list[Figure]:
    """recall@5 for every pair of the backend an index was built with and the one its questions are embedded with."""
    figures = []
    for built_with in BACKENDS:
        for asked_with in BACKENDS:
            retriever = HybridRetriever(indexes[built_with], embedders[asked_with], settings)
            for mode in ("hybrid", "dense"):
                figures.append(
                    Figure(
                        f"recall@{DEPTH} ({mode}), index {built_with}, questions {asked_with}",
                        recall_at_5(retriever, examples, mode),
                        "%",
                        note=f"{len(examples)} held-out questions",
                    )
                )
    return figures


def latency_figures(indexes: dict, embedders: dict, articles: list, count: int, settings: Settings) -> list[Figure]:
    """Retrieval-only p50 per backend and mode."""
    # Disjoint questions per mode and backend: the embedder's query cache would flatter a second pass.
    questions = iter([e.question for e in select_questions(articles, (3 * len(BACKENDS) + 1) * count)])
    figures = []
    for backend in BACKENDS:
        retriever = HybridRetriever(indexes[backend], embedders[backend], settings)
        p50_ms(retriever, [next(questions) for _ in range(3)], "hybrid", settings.top_k)  # warm-up
        for mode in ("hybrid", "dense", "bm25"):
            asked = [next(questions) for _ in range(count)]
            figures.append(
                Figure(
                    f"retrieval-only p50 ({mode}), {backend}",
                    p50_ms(retriever, asked, mode, settings.top_k),
                    "ms",
                    "<= 15" if mode == "hybrid" else "",
                    note=f"{indexes[backend].passage_count:,} passages",
                )
            )
    return figures


if __name__ == "__main__":
    main_guard(main)
