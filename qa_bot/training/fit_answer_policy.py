"""Fit the answer policy (qa_bot/answer_policy.py) on held-out full-pipeline reads, check it on unseen articles.

    QA_BOT_READER=fast python -m qa_bot.training.fit_answer_policy --heldout artifacts/heldout.json

The policy is fitted for the reader in use (``QA_BOT_READER``: ``fast``, ``accurate`` or a folder) and written
beside it, ``answer_policy.json`` in the reader's folder, unless ``--out`` names another file.

The held-out articles are split in two halves by article, the same split the reader's threshold was calibrated
with (``qa_bot.training.calibrate``): the policy is fitted on one half and checked on the other. Each half is
indexed as its own corpus (under ``--work``, reused when unchanged) and a sample of its questions is asked
through the real pipeline (hybrid retrieval of the top-k passages, then the reader), as users ask them. Two kinds
of question have no right answer: a share of the questions asked again with their own article kept out of
retrieval (the "not in these articles" case), and crowd-style unanswerables (``--unanswerable-share`` per
answerable question; qa_bot.training.crowd_unanswerables) made from that half's own articles and asked with them.
These reads are cached in ``--work`` under a key of the reader, the embedder, the data and the settings
(qa_bot.training.policy_reads), so refitting with other options takes seconds; a new reader reads again.

Fitted on the fitting half (candidate confidences out of fold, by article):
- the confidence model: a logistic regression of "this candidate is right" (F1 >= 0.5 with a gold answer;
  never, when the question has no right answer) on qa_bot.answer_policy.FEATURES;
- re-ranking by that confidence is kept when it raises top-1 precision by at least ``--min-rerank-gain``;
- the answer threshold: the lowest at which the answers shown are right at ``--precision`` or better (over every
  answer shown, one shown to a question without a right answer counting as wrong), unless that answers fewer than
  ``--min-answered`` of the answerable questions, in which case the highest that answers that many;
- the alternative margin: the widest at which the answers shown stay right at ``--precision`` (none if no
  width does).
The check on the other half (what `qa-bot eval --mode open` reports on those articles) is stored in the file.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace
from datetime import date
from pathlib import Path

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GroupKFold

from qa_bot.answer_policy import (
    FEATURES,
    POLICY_FILE,
    AnswerPolicy,
    ConfidenceModel,
    candidate_features,
    reader_fingerprint,
)
from qa_bot.citations import Candidate, cite_spans
from qa_bot.errors import QABotError
from qa_bot.eval import ShownScore, score_shown, shown_summary, write_corpus
from qa_bot.metrics import RIGHT_ANSWER_F1, f1_score
from qa_bot.reader import TRAINING_CONFIG
from qa_bot.settings import Settings
from qa_bot.squad import load_squad_file
from qa_bot.training.policy_reads import CACHE_VERSION, Read, cache_key, half_questions, read_questions
from qa_bot.types import Passage, Retrieved, Span

TRAIN_TOP = 3  # candidates per question the confidence model is fitted on
MARGINS = tuple(round(m, 3) for m in np.arange(0.0, 0.505, 0.01))


@dataclass
class Half:
    """One half of the held-out articles, indexed as its own corpus, with its reads."""

    name: str
    articles: list[dict]
    index: object  # qa_bot.index.OpenIndex
    reads: list[Read]


# ---------------------------------------------------------------- candidates and labels


@dataclass(frozen=True)
class Question:
    read: Read
    candidates: list[Candidate]
    retrieved: list[Retrieved]
    features: np.ndarray
    right: np.ndarray  # per candidate


def rebuild(half: Half) -> list[Question]:
    """Candidates exactly as the pipeline builds them, from the cached reads."""
    index = half.index
    passages: dict[str, Passage] = {p.passage_id: p for p in index.passages(list(range(index.passage_count)))}
    infos, sentences, texts = {}, {}, {}
    questions = []
    for read in half.reads:
        retrieved = []
        for passage_id, score, rank, dense, bm25 in read.retrieved:
            passage = passages[passage_id]
            if passage.article_id not in infos:
                infos[passage.article_id] = index.article_info(passage.article_id)
            retrieved.append(Retrieved(passage, infos[passage.article_id], score, rank, dense, bm25))
        spans = [
            Span(pid, start, end, passages[pid].text[start:end], score, logit)
            for pid, start, end, score, logit in read.spans
        ]
        candidates = cite_spans(
            spans,
            {r.passage.passage_id: r for r in retrieved},
            lambda a: sentences.setdefault(a, index.sentences(a)),
            lambda a: texts.setdefault(a, index.article_text(a)),
        )
        right = np.array(
            [read.answerable and f1_score(c.answer.text, read.answers) >= RIGHT_ANSWER_F1 for c in candidates],
            dtype=bool,
        )
        features = candidate_features(read.question, candidates, retrieved)
        questions.append(Question(read, candidates, retrieved, features, right))
    return questions


# ---------------------------------------------------------------- fitting


def training_rows(questions: list[Question]) -> tuple[np.ndarray, np.ndarray]:
    """Features and labels of each question's best ``TRAIN_TOP`` candidates by reader logit: the ones that can be
    shown. Fitting on every candidate (mostly hopeless ones) left the shown answers' confidence too low."""
    features = [q.features[:TRAIN_TOP] for q in questions]
    right = [q.right[:TRAIN_TOP] for q in questions]
    return np.vstack(features), np.concatenate(right)


def fit_model(features: np.ndarray, right: np.ndarray) -> ConfidenceModel:
    if right.all() or not right.any():
        raise QABotError("the reads need both right and wrong candidates; use more held-out questions")
    mean = features.mean(axis=0)
    scale = features.std(axis=0)
    scale[scale == 0] = 1.0
    model = LogisticRegression(C=1.0, max_iter=1000).fit((features - mean) / scale, right)
    return ConfidenceModel(
        tuple(round(float(v), 6) for v in mean),
        tuple(round(float(v), 6) for v in scale),
        tuple(round(float(v), 6) for v in model.coef_[0]),
        round(float(model.intercept_[0]), 6),
    )


def out_of_fold(questions: list[Question], folds: int = 5) -> list[np.ndarray]:
    """Each question's candidate confidences from a model fitted without its article."""
    groups = np.array([q.read.article for q in questions])
    confidences: list[np.ndarray] = [np.zeros(0)] * len(questions)
    for train, test in GroupKFold(n_splits=min(folds, len(set(groups)))).split(questions, groups=groups):
        model = fit_model(*training_rows([questions[i] for i in train]))
        for i in test:
            confidences[i] = model.probabilities(questions[i].features) if len(questions[i].candidates) else np.zeros(0)
    return confidences


def top1_precision(questions: list[Question], confidences: list[np.ndarray], rerank: bool) -> float:
    """Share of answerable questions whose first-ranked candidate is right."""
    hits = []
    for question, confidence in zip(questions, confidences):
        if not question.read.answerable:
            continue
        if not question.candidates:
            hits.append(False)
            continue
        keys = confidence if rerank else np.array([c.span_logit for c in question.candidates])
        hits.append(bool(question.right[int(np.argmax(keys))]))
    return float(np.mean(hits))


def simulate(policy: AnswerPolicy, questions: list[Question], confidences: list[np.ndarray] | None = None) -> list:
    """What the policy shows for each question; ``confidences`` replaces the policy's model (out-of-fold)."""
    shown = []
    for i, question in enumerate(questions):
        if confidences is None:
            decided = policy.decide(question.read.question, question.candidates, question.retrieved)
        else:
            fixed = [
                replace(c, answer=replace(c.answer, score=float(p)))
                for c, p in zip(question.candidates, confidences[i])
            ]
            decided = replace(policy, model=None).decide(question.read.question, fixed, question.retrieved)
        shown.append(decided.answers)
    return shown


def scores(questions: list[Question], shown: list) -> list[ShownScore]:
    """What the answerable questions are shown, scored against their gold answers."""
    return [score_shown(answers, q.read.answers) for q, answers in zip(questions, shown) if q.read.answerable]


def shown_right_share(questions: list[Question], shown: list) -> float | None:
    """Percent of every answer shown that is right; an answer shown to a question without a right answer is wrong.
    None when nothing is shown."""
    right = [r for score in scores(questions, shown) for r in score.right]
    right += [False for q, answers in zip(questions, shown) if not q.read.answerable for _ in answers]
    return round(100 * sum(right) / len(right), 2) if right else None


def _precise(questions: list[Question], shown: list, precision: float) -> bool:
    share = shown_right_share(questions, shown)
    return share is not None and share >= 100 * precision


def choose_threshold(
    policy: AnswerPolicy,
    questions: list[Question],
    confidences: list[np.ndarray],
    precision: float,
    min_answered: float,
) -> float:
    """See the module docstring; candidate thresholds are the answerable questions' top confidences (between two,
    the higher answers the same answerable questions and shows no more unanswerable ones)."""
    tops = sorted({round(float(c.max()), 4) for c, q in zip(confidences, questions) if len(c) and q.read.answerable})
    answered_enough = []
    for threshold in tops:
        shown = simulate(replace(policy, answer_threshold=threshold), questions, confidences)
        if shown_summary(scores(questions, shown))["answered"] < 100 * min_answered:
            break
        answered_enough.append(threshold)
        if _precise(questions, shown, precision):
            return threshold
    if not answered_enough:
        raise QABotError("no threshold answers enough questions; check the reads")
    return answered_enough[-1]


def choose_margin(
    policy: AnswerPolicy, questions: list[Question], confidences: list[np.ndarray], precision: float
) -> float | None:
    best = None
    for margin in MARGINS:
        if _precise(questions, simulate(replace(policy, alternative_margin=margin), questions, confidences), precision):
            best = margin
    return best


# ---------------------------------------------------------------- the command


def prepare_half(name: str, articles: list[dict], work: Path, settings: Settings, embedder) -> object:
    from qa_bot.index import OpenIndex, sync_index

    corpus, index_dir = work / name / "corpus", work / name / "index"
    write_corpus(articles, corpus)
    sync_index(corpus, index_dir, settings, progress=False, embedder=embedder)
    return OpenIndex.load(index_dir, embedder.identity())


def read_halves(
    heldout: Path,
    work: Path,
    limits: dict[str, int],
    absent_share: float,
    unanswerable_share: float,
    settings: Settings,
    log=print,
) -> tuple[dict[str, Half], str, AnswerPolicy]:
    """Both halves of the held-out articles indexed and read through the bot; with the reader's fingerprint and the
    reader's own fallback policy."""
    from qa_bot.embedding import Embedder
    from qa_bot.pipeline import QABot
    from qa_bot.reader import Reader

    reader_path = settings.reader_path()
    fingerprint = reader_fingerprint(reader_path)
    if fingerprint is None:
        raise QABotError(f"the reader {reader_path} is not a model folder; the policy is fitted for a local reader")
    config_path = Path(reader_path) / TRAINING_CONFIG
    seed = json.loads(config_path.read_text(encoding="utf-8")).get("seed", 13) if config_path.is_file() else 13
    sampled = half_questions(load_squad_file(heldout), seed, limits, absent_share, unanswerable_share)
    embedder = Embedder.from_settings(settings)  # the backend users get (QA_BOT_EMBEDDER_BACKEND), not always torch
    reader = Reader(reader_path, settings)
    fallback = AnswerPolicy(answer_threshold=reader.threshold)
    halves = {}
    for name, (articles, questions) in sampled.items():
        index = prepare_half(name, articles, work, settings, embedder)
        key = cache_key(
            {
                "version": CACHE_VERSION,
                "reader": fingerprint,
                "embedder": embedder.identity(),
                "index": index.version,
                "top_k": settings.top_k,
                "precision": settings.reader_precision_in_use(),
            }
        )
        absent, crowd = sum(a for _, a in questions), sum(not e.answers for e, _ in questions)
        log(f"{name} half: {len(questions)} questions ({absent} without their article, {crowd} crowd-style)")
        bot = QABot.from_parts(index, embedder, reader, settings, policy=fallback)
        reads = read_questions(bot, questions, work / f"reads-{name}.json.gz", key)
        halves[name] = Half(name, articles, index, reads)
    return halves, fingerprint, fallback


def fit_policy(
    fit: list[Question], precision: float, min_answered: float, min_rerank_gain: float
) -> tuple[AnswerPolicy, list[np.ndarray], float]:
    """The policy fitted on one half: re-ranking if it gains enough out of fold, the threshold, the margin and the
    confidence model; with the out-of-fold confidences and the re-ranking gain."""
    oof = out_of_fold(fit)
    gain = top1_precision(fit, oof, rerank=True) - top1_precision(fit, oof, rerank=False)
    draft = AnswerPolicy(answer_threshold=0.0, rerank=gain >= min_rerank_gain, source="fitted")
    threshold = choose_threshold(draft, fit, oof, precision, min_answered)
    margin = choose_margin(replace(draft, answer_threshold=threshold), fit, oof, precision)
    model = fit_model(*training_rows(fit))
    return replace(draft, model=model, answer_threshold=threshold, alternative_margin=margin), oof, gain


def half_report(half: Half, questions: list[Question], shown: list) -> dict:
    """What one half's questions are shown: the answerable ones as ``qa-bot eval --mode open`` scores them, and how
    often the ones without a right answer still get one."""

    def answered(kept: list[bool]) -> float:
        given = [bool(answers) for keep, answers in zip(kept, shown) if keep]
        return round(float(np.mean(given or [0.0])), 4)

    absent = [q.read.absent for q in questions]
    crowd = [not q.read.answerable and not q.read.absent for q in questions]
    return {
        "articles": len(half.articles),
        "questions": sum(q.read.answerable for q in questions),
        "absent_article_questions": sum(absent),
        "unanswerable_questions": sum(crowd),
        "absent_article_answered": answered(absent),
        "unanswerable_answered": answered(crowd),
        "shown_right_with_unanswerables": shown_right_share(questions, shown),
        **shown_summary(scores(questions, shown)),
    }


def fit_report(
    policy: AnswerPolicy,
    fallback: AnswerPolicy,
    halves: dict[str, Half],
    fit: list[Question],
    check: list[Question],
    oof: list[np.ndarray],
    gain: float,
) -> dict:
    """What the policy shows on the half it was fitted on (out of fold) and on the half it never saw."""
    check_confidences = [policy.model.probabilities(q.features) for q in check]
    return {
        "fitted_on": {
            **half_report(halves["fit"], fit, simulate(policy, fit, oof)),
            "rerank_top1_gain_out_of_fold": round(gain, 4),
        },
        "checked_on_unseen_articles": {
            **half_report(halves["check"], check, simulate(policy, check)),
            "top1_precision_reader_order": round(top1_precision(check, check_confidences, rerank=False), 4),
            "top1_precision_reranked": round(top1_precision(check, check_confidences, rerank=True), 4),
            "reader_fallback": half_report(halves["check"], check, simulate(fallback, check)),
        },
    }


def policy_path(out: Path | None, settings: Settings) -> Path:
    """Where the policy is written: ``out``, or beside the reader it is fitted for (where the bot looks for it)."""
    return out or Path(settings.reader_path()) / POLICY_FILE


def run(
    heldout: Path,
    out: Path | None,
    work: Path,
    fit_questions: int,
    check_questions: int,
    absent_share: float,
    unanswerable_share: float,
    precision: float,
    min_answered: float,
    min_rerank_gain: float,
    settings: Settings,
    log=print,
) -> dict:
    """Read, fit, check and write the policy (to ``out``, by default the reader's folder); returns what it wrote."""
    began = time.perf_counter()
    limits = {"fit": fit_questions, "check": check_questions}
    halves, fingerprint, fallback = read_halves(heldout, work, limits, absent_share, unanswerable_share, settings, log)
    fit, check = rebuild(halves["fit"]), rebuild(halves["check"])
    policy, oof, gain = fit_policy(fit, precision, min_answered, min_rerank_gain)
    record = {
        "reader_fingerprint": fingerprint,
        "answer_threshold": policy.answer_threshold,
        "rerank": policy.rerank,
        "alternative_margin": policy.alternative_margin,
        "max_alternatives": policy.max_alternatives,
        "model": {"features": list(FEATURES), **asdict(policy.model)},
        "targets": {"precision": precision, "min_answered": min_answered, "min_rerank_gain": min_rerank_gain},
        "report": fit_report(policy, fallback, halves, fit, check, oof, gain),
        "command": (
            (f"QA_BOT_READER={settings.reader} " if settings.reader else "")
            + f"python -m qa_bot.training.fit_answer_policy --heldout {heldout}"
            + (f" --out {out}" if out else "")
            + f" --fit-questions {fit_questions} --check-questions {check_questions}"
            + f" --absent-share {absent_share} --unanswerable-share {unanswerable_share}"
        ),
        "date": date.today().isoformat(),
        "minutes": round((time.perf_counter() - began) / 60, 1),
    }
    target = policy_path(out, settings)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
    check_file = work / "heldout-check.json"
    check_data = {"version": "1.1", "data": halves["check"].articles}
    check_file.write_text(json.dumps(check_data, ensure_ascii=False), encoding="utf-8")
    return record


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--heldout", type=Path, required=True, help="held-out SQuAD articles (python -m qa_bot.eval)")
    parser.add_argument("--out", type=Path, help="policy JSON to write (default: in the reader's folder)")
    parser.add_argument("--work", type=Path, default=Path("artifacts/answer-policy"), help="indexes and read cache")
    # About 670 reads with the absent-article twins and the crowd-style unanswerables: 1.5 s each with the fast reader
    # on 2 cores shared with reader training (~17 minutes)
    parser.add_argument("--fit-questions", type=int, default=300, help="answerable questions read from the fit half")
    parser.add_argument("--check-questions", type=int, default=150, help="answerable questions read from the other")
    parser.add_argument("--absent-share", type=float, default=0.25, help="share also asked without their article")
    parser.add_argument(
        "--unanswerable-share",
        type=float,
        default=0.25,
        help="crowd-style unanswerable questions per answerable one, made from the same half's articles",
    )
    parser.add_argument("--precision", type=float, default=0.87, help="share of shown answers that must be right")
    parser.add_argument(
        "--min-answered", type=float, default=0.87, help="share of answerable questions that must be answered"
    )
    parser.add_argument("--min-rerank-gain", type=float, default=0.01, help="top-1 precision gain to keep re-ranking")
    args = parser.parse_args(argv)
    settings = Settings()
    try:
        record = run(
            args.heldout,
            args.out,
            args.work,
            args.fit_questions,
            args.check_questions,
            args.absent_share,
            args.unanswerable_share,
            args.precision,
            args.min_answered,
            args.min_rerank_gain,
            settings,
        )
    except QABotError as error:
        raise SystemExit(f"error: {error}") from None
    print(json.dumps(record["report"], indent=2))
    print(
        f"wrote {policy_path(args.out, settings)} in {record['minutes']} minutes;"
        f" unseen half for qa-bot eval: {args.work}/heldout-check.json"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
