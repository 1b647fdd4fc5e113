"""Training data from SQuAD: example files for the trainer and wrong-paragraph negatives.

Reading SQuAD files and the article-level split are runtime code (`qa_bot/squad.py`), shared with evaluation.
"""

from __future__ import annotations

import gzip
import json
import lzma
import random
from collections.abc import Iterator, Sequence
from dataclasses import asdict
from pathlib import Path

from qa_bot.features import Window, encode_windows
from qa_bot.settings import PACKAGE_DIR
from qa_bot.squad import SquadExample, iter_examples, load_squad, split_articles

__all__ = ["DEFAULT_SQUAD", "SquadExample", "iter_examples", "load_squad", "split_articles"]

# The SQuAD training set in the development checkout, where the training commands and benchmarks look by default.
DEFAULT_SQUAD = PACKAGE_DIR.parent.parent / "shared" / "data" / "squad-train-v1.0.json.gz"


def _open_text(path: Path, mode: str):
    """Plain, .gz or .xz (xz's large window shares repeated paragraphs: 150k examples in 8.5 MB, 32 MB gzipped)."""
    opener = {".gz": gzip.open, ".xz": lzma.open}.get(path.suffix)
    return opener(path, mode + "t", encoding="utf-8") if opener else open(path, mode, encoding="utf-8")


def write_examples(examples: Sequence[SquadExample], path: str | Path) -> None:
    """JSON lines (gzipped when the name ends in .gz), written whole or not at all."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f"{path.stem}.partial{path.suffix}")
    with _open_text(partial, "w") as handle:
        handle.writelines(json.dumps(asdict(e)) + "\n" for e in examples)
    partial.replace(path)


def read_examples(path: str | Path) -> list[SquadExample]:
    with _open_text(Path(path), "r") as handle:
        records = [json.loads(line) for line in handle if line.strip()]
    return [SquadExample(**(record | {"answers": tuple(record["answers"])})) for record in records]


def wrong_paragraph_examples(articles: list[dict], ratio: float, seed: int) -> list[SquadExample]:
    """Questions paired with another paragraph of the same article, labelled unanswerable.

    Same-article paragraphs share topic and vocabulary, so these are the hard
    negatives that retrieval actually hands the reader.
    """
    rng = random.Random(seed)
    negatives = []
    for article in articles:
        contexts = [p["context"] for p in article["paragraphs"]]
        if len(contexts) < 2:
            continue
        for example in iter_examples([article]):
            if rng.random() >= ratio:
                continue
            others = [c for c in contexts if c != example.context and not any(a in c for a in example.answers)]
            if not others:
                continue
            negatives.append(
                SquadExample(
                    qid=example.qid + "-neg",
                    article=example.article,
                    question=example.question,
                    context=rng.choice(others),
                    answers=(),
                    answer_start=-1,
                )
            )
    return negatives


def example_windows(
    tokenizer, examples: list[SquadExample], max_length: int, doc_stride: int
) -> Iterator[tuple[SquadExample, Window]]:
    """Each example's (question, context) windows, in the order the trainer builds its features from them."""
    chunk = 1000
    for begin in range(0, len(examples), chunk):
        batch = examples[begin : begin + chunk]
        windows = encode_windows(
            tokenizer,
            [e.question.strip() for e in batch],
            [e.context for e in batch],
            max_length,
            doc_stride,
        )
        for window in windows:
            yield batch[window.sample_index], window
