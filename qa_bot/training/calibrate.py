"""Calibrate the reader's scores and no-answer threshold on the SQuAD articles held out from training.

Each held-out answerable question is read twice: with its own paragraph and
with another paragraph of the same article (the hard negatives retrieval
hands the reader). Platt scaling of the best span's logit against "this span
is right" (F1 >= 0.5 with a gold answer; never, for a wrong paragraph) turns
scores into probabilities on that equal mix, so the confidence users see means
something. The threshold is the highest one that still answers
``min_answered`` of the answerable questions, which rejects the most
wrong-paragraph questions. Both are fitted on one half of the held-out articles
and checked on the other half, so the reported rates are not the ones tuned
for. They are written to ``reader_config.json`` in the reader folder, where
``qa_bot.reader.Reader`` picks them up.

    python -m qa_bot.training.calibrate --squad ../shared/data/squad-train-v1.0.json.gz --reader qa_bot/models/reader
"""

from __future__ import annotations

import argparse
import json
import math
import random
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import date
from pathlib import Path

import numpy as np
from sklearn.linear_model import LogisticRegression
from tqdm import tqdm

from qa_bot.errors import QABotError
from qa_bot.metrics import RIGHT_ANSWER_F1, exact_match, expected_calibration_error, f1_score
from qa_bot.reader import READER_CONFIG, TRAINING_CONFIG, Reader
from qa_bot.settings import BUNDLED_READER, Settings
from qa_bot.spans import ScoreCalibration
from qa_bot.squad import SquadExample, iter_examples, load_squad, split_articles
from qa_bot.training.adversarial import AnswerPools, mine_pools, unanswerable_examples
from qa_bot.training.crowd_unanswerables import crowd_unanswerables
from qa_bot.training.squad_data import wrong_paragraph_examples
from qa_bot.types import Passage, Span

PAIRS_PER_CALL = 256  # pairs handed to the reader at once, so progress shows
NO_SPAN_LOGIT = -30.0  # stands in for "no span fits the context": far below any real span


def best_spans(
    reader: Reader, pairs: Sequence[tuple[str, str]], batch_size: int = 32, progress: bool = False
) -> list[Span | None]:
    """The reader's best span for each (question, context) pair, None when no span fits the context."""
    best: list[Span | None] = []
    with tqdm(total=len(pairs), unit="pair", disable=not progress) as bar:
        for begin in range(0, len(pairs), PAIRS_PER_CALL):
            chunk = pairs[begin : begin + PAIRS_PER_CALL]
            queries = [
                (question, [Passage(f"pair{begin + i}", "", 0, 0, len(context), context, 0, 0)])
                for i, (question, context) in enumerate(chunk)
            ]
            best.extend(result.spans[0] if result.spans else None for result in reader.read_many(queries, batch_size))
            bar.update(len(chunk))
    return best


@dataclass(frozen=True)
class Rejection:
    """How a threshold splits answerable questions from wrong-paragraph ones."""

    answerable: int
    wrong_paragraph: int
    answered_rate: float  # answerable questions whose best span clears the threshold
    rejected_rate: float  # wrong-paragraph questions whose best span does not (= "no answer" recall)
    no_answer_precision: float  # of the questions given "no answer", the share that had none
    unanswerable: int = 0  # edited questions their own paragraph does not answer (qa_bot/training/adversarial.py)
    unanswerable_refused_rate: float | None = None
    crowd_unanswerable: int = 0  # of those, the crowd-style ones (qa_bot/training/crowd_unanswerables.py)
    crowd_unanswerable_refused_rate: float | None = None


def _refused_rate(scores: np.ndarray, threshold: float) -> float | None:
    return round(float((scores < threshold).mean()), 4) if len(scores) else None


def rejection_at(
    threshold: float,
    positive: np.ndarray,
    negative: np.ndarray,
    unanswerable: np.ndarray | None = None,
    crowd: int = 0,
) -> Rejection:
    """Rates at ``threshold``; the last ``crowd`` of the unanswerable scores are the crowd-style ones."""
    unanswerable = np.zeros(0) if unanswerable is None else unanswerable
    rejected_negatives = int((negative < threshold).sum()) + int((unanswerable < threshold).sum())
    rejected_positives = int((positive < threshold).sum())
    return Rejection(
        answerable=len(positive),
        wrong_paragraph=len(negative),
        answered_rate=round(1 - rejected_positives / len(positive), 4),
        rejected_rate=round(float((negative < threshold).mean()), 4),
        no_answer_precision=round(rejected_negatives / max(1, rejected_negatives + rejected_positives), 4),
        unanswerable=len(unanswerable),
        unanswerable_refused_rate=_refused_rate(unanswerable, threshold),
        crowd_unanswerable=crowd,
        crowd_unanswerable_refused_rate=_refused_rate(unanswerable[len(unanswerable) - crowd :], threshold),
    )


@dataclass(frozen=True)
class Calibration:
    no_answer_threshold: float
    min_answered: float
    fitted: Rejection  # rates on the pairs the threshold was chosen on
    exact_match: float  # best span vs gold answers on answerable questions, before thresholding
    score_scale: float  # Platt scaling of span logits, see qa_bot.spans.ScoreCalibration
    score_bias: float
    calibration_error: float  # expected calibration error of the scaled scores, 10 equal-width bins


def _logit(span: Span | None) -> float:
    return span.span_logit if span else NO_SPAN_LOGIT


def fit_score_calibration(logits: np.ndarray, right: np.ndarray) -> ScoreCalibration:
    """Platt scaling: a one-feature logistic regression of "the span is right" on its logit."""
    if right.all() or not right.any():
        raise QABotError("Score calibration needs both right and wrong best spans; use more held-out data.")
    model = LogisticRegression(C=1e4).fit(logits.reshape(-1, 1), right)
    scale, bias = float(model.coef_[0, 0]), float(model.intercept_[0])
    if scale <= 0:
        raise QABotError("The reader's span scores do not separate right answers from wrong ones; train it longer.")
    return ScoreCalibration(round(scale, 4), round(bias, 4))


def calibrate(
    answerable: Sequence[tuple[SquadExample, Span | None]],
    wrong_paragraph: Sequence[Span | None],
    min_answered: float = 0.95,
    unanswerable: Sequence[Span | None] = (),
    crowd: int = 0,
) -> Calibration:
    """Platt scaling and threshold on answerable questions against wrong-paragraph and unanswerable ones (the last
    ``crowd`` of which are crowd-style)."""
    if not answerable or not wrong_paragraph:
        raise QABotError("Calibration needs both answerable and wrong-paragraph questions; use more held-out data.")
    right = np.array(
        [span is not None and f1_score(span.text, example.answers) >= RIGHT_ANSWER_F1 for example, span in answerable]
        + [False] * (len(wrong_paragraph) + len(unanswerable))
    )
    logits = np.array([_logit(span) for _, span in answerable] + [_logit(s) for s in [*wrong_paragraph, *unanswerable]])
    scaling = fit_score_calibration(logits, right)
    scores = np.asarray(scaling(logits))
    n_answerable, n_wrong = len(answerable), len(wrong_paragraph)
    positive, negative = scores[:n_answerable], scores[n_answerable : n_answerable + n_wrong]
    # Rejection only grows with the threshold, so the best one is the highest that answers enough.
    keep = math.ceil(min_answered * len(positive))
    # Stored to 4 decimals, rounded down so the question at the boundary stays answered.
    threshold = math.floor(float(np.sort(positive)[::-1][keep - 1]) * 1e4) / 1e4
    exact = [span is not None and exact_match(span.text, example.answers) for example, span in answerable]
    return Calibration(
        no_answer_threshold=threshold,
        min_answered=min_answered,
        fitted=rejection_at(threshold, positive, negative, scores[n_answerable + n_wrong :], crowd),
        exact_match=round(float(np.mean(exact)), 4),
        score_scale=scaling.scale,
        score_bias=scaling.bias,
        calibration_error=round(expected_calibration_error(scores, right), 4),
    )


@dataclass(frozen=True)
class HeldOutPairs:
    positives: list[SquadExample]  # answerable questions with their own paragraph
    negatives: list[SquadExample]  # the same questions with a wrong paragraph of the same article
    unanswerables: list[SquadExample]  # edited questions their own paragraph no longer answers
    crowd: list[SquadExample]  # crowd-style unanswerables about the same articles

    @property
    def examples(self) -> list[SquadExample]:
        return self.positives + self.negatives + self.unanswerables + self.crowd

    def split(self, values: Sequence) -> tuple[Sequence, Sequence, Sequence]:
        """``values`` in the order of ``examples``, as (answerable, wrong paragraph, unanswerable incl. crowd)."""
        n_pos, n_neg = len(self.positives), len(self.negatives)
        return values[:n_pos], values[n_pos : n_pos + n_neg], values[n_pos + n_neg :]


def _pairs(articles: list[dict], limit: int, seed: int, pools: AnswerPools) -> HeldOutPairs:
    positives = [e for e in iter_examples(articles) if e.answer_start >= 0]
    if limit and limit < len(positives):
        positives = random.Random(seed).sample(positives, limit)
    kept = {e.qid for e in positives}
    negatives = [n for n in wrong_paragraph_examples(articles, 1.0, seed) if n.qid.removesuffix("-neg") in kept]
    unanswerables = unanswerable_examples(positives, pools, len(positives) // 2, seed)
    crowd = crowd_unanswerables(articles, len(positives) // 2, seed)
    return HeldOutPairs(positives, negatives, unanswerables, crowd)


def held_out_pairs(squad: str | Path, reader_dir: Path, limit: int) -> tuple[HeldOutPairs, HeldOutPairs]:
    """Pairs to fit on and pairs to check on, from disjoint halves of the held-out articles (``limit`` answerable
    questions sampled from each half, 0 = all)."""
    config_path = reader_dir / TRAINING_CONFIG
    if not config_path.is_file():
        raise QABotError(f"No {TRAINING_CONFIG} in {reader_dir}: calibration needs the reader's training split.")
    config = json.loads(config_path.read_text(encoding="utf-8"))
    seed = config["seed"]
    training, held_out = split_articles(load_squad(squad), config["holdout_fraction"], seed)
    check_articles, fit_articles = split_articles(held_out, 0.5, seed)
    pools = mine_pools(iter_examples(training))  # fake names come from training answers only
    return _pairs(fit_articles, limit, seed, pools), _pairs(check_articles, limit, seed, pools)


def run(
    squad: str | Path,
    reader_dir: str | Path,
    limit: int = 1000,
    batch_size: int = 32,
    min_answered: float = 0.95,
    settings: Settings | None = None,
) -> tuple[Calibration, Rejection]:
    """Calibrate on one half of the held-out articles, check on the other, write ``reader_config.json``."""
    reader_dir = Path(reader_dir)
    settings = settings or Settings()
    fit, check = held_out_pairs(squad, reader_dir, limit)
    reader = Reader(str(reader_dir), settings)
    fit_examples, check_examples = fit.examples, check.examples
    spans = best_spans(
        reader, [(e.question, e.context) for e in fit_examples + check_examples], batch_size, progress=True
    )
    fit_spans, check_spans = spans[: len(fit_examples)], spans[len(fit_examples) :]
    positive_spans, negative_spans, unanswerable_spans = fit.split(fit_spans)
    result = calibrate(
        list(zip(fit.positives, positive_spans)), negative_spans, min_answered, unanswerable_spans, len(fit.crowd)
    )
    scaling = ScoreCalibration(result.score_scale, result.score_bias)
    check_scores = np.asarray(scaling(np.array([_logit(span) for span in check_spans])))
    checked = rejection_at(result.no_answer_threshold, *check.split(check_scores), len(check.crowd))
    record = {
        "no_answer_threshold": result.no_answer_threshold,
        "score_calibration": {"scale": result.score_scale, "bias": result.score_bias},
        "calibration": asdict(result)
        | {
            "data": Path(squad).name,
            "limit": limit,
            "reader_precision": settings.reader_precision_in_use(),
            "date": date.today().isoformat(),
        },
        "check_on_other_articles": asdict(checked),
    }
    (reader_dir / READER_CONFIG).write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
    return result, checked


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--squad", required=True, help="SQuAD JSON (.json or .json.gz) the reader was trained from")
    parser.add_argument("--reader", default=str(BUNDLED_READER), help="reader folder (gets reader_config.json)")
    parser.add_argument(
        "--limit", type=int, default=1000, help="answerable questions to sample from each half (0 = all held out)"
    )
    parser.add_argument("--batch-size", type=int, default=32, help="features per forward pass")
    # 0.95 on the fitting half so that unseen articles still see about 90% answered (91.7% for the bundled reader)
    parser.add_argument("--min-answered", type=float, default=0.95, help="share of answerable questions to keep")
    args = parser.parse_args(argv)
    try:
        result, checked = run(args.squad, args.reader, args.limit, args.batch_size, args.min_answered)
    except QABotError as error:
        raise SystemExit(f"error: {error}") from None
    print(f"no-answer threshold {result.no_answer_threshold:.4f} written to {Path(args.reader) / READER_CONFIG}")
    for name, rates in (("fitted on", result.fitted), ("checked on", checked)):
        refused = rates.unanswerable_refused_rate or 0.0
        print(
            f"  {name} {rates.answerable} held-out questions: {rates.answered_rate:.1%} answered,"
            f" {rates.rejected_rate:.1%} of {rates.wrong_paragraph} wrong-paragraph twins rejected,"
            f" {refused:.1%} of {rates.unanswerable} unanswerable questions refused"
            f" ({rates.crowd_unanswerable_refused_rate or 0.0:.1%} of the {rates.crowd_unanswerable} crowd-style ones),"
            f" 'no answer' precision {rates.no_answer_precision:.1%}"
        )
    print(f"  best-span exact match (answerable, unthresholded): {result.exact_match:.1%}")
    print(
        f"  scores: sigmoid({result.score_scale:g} * logit + {result.score_bias:g}),"
        f" expected calibration error {result.calibration_error:.3f}"
    )


if __name__ == "__main__":
    main()
