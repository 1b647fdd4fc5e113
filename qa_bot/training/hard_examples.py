"""Hard examples mined from a reader's own confident mistakes, on the training articles only.

Two kinds, both found by running the reader (at its shipped threshold) as users get it:

- **Hard negatives**: the question with another paragraph of its own article that shares the question's words
  (top BM25 within the article) and holds no gold answer, on which the reader still answers above the threshold.
  That is the seed failure: "... condemned attacks on Iraqi bases that host Coalition troops" repeats the
  question in a passage that does not answer it. Labelled no-answer.
- **Hard positives**: the question with its own paragraph, where the reader's confident top span is wrong
  (F1 < 0.5). Kept with the gold label, so training sees its mistakes again.

    python -m qa_bot.training.hard_examples --squad ../shared/data/squad-train-v1.0.json.gz \\
        --reader qa_bot/models/reader --questions 6000 --out artifacts/hard-examples.jsonl
"""

from __future__ import annotations

import argparse
import json
import logging
import random
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import bm25s
from tqdm import tqdm

from qa_bot.eval import paragraph_passage
from qa_bot.index import bm25_tokens
from qa_bot.metrics import contains_answer, f1_score
from qa_bot.reader import Reader
from qa_bot.settings import Settings
from qa_bot.squad import SquadExample, iter_examples, load_squad, split_articles
from qa_bot.training.squad_data import write_examples

log = logging.getLogger("hard_examples")

BATCH_QUESTIONS = 16  # questions per forward pass (about 48 features)
RIGHT_F1 = 0.5  # a top span at least this close to gold counts as right, as in the answer-policy figures


def similar_paragraphs(example: SquadExample, contexts: Sequence[str], retriever: bm25s.BM25, depth: int) -> list[str]:
    """Up to ``depth`` other paragraphs of the article that share the question's words and hold no gold answer."""
    query = bm25_tokens([example.question])
    if not query[0]:
        return []
    found, scores = retriever.retrieve(query, k=min(len(contexts), depth + 1 + 2), show_progress=False)
    picked = []
    for position, score in zip(found[0], scores[0], strict=True):
        context = contexts[int(position)]
        if score > 0 and context != example.context and not contains_answer(context, example.answers):
            picked.append(context)
    return picked[:depth]


def candidate_pairs(
    articles: list[dict], questions: int, depth: int, seed: int
) -> Iterator[tuple[SquadExample, list[str]]]:
    """(question, [own paragraph, similar paragraphs...]) for a seeded sample of the articles' questions."""
    rng = random.Random(seed)
    examples = list(iter_examples(articles))
    chosen = {e.qid for e in rng.sample(examples, min(questions, len(examples)))}
    for article in articles:
        contexts = [p["context"] for p in article["paragraphs"]]
        retriever = bm25s.BM25()
        retriever.index(bm25_tokens(contexts), show_progress=False)
        for example in iter_examples([article]):
            if example.qid in chosen:
                yield example, [example.context, *similar_paragraphs(example, contexts, retriever, depth)]


def mistakes(threshold: float, example: SquadExample, contexts: list[str], results: list) -> list[SquadExample]:
    """The hard examples one question yields from the reads of its paragraphs (own paragraph first)."""
    found = []
    for number, (context, result) in enumerate(zip(contexts, results, strict=True)):
        top = result.spans[0] if result.spans else None
        if top is None or top.score < threshold:
            continue
        if number == 0 and f1_score(top.text, example.answers) < RIGHT_F1:
            found.append(example)
        elif number > 0:
            negative = SquadExample(f"{example.qid}-hard{number}", example.article, example.question, context, (), -1)
            found.append(negative)
    return found


@dataclass
class Mined:
    examples: list[SquadExample]
    questions: int
    similar_paragraphs: int  # other-paragraph reads

    def rates(self) -> dict:
        """How often the reader is confidently wrong: on its own paragraph, and on a similar one that can't answer."""
        negatives = sum(e.answer_start < 0 for e in self.examples)
        return {
            "questions": self.questions,
            "own_paragraph_confidently_wrong": round(100 * (len(self.examples) - negatives) / self.questions, 2),
            "similar_paragraphs": self.similar_paragraphs,
            "similar_paragraph_answered": round(100 * negatives / max(1, self.similar_paragraphs), 2),
        }


def mine(reader: Reader, articles: list[dict], questions: int, depth: int, seed: int) -> Mined:
    pairs = list(candidate_pairs(articles, questions, depth, seed))
    found = []
    with tqdm(total=len(pairs), desc="Mining", unit="question") as progress:
        for begin in range(0, len(pairs), BATCH_QUESTIONS):
            batch = pairs[begin : begin + BATCH_QUESTIONS]
            reads = reader.read_many([(e.question, [paragraph_passage(c)]) for e, contexts in batch for c in contexts])
            for example, contexts in batch:
                found.extend(mistakes(reader.threshold, example, contexts, reads[: len(contexts)]))
                reads = reads[len(contexts) :]
            progress.update(len(batch))
    return Mined(found, len(pairs), sum(len(contexts) - 1 for _, contexts in pairs))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--squad", required=True, help="SQuAD v1 training file (its training split is mined)")
    parser.add_argument("--reader", default="qa_bot/models/reader", help="reader whose mistakes are mined")
    parser.add_argument("--questions", type=int, default=6000, help="training questions to try")
    parser.add_argument("--depth", type=int, default=2, help="similar paragraphs read per question")
    parser.add_argument("--seed", type=int, default=29)
    parser.add_argument("--holdout-fraction", type=float, default=0.1)
    parser.add_argument("--split-seed", type=int, default=13, help="the reader's held-out split (never mined)")
    parser.add_argument("--out", type=Path, help="JSON lines of SquadExample (training articles)")
    parser.add_argument(
        "--heldout", action="store_true", help="measure the mistake rates on the held-out articles; writes nothing"
    )
    args = parser.parse_args(argv)
    if not args.heldout and args.out is None:
        parser.error("--out is required (or --heldout to measure only)")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    train_articles, heldout_articles = split_articles(load_squad(args.squad), args.holdout_fraction, args.split_seed)
    reader = Reader(args.reader, Settings())
    mined = mine(reader, heldout_articles if args.heldout else train_articles, args.questions, args.depth, args.seed)
    print(json.dumps({"reader": args.reader, "threshold": reader.threshold, **mined.rates()}))
    if not args.heldout:
        write_examples(mined.examples, args.out)
        log.info("%d hard examples written to %s", len(mined.examples), args.out)


if __name__ == "__main__":
    main()
