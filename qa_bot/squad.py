"""SQuAD-format files (v1.1 and v2.0, plain or gzipped): reading, questions, and the article-level split."""

from __future__ import annotations

import gzip
import json
import random
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from qa_bot.errors import QABotError

HOLDOUT_FRACTION = 0.1  # the split the bundled reader was trained with (qa_bot/training/train_reader.py)
HOLDOUT_SEED = 13


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


def load_squad_file(path: str | Path) -> list[dict]:
    """The ``data`` list (articles) of a SQuAD v1.1/v2.0 JSON file, plain or gzipped; a bad file is one error line."""
    path = Path(path)
    if not path.is_file():
        raise QABotError(f"SQuAD file not found: {path} (give a SQuAD-format .json or .json.gz file)")
    try:
        articles = load_squad(path)
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, KeyError, TypeError) as error:
        raise QABotError(f"{path} is not a SQuAD-format JSON file ({error}); expected {{'data': [articles]}}") from None
    if not any(paragraph.get("qas") for article in articles for paragraph in article.get("paragraphs", [])):
        raise QABotError(f"{path} has no questions; expected SQuAD articles with paragraphs and qas")
    return articles


def split_articles(articles: list[dict], holdout_fraction: float, seed: int) -> tuple[list[dict], list[dict]]:
    """Split by article, never by question, so validation paragraphs are unseen."""
    order = sorted(range(len(articles)), key=lambda i: articles[i]["title"])
    random.Random(seed).shuffle(order)
    n_holdout = max(1, round(len(articles) * holdout_fraction))
    holdout = {i for i in order[:n_holdout]}
    train = [a for i, a in enumerate(articles) if i not in holdout]
    valid = [a for i, a in enumerate(articles) if i in holdout]
    return train, valid


def iter_examples(articles: list[dict]) -> Iterator[SquadExample]:
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


def select_questions(articles: list[dict], limit: int | None = None) -> list[SquadExample]:
    """All questions, or ``limit`` of them spread evenly over the file (not just its first articles)."""
    examples = list(iter_examples(articles))
    if limit is None or limit >= len(examples):
        return examples
    if limit <= 0:
        raise QABotError(f"--limit must be a positive number of questions, got {limit}")
    step = len(examples) / limit
    return [examples[int(i * step)] for i in range(limit)]
