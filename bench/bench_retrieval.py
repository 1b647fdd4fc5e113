"""Retrieval recall@5 of hybrid vs dense vs BM25 on held-out SQuAD questions (a top-5 passage holds the answer).

python bench/bench_retrieval.py [--quick]
"""

from __future__ import annotations

from _common import Figure, bench_settings, heldout_questions, limit_threads, main_guard, open_bot, parse_args, report

from qa_bot.metrics import contains_answer
from qa_bot.retrieval import MODES

DEPTH = 5


def main(argv: list[str] | None = None) -> None:
    args = parse_args(__doc__.splitlines()[0], argv)
    settings = bench_settings(args)
    limit_threads(settings)
    bot = open_bot(args, settings)
    examples = heldout_questions(args, 40 if args.quick else 1000)
    figures = []
    for mode in MODES:
        hits = sum(
            any(contains_answer(r.passage.text, example.answers) for r in bot.retrieve(example.question, DEPTH, mode))
            for example in examples
        )
        figures.append(
            Figure(
                f"retrieval recall@{DEPTH} ({mode})", 100 * hits / len(examples), "%", note=f"{len(examples)} questions"
            )
        )
    report("Retrieval modes", figures, args)


if __name__ == "__main__":
    main_guard(main)
