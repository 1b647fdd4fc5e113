"""SQuAD loading, article-level split and feature building for reader training."""

from __future__ import annotations

import gzip
import json
import lzma
import random
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path


@dataclass(frozen=True)
class SquadExample:
    qid: str
    article: str
    question: str
    context: str
    answers: tuple[str, ...]
    answer_start: int  # -1 for unanswerable


def load_squad(path: str | Path) -> list[dict]:
    """Return the `data` list of a SQuAD JSON file (plain or gzipped)."""
    path = Path(path)
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8") as handle:
        return json.load(handle)["data"]


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


def split_articles(articles: list[dict], holdout_fraction: float, seed: int) -> tuple[list[dict], list[dict]]:
    """Split by article, never by question, so validation paragraphs are unseen."""
    order = sorted(range(len(articles)), key=lambda i: articles[i]["title"])
    random.Random(seed).shuffle(order)
    n_holdout = max(1, round(len(articles) * holdout_fraction))
    holdout = {i for i in order[:n_holdout]}
    train = [a for i, a in enumerate(articles) if i not in holdout]
    valid = [a for i, a in enumerate(articles) if i in holdout]
    return train, valid


def iter_examples(articles: list[dict]):
    for article in articles:
        for paragraph in article["paragraphs"]:
            for qa in paragraph["qas"]:
                answers = tuple(a["text"] for a in qa.get("answers", []))
                impossible = qa.get("is_impossible", False) or not answers
                yield SquadExample(
                    qid=qa["id"],
                    article=article["title"],
                    question=qa["question"],
                    context=paragraph["context"],
                    answers=answers,
                    answer_start=-1 if impossible else qa["answers"][0]["answer_start"],
                )


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
