"""Question latency on the SQuAD index: `ask` (retrieve top-5, read, cite) with the default reader and with the
accurate one when its extra is installed, and retrieval alone.

python bench/bench_ask.py [--quick]
"""

from __future__ import annotations

import sys

import numpy as np
from _common import (
    Figure,
    Timer,
    bench_settings,
    heldout_questions,
    index_paths,
    limit_threads,
    main_guard,
    open_bot,
    parse_args,
    report,
)

from qa_bot.errors import QABotError

WARM_UP = ("What is this article about?", "Who is mentioned first?", "When did it happen?")
ACCURATE_QUESTIONS = 50  # the accurate reader reads about ten times slower; 50 asks give a stable median


def ask_latencies(bot, questions: list[str]) -> list[float]:
    """Milliseconds per ask, after warm-up asks that pay one-off allocations and lazy initialisation."""
    for question in WARM_UP:
        bot.ask(question)
    latencies = []
    for question in questions:
        with Timer() as timer:
            bot.ask(question)
        latencies.append(timer.ms)
    return latencies


def accurate_reader_figures(args, settings, questions: list[str]) -> list[Figure]:
    """The same asks with the accurate reader (QA_BOT_READER=accurate) at the precision in use and, when that is not
    fp32, at fp32 too; none when its extra is missing."""
    from qa_bot.pipeline import QABot

    figures = []
    precisions = dict.fromkeys([settings.reader_precision_in_use(), "fp32"])
    for precision in precisions:
        accurate = settings.model_copy(update={"reader": "accurate", "reader_precision": precision})
        try:
            bot = QABot.from_index(index_paths(args)[1], accurate)
        except QABotError as error:
            print(f"note: no accurate-reader figures: {error}", file=sys.stderr)
            return []
        ask_ms = ask_latencies(bot, questions)
        label = f"accurate reader {precision}"
        note = f"{len(questions)} held-out questions, top {settings.top_k}"
        figures += [
            Figure(f"ask latency p50, {label}", float(np.percentile(ask_ms, 50)), "ms", "<= 600", note),
            Figure(f"ask latency p95, {label}", float(np.percentile(ask_ms, 95)), "ms"),
        ]
        del bot  # one MPNet at a time in memory
    return figures


def main(argv: list[str] | None = None) -> None:
    args = parse_args(__doc__.splitlines()[0], argv)
    settings = bench_settings(args)
    limit_threads(settings)
    bot = open_bot(args, settings)
    count = 10 if args.quick else 200
    questions = [example.question for example in heldout_questions(args, 2 * count)]
    # Disjoint halves: the embedder caches recent questions, which would flatter whichever runs second.
    ask_questions, retrieval_questions = questions[0::2], questions[1::2]
    ask_ms = ask_latencies(bot, ask_questions)
    retrieval_ms = []
    for question in retrieval_questions:
        with Timer() as timer:
            bot.retrieve(question, settings.top_k)
        retrieval_ms.append(timer.ms)

    questions_note = (
        f"{len(ask_questions)} held-out questions, top {settings.top_k}, reader {settings.reader_precision_in_use()}"
    )
    figures = [
        Figure("ask latency p50", float(np.percentile(ask_ms, 50)), "ms", "<= 150", note=questions_note),
        Figure("ask latency p95", float(np.percentile(ask_ms, 95)), "ms", "<= 600"),
        Figure("retrieval-only latency p50 (hybrid)", float(np.percentile(retrieval_ms, 50)), "ms", "<= 15"),
        Figure("retrieval-only latency p95 (hybrid)", float(np.percentile(retrieval_ms, 95)), "ms", readme=False),
    ]
    if not args.quick:  # --quick runs on the tiny test reader, not the shipped ones
        figures += accurate_reader_figures(args, settings, ask_questions[:ACCURATE_QUESTIONS])
    report(f"Question latency ({bot.index.passage_count:,} passages)", figures, args)


if __name__ == "__main__":
    main_guard(main)
