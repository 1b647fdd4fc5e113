"""The reader's robustness dev set and its scores: clean, with distractor sentences, and unanswerable.

The dev set is made from the held-out articles with the same generator as the training data
(qa_bot/training/adversarial.py), each answerable question in up to four forms: its clean paragraph, two
paragraphs with different distractor sentences (fake answer and position vary), and an edited question its
paragraph no longer answers.

    python -m qa_bot.training.robustness --write-dev artifacts/robust-dev.json --heldout artifacts/heldout.json
    python -m qa_bot.training.robustness --write-echo-dev artifacts/echo-dev.json --heldout artifacts/heldout.json
    python -m qa_bot.training.robustness --evaluate artifacts/robust-dev.json --reader qa_bot/models/reader

Scores, as in the literature:
* clean F1: the best span, each question with its own paragraph (SQuAD v1.1 style);
* adversarial worst-case F1 (Jia & Liang 2017): each question scored by its worse distractor paragraph;
* question echoes: F1 with an echo sentence in the question's own paragraph, and the share of wrong paragraphs
  with one that are refused (the seed failure: an echoing name must not clear the threshold);
* the half-unanswerable mix (SQuAD 2.0 style): as many unanswerable as answerable questions, answers kept only
  above the reader's threshold, "no answer" right exactly for the unanswerable ones; plus the share refused.
"""

from __future__ import annotations

import argparse
import json
import random
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from qa_bot.metrics import exact_match, f1_score
from qa_bot.squad import SquadExample, iter_examples, load_squad, load_squad_file, select_questions, split_articles
from qa_bot.training.adversarial import distractor, echo, echo_phrase, mine_pools, unanswerable, unanswerable_examples
from qa_bot.training.squad_data import wrong_paragraph_examples

DISTRACTOR_VARIANTS = 2
TABLE_QUESTIONS = 2000  # the model card's validation table reads this many held-out questions
SAMPLE_CLEAN, SAMPLE_ATTACKED, SAMPLE_UNANSWERABLE, SAMPLE_WRONG_PARAGRAPH, SAMPLE_ECHO = 150, 50, 50, 100, 60
# "neg": the question with a wrong paragraph of its article; "echo": its own paragraph with a question-echo
# sentence; "neg-echo": a wrong paragraph with one (tested before "neg" and "echo", whose markers it contains)
FORMS = ("clean", "adv", "unans", "neg-echo", "neg", "echo")
# Echo dev sentences use verbs the training echoes never used, so the dev set measures more than the frames.
DEV_ECHO_FRAMES = (
    "has voiced support for",
    "launched an inquiry into",
    "filed a complaint against",
    "paid tribute to",
    "was photographed with",
    "published a study of",
)


def form_of(qid: str) -> tuple[str, str]:
    """(base question id, form) of a dev-set id such as '5733be28-adv1' or '5733be28-unans-name'."""
    for form in FORMS[1:]:
        marker = f"-{form}"
        if marker in qid:
            return qid[: qid.index(marker)], form
    return qid, "clean"


def robustness_examples(
    questions: Sequence[SquadExample], pools_from: Sequence[SquadExample], seed: int
) -> list[SquadExample]:
    """Each question clean, with DISTRACTOR_VARIANTS distractor paragraphs, and unanswerable (where possible)."""
    pools = mine_pools(pools_from)
    rng = random.Random(seed)
    made = []
    for example in questions:
        if example.answer_start < 0:
            continue
        made.append(example)
        for variant in range(1, DISTRACTOR_VARIANTS + 1):
            for _ in range(5):  # another draw when a fake answer or position gives no statement
                if adversarial := distractor(example, pools, rng, suffix=f"adv{variant}"):
                    made.append(adversarial)
                    break
        if edited := unanswerable(example, pools, rng):
            made.append(edited[0])
    return made


def echo_examples_for_dev(
    questions: Sequence[SquadExample], articles: list[dict], pools_from: Sequence[SquadExample], seed: int
) -> list[SquadExample]:
    """Each question clean, with a question echo in its own paragraph, and with one in a wrong paragraph."""
    pools = mine_pools(pools_from)
    rng = random.Random(seed)
    wrong = {n.qid: n for n in wrong_paragraph_examples(articles, 1.0, seed)}
    made = []
    for example in questions:
        if example.answer_start < 0 or not (own := echo(example, pools, rng, DEV_ECHO_FRAMES)):
            continue
        made += [example, own]
        if (negative := wrong.get(f"{example.qid}-neg")) and (echoed := echo(negative, pools, rng, DEV_ECHO_FRAMES)):
            made.append(echoed)
    return made


def to_squad(examples: Sequence[SquadExample]) -> dict:
    """SQuAD 2.0 JSON, one paragraph per example (distractor paragraphs differ from the clean one)."""
    articles: dict[str, list[dict]] = defaultdict(list)
    for example in examples:
        answerable = example.answer_start >= 0
        articles[example.article].append(
            {
                "context": example.context,
                "qas": [
                    {
                        "id": example.qid,
                        "question": example.question,
                        "answers": [{"text": a, "answer_start": example.answer_start} for a in example.answers[:1]]
                        if answerable
                        else [],
                        "is_impossible": not answerable,
                    }
                ],
            }
        )
    return {"version": "v2.0", "data": [{"title": t, "paragraphs": p} for t, p in articles.items()]}


def write_dev(
    heldout_path: str | Path, squad_path: str | Path, out_path: str | Path, limit: int, seed: int, echoes: bool = False
) -> dict:
    """The dev set (or, with ``echoes``, the question-echo dev set) from the held-out articles; fake answers and
    names mined from the training articles' answers. Returns the count of each form."""
    heldout = load_squad_file(heldout_path)
    train_articles, _ = split_articles(load_squad(squad_path), 0.1, 13)
    questions, training_questions = select_questions(heldout, limit), list(iter_examples(train_articles))
    if echoes:
        made = echo_examples_for_dev(questions, heldout, training_questions, seed)
    else:
        made = robustness_examples(questions, training_questions, seed)
    Path(out_path).parent.mkdir(parents=True, exist_ok=True)
    Path(out_path).write_text(json.dumps(to_squad(made), ensure_ascii=False), encoding="utf-8")
    counts = defaultdict(int)
    for example in made:
        counts[form_of(example.qid)[1]] += 1
    return dict(counts)


def quality_sample(heldout: list[dict], pools_from: Sequence[SquadExample], seed: int) -> list[SquadExample]:
    """The small fixed sample the tests read the bundled reader on: 150 clean questions, 50 of them also with
    distractors, 50 unanswerable edits, 100 wrong-paragraph twins and 60 more questions with a question echo in
    their own paragraph and in a wrong one, all from the held-out half that the threshold was not fitted on (the
    "check" half of qa_bot.training.calibrate)."""
    check_articles, _ = split_articles(heldout, 0.5, 13)
    rng = random.Random(seed)
    answerable = [e for e in iter_examples(check_articles) if e.answer_start >= 0]
    clean = rng.sample(answerable, SAMPLE_CLEAN)
    attacked = [e for e in robustness_examples(clean, pools_from, seed) if form_of(e.qid)[1] == "adv"]
    attacked_bases = sorted({form_of(e.qid)[0] for e in attacked})[:SAMPLE_ATTACKED]
    edited = unanswerable_examples(clean, mine_pools(pools_from), SAMPLE_UNANSWERABLE, seed)
    twins = {n.qid: n for n in wrong_paragraph_examples(check_articles, 1.0, seed)}
    wrong = [twins[q] for q in (f"{e.qid}-neg" for e in clean) if q in twins][:SAMPLE_WRONG_PARAGRAPH]
    echoable = [e for e in rng.sample(answerable, len(answerable)) if echo_phrase(e.question)][:SAMPLE_ECHO]
    taken = {e.qid for e in clean}
    echoed = [e for e in echo_examples_for_dev(echoable, check_articles, pools_from, seed) if e.qid not in taken]
    return clean + [e for e in attacked if form_of(e.qid)[0] in attacked_bases] + edited + wrong + echoed


def write_selection(heldout_path: str | Path, out_path: str | Path) -> int:
    """Held-out questions for choosing between candidate readers, disjoint from the validation table's
    (`qa-bot eval heldout.json --mode reader --limit TABLE_QUESTIONS`), so the table is not tuned on."""
    articles = load_squad_file(heldout_path)
    table = {example.qid for example in select_questions(articles, TABLE_QUESTIONS)}
    for article in articles:
        for paragraph in article["paragraphs"]:
            paragraph["qas"] = [qa for qa in paragraph["qas"] if qa["id"] not in table]
    Path(out_path).write_text(json.dumps({"version": "1.1", "data": articles}, ensure_ascii=False), encoding="utf-8")
    return sum(len(p["qas"]) for a in articles for p in a["paragraphs"])


def score_robustness(examples: Sequence[SquadExample], best: Sequence[tuple[str, float]], threshold: float) -> dict:
    """Scores from each example's best span (text, calibrated score), in the order of ``examples``."""
    clean, clean_exact, worst, mix, refused, rejected = {}, [], defaultdict(list), [], [], []
    answered_clean, echoed, echo_refused = [], {}, []
    for example, (text, score) in zip(examples, best):
        base, form = form_of(example.qid)
        answered = text if score >= threshold else ""
        if form == "clean":
            clean[base] = f1_score(text, example.answers)
            clean_exact.append(exact_match(text, example.answers))
            mix.append(f1_score(answered, example.answers))
            answered_clean.append(float(bool(answered)))
        elif form == "adv":
            worst[base].append(f1_score(text, example.answers))
        elif form == "unans":
            refused.append(not answered)
        elif form == "echo":
            echoed[base] = f1_score(text, example.answers)
        elif form == "neg-echo":
            echo_refused.append(not answered)
        else:
            rejected.append(not answered)
    # the mix: every unanswerable question and as many answerable ones (the first, in file order)
    mix = mix[: len(refused)]
    mixed = mix + [float(r) for r in refused]
    attacked = [base for base in worst if base in clean]

    def pct(values: Sequence[float]) -> float | None:
        return round(100 * float(np.mean(values)), 2) if len(values) else None

    return {
        "clean_questions": len(clean),
        "clean_EM": pct(clean_exact),
        "clean_F1": pct(list(clean.values())),
        "clean_answered": pct(answered_clean),
        "adversarial_questions": len(attacked),
        "adversarial_clean_F1": pct([clean[b] for b in attacked]),
        "adversarial_worst_F1": pct([min(worst[b]) for b in attacked]),
        "adversarial_mean_F1": pct([np.mean(worst[b]) for b in attacked]),
        "unanswerable": len(refused),
        "unanswerable_refused": pct([float(r) for r in refused]),
        "mix_questions": len(mixed),
        "mix_F1": pct(mixed),
        "wrong_paragraph": len(rejected),
        "wrong_paragraph_rejected": pct([float(r) for r in rejected]),
        "echo_questions": len(echoed),
        "echo_clean_F1": pct([clean[b] for b in echoed if b in clean]),
        "echo_F1": pct([echoed[b] for b in echoed if b in clean]),
        "echo_wrong_paragraphs": len(echo_refused),
        "echo_wrong_paragraph_refused": pct([float(r) for r in echo_refused]),
        "threshold": threshold,
    }


def evaluate_robustness(reader, examples: Sequence[SquadExample], batch_size: int = 32) -> dict:
    from qa_bot.training.calibrate import best_spans

    spans = best_spans(reader, [(e.question, e.context) for e in examples], batch_size, progress=True)
    best = [(span.text, span.score) if span else ("", 0.0) for span in spans]
    return score_robustness(examples, best, reader.threshold)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m qa_bot.training.robustness", description=__doc__.splitlines()[0])
    parser.add_argument("--write-dev", metavar="OUT", help="write the robustness dev set here")
    parser.add_argument(
        "--heldout", default="artifacts/heldout.json", help="held-out SQuAD file (python -m qa_bot.eval)"
    )
    parser.add_argument("--squad", default="../shared/data/squad-train-v1.0.json.gz", help="training SQuAD file")
    parser.add_argument("--limit", type=int, default=1000, help="held-out questions to build from")
    parser.add_argument("--seed", type=int, default=2017)
    parser.add_argument("--write-echo-dev", metavar="OUT", help="write the question-echo dev set here")
    parser.add_argument("--write-sample", metavar="OUT", help="write the tests' fixed quality sample here")
    parser.add_argument(
        "--write-selection",
        metavar="OUT",
        help=f"write the held-out questions outside the model card's table (its first {TABLE_QUESTIONS}) here",
    )
    parser.add_argument("--evaluate", metavar="DEV", help="score a reader on a robustness dev set")
    parser.add_argument("--reader", default="", help="reader folder (default: QA_BOT_READER or the bundled one)")
    parser.add_argument(
        "--record", action="store_true", help="store the scores in the reader's reader_config.json (quality_sample)"
    )
    args = parser.parse_args(argv)
    if args.write_dev:
        counts = write_dev(args.heldout, args.squad, args.write_dev, args.limit, args.seed)
        print(f"wrote {sum(counts.values())} examples to {args.write_dev}: {counts}")
    if args.write_echo_dev:
        counts = write_dev(args.heldout, args.squad, args.write_echo_dev, args.limit, args.seed, echoes=True)
        print(f"wrote {sum(counts.values())} examples to {args.write_echo_dev}: {counts}")
    if args.write_sample:
        train_articles, _ = split_articles(load_squad(args.squad), 0.1, 13)
        made = quality_sample(load_squad_file(args.heldout), list(iter_examples(train_articles)), args.seed)
        Path(args.write_sample).write_text(json.dumps(to_squad(made), ensure_ascii=False, indent=0), encoding="utf-8")
        print(f"wrote {len(made)} examples to {args.write_sample}")
    if args.write_selection:
        count = write_selection(args.heldout, args.write_selection)
        print(f"wrote {count} selection questions to {args.write_selection}")
    if args.evaluate:
        from qa_bot.reader import READER_CONFIG, Reader
        from qa_bot.settings import Settings

        settings = Settings()
        reader = Reader(args.reader or settings.reader_path(), settings)
        examples = list(iter_examples(load_squad_file(args.evaluate)))
        scores = evaluate_robustness(reader, examples)
        print(json.dumps(scores, indent=2))
        if args.record:
            config_path = Path(args.reader or settings.reader_path()) / READER_CONFIG
            config = json.loads(config_path.read_text(encoding="utf-8"))
            config["quality_sample"] = scores | {"data": Path(args.evaluate).name}
            config_path.write_text(json.dumps(config, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
