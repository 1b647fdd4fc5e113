"""The default reader's accuracy on the held-out articles: in context, under attack, and through the whole bot.

- in context: each question with its own paragraph only (``qa-bot eval --mode reader``), EM/F1 of the best span
  and the share answered at the reader's threshold;
- robustness: the same questions with AddSent-style distractor paragraphs, unanswerable edits and a mix of both
  (``python -m qa_bot.training.robustness``), and with question echoes in their own or a wrong paragraph;
- whole bot: every held-out article indexed as a corpus, each question asked without its paragraph
  (``qa-bot eval --mode open``), scored on the top answer the answer policy shows.

These rows go to docs/accuracy.md. The dev sets are built once in the work folder from the held-out split.

python bench/bench_accuracy.py [--quick] [--limit 2000]
"""

from __future__ import annotations

import json

from _common import Figure, heldout_articles, limit_threads, main_guard, parse_args, report, tiny_reader

from qa_bot.eval import evaluate_open, evaluate_reader
from qa_bot.reader import Reader
from qa_bot.settings import Settings
from qa_bot.squad import iter_examples, load_squad_file
from qa_bot.training.robustness import evaluate_robustness, write_dev

ROBUSTNESS_QUESTIONS, ECHO_QUESTIONS, OPEN_QUESTIONS = 1000, 5000, 300


def _accuracy(name: str, value: float | None, unit: str, target: str = "", note: str = "") -> Figure:
    return Figure(name, value, unit, target, note, page="accuracy")


def in_context_figures(reader: Reader, heldout: list[dict], limit: int) -> list[Figure]:
    scores = evaluate_reader(reader, heldout, limit)
    return [
        _accuracy(
            "reader F1, own paragraph (held-out articles)",
            scores["F1"],
            "F1",
            ">= 75.5",
            f"EM {scores['EM']}; {scores['answered']:.1f}% answered at the threshold; {scores['questions']} questions",
        )
    ]


def robustness_figures(reader: Reader, dev: list[dict]) -> list[Figure]:
    scores = evaluate_robustness(reader, list(iter_examples(dev)))
    attacked = f"clean F1 {scores['adversarial_clean_F1']}; {scores['adversarial_questions']} attacked questions"
    return [
        _accuracy("robustness: worst-case distractor F1", scores["adversarial_worst_F1"], "F1", ">= 60", attacked),
        _accuracy(
            "robustness: unanswerable edits refused",
            scores["unanswerable_refused"],
            "%",
            note=f"{scores['unanswerable']} edits",
        ),
        _accuracy(
            "robustness: half-unanswerable mix F1",
            scores["mix_F1"],
            "F1",
            ">= 65",
            f"{scores['mix_questions']} questions",
        ),
    ]


def echo_figures(reader: Reader, dev: list[dict]) -> list[Figure]:
    scores = evaluate_robustness(reader, list(iter_examples(dev)))
    return [
        _accuracy(
            "question echoes: F1 with an echo in the paragraph",
            scores["echo_F1"],
            "F1",
            note=f"clean F1 {scores['echo_clean_F1']}; {scores['echo_questions']} questions",
        ),
        _accuracy(
            "question echoes: wrong paragraphs echoing the question refused",
            scores["echo_wrong_paragraph_refused"],
            "%",
            note=f"{scores['echo_wrong_paragraphs']} paragraphs",
        ),
    ]


def open_figures(settings: Settings, heldout: list[dict], workdir, limit: int) -> list[Figure]:
    scores = evaluate_open(heldout, settings, workdir, limit)
    recall = "/".join(f"{value:.1f}" for value in scores["recall_at"].values())
    return [
        _accuracy(
            "whole bot: top answer F1 over the held-out articles",
            scores["F1"],
            "F1",
            note=f"EM {scores['EM']}; recall@{'/'.join(scores['recall_at'])} {recall}; "
            f"citation accuracy {scores['citation_accuracy']:.1f}; {scores['answered']:.1f}% answered; "
            f"{scores['questions']} questions, {scores['articles']} articles",
        )
    ]


def dev_set(args, name: str, limit: int, echoes: bool) -> list[dict]:
    """A robustness dev set of the held-out articles, written once in the work folder."""
    path = args.workdir / f"{name}{'-quick' if args.quick else ''}.json"
    if not path.is_file():
        heldout_path = args.workdir / f"heldout{'-quick' if args.quick else ''}.json"
        heldout_path.parent.mkdir(parents=True, exist_ok=True)
        heldout_path.write_text(json.dumps({"data": heldout_articles(args)}), encoding="utf-8")
        training = heldout_path if args.quick else args.squad
        write_dev(heldout_path, training, path, limit, seed=2017, echoes=echoes)
    return load_squad_file(path)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(
        __doc__.splitlines()[0],
        argv,
        **{"--limit": {"type": int, "default": 2000, "help": "held-out questions read in context"}},
    )
    settings = Settings(reader=str(tiny_reader(args.workdir / "tiny-reader"))) if args.quick else Settings()
    limit_threads(settings)
    heldout = heldout_articles(args)
    reader = Reader(settings.reader_path(), settings)
    figures = in_context_figures(reader, heldout, 20 if args.quick else args.limit)
    figures += robustness_figures(reader, dev_set(args, "robust-dev", ROBUSTNESS_QUESTIONS, echoes=False))
    figures += echo_figures(reader, dev_set(args, "echo-dev", ECHO_QUESTIONS, echoes=True))
    open_dir = args.workdir / ("accuracy-open-quick" if args.quick else "accuracy-open")
    figures += open_figures(settings, heldout, open_dir, 20 if args.quick else OPEN_QUESTIONS)
    report(f"Accuracy of the {settings.reader} reader on held-out articles", figures, args)


if __name__ == "__main__":
    main_guard(main)
