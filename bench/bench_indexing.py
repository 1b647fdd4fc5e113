"""Indexing throughput: a full build (embed + FAISS + BM25 + SQLite) of the 440 SQuAD training articles.

python bench/bench_indexing.py [--quick]
"""

from __future__ import annotations

from _common import Figure, bench_articles, bench_settings, ensure_index, limit_threads, main_guard, parse_args, report


def main(argv: list[str] | None = None) -> None:
    args = parse_args(__doc__.splitlines()[0], argv)
    settings = bench_settings(args)  # the index counts passage tokens with the reader's tokenizer
    limit_threads(settings)
    articles = len(bench_articles(args))
    _, sync, seconds = ensure_index(args, settings, rebuild=True)  # rebuild: embed everything, reuse nothing
    throughput = sync.passages / seconds
    figures = [
        Figure(
            "indexing throughput (full build, incl. model load)",
            throughput,
            "passages/s",
            ">= 150",
            note=f"{articles} articles, {sync.passages:,} passages in {seconds:.0f} s",
        ),
    ]
    report("Indexing", figures, args)


if __name__ == "__main__":
    main_guard(main)
