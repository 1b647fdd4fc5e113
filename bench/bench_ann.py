"""FAISS index the project builds at a given size vs exact search, on embedding-like vectors.

Data: real all-MiniLM-L6-v2 embeddings of SQuAD training-set sentences (embedded once with the default backend and
cached under the work dir), extended to any size by drawing a real embedding and adding Gaussian noise whose
norm is about half the typical distance to its nearest real neighbour, then re-normalising. That keeps what makes
ANN search easy or hard on real data (topic clusters, a low intrinsic dimension, near-duplicates) while giving
as many distinct points as wanted; uniformly random vectors (the old benchmark) have no neighbourhood structure
at all and say nothing about a real corpus. ``--compare-synthetic`` checks the choice: recall curves on N real
embeddings vs N synthetic ones grown from a quarter as many real seeds. Queries are real embeddings held out of
the seeds. ``--sweep`` measures the candidates (HNSW, IVF-Flat, IVF-PQ re-ranked from the full vectors).

    python bench/bench_ann.py --size 1000000 --json      # last line: the JSON summary of the project's index
    python bench/bench_ann.py --size 200000 --sweep      # candidates and their parameters
    python bench/bench_ann.py --size 20000 --compare-synthetic
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
from _common import (
    DIMENSIONS,
    STDOUT,
    Figure,
    Timer,
    embedding_like,
    main_guard,
    parse_args,
    real_embeddings,
    report,
)

from qa_bot.index import build_faiss, faiss_description, search_parameters
from qa_bot.settings import Settings

K = 10
QUERIES = 300
P50_TARGET = "<= 5"
RECALL_TARGET = ">= 0.95"


def index_bytes(index) -> int:
    """The serialised size: what the index occupies in memory, or maps from disk."""
    import faiss

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "index.faiss"
        faiss.write_index(index, str(path))
        return path.stat().st_size


def search_p50_and_recall(index, queries: np.ndarray, truth: np.ndarray) -> tuple[float, float]:
    """One query at a time, as the bot searches; recall@10 = share of the exact top 10 found."""
    latencies, found = [], []
    for query in queries:
        with Timer() as timer:
            _, ids = index.search(query[None, :], K)
        latencies.append(timer.ms)
        found.append(ids[0])
    recall = np.mean([len(set(row) & set(exact)) / K for row, exact in zip(found, truth, strict=True)])
    return float(np.median(latencies)), float(recall)


def exact_truth(vectors: np.ndarray, queries: np.ndarray) -> tuple[np.ndarray, float]:
    import faiss

    exact = faiss.IndexFlatIP(DIMENSIONS)
    exact.add(vectors)
    _, truth = exact.search(queries, K)  # batched: the ground truth for every variant
    p50, _ = search_p50_and_recall(exact, queries[:50], truth[:50])
    return truth, p50


def sweep(name: str, vectors: np.ndarray, queries: np.ndarray, truth: np.ndarray) -> list[Figure]:
    """Each candidate built once and searched with each value of its speed/recall knob (printed, not in README)."""
    import faiss

    lists = max(16, 4 * int(np.sqrt(len(vectors))))
    candidates: list[tuple[str, Callable[[], object], str, list[int]]] = [
        (f"HNSW{m},efC{efc}", _hnsw(vectors, m, efc), "efSearch", [32, 64, 128, 256]) for m, efc in ((16, 80), (32, 80))
    ]
    candidates += [
        (f"IVF{lists},Flat", _factory(vectors, f"IVF{lists},Flat"), "nprobe", [8, 16, 32, 64, 128]),
        (
            f"IVF{lists},PQ48,RFlat k_factor=4",
            _factory(vectors, f"IVF{lists},PQ48,RFlat", k_factor=4),
            "nprobe",
            [16, 32, 64, 128],
        ),
    ]
    figures = []
    for label, build, knob, values in candidates:
        with Timer() as built:
            index = build()
        figures.append(Figure(f"{label} [{name}] build", built.seconds, "s", readme=False))
        figures.append(Figure(f"{label} [{name}] size", index_bytes(index) / 2**20, "MiB", readme=False))
        for value in values:
            faiss.ParameterSpace().set_index_parameter(index, knob, value)
            p50, recall = search_p50_and_recall(index, queries, truth)
            figures.append(Figure(f"{label} {knob}={value} [{name}] p50", p50, "ms", P50_TARGET, readme=False))
            figures.append(
                Figure(f"{label} {knob}={value} [{name}] recall@10", recall, "", RECALL_TARGET, readme=False)
            )
        del index
    return figures


def _hnsw(vectors: np.ndarray, m: int, ef_construction: int) -> Callable[[], object]:
    def build():
        import faiss

        index = faiss.IndexHNSWFlat(DIMENSIONS, m, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = ef_construction
        index.add(vectors)
        return index

    return build


def _factory(vectors: np.ndarray, description: str, k_factor: int = 0) -> Callable[[], object]:
    def build():
        import faiss

        index = faiss.index_factory(DIMENSIONS, description, faiss.METRIC_INNER_PRODUCT)
        index.train(vectors[np.random.default_rng(0).permutation(len(vectors))[: 100 * int(np.sqrt(len(vectors)))]])
        index.add(vectors)
        if k_factor:
            faiss.ParameterSpace().set_index_parameter(index, "k_factor_rf", k_factor)
        return index

    return build


def project_index(size: int, vectors: np.ndarray, queries: np.ndarray, truth: np.ndarray, exact_p50: float) -> dict:
    """The index ``qa-bot index`` builds at this size, measured."""
    settings = Settings()
    with Timer() as built:
        index = build_faiss(vectors, settings)
    p50, recall = search_p50_and_recall(index, queries, truth)
    return {
        "size": size,
        "index": faiss_description(index)["factory"],
        "parameters": search_parameters(index),
        "recall_at_10": round(recall, 4),
        "p50_ms": round(p50, 3),
        "exact_p50_ms": round(exact_p50, 3),
        "build_s": round(built.seconds, 1),
        "memory_mb": round(index_bytes(index) / 2**20, 1),
    }


def main(argv: list[str] | None = None) -> None:
    args = parse_args(
        __doc__.splitlines()[0],
        argv,
        **{
            "--size": {"type": int, "default": None, "help": "vectors (default 1,000,000; 10,000 with --quick)"},
            "--real": {"type": int, "default": 20_000, "help": "real embeddings to embed and grow from"},
            "--sweep": {"action": "store_true", "help": "also measure the candidate indexes and parameters"},
            "--compare-synthetic": {"action": "store_true", "help": "recall curves, real vs synthetic at --real"},
        },
    )
    import faiss

    faiss.omp_set_num_threads(Settings().threads)
    size = args.size or (10_000 if args.quick else 1_000_000)
    rng = np.random.default_rng(13)
    real = real_embeddings(args, (2_000 if args.quick else args.real) + QUERIES)
    queries, seeds = real[-QUERIES:], real[:-QUERIES]  # queries are never seeds: unseen text, as in use
    figures: list[Figure] = []
    if args.compare_synthetic:
        synthetic = embedding_like(seeds[: len(seeds) // 4], len(seeds), rng)
        for name, data in (("real", seeds), ("synthetic", synthetic)):
            truth, _ = exact_truth(data, queries)
            figures += sweep(f"{name} {len(data):,}", data, queries, truth)
    vectors = embedding_like(seeds, size, rng)
    truth, exact_p50 = exact_truth(vectors, queries)
    if args.sweep:
        figures += sweep(f"embedding-like {size:,}", vectors, queries, truth)
    summary = project_index(size, vectors, queries, truth, exact_p50)
    name = f"{size:,} embedding-like vectors"
    figures += [
        Figure(f"ANN {summary['index']} [{name}] search p50", summary["p50_ms"], "ms", P50_TARGET),
        Figure(f"ANN {summary['index']} [{name}] recall@10 vs exact", summary["recall_at_10"], "", RECALL_TARGET),
        Figure(f"exact search [{name}] p50 (same run)", exact_p50, "ms"),
        Figure(f"ANN {summary['index']} [{name}] build", summary["build_s"], "s"),
        Figure(f"ANN {summary['index']} [{name}] memory", summary["memory_mb"], "MiB"),
    ]
    report(f"FAISS approximate vs exact ({size:,} x {DIMENSIONS}, top {K})", figures, args)
    if args.json == STDOUT:
        print(json.dumps(summary))


if __name__ == "__main__":
    main_guard(main)
