"""Reader latency over a question's top-5 passages: one batched forward pass vs one passage at a time.

With the onnx reader backend (the default) the torch fp32 reader is timed on the same questions, interleaved: each
backend reads a question twice and only the second read is timed, so neither is timed while the other's idle
threads still hold the cores.

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

from qa_bot.reader import Reader
from qa_bot.settings import Settings


def main(argv: list[str] | None = None) -> None:
    args = parse_args(__doc__.splitlines()[0], argv)
    settings = bench_settings(args)
    limit_threads(settings)
    bot = open_bot(args, settings)
    examples = heldout_questions(args, 5 if args.quick else 50)
    inputs = [(e.question, [r.passage for r in bot.retrieve(e.question, settings.top_k)]) for e in examples]
    bot.reader.read(*inputs[0])  # warm-up
    baseline = torch_baseline(bot.reader, settings)

    batched_ms, one_by_one_ms, baseline_ms = [], [], []
    for question, passages in inputs:
        if baseline is not None:
            baseline.read(question, passages)
            with Timer() as torch_batched:
                baseline.read(question, passages)
            baseline_ms.append(torch_batched.ms)
            bot.reader.read(question, passages)
        with Timer() as batched:
            bot.reader.read(question, passages)
        with Timer() as one_by_one:
            for passage in passages:
                bot.reader.read(question, [passage])
        batched_ms.append(batched.ms)
        one_by_one_ms.append(one_by_one.ms)

    batched_p50, one_by_one_p50 = float(np.median(batched_ms)), float(np.median(one_by_one_ms))
    backend = "onnx" if bot.reader._session is not None else "torch"
    note = f"{len(inputs)} questions x {settings.top_k} passages, {settings.reader_precision_in_use()}, {backend}"
    figures = [
        Figure(f"reader p50, {settings.top_k} passages batched", batched_p50, "ms", note=note),
        Figure(f"reader p50, {settings.top_k} passages one at a time", one_by_one_p50, "ms"),
        Figure("reader batching speed-up", one_by_one_p50 / batched_p50, "x"),
    ]
    if baseline_ms:
        baseline_p50 = float(np.median(baseline_ms))
        figures += [
            Figure(f"reader p50, {settings.top_k} passages batched, torch baseline", baseline_p50, "ms"),
            Figure("reader onnx speed-up vs torch", baseline_p50 / batched_p50, "x"),
        ]
    report("Reader batching", figures, args)


def torch_baseline(reader: Reader, settings: Settings) -> Reader | None:
    """The same reader on torch, when the one under test runs on onnxruntime."""
    if reader._session is None:
        return None
    return Reader(settings.reader_path(), settings.model_copy(update={"reader_backend": "torch"}))


if __name__ == "__main__":
    main_guard(main)
