"""FAISS approximate vs exact search: search p50, recall@10 against exact, build time, index size.

Uniformly random unit vectors are the hardest case for any ANN index (every point is almost equally far
from a query, and there is no low-dimensional structure to exploit). Real sentence embeddings are clustered
and have a low intrinsic dimension, so the "clustered" set (cluster centres plus a 16-d spread) shows the
behaviour to expect on a real corpus.

    python bench/bench_ann.py [--quick] [--size 1000000] [--datasets random,clustered]
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
from _common import Figure, Timer, main_guard, parse_args, report

from qa_bot.index import HNSW_EF_CONSTRUCTION, HNSW_EF_SEARCH, HNSW_M, build_faiss
from qa_bot.settings import Settings

K = 10
DIMENSIONS = 384  # all-MiniLM-L6-v2
P50_TARGET = "<= 5"
RECALL_TARGET = ">= 0.95"


def unit(vectors: np.ndarray) -> np.ndarray:
    return (vectors / np.linalg.norm(vectors, axis=1, keepdims=True)).astype(np.float32)


def random_vectors(count: int, rng: np.random.Generator) -> np.ndarray:
    return unit(rng.standard_normal((count, DIMENSIONS), dtype=np.float32))


def clustered_vectors(count: int, rng: np.random.Generator, clusters: int = 1000, intrinsic: int = 16) -> np.ndarray:
    """Points near ``clusters`` centres, spread along a shared 16-d subspace plus a little isotropic noise."""
    centres = rng.standard_normal((clusters, DIMENSIONS), dtype=np.float32)
    basis = rng.standard_normal((intrinsic, DIMENSIONS), dtype=np.float32)
    vectors = np.empty((count, DIMENSIONS), dtype=np.float32)
    for begin in range(0, count, 100_000):  # in blocks to keep the temporaries small
        size = min(100_000, count - begin)
        block = centres[rng.integers(0, clusters, size)]
        block += 0.5 * rng.standard_normal((size, intrinsic), dtype=np.float32) @ basis
        block += 0.2 * rng.standard_normal((size, DIMENSIONS), dtype=np.float32)
        vectors[begin : begin + size] = unit(block)
    return vectors


def index_bytes(index) -> int:
    """The serialised size, which is what the index occupies in memory (vectors + graph or lists)."""
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


def ivf(vectors: np.ndarray, lists: int, rng: np.random.Generator):
    import faiss

    quantizer = faiss.IndexFlatIP(DIMENSIONS)
    index = faiss.IndexIVFFlat(quantizer, DIMENSIONS, lists, faiss.METRIC_INNER_PRODUCT)
    index.cp.niter = 10  # k-means on a sample: enough for coarse lists, keeps the 1M build to a minute
    sample = vectors[rng.choice(len(vectors), min(len(vectors), lists * 64), replace=False)]
    index.train(sample)
    index.add(vectors)
    return index


def bench_dataset(name: str, vectors: np.ndarray, queries: np.ndarray, rng: np.random.Generator) -> list[Figure]:
    import faiss

    exact = faiss.IndexFlatIP(DIMENSIONS)
    exact.add(vectors)
    _, truth = exact.search(queries, K)  # batched: the ground truth for every variant
    exact_p50, _ = search_p50_and_recall(exact, queries[:30], truth[:30])
    size = f"{len(vectors):,} x {DIMENSIONS}"
    figures = [Figure(f"exact IndexFlatIP [{name}, {size}] search p50", exact_p50, "ms", note="ground truth")]
    del exact  # frees a full copy of the vectors before the next index is built

    def add(
        label: str, builder: Callable[[], object], sweep: tuple[str, list[int]], headline: int | None = None
    ) -> None:
        """Build once, then search with each value of the sweep parameter; the ``headline`` value goes to the README."""
        with Timer() as build:
            index = builder()
        figures.append(Figure(f"{label} [{name}] build", build.seconds, "s", readme=headline is not None))
        figures.append(Figure(f"{label} [{name}] size", index_bytes(index) / 2**20, "MiB", readme=headline is not None))
        parameter, values = sweep
        for value in values:
            faiss.ParameterSpace().set_index_parameter(index, parameter, value)
            tag = f"{label} {parameter}={value}"
            p50, recall = search_p50_and_recall(index, queries, truth)
            in_readme = value == headline
            figures.append(Figure(f"{tag} [{name}] search p50", p50, "ms", P50_TARGET, readme=in_readme))
            figures.append(Figure(f"{tag} [{name}] recall@10", recall, "", RECALL_TARGET, readme=in_readme))

    efs = sorted({32, 64, HNSW_EF_SEARCH, 256, 512})
    label = f"HNSW{HNSW_M} efC={HNSW_EF_CONSTRUCTION} (build_faiss)"
    add(label, lambda: build_faiss(vectors, Settings(ann_threshold=0)), ("efSearch", efs), headline=HNSW_EF_SEARCH)
    lists = max(16, int(np.sqrt(len(vectors))))
    add(f"IVF{lists},Flat", lambda: ivf(vectors, lists, rng), ("nprobe", [8, 32, 64, 128]))
    return figures


def main(argv: list[str] | None = None) -> None:
    args = parse_args(
        __doc__.splitlines()[0],
        argv,
        **{
            "--size": {"type": int, "default": None, "help": "vectors (default 1,000,000; 10,000 with --quick)"},
            "--datasets": {"default": "random,clustered", "help": "comma-separated: random, clustered"},
        },
    )
    import faiss

    faiss.omp_set_num_threads(Settings().threads)
    size = args.size or (10_000 if args.quick else 1_000_000)
    query_count = 50 if args.quick else 300
    rng = np.random.default_rng(13)
    figures = []
    for name in args.datasets.split(","):
        make = {"random": random_vectors, "clustered": clustered_vectors}[name]
        data = make(size + query_count, rng)
        vectors, queries = data[:size], data[size:]  # queries from the same distribution, not in the index
        figures += bench_dataset(name, vectors, queries, rng)
        del data, vectors
    report(f"FAISS approximate vs exact ({size:,} x {DIMENSIONS}, top {K})", figures, args)


if __name__ == "__main__":
    main_guard(main)
