"""Run every benchmark, print one table, and optionally record the figures and rewrite the pages that show them.

    python bench/run_all.py [--quick] [--update-docs] [--only bench_ann,bench_ask]
    python bench/run_all.py --docs-only      # rewrite the pages from the recorded figures, run nothing

``--update-docs`` replaces, in ``bench/figures.json``, only the rows of the benchmarks that ran (matched by name;
new ones are appended), then writes docs/benchmarks.md, docs/accuracy.md and the README's headline table from it
(``bench/pages.py``); every row names its command and date. ``--update-readme`` replaces the rows that ran between
``<!-- perf:start -->`` and ``<!-- perf:end -->`` of a markdown file (``--readme``) the same way.
Each script runs in its own process, so one's memory (1M vectors) never inflates another's figures.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from datetime import date
from pathlib import Path

from _common import DEFAULT_SQUAD, DEFAULT_WORKDIR, REPO_ROOT, Figure
from pages import FIGURES, markdown_row, merge_rows, update_docs

BENCH_DIR = Path(__file__).resolve().parent
# Indexing first: it (re)builds the SQuAD index the next four reuse; the 1M-passage runs last.
SCRIPTS = (
    "bench_indexing",
    "bench_embedding",
    "bench_dask",
    "bench_ask",
    "bench_retrieval",
    "bench_reader",
    "bench_readers",
    "bench_accuracy",
    "bench_serve",
    "bench_ann",
    "bench_large_index",
)
START, END = "<!-- perf:start -->", "<!-- perf:end -->"


def run_script(name: str, passed: list[str]) -> list[Figure] | None:
    """The script's figures, or None if it failed (its output has already been shown)."""
    with tempfile.TemporaryDirectory() as folder:
        figures_path = Path(folder) / "figures.json"
        completed = subprocess.run(
            [sys.executable, str(BENCH_DIR / f"{name}.py"), *passed, "--json", str(figures_path)], check=False
        )
        if completed.returncode != 0 or not figures_path.is_file():
            return None
        return [Figure(**row) for row in json.loads(figures_path.read_text(encoding="utf-8"))]


def _value(figure: Figure) -> str:
    if figure.value is None:
        return "n/a"
    value = f"{figure.value:.3g}" if abs(figure.value) < 100 else f"{figure.value:,.0f}"
    return f"{value} {figure.unit}".strip()


HEADER = ["| Benchmark | Result | Target | | Measured by |", "|---|---|---|---|---|"]


def figure_rows(figures: list[Figure], command: str) -> list[dict]:
    """The recorded form of the figures shown in tables, each saying which command measured it and when."""
    verdict = {True: "met", False: "missed", None: ""}
    when = f"{date.today().isoformat()}, {os.cpu_count()} CPU cores"
    return [
        {
            "page": figure.page,
            "name": figure.name,
            "result": _value(figure) + (f" ({figure.note})" if figure.note else ""),
            "target": f"{figure.target} {figure.unit}".strip() if figure.target else "",
            "verdict": verdict[figure.met()],
            "command": command,
            "measured": when,
        }
        for figure in figures
        if figure.readme
    ]


def table_rows(figures: list[Figure], command: str) -> dict[str, str]:
    """Markdown table rows keyed by benchmark name."""
    return {row["name"]: markdown_row(row) for row in figure_rows(figures, command)}


def _row_name(line: str) -> str:
    return line.split("|")[1].strip()


def update_readme(readme: Path, rows: dict[str, str]) -> bool:
    """Replace the measured rows (appending new ones) between the markers and keep every other row and line;
    False (README untouched) when the markers are missing."""
    text = readme.read_text(encoding="utf-8") if readme.is_file() else ""
    start, end = text.find(START), text.find(END)
    if start == -1 or end < start:
        return False
    kept = [line for line in text[start + len(START) : end].strip("\n").splitlines() if line.strip()]
    table = [line for line in kept if line.startswith("| ") and line not in HEADER]
    pending = dict(rows)
    merged = [pending.pop(_row_name(line), line) for line in table]
    lines = HEADER + merged + list(pending.values())
    readme.write_text(text[: start + len(START)] + "\n" + "\n".join(lines) + "\n" + text[end:], encoding="utf-8")
    return True


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny synthetic sizes (seconds)")
    parser.add_argument("--update-readme", action="store_true", help="rewrite the table between the perf markers")
    parser.add_argument(
        "--update-docs", action="store_true", help="record the figures in bench/figures.json and rewrite docs/"
    )
    parser.add_argument("--docs-only", action="store_true", help="rewrite docs/ from the recorded figures only")
    parser.add_argument("--readme", type=Path, default=REPO_ROOT / "README.md")
    parser.add_argument("--only", help=f"comma-separated subset of: {', '.join(SCRIPTS)}")
    parser.add_argument("--workdir", type=Path, default=DEFAULT_WORKDIR, help="where data and indexes are cached")
    parser.add_argument("--squad", type=Path, default=DEFAULT_SQUAD, help="SQuAD training file (full runs)")
    args = parser.parse_args(argv)
    if args.docs_only:
        for path in update_docs(REPO_ROOT / "docs", args.readme):
            print(f"wrote {path}")
        return 0
    selected = args.only.split(",") if args.only else list(SCRIPTS)
    unknown = sorted(set(selected) - set(SCRIPTS))
    if unknown:
        parser.error(f"unknown benchmark(s) {', '.join(unknown)}; choose from {', '.join(SCRIPTS)}")

    passed = ["--workdir", str(args.workdir), "--squad", str(args.squad)] + (["--quick"] if args.quick else [])
    args.workdir.mkdir(parents=True, exist_ok=True)
    figures, failed = [], []
    for name in (script for script in SCRIPTS if script in selected):
        result = run_script(name, passed)
        if result is None:
            failed.append(name)
        else:
            figures += result

    command = (
        "python bench/run_all.py" + (" --quick" if args.quick else "") + (f" --only {args.only}" if args.only else "")
    )
    rows = table_rows(figures, command)
    print("\n" + "\n".join(HEADER + list(rows.values())))
    if args.update_docs:
        merge_rows(FIGURES, figure_rows(figures, command))
        for path in update_docs(REPO_ROOT / "docs", args.readme):
            print(f"wrote {path}")
    if failed:
        print(f"\nfailed: {', '.join(failed)}", file=sys.stderr)
    if args.update_readme:
        if update_readme(args.readme, rows):
            print(f"\nupdated the performance table in {args.readme}")
        else:
            print(f"\n{args.readme} has no {START} ... {END} markers; add them where the table belongs")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
