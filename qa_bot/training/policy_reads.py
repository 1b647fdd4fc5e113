"""The questions the answer policy is fitted and checked on (qa_bot.training.fit_answer_policy), and their reads.

Each half of the held-out articles asks a seeded sample of its answerable questions, some of them again with their
own article kept out of retrieval, and crowd-style unanswerables made from its own articles
(qa_bot.training.crowd_unanswerables). Every question is read through the real pipeline, as users ask, and the
reads are cached under a key of the reader, the embedder, the data and the settings, so an interrupted run resumes
and a refit with other options reads nothing again.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import random
from dataclasses import asdict, dataclass, replace
from pathlib import Path

from qa_bot.squad import SquadExample, iter_examples, split_articles
from qa_bot.training.crowd_unanswerables import CATEGORY_SHARES, crowd_unanswerables

CACHE_VERSION = 1
ABSENT_EXTRA = 40  # passages retrieved beyond top-k so that top-k remain once the question's article is dropped
QUESTIONS_PER_READ = 8  # questions per batched reader call
SAVE_EVERY = 10  # reader calls between cache saves
# A question from another paragraph of the same article is answered there once the whole article is searched.
ANSWERED_ELSEWHERE = "other_neutral"


@dataclass(frozen=True)
class Read:
    """One question asked through the pipeline: what retrieval returned and every span the reader found."""

    qid: str
    question: str
    answers: tuple[str, ...]
    article: str
    absent: bool  # its own article was kept out of retrieval
    retrieved: list[tuple[str, float, int, float | None, float | None]]  # passage_id, score, rank, dense, bm25
    spans: list[tuple[str, int, int, float, float]]  # passage_id, start, end, score, span_logit

    @property
    def answerable(self) -> bool:
        """A right answer exists: its article was searched and it has gold answers (crowd-style ones have none)."""
        return not self.absent and bool(self.answers)


def sample_questions(
    articles: list[dict], limit: int, absent_share: float, unanswerable_share: float, seed: int
) -> list[tuple[SquadExample, bool]]:
    """``limit`` answerable questions (all when 0) in a seeded order, each followed by its absent-article twin for
    about ``absent_share`` of them (a smaller limit gives a prefix of a larger one, so cached reads carry over);
    then about ``unanswerable_share`` crowd-style unanswerables per answerable question, made from ``articles``."""
    examples = [e for e in iter_examples(articles) if e.answer_start >= 0]
    random.Random(seed).shuffle(examples)
    if limit > 0:
        examples = examples[:limit]
    sampled = []
    for example in examples:
        sampled.append((example, False))
        if random.Random(f"{seed}:{example.qid}").random() < absent_share:
            sampled.append((example, True))
    return sampled + [(e, False) for e in unanswerable_questions(articles, len(examples) * unanswerable_share, seed)]


def unanswerable_questions(articles: list[dict], count: float, seed: int) -> list[SquadExample]:
    """About ``count`` crowd-style unanswerables about ``articles``, in the crowd's proportions of the categories
    that stay unanswerable when the whole article is searched."""
    kept = sum(share for category, share in CATEGORY_SHARES.items() if category != ANSWERED_ELSEWHERE)
    made = crowd_unanswerables(articles, round(count * sum(CATEGORY_SHARES.values()) / kept), seed)
    return [e for e in made if not e.qid.endswith(f"-crowd-{ANSWERED_ELSEWHERE}")]


def half_questions(
    articles: list[dict], seed: int, limits: dict[str, int], absent_share: float, unanswerable_share: float
) -> dict[str, tuple[list[dict], list[tuple[SquadExample, bool]]]]:
    """The held-out articles split by article as the reader's threshold was calibrated (``check`` and ``fit``),
    each half with the questions sampled from its own articles only."""
    check_articles, fit_articles = split_articles(articles, 0.5, seed)
    return {
        name: (part, sample_questions(part, limits[name], absent_share, unanswerable_share, seed))
        for name, part in (("fit", fit_articles), ("check", check_articles))
    }


def cache_key(parts: dict) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode("utf-8")).hexdigest()


def load_reads(path: Path, key: str) -> list[Read]:
    """Reads cached under ``key`` (the reader, embedder, index and settings), [] when none or unreadable."""
    if not path.is_file():
        return []
    try:
        with gzip.open(path, "rt", encoding="utf-8") as handle:
            record = json.load(handle)
        if record.get("key") != key:
            return []
        return [
            Read(
                **r
                | {
                    "answers": tuple(r["answers"]),
                    "retrieved": [tuple(x) for x in r["retrieved"]],
                    "spans": [tuple(x) for x in r["spans"]],
                }
            )
            for r in record["reads"]
        ]
    except (OSError, ValueError, KeyError, TypeError):
        return []


def save_reads(path: Path, key: str, reads: list[Read]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".partial")
    with gzip.open(partial, "wt", encoding="utf-8") as handle:
        json.dump({"key": key, "reads": [asdict(r) for r in reads]}, handle)
    partial.replace(path)  # a killed run leaves the previous cache whole


def _retrieve(bot, example: SquadExample, absent: bool, top_k: int, article_ids: dict[str, str]):
    if not absent:
        return bot.retrieve(example.question, top_k)
    own = article_ids[example.article.replace("_", " ")]  # corpus titles as qa_bot.eval.article_text writes them
    kept = [r for r in bot.retrieve(example.question, top_k + ABSENT_EXTRA) if r.passage.article_id != own]
    return [replace(r, rank=rank) for rank, r in enumerate(kept[:top_k])]


def read_questions(
    bot, questions: list[tuple[SquadExample, bool]], cache: Path, key: str, progress: bool = True
) -> list[Read]:
    """Ask every question through retrieval and the reader, as the bot does; reads already in ``cache`` for the
    same questions are reused, and new ones are saved there as they come (an interrupted run resumes)."""
    from tqdm import tqdm

    store = {(r.qid, r.absent): r for r in load_reads(cache, key)}
    todo = [(e, absent) for e, absent in questions if (e.qid, absent) not in store]
    with bot.borrow_index() as index:
        article_ids = {a["title"]: a["article_id"] for a in index.list_articles()}
    with tqdm(total=len(todo), unit="question", disable=not progress or not todo) as bar:
        for call, begin in enumerate(range(0, len(todo), QUESTIONS_PER_READ), start=1):
            chunk = todo[begin : begin + QUESTIONS_PER_READ]
            hits = [_retrieve(bot, e, absent, bot.settings.top_k, article_ids) for e, absent in chunk]
            results = bot.reader.read_many([(e.question, [h.passage for h in hit]) for (e, _), hit in zip(chunk, hits)])
            for (example, absent), hit, result in zip(chunk, hits, results):
                store[(example.qid, absent)] = Read(
                    qid=example.qid,
                    question=example.question,
                    answers=example.answers,
                    article=example.article,
                    absent=absent,
                    retrieved=[(h.passage.passage_id, h.score, h.rank, h.dense_score, h.bm25_score) for h in hit],
                    spans=[(s.passage_id, s.start, s.end, s.score, s.span_logit) for s in result.spans],
                )
            bar.update(len(chunk))
            if call % SAVE_EVERY == 0 or begin + QUESTIONS_PER_READ >= len(todo):
                save_reads(cache, key, list(store.values()))
    return [store[(e.qid, absent)] for e, absent in questions]
