"""A large index, built and served: build time and memory, load, FAISS/BM25/hybrid latency, `qa-bot serve` start-up.

The corpus is synthetic articles of SQuAD training-set sentences drawn at random (60 each, in paragraphs of five),
written until the chunker makes --size passages of them. The index is written by the real writer (`sync_index`,
what `qa-bot index` runs) with a stand-in embedder that hands it embedding-like vectors block by block (bench_ann's:
real sentence embeddings plus noise), so no time goes into embedding: the figures are the writer's, FAISS's, BM25's
and the store's. The build and the load run each in a fresh process, so their memory is their own.

    python bench/bench_large_index.py --size 1000000 --json   # last line: a JSON object of the figures
    python bench/bench_large_index.py --quick                 # 5,000 passages and the tiny reader (the tests)
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path

import numpy as np
import psutil
from _common import (
    STDOUT,
    Figure,
    Timer,
    bench_settings,
    embedding_like_blocks,
    main_guard,
    parse_args,
    real_embeddings,
    report,
    training_sentences,
)
from bench_serve import PeakSampler, measure_serve, tree_memory

from qa_bot.embedding import INDEXING_BLOCK, Embedder
from qa_bot.eval import article_text
from qa_bot.settings import Settings

SENTENCES_PER_ARTICLE = 60  # about 13 passages of 200 tokens
PARAGRAPH_SENTENCES = 5
QUERIES = 300  # held-out sentences (never seeds of the vectors): BM25, hybrid and FAISS queries
WARM_UP = 3  # first searches pay one-off allocations and lazy initialisation
SEED = 13
MIB = 2**20


class StandInEmbedder:
    """What the index writer needs of an embedder, handing out embedding-like vectors instead of embedding texts."""

    def __init__(self, identity: dict, seeds: np.ndarray) -> None:
        self._identity = identity
        self.seeds = seeds
        self.dimension = int(identity["dimension"])

    def identity(self) -> dict:
        return dict(self._identity)

    def encode_blocks(self, texts: list[str]) -> Iterator[tuple[int, np.ndarray]]:
        first = 0
        for block in embedding_like_blocks(self.seeds, len(texts), np.random.default_rng(SEED), INDEXING_BLOCK):
            yield first, block
            first += len(block)


def write_synthetic_corpus(folder: Path, sentences: list[str], size: int, settings: Settings) -> tuple[int, int]:
    """Articles of random ``sentences`` until they chunk into ``size`` passages: (articles, passages).

    Kept between runs (a marker beside the folder records what it holds); writing 1M passages takes minutes.
    """
    marker = folder.with_name(folder.name + ".json")
    wanted = {"size": size, "passage_tokens": settings.passage_tokens}
    written = json.loads(marker.read_text()) if marker.is_file() else {}
    if {key: written.get(key) for key in wanted} == wanted:
        return written["articles"], written["passages"]
    from transformers import AutoTokenizer

    from qa_bot.chunking import build_passages, split_sentences
    from qa_bot.ingest import parse_file

    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    tokenizer = AutoTokenizer.from_pretrained(settings.reader_path(), local_files_only=True)
    rng = np.random.default_rng(SEED)
    articles = passages = 0
    while passages < size:
        picks = [sentences[i] for i in rng.integers(0, len(sentences), SENTENCES_PER_ARTICLE)]
        paragraphs = [
            {"context": " ".join(picks[first : first + PARAGRAPH_SENTENCES])}
            for first in range(0, len(picks), PARAGRAPH_SENTENCES)
        ]
        path = folder / f"{articles:06d}.txt"
        path.write_text(article_text({"title": f"Report {articles}", "paragraphs": paragraphs}), encoding="utf-8")
        [article] = parse_file(path, path.name, settings.max_article_bytes)  # as the indexer will read it
        passages += len(build_passages(article, split_sentences(article), tokenizer, settings.passage_tokens))
        articles += 1
    marker.write_text(json.dumps({**wanted, "articles": articles, "passages": passages}))
    return articles, passages


def build(corpus_dir: Path, index_dir: Path, settings: Settings, embedder: StandInEmbedder, progress: bool) -> dict:
    """In a fresh process: the index written from scratch, its time, the process's peak RSS and the peak of its
    anonymous part (what the build itself holds; the rest is pages of the files it maps, which the kernel reclaims)."""
    import resource

    import faiss

    from qa_bot.index import sync_index

    faiss.omp_set_num_threads(settings.threads)
    shutil.rmtree(index_dir, ignore_errors=True)
    process = psutil.Process()
    rss_before, anonymous_before = tree_memory(process)
    with PeakSampler(process) as sampler, Timer() as timer:
        sync_report = sync_index(corpus_dir, index_dir, settings, progress=progress, embedder=embedder)
    return {
        "seconds": timer.seconds,
        "passages": sync_report.passages,
        "rss_before": rss_before,
        "anonymous_before": anonymous_before,
        "peak_rss": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,  # KiB on Linux
        "peak_anonymous": sampler.peak_anonymous,
    }


def p50_ms(run, queries) -> float:
    latencies = []
    for query in queries:
        with Timer() as timer:
            run(query)
        latencies.append(timer.ms)
    return float(np.median(latencies))


def load_and_search(index_dir: Path, settings: Settings, texts: list[str], vectors: np.ndarray) -> dict:
    """In a fresh process: OpenIndex.load, then FAISS, BM25 and hybrid retrieval latency and what each adds to RSS.

    As in `qa-bot serve`, the question embedder is loaded before the first search: with FAISS searches made before
    it loaded, a later search hung, twice, on this machine. FAISS is searched with precomputed question vectors;
    BM25 and hybrid retrieval go through the retriever, hybrid with the real question embedder.
    """
    import faiss

    from qa_bot.index import OpenIndex
    from qa_bot.retrieval import HybridRetriever

    faiss.omp_set_num_threads(settings.threads)
    process = psutil.Process()
    rss_before = process.memory_info().rss
    with Timer() as load:
        index = OpenIndex.load(index_dir)
    rss_loaded = process.memory_info().rss
    retriever = HybridRetriever(index, Embedder.from_settings(settings), settings)
    warm_up, texts, vectors = texts[:WARM_UP], texts[WARM_UP:], vectors[WARM_UP:]
    for text in warm_up:
        retriever.retrieve(text, settings.top_k)
    rss_model = process.memory_info().rss
    faiss_p50 = p50_ms(lambda vector: index.faiss_index.search(vector[None, :], settings.retrieve_k), vectors)
    rss_faiss = process.memory_info().rss
    bm25_p50 = p50_ms(lambda text: retriever.retrieve(text, settings.top_k, mode="bm25"), texts)
    rss_bm25 = process.memory_info().rss
    hybrid_p50 = p50_ms(lambda text: retriever.retrieve(text, settings.top_k), texts)
    return {
        "load_s": load.seconds,
        "rss_before": rss_before,
        "rss_loaded": rss_loaded,
        "faiss": index.manifest["faiss"]["factory"],
        "faiss_p50_ms": faiss_p50,
        "faiss_rss_growth": rss_faiss - rss_model,
        "bm25_p50_ms": bm25_p50,
        "bm25_rss_growth": rss_bm25 - rss_faiss,
        "hybrid_p50_ms": hybrid_p50,
    }


def reused(index_dir: Path, corpus_dir: Path) -> dict:
    """What an earlier build left: its passage and article counts; no build time or memory (None)."""
    from qa_bot.index import OpenIndex

    if not index_dir.is_dir() or not corpus_dir.is_dir():
        raise SystemExit(f"no index at {index_dir} to reuse: run once without --reuse-index")
    index = OpenIndex.load(index_dir)
    articles = sum(1 for _ in corpus_dir.glob("*.txt"))
    return {
        "seconds": None,
        "passages": index.passage_count,
        "articles": articles,
        "rss_before": None,
        "peak_rss": None,
        "peak_anonymous": None,
    }


def in_fresh_process(function, *arguments) -> dict:
    with ProcessPoolExecutor(max_workers=1, mp_context=get_context("spawn")) as pool:
        return pool.submit(function, *arguments).result()


def disk_mib(folder: Path) -> float:
    return sum(path.stat().st_size for path in folder.rglob("*") if path.is_file()) / MIB


def main(argv: list[str] | None = None) -> None:
    args = parse_args(
        __doc__.splitlines()[0],
        argv,
        **{
            "--size": {"type": int, "default": None, "help": "passages (default 1,000,000; 5,000 with --quick)"},
            "--real": {"type": int, "default": 10_000, "help": "real embeddings the vectors are grown from"},
            "--reuse-index": {
                "action": "store_true",
                "help": "query the index an earlier run built at this size (no build figures)",
            },
        },
    )
    settings = bench_settings(args)
    size = args.size or (5_000 if args.quick else 1_000_000)
    queries = 30 if args.quick else QUERIES
    workdir = args.workdir / "large-index" / ("quick" if args.quick else str(size))
    corpus_dir, index_dir = workdir / "corpus", workdir / "index"

    real = real_embeddings(args, args.real + queries)  # bench_ann's cache: the same sentences and vectors
    seeds, query_vectors = real[:-queries], real[-queries:]
    query_texts = training_sentences(args, len(real))[-queries:]
    identity = Embedder.from_settings(settings).identity()  # `qa-bot serve` accepts only its own embedder's vectors
    if args.reuse_index:
        built = reused(index_dir, corpus_dir)
    else:
        articles, _ = write_synthetic_corpus(corpus_dir, training_sentences(args, 10**9), size, settings)
        embedder = StandInEmbedder(identity, seeds)
        built = {
            **in_fresh_process(build, corpus_dir, index_dir, settings, embedder, not args.quick),
            "articles": articles,
        }
    loaded = in_fresh_process(load_and_search, index_dir, settings, query_texts, query_vectors)
    served = measure_serve(index_dir, corpus_dir, settings, workdir, query_texts[-1])

    vectors_mib, on_disk_mib = built["passages"] * identity["dimension"] * 4 / MIB, disk_mib(index_dir)
    name = f"[{built['passages']:,} passages]"
    figures = [
        *([] if args.reuse_index else build_figures(name, built, loaded["faiss"], vectors_mib)),
        *query_figures(name, on_disk_mib, loaded, served, settings, len(query_texts) - WARM_UP),
    ]
    report(f"Large index ({built['passages']:,} passages, {loaded['faiss']})", figures, args)
    if args.json == STDOUT:
        print(json.dumps(summary(built, loaded, served, vectors_mib, on_disk_mib, args.reuse_index)))


def summary(built: dict, loaded: dict, served, vectors_mib: float, index_disk_mib: float, reused_index: bool) -> dict:
    """Every figure as one JSON object (the last line with ``--json``); build figures are None for a reused index."""

    def build_mib(key: str) -> int | None:
        return None if reused_index else round(built[key] / MIB)

    return {
        "passages": built["passages"],
        "articles": built["articles"],
        "faiss": loaded["faiss"],
        "build_s": None if reused_index else round(built["seconds"], 1),
        "build_peak_rss_mib": build_mib("peak_rss"),
        "build_rss_before_mib": build_mib("rss_before"),
        "build_peak_anonymous_mib": build_mib("peak_anonymous"),
        "vectors_mib": round(vectors_mib),
        "index_disk_mib": round(index_disk_mib),
        "load_s": round(loaded["load_s"], 2),
        "rss_after_load_mib": round(loaded["rss_loaded"] / MIB),
        "rss_before_load_mib": round(loaded["rss_before"] / MIB),
        "faiss_p50_ms": round(loaded["faiss_p50_ms"], 2),
        "faiss_rss_growth_mib": round(loaded["faiss_rss_growth"] / MIB, 1),
        "bm25_p50_ms": round(loaded["bm25_p50_ms"], 2),
        "bm25_rss_growth_mib": round(loaded["bm25_rss_growth"] / MIB, 1),
        "hybrid_p50_ms": round(loaded["hybrid_p50_ms"], 2),
        "serve_startup_s": round(served.startup_s, 1),
        "serve_first_answer_ms": round(served.first_answer_ms),
        "serve_peak_rss_mib": round(served.peak_rss / MIB),
    }


def build_figures(name: str, built: dict, faiss_kind: str, vectors_mib: float) -> list[Figure]:
    return [
        Figure(
            f"large index {name} build time",
            built["seconds"],
            "s",
            note=f"{built['articles']:,} articles, {faiss_kind}, stand-in embedder (no embedding time)",
        ),
        Figure(
            f"large index {name} build peak RSS",
            built["peak_rss"] / MIB,
            "MiB",
            note=f"{built['rss_before'] / MIB:.0f} MiB before the build; the vectors alone are {vectors_mib:.0f} MiB",
        ),
        Figure(
            f"large index {name} build peak anonymous memory (RSS less mapped files)",
            built["peak_anonymous"] / MIB,
            "MiB",
            note=f"{built['anonymous_before'] / MIB:.0f} MiB before the build; sampled every 50 ms",
        ),
    ]


def query_figures(
    name: str, index_disk_mib: float, loaded: dict, served, settings: Settings, questions: int
) -> list[Figure]:
    return [
        Figure(f"large index {name} size on disk", round(index_disk_mib), "MiB"),
        Figure(f"large index {name} OpenIndex.load", loaded["load_s"], "s", note="fresh process"),
        Figure(
            f"large index {name} RSS after load",
            loaded["rss_loaded"] / MIB,
            "MiB",
            note=f"{loaded['rss_before'] / MIB:.0f} MiB before the load",
        ),
        Figure(
            f"large index {name} FAISS search p50 (top {settings.retrieve_k})", loaded["faiss_p50_ms"], "ms", "<= 5"
        ),
        Figure(
            f"large index {name} RSS growth over FAISS searches",
            loaded["faiss_rss_growth"] / MIB,
            "MiB",
            note="memory-mapped lists paged in",
        ),
        Figure(f"large index {name} BM25 retrieval p50", loaded["bm25_p50_ms"], "ms"),
        Figure(
            f"large index {name} RSS growth over BM25 queries",
            loaded["bm25_rss_growth"] / MIB,
            "MiB",
            note=f"{questions} questions",
        ),
        Figure(
            f"large index {name} hybrid retrieval p50 (with question embedding)",
            loaded["hybrid_p50_ms"],
            "ms",
            "<= 15",
        ),
        Figure(f"large index {name} qa-bot serve start-up until HTTP answers", served.startup_s, "s"),
        Figure(f"large index {name} qa-bot serve first question", served.first_answer_ms, "ms"),
        Figure(f"large index {name} qa-bot serve peak RSS", served.peak_rss / 2**30, "GiB", "<= 1.5"),
    ]


if __name__ == "__main__":
    main_guard(main)
