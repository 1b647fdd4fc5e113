"""Indexing on a Dask cluster on loopback vs one local process, in one run: the per-worker rate behind the 10M projection.

The held-out articles are indexed twice from scratch: by `qa-bot index`'s local path (one process, the configured
threads) and through `--dask` on a LocalCluster of ``--workers`` worker processes with one thread each, on
127.0.0.1. Model loading on the workers happens before the timed sync (a long-running cluster loads it once), so
the Dask figure is the steady rate. The 10M projection is that per-worker rate times a number of workers; a worker
here is one thread of this machine, so a worker host with more cores embeds proportionally more.

    python bench/bench_dask.py [--quick] [--workers 2]
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from _common import Figure, Timer, bench_settings, heldout_articles, limit_threads, main_guard, parse_args, report

from qa_bot.distributed import ClusterEmbedder
from qa_bot.embedding import Embedder
from qa_bot.eval import write_corpus
from qa_bot.index import VECTORS, VERSIONS, OpenIndex, sync_index
from qa_bot.settings import Settings

PROJECTED_PASSAGES = 10_000_000
PROJECTED_WORKERS = 20


def stored_vectors(index_dir: Path) -> np.ndarray:
    index = OpenIndex.load(index_dir)
    return np.load(index_dir / VERSIONS / index.version / VECTORS)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(
        __doc__.splitlines()[0],
        argv,
        **{"--workers": {"type": int, "default": 2, "help": "Dask worker processes (one thread each)"}},
    )
    settings = bench_settings(args)
    limit_threads(settings)
    corpus_dir = args.workdir / ("quick" if args.quick else "heldout") / "corpus"
    write_corpus(heldout_articles(args), corpus_dir)

    local = Embedder.from_settings(settings)
    with Timer() as local_timer:
        sync = sync_index(
            corpus_dir, corpus_dir.parent / "index-local", settings, rebuild=True, progress=False, embedder=local
        )
    dask_seconds = timed_dask_sync(corpus_dir, corpus_dir.parent / "index-dask", settings, args.workers)
    local_vectors, dask_vectors = (stored_vectors(corpus_dir.parent / f"index-{n}") for n in ("local", "dask"))
    if local_vectors.shape != dask_vectors.shape:
        raise SystemExit(f"the Dask index has {dask_vectors.shape} vectors, the local one {local_vectors.shape}")
    # int8 activations are quantized per batch, and the workers batch differently: close, not identical
    lowest_cosine = float(np.einsum("ij,ij->i", local_vectors, dask_vectors).min())
    figures = rate_figures(
        sync.passages, sync.passages / local_timer.seconds, sync.passages / dask_seconds, settings, args.workers
    )
    figures.append(
        Figure("lowest cosine, Dask vs local vector of the same passage", lowest_cosine, "", note="same passages")
    )
    report("Indexing: Dask on loopback vs local (same run)", figures, args)


def timed_dask_sync(corpus_dir: Path, index_dir: Path, settings: Settings, workers: int) -> float:
    """Seconds a full sync takes while a LocalCluster of ``workers`` single-thread processes on loopback embeds;
    loading the model on the workers is not timed."""
    from distributed import Client, LocalCluster  # the `dask` extra

    worker_settings = settings.model_copy(update={"threads": 1})
    with (
        LocalCluster(
            host="127.0.0.1", n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None
        ) as cluster,
        Client(cluster) as client,
    ):
        embedder = ClusterEmbedder(client, worker_settings)
        with Timer() as timer:
            sync_index(corpus_dir, index_dir, settings, rebuild=True, progress=False, embedder=embedder)
    return timer.seconds


def rate_figures(passages: int, local_rate: float, dask_rate: float, settings: Settings, workers: int) -> list[Figure]:
    per_worker = dask_rate / workers
    hours = PROJECTED_PASSAGES / (per_worker * PROJECTED_WORKERS) / 3600
    note = f"{passages:,} held-out passages, full sync incl. BM25, FAISS, SQLite"
    return [
        Figure(f"index build, local ({settings.threads} threads)", local_rate, "passages/s", note=note),
        Figure(f"index build, Dask ({workers} workers x 1 thread, loopback)", dask_rate, "passages/s"),
        Figure("Dask passages/s per worker thread", per_worker, "passages/s"),
        Figure(
            f"projected 10M passages on {PROJECTED_WORKERS} such workers",
            hours,
            "h",
            note=f"{PROJECTED_PASSAGES:,} / ({per_worker:.1f} x {PROJECTED_WORKERS}); assumes the client's chunking and "
            "index write keep up, as they did here",
        ),
    ]


if __name__ == "__main__":
    main_guard(main)
