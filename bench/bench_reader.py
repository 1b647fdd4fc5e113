"""Reader latency over a question's top-5 passages: one batched forward pass vs one passage at a time.

python bench/bench_reader.py [--quick]
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


def main(argv: list[str] | None = None) -> None:
    args = parse_args(__doc__.splitlines()[0], argv)
    settings = bench_settings(args)
    limit_threads(settings)
    bot, retriever = open_bot(args, settings)
    examples = heldout_questions(args, 5 if args.quick else 50)
    inputs = [(e.question, [r.passage for r in retriever.retrieve(e.question, settings.top_k)]) for e in examples]
    bot.reader.read(*inputs[0])  # warm-up

    batched_ms, one_by_one_ms = [], []
    for question, passages in inputs:
        with Timer() as batched:
            bot.reader.read(question, passages)
        with Timer() as one_by_one:
            for passage in passages:
                bot.reader.read(question, [passage])
        batched_ms.append(batched.ms)
        one_by_one_ms.append(one_by_one.ms)

    batched_p50, one_by_one_p50 = float(np.median(batched_ms)), float(np.median(one_by_one_ms))
    note = f"{len(inputs)} questions x {settings.top_k} passages, {settings.reader_precision}"
    figures = [
        Figure(f"reader p50, {settings.top_k} passages batched", batched_p50, "ms", note=note),
        Figure(f"reader p50, {settings.top_k} passages one at a time", one_by_one_p50, "ms"),
        Figure("reader batching speed-up", one_by_one_p50 / batched_p50, "x"),
    ]
    report("Reader batching", figures, args)


if __name__ == "__main__":
    main_guard(main)
