"""The readers side by side, in context on held-out articles: SQuAD F1, and crowd-style unanswerables refused.

Each reader reads each question with its own paragraph only (``qa-bot eval --mode reader``). The crowd-style
dev set (qa_bot/training/crowd_unanswerables.py) holds unanswerable edits of held-out questions in the categories
of crowd-written SQuAD 2.0 ones, with every question of the same paragraphs.

python bench/bench_readers.py [--quick] [--readers fast,accurate] [--precisions fp32,int8] [--limit 300]
"""

from __future__ import annotations

from _common import Figure, heldout_articles, limit_threads, main_guard, parse_args, report, tiny_reader

from qa_bot.eval import evaluate_reader
from qa_bot.reader import Reader
from qa_bot.settings import Settings


def reader_figures(name: str, settings: Settings, heldout: list[dict], crowd: list[dict], limit: int) -> list[Figure]:
    reader = Reader(settings.reader_path(), settings)
    squad = evaluate_reader(reader, heldout, limit)
    mixed = evaluate_reader(reader, crowd, limit)
    label = f"{name} reader ({settings.reader_precision_in_use()})"
    return [
        Figure(f"{label}: held-out SQuAD F1 in context", squad["F1"], "F1", note=f"{squad['questions']} questions"),
        Figure(
            f"{label}: crowd-style unanswerables refused",
            mixed["NoAns_accuracy"],
            "%",
            target=">= 70",
            note=f"{mixed['unanswerable']} unanswerable, threshold {reader.threshold:.2f}",
        ),
        Figure(
            f"{label}: answerable questions answered (same paragraphs)",
            mixed["HasAns_answered"],
            "%",
            target=">= 85",
            note=f"{mixed['answerable']} answerable",
        ),
    ]


def crowd_dev(args, heldout: list[dict]) -> list[dict]:
    from qa_bot.squad import load_squad_file
    from qa_bot.training.crowd_unanswerables import write_dev

    path = args.workdir / ("crowd-dev-quick.json" if args.quick else "crowd-dev.json")
    if not path.is_file():
        path.parent.mkdir(parents=True, exist_ok=True)
        write_dev(heldout, 20 if args.quick else 600, 13, path)
    return load_squad_file(path)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(
        __doc__.splitlines()[0],
        argv,
        **{
            "--readers": {"default": "fast,accurate", "help": "QA_BOT_READER values, comma-separated"},
            "--precisions": {"default": "fp32,bf16,int8", "help": "e.g. fp32,int8: each reader at each precision"},
            "--limit": {"type": int, "default": 300, "help": "questions per data set"},
        },
    )
    heldout = heldout_articles(args)
    crowd = crowd_dev(args, heldout)
    figures = []
    for name in args.readers.split(","):
        for precision in args.precisions.split(","):
            reader = str(tiny_reader(args.workdir / "tiny-reader")) if args.quick else name
            settings = Settings(reader=reader, reader_precision=precision)
            limit_threads(settings)
            figures += reader_figures(name, settings, heldout, crowd, 10 if args.quick else args.limit)
    report("Readers in context", figures, args)


if __name__ == "__main__":
    main_guard(main)
