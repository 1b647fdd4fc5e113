"""Evaluation on SQuAD-format data: the reader on gold paragraphs, and the whole bot on an indexed corpus.

Answers are scored by `qa_bot.metrics` (the official SQuAD v1.1/v2.0 semantics): a SQuAD v2.0 unanswerable
question counts as right only when no answer is given.

    python -m qa_bot.eval --squad squad-train-v1.0.json.gz --write-heldout heldout.json   # the split nobody tuned on
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import re
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple, Protocol

import numpy as np

from qa_bot.answer_policy import QUESTION_TYPES, question_type
from qa_bot.errors import QABotError
from qa_bot.metrics import RIGHT_ANSWER_F1, contains_answer, exact_match, expected_calibration_error, f1_score
from qa_bot.settings import Settings
from qa_bot.squad import (
    HOLDOUT_FRACTION,
    HOLDOUT_SEED,
    SquadExample,
    iter_examples,
    load_squad_file,
    select_questions,
    split_articles,
)
from qa_bot.types import Answer, Passage

RECALL_DEPTHS = (1, 5, 10)

# ---------------------------------------------------------------- what users are shown


@dataclass(frozen=True)
class ShownScore:
    """How the answers shown for one answerable question fare against its gold answers."""

    top_text: str  # the answer followed by its list items, as a user reads it; "" when nothing is shown
    top_f1: float
    cited: bool  # a citation of the answer holds a gold answer in its sentence
    right: tuple[bool, ...]  # per shown answer
    confidence: tuple[float, ...]  # per shown answer


def _shown_right(answer: Answer, top_text: str | None, gold: Sequence[str]) -> bool:
    """F1 >= 0.5 with a gold answer; the top answer also counts by its list as a whole (``top_text``), a list
    item when a gold answer names it ("Camp Taji" in "Erbil and Al-Assad Air Bases ... as well as Camp Taji")."""
    if f1_score(answer.text, gold) >= RIGHT_ANSWER_F1:
        return True
    if top_text is not None:
        return f1_score(top_text, gold) >= RIGHT_ANSWER_F1
    return answer.role == "list_item" and any(contains_answer(g, [answer.text]) for g in gold)


def score_shown(answers: Sequence[Answer], gold: Sequence[str]) -> ShownScore:
    if not answers:
        return ShownScore("", 0.0, False, (), ())
    top = answers[0]
    top_text = ", ".join([top.text] + [a.text for a in answers if a.role == "list_item"])
    return ShownScore(
        top_text=top_text,
        top_f1=f1_score(top_text, gold),
        cited=any(contains_answer(c.sentence, gold) for c in top.citations),
        right=tuple(_shown_right(a, top_text if a is top else None, gold) for a in answers),
        confidence=tuple(a.score for a in answers),
    )


def shown_summary(scores: Sequence[ShownScore]) -> dict:
    """What users are shown over the answerable questions, in percent (ECE in [0, 1])."""
    answered = [s for s in scores if s.top_text]
    right = np.array([r for s in scores for r in s.right], dtype=bool)
    confidence = np.array([c for s in scores for c in s.confidence])

    def share(count: float, total: int) -> float | None:
        return round(100 * count / total, 2) if total else None

    return {
        "top_answer_F1": share(sum(s.top_f1 for s in scores), len(scores)),
        "top_answer_F1_answered": share(sum(s.top_f1 for s in answered), len(answered)),
        "answered": share(len(answered), len(scores)),
        "answers_shown_per_question": round(len(right) / len(scores), 3) if scores else None,
        "shown_right": share(int(right.sum()), len(right)),
        "top_cited_sentence_holds_gold": share(sum(s.cited for s in scores), len(scores)),
        "top_cited_sentence_holds_gold_answered": share(sum(s.cited for s in answered), len(answered)),
        "shown_confidence_ECE": round(expected_calibration_error(confidence, right), 4) if len(right) else None,
    }


def percentile(values: Sequence[float], q: float) -> float | None:
    return float(np.percentile(values, q)) if len(values) else None


# ---------------------------------------------------------------- data


def write_heldout(
    squad_path: str | Path,
    out_path: str | Path,
    holdout_fraction: float = HOLDOUT_FRACTION,
    seed: int = HOLDOUT_SEED,
) -> int:
    """Write the held-out articles of the reader's training split as a SQuAD file; return its question count."""
    _, heldout = split_articles(load_squad_file(squad_path), holdout_fraction, seed)
    out_path = Path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    opener = gzip.open if out_path.suffix == ".gz" else open
    with opener(out_path, "wt", encoding="utf-8") as handle:
        json.dump({"version": "1.1", "data": heldout}, handle, ensure_ascii=False)
    return sum(1 for _ in iter_examples(heldout))


def _gold(example: SquadExample) -> tuple[str, ...]:
    return () if example.answer_start == -1 else example.answers


def paragraph_passage(context: str) -> Passage:
    """A SQuAD paragraph as the single passage of its own article."""
    article_id = hashlib.sha1(context.encode("utf-8")).hexdigest()[:16]
    return Passage(
        passage_id=f"{article_id}:0",
        article_id=article_id,
        index=0,
        start=0,
        end=len(context),
        text=context,
        first_sentence=0,
        last_sentence=0,
    )


def article_text(article: dict) -> str:
    """A SQuAD article as a corpus file: the title line, then its paragraphs separated by blank lines."""
    return "\n\n".join([article["title"].replace("_", " ")] + [p["context"].strip() for p in article["paragraphs"]])


def write_corpus(articles: list[dict], corpus_dir: str | Path) -> list[Path]:
    """One .txt file per article; unchanged files are left alone and stale ones removed, so syncs stay incremental."""
    corpus_dir = Path(corpus_dir)
    corpus_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for number, article in enumerate(articles):
        slug = re.sub(r"[^a-z0-9]+", "-", article["title"].lower()).strip("-")[:60] or "article"
        path = corpus_dir / f"{number:04d}-{slug}.txt"
        text = article_text(article)
        if not path.is_file() or path.read_text(encoding="utf-8") != text:
            path.write_text(text, encoding="utf-8")
        written.append(path)
    for stale in set(corpus_dir.glob("*.txt")) - set(written):
        stale.unlink()
    return written


# ---------------------------------------------------------------- evaluation


class SpanReader(Protocol):
    threshold: float

    def read(self, question: str, passages: list[Passage]): ...


@dataclass(frozen=True)
class Prediction:
    example: SquadExample
    best: str  # the best span regardless of the threshold (reader), or the top answer (open)
    answer: str  # what a user would see: "" when the threshold (or the bot) gives no answer
    latency_ms: float


def summarise(predictions: Sequence[Prediction]) -> dict:
    """Headline and per-type scores shared by both evaluations."""
    answerable = [p for p in predictions if _gold(p.example)]
    unanswerable = [p for p in predictions if not _gold(p.example)]

    def mean(values: Iterable[float]) -> float | None:
        values = list(values)
        return round(100 * sum(values) / len(values), 2) if values else None

    def scores(group: Sequence[Prediction], pick: Callable[[Prediction], str]) -> tuple[float | None, float | None]:
        return (
            mean(exact_match(pick(p), _gold(p.example)) for p in group),
            mean(f1_score(pick(p), _gold(p.example)) for p in group),
        )

    em, f1 = scores(answerable, lambda p: p.best)
    em_threshold, f1_threshold = scores(predictions, lambda p: p.answer)
    has_em, has_f1 = scores(answerable, lambda p: p.answer)
    by_type = {}
    for kind in QUESTION_TYPES:
        group = [p for p in answerable if question_type(p.example.question) == kind]
        if group:
            type_em, type_f1 = scores(group, lambda p: p.best)
            by_type[kind] = {"count": len(group), "EM": type_em, "F1": type_f1}
    latencies = [p.latency_ms for p in predictions]
    return {
        "questions": len(predictions),
        "answerable": len(answerable),
        "unanswerable": len(unanswerable),
        "EM": em,
        "F1": f1,
        "EM_with_threshold": em_threshold,
        "F1_with_threshold": f1_threshold,
        "HasAns_EM": has_em,
        "HasAns_F1": has_f1,
        "NoAns_accuracy": mean(float(not p.answer) for p in unanswerable),
        "HasAns_answered": mean(float(bool(p.answer)) for p in answerable),
        "answered": mean(float(bool(p.answer)) for p in predictions),
        "by_type": by_type,
        "latency_ms": {
            "p50": percentile(latencies, 50),
            "p95": percentile(latencies, 95),
            "mean": float(np.mean(latencies)) if latencies else None,
        },
        "latencies_ms": [round(value, 2) for value in latencies],
        "predictions": {p.example.qid: p.answer for p in predictions},
    }


def evaluate_reader(reader: SpanReader, data: list[dict], limit: int | None = None) -> dict:
    """The reader alone, each question with its own gold paragraph as the only passage.

    "F1"/"EM": the best span whatever its score (SQuAD v1.1 style), answerable questions only.
    "F1_with_threshold": only spans scoring at least ``reader.threshold`` count as answers (v2.0 style).
    """
    passages: dict[str, Passage] = {}
    predictions = []
    for example in select_questions(data, limit):
        passage = passages.setdefault(example.context, paragraph_passage(example.context))
        started = time.perf_counter()
        result = reader.read(example.question, [passage])
        latency_ms = 1000 * (time.perf_counter() - started)
        top = result.spans[0] if result.spans else None  # spans come best first, not thresholded
        best = top.text if top else ""
        answer = best if top and top.score >= reader.threshold else ""
        predictions.append(Prediction(example, best, answer, latency_ms))
    return {"mode": "reader", "threshold": reader.threshold, **summarise(predictions)}


def evaluate_open(data: list[dict], settings: Settings, workdir: str | Path, limit: int | None = None) -> dict:
    """The whole bot: index every article of ``data`` as a corpus, then ask each question without its paragraph.

    Adds retrieval recall@k (a retrieved passage contains a gold answer) and citation accuracy (the top
    answer's cited sentence contains a gold answer; no answer counts as wrong), over answerable questions.
    """
    from qa_bot.index import sync_index
    from qa_bot.pipeline import QABot

    workdir = Path(workdir)
    corpus_dir, index_dir = workdir / "corpus", workdir / "index"
    write_corpus(data, corpus_dir)
    started = time.perf_counter()
    sync_index(corpus_dir, index_dir, settings, progress=False)
    indexing_seconds = time.perf_counter() - started
    bot = QABot.from_index(index_dir, settings)

    predictions = []
    recall_hits = dict.fromkeys(RECALL_DEPTHS, 0)
    shown: list[ShownScore] = []
    for example in select_questions(data, limit):
        response = bot.ask(example.question)
        gold = _gold(example)
        scored = score_shown(response.answers, gold)
        predictions.append(Prediction(example, scored.top_text, scored.top_text, response.latency_ms))
        if not gold:
            continue
        shown.append(scored)
        retrieved = bot.retrieve(example.question, max(RECALL_DEPTHS))  # the bot's own retrieval, more passages
        first_hit = next((rank for rank, r in enumerate(retrieved) if contains_answer(r.passage.text, gold)), None)
        for depth in RECALL_DEPTHS:
            recall_hits[depth] += first_hit is not None and first_hit < depth

    def share(count: int) -> float | None:
        return round(100 * count / len(shown), 2) if shown else None

    summary = shown_summary(shown)
    return {
        "mode": "open",
        "articles": len(data),
        "indexing_seconds": round(indexing_seconds, 2),
        "top_k": settings.top_k,
        "answer_policy": bot.policy.source,
        **summarise(predictions),
        "recall_at": {str(depth): share(hits) for depth, hits in recall_hits.items()},
        "citation_accuracy": summary["top_cited_sentence_holds_gold"],
        "shown": summary,
    }


# ---------------------------------------------------------------- report


class ReportPaths(NamedTuple):
    results_json: Path
    chart_png: Path


def write_report(results: dict, out_dir: str | Path) -> ReportPaths:
    """results.json and a chart (F1 by question type, latency histogram) in ``out_dir``."""
    import matplotlib

    matplotlib.use("Agg")  # no display on servers and in CI
    import matplotlib.pyplot as plt

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    results_json = out_dir / "results.json"
    results_json.write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")

    figure, (types_axis, latency_axis) = plt.subplots(1, 2, figsize=(12, 4.5))
    kinds = list(results["by_type"])
    f1_values = [results["by_type"][kind]["F1"] for kind in kinds]
    bars = types_axis.bar(kinds, f1_values, color="#4c72b0")
    types_axis.bar_label(bars, labels=[f"n={results['by_type'][k]['count']}" for k in kinds], fontsize=8)
    types_axis.set_ylim(0, 105)
    types_axis.set_ylabel("F1")
    types_axis.set_title(f"F1 by question type (overall {results['F1']})")
    types_axis.tick_params(axis="x", labelrotation=30)

    latencies = results["latencies_ms"]
    latency_axis.hist(latencies, bins=40, color="#55a868")
    for name, style in (("p50", "--"), ("p95", ":")):
        value = results["latency_ms"][name]
        if value is not None:
            latency_axis.axvline(value, color="black", linestyle=style, label=f"{name} {value:.0f} ms")
    latency_axis.set_xlabel("latency per question (ms)")
    latency_axis.set_ylabel("questions")
    latency_axis.set_title(f"{results['mode']} latency")
    if latencies:
        latency_axis.legend()

    figure.tight_layout()
    chart_png = out_dir / "chart.png"
    figure.savefig(chart_png, dpi=100)
    plt.close(figure)
    return ReportPaths(results_json, chart_png)


def format_summary(results: dict) -> str:
    """A few lines for the terminal."""
    lines = [
        (
            f"{results['mode']} evaluation on {results['questions']} questions "
            f"({results['answerable']} answerable, {results['unanswerable']} unanswerable)"
        ),
        (
            f"  EM {results['EM']}  F1 {results['F1']}  "
            f"EM with threshold {results['EM_with_threshold']}  F1 with threshold {results['F1_with_threshold']}  "
            f"answered {results['answered']}%"
        ),
    ]
    if results["NoAns_accuracy"] is not None:
        lines.append(f"  HasAns F1 {results['HasAns_F1']}  NoAns accuracy {results['NoAns_accuracy']}")
    if results["mode"] == "open":
        recall = "  ".join(f"recall@{depth} {value}" for depth, value in results["recall_at"].items())
        lines.append(f"  {recall}  citation accuracy {results['citation_accuracy']}")
        shown = results["shown"]
        lines.append(
            f"  answer policy ({results['answer_policy']}): top-answer F1 {shown['top_answer_F1']}"
            f" (answered questions {shown['top_answer_F1_answered']}), answered {shown['answered']}%,"
            f" {shown['answers_shown_per_question']} answers shown per question, {shown['shown_right']}% of them right,"
            f" top cited sentence holds gold {shown['top_cited_sentence_holds_gold']}%"
            f" ({shown['top_cited_sentence_holds_gold_answered']}% of answered), ECE of shown confidence"
            f" {shown['shown_confidence_ECE']}"
        )
    latency = results["latency_ms"]
    lines.append(f"  latency p50 {_ms(latency['p50'])}  p95 {_ms(latency['p95'])}")
    lines.append("  F1 by type: " + ", ".join(f"{k} {v['F1']} (n={v['count']})" for k, v in results["by_type"].items()))
    return "\n".join(lines)


def _ms(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.1f} ms"


# ---------------------------------------------------------------- entry points (wired into `qa-bot eval*`)


def run_reader_eval(
    data_path: str | Path, out_dir: str | Path, settings: Settings | None = None, limit: int | None = None
) -> tuple[dict, ReportPaths]:
    """`qa-bot eval-reader`: the configured reader on the gold paragraphs of a SQuAD file."""
    from qa_bot.reader import Reader

    settings = settings or Settings()
    data = load_squad_file(data_path)
    results = evaluate_reader(Reader(settings.reader_path(), settings), data, limit)
    results["data"] = str(data_path)
    return results, write_report(results, out_dir)


def run_open_eval(
    data_path: str | Path,
    out_dir: str | Path,
    settings: Settings | None = None,
    limit: int | None = None,
    workdir: str | Path | None = None,
) -> tuple[dict, ReportPaths]:
    """`qa-bot eval --mode open`: index the articles in ``workdir`` (default out_dir/work), ask the questions."""
    settings = settings or Settings()
    data = load_squad_file(data_path)
    results = evaluate_open(data, settings, Path(workdir) if workdir else Path(out_dir) / "work", limit)
    results["data"] = str(data_path)
    return results, write_report(results, out_dir)


def run_cli(
    data_path: str | Path,
    mode: str,
    limit: int | None,
    out_dir: str | Path,
    settings: Settings,
    workdir: str | Path | None = None,
) -> dict:
    """`qa-bot eval --mode reader|open`: run, print the summary and where the report went."""
    if mode == "open":
        results, paths = run_open_eval(data_path, out_dir, settings, limit, workdir)
    else:
        results, paths = run_reader_eval(data_path, out_dir, settings, limit)
    print(format_summary(results))
    print(f"wrote {paths.results_json} and {paths.chart_png}")
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m qa_bot.eval", description=__doc__.splitlines()[0])
    parser.add_argument("--write-heldout", metavar="OUT", required=True, help="write the held-out SQuAD split here")
    parser.add_argument("--squad", required=True, help="the SQuAD training file the reader was trained on")
    args = parser.parse_args(argv)
    try:
        count = write_heldout(args.squad, args.write_heldout)
    except QABotError as error:
        parser.exit(1, f"error: {error}\n")
    print(f"wrote {count} held-out questions to {args.write_heldout}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
