"""Shared plumbing for the benchmark scripts: arguments, figures, data sets, a cached SQuAD index.

Every script prints its figures and, with ``--json PATH``, writes them for ``bench/run_all.py``.
``--quick`` swaps the SQuAD data for small synthetic articles and the bundled reader for a tiny
random one, so a run takes seconds and needs nothing outside the repository.
"""

from __future__ import annotations

import argparse
import json
import operator
import os
import random
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Self

import numpy as np

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))  # scripts run as `python bench/x.py` from anywhere

from qa_bot.errors import QABotError
from qa_bot.eval import write_corpus
from qa_bot.settings import Settings
from qa_bot.squad import HOLDOUT_FRACTION, HOLDOUT_SEED, SquadExample, load_squad_file, select_questions, split_articles
from qa_bot.training.squad_data import DEFAULT_SQUAD

if TYPE_CHECKING:
    from qa_bot.index import SyncReport
    from qa_bot.pipeline import QABot

DEFAULT_WORKDIR = REPO_ROOT / "artifacts" / "bench"  # git-ignored; the SQuAD index is reused across scripts
STDOUT = Path("-")  # `--json` without a file: the script prints a one-line JSON summary last
_COMPARE = {">=": operator.ge, "<=": operator.le}


@dataclass
class Figure:
    name: str
    value: float | None
    unit: str
    target: str = ""  # ">= 150" or "<= 300"; "" = informational
    note: str = ""
    readme: bool = True  # False for sweep rows that are printed but kept out of the README table
    page: str = "benchmarks"  # the docs/ page whose table shows it: "benchmarks" or "accuracy"

    def met(self) -> bool | None:
        if not self.target or self.value is None:
            return None
        comparison, threshold = self.target.split()
        return _COMPARE[comparison](self.value, float(threshold))

    def line(self) -> str:
        value = "n/a" if self.value is None else f"{self.value:,.4g}" if abs(self.value) < 10 else f"{self.value:,.0f}"
        verdict = {True: "  [target met]", False: "  [TARGET MISSED]", None: ""}[self.met()]
        target = f"  (target {self.target} {self.unit})" if self.target else ""
        note = f"  -- {self.note}" if self.note else ""
        return f"{self.name:<66} {value:>10} {self.unit:<12}{target}{verdict}{note}"


def parse_args(description: str, argv: Sequence[str] | None = None, **extra: dict) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--quick", action="store_true", help="tiny synthetic sizes (seconds; used by the tests)")
    parser.add_argument(
        "--json", type=Path, nargs="?", const=STDOUT, help="write the figures to this file (no file: a summary line)"
    )
    parser.add_argument("--workdir", type=Path, default=DEFAULT_WORKDIR, help="where data and indexes are cached")
    parser.add_argument("--squad", type=Path, default=DEFAULT_SQUAD, help="SQuAD training file (full runs)")
    for flag, options in extra.items():
        parser.add_argument(flag, **options)
    return parser.parse_args(argv)


def report(title: str, figures: list[Figure], args: argparse.Namespace) -> None:
    print(f"\n== {title}")
    if args.quick:
        print("(--quick: tiny synthetic sizes and a random reader; not comparable with the targets)")
    for figure in figures:
        print(figure.line(), flush=True)
    if args.json and args.json != STDOUT:
        args.json.write_text(json.dumps([asdict(f) for f in figures], indent=2) + "\n", encoding="utf-8")


def limit_threads(settings: Settings) -> None:
    """Pin torch and FAISS to the configured thread count so figures are comparable between runs."""
    import faiss
    import torch

    torch.set_num_threads(settings.threads)
    faiss.omp_set_num_threads(settings.threads)


class Timer:
    def __enter__(self) -> Self:
        self.started = time.perf_counter()
        return self

    def __exit__(self, *exc: object) -> None:
        self.seconds = time.perf_counter() - self.started

    @property
    def ms(self) -> float:
        return 1000 * self.seconds


# ---------------------------------------------------------------- data


_SUBJECTS = ["harbour", "library", "railway", "museum", "bridge", "observatory", "cathedral", "university", "canal"]
_SURNAMES = ["Marsh", "Penn", "Quill", "Rowe", "Stone", "Thorne", "Vance", "Wren"]
_TOWNS = ["Aldmere", "Brickholt", "Corvale", "Dunmarsh", "Eastwick", "Farrowby", "Glenhurst", "Hallowmere", "Ironford"]
_FILLER = (
    "Visitors often mention the weather, the markets and the long walks along the river. "
    "Local records describe several renovations and a number of public events held over the years. "
)


def synthetic_articles(n_articles: int, paragraphs: int = 6, seed: int = 7) -> list[dict]:
    """SQuAD-format articles whose questions have exactly one answer in the text: fast, deterministic, offline."""
    rng = random.Random(seed)
    articles = []
    for number in range(n_articles):
        town = f"{rng.choice(_TOWNS)}{number}"
        title = f"History of {town}"
        article_paragraphs = []
        for index in range(paragraphs):
            subject = rng.choice(_SUBJECTS)
            year = str(rng.randint(1700, 2020))
            # a person's name (no digits, as the generated robustness data expects), distinct within the article
            builder = f"{rng.choice(['Ada', 'Bo', 'Cyril', 'Dana', 'Emil'])} {_SURNAMES[index % len(_SURNAMES)]}"
            lead = f"The {subject} of {town} was opened in {year} by {builder}. "
            context = lead + _FILLER
            article_paragraphs.append(
                {
                    "context": context,
                    "qas": [
                        {
                            "id": f"syn-{number}-{index}-when",
                            "question": f"When was the {subject} of {town} opened?",
                            "answers": [{"text": year, "answer_start": context.index(year)}],
                        },
                        {
                            "id": f"syn-{number}-{index}-who",
                            "question": f"Who opened the {subject} of {town}?",
                            "answers": [{"text": builder, "answer_start": context.index(builder)}],
                        },
                    ],
                }
            )
        articles.append({"title": title, "paragraphs": article_paragraphs})
    return articles


def bench_articles(args: argparse.Namespace) -> list[dict]:
    """The SQuAD training file (440 articles), or 12 synthetic articles with --quick."""
    if args.quick:
        return synthetic_articles(12)
    return load_squad_file(args.squad)


def heldout_articles(args: argparse.Namespace) -> list[dict]:
    """Questions for retrieval/reader figures: the held-out split nobody tuned on (all synthetic ones with --quick)."""
    articles = bench_articles(args)
    return articles if args.quick else split_articles(articles, HOLDOUT_FRACTION, HOLDOUT_SEED)[1]


# ---------------------------------------------------------------- embedding-like vectors (bench_ann, bench_large_index)

DIMENSIONS = 384  # all-MiniLM-L6-v2
NOISE_SCALE = 0.5  # noise norm / median nearest-real-neighbour distance


def unit(vectors: np.ndarray) -> np.ndarray:
    return (vectors / np.linalg.norm(vectors, axis=1, keepdims=True)).astype(np.float32)


def clustered_vectors(count: int, rng: np.random.Generator, clusters: int = 200, intrinsic: int = 16) -> np.ndarray:
    """--quick stand-in for real embeddings (no model): cluster centres spread along a shared 16-d subspace."""
    centres = rng.standard_normal((clusters, DIMENSIONS), dtype=np.float32)
    basis = rng.standard_normal((intrinsic, DIMENSIONS), dtype=np.float32)
    block = centres[rng.integers(0, clusters, count)]
    block += 0.5 * rng.standard_normal((count, intrinsic), dtype=np.float32) @ basis
    block += 0.2 * rng.standard_normal((count, DIMENSIONS), dtype=np.float32)
    return unit(block)


def training_sentences(args: argparse.Namespace, count: int) -> list[str]:
    """Distinct sentences of the SQuAD training contexts, in file order."""
    from blingfire import text_to_sentences

    seen: dict[str, None] = {}
    for article in bench_articles(args):
        for paragraph in article["paragraphs"]:
            for sentence in text_to_sentences(paragraph["context"]).split("\n"):
                if len(sentence) > 20:
                    seen.setdefault(sentence)
                if len(seen) >= count:
                    return list(seen)
    return list(seen)


def real_embeddings(args: argparse.Namespace, count: int) -> np.ndarray:
    """``count`` real sentence embeddings, cached in the work dir (embedding them is the slow part)."""
    if args.quick:
        return clustered_vectors(count, np.random.default_rng(5))
    path = args.workdir / "ann" / f"squad-train-sentences-{count}.npy"
    if path.is_file():
        return np.load(path)
    from qa_bot.embedding import Embedder

    sentences = training_sentences(args, count)
    print(f"embedding {len(sentences):,} training-set sentences once (cached in {path})", flush=True)
    vectors = Embedder.from_settings(Settings()).encode(sentences, progress=True)
    path.parent.mkdir(parents=True, exist_ok=True)
    np.save(path, vectors)
    return vectors


def embedding_like_blocks(
    seeds: np.ndarray, size: int, rng: np.random.Generator, block: int = 100_000
) -> Iterator[np.ndarray]:
    """``size`` points around real embeddings, ``block`` at a time: a seed plus noise of about half its
    nearest-neighbour distance."""
    import faiss

    probe = faiss.IndexFlatIP(DIMENSIONS)
    probe.add(seeds)
    similarities, _ = probe.search(seeds[: min(len(seeds), 2000)], 2)
    nearest = np.median(np.sqrt(np.maximum(0, 2 - 2 * similarities[:, 1])))
    sigma = NOISE_SCALE * nearest / np.sqrt(DIMENSIONS)
    for begin in range(0, size, block):
        picked = seeds[rng.integers(0, len(seeds), min(block, size - begin))]
        yield unit(picked + sigma * rng.standard_normal(picked.shape, dtype=np.float32))


def embedding_like(seeds: np.ndarray, size: int, rng: np.random.Generator) -> np.ndarray:
    """All ``size`` points of ``embedding_like_blocks`` in one array."""
    vectors = np.empty((size, DIMENSIONS), dtype=np.float32)
    begin = 0
    for block in embedding_like_blocks(seeds, size, rng):
        vectors[begin : begin + len(block)] = block
        begin += len(block)
    return vectors


# ---------------------------------------------------------------- models and index


def tiny_reader(model_dir: Path) -> Path:
    """A random 1-layer reader (`write_tiny_reader`), built once per work folder: every code path in seconds."""
    if (model_dir / "config.json").is_file():
        return model_dir
    from qa_bot.training.tiny_reader import write_tiny_reader

    return write_tiny_reader(model_dir)


def bench_settings(args: argparse.Namespace) -> Settings:
    """Default settings; --quick uses the tiny reader so nothing depends on the bundled one being trained."""
    if args.quick:
        return Settings(reader=str(tiny_reader(args.workdir / "tiny-reader")))
    settings = Settings()
    if not Path(settings.reader_path()).is_dir():
        raise QABotError(f"reader not found at {settings.reader_path()}; train it or set QA_BOT_READER")
    return settings


def index_paths(args: argparse.Namespace) -> tuple[Path, Path]:
    base = args.workdir / ("quick" if args.quick else "squad")
    return base / "corpus", base / "index"


def ensure_index(args: argparse.Namespace, settings: Settings, rebuild: bool = False) -> tuple[Path, SyncReport, float]:
    """Write the benchmark corpus and sync its index (a no-op when up to date): (index_dir, report, sync seconds)."""
    from qa_bot.index import sync_index

    corpus_dir, index_dir = index_paths(args)
    write_corpus(bench_articles(args), corpus_dir)
    with Timer() as timer:
        sync_report = sync_index(corpus_dir, index_dir, settings, rebuild=rebuild, progress=not args.quick)
    return index_dir, sync_report, timer.seconds


def open_bot(args: argparse.Namespace, settings: Settings) -> QABot:
    """The bot over the benchmark index (`bot.retrieve` for retrieval-only figures)."""
    from qa_bot.pipeline import QABot

    index_dir, _, _ = ensure_index(args, settings)
    return QABot.from_index(index_dir, settings)


def heldout_questions(args: argparse.Namespace, count: int) -> list[SquadExample]:
    return select_questions(heldout_articles(args), count)


def main_guard(run) -> None:
    """Run a benchmark's main, showing an expected failure as one line."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    try:
        run()
    except QABotError as error:
        print(f"error: {error}", file=sys.stderr)
        raise SystemExit(1) from None
