"""Question latency on the SQuAD index, default models: `ask` (retrieve top-5, read, cite) and retrieval alone.

python bench/bench_ask.py [--quick]
"""

from __future__ import annotations

import numpy as np
from _common import (
    Figure,
    Timer,
    bench_settings,
    heldout_questions,
    limit_threads,
    main_guard,
    open_bot,
    parse_args,
    report,
)

WARM_UP = ("What is this article about?", "Who is mentioned first?", "When did it happen?")


def main(argv: list[str] | None = None) -> None:
    args = parse_args(__doc__.splitlines()[0], argv)
    settings = bench_settings(args)
    limit_threads(settings)
    bot = open_bot(args, settings)
    count = 10 if args.quick else 200
    questions = [example.question for example in heldout_questions(args, 2 * count)]
    # Disjoint halves: the embedder caches recent questions, which would flatter whichever runs second.
    ask_questions, retrieval_questions = questions[0::2], questions[1::2]
    for question in WARM_UP:  # first calls pay one-off allocations and lazy initialisation
        bot.ask(question)

    ask_ms, retrieval_ms = [], []
    for question in ask_questions:
        with Timer() as timer:
            bot.ask(question)
        ask_ms.append(timer.ms)
    for question in retrieval_questions:
        with Timer() as timer:
            bot.retrieve(question, settings.top_k)
        retrieval_ms.append(timer.ms)

    questions_note = (
        f"{len(ask_questions)} held-out questions, top {settings.top_k}, reader {settings.reader_precision}"
    )
    figures = [
        Figure("ask latency p50", float(np.percentile(ask_ms, 50)), "ms", "<= 300", note=questions_note),
        Figure("ask latency p95", float(np.percentile(ask_ms, 95)), "ms", "<= 600"),
        Figure("retrieval-only latency p50 (hybrid)", float(np.percentile(retrieval_ms, 50)), "ms", "<= 15"),
        Figure("retrieval-only latency p95 (hybrid)", float(np.percentile(retrieval_ms, 95)), "ms", readme=False),
    ]
    report(f"Question latency ({bot.index.passage_count:,} passages)", figures, args)


if __name__ == "__main__":
    main_guard(main)
