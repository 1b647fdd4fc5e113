"""The benchmark scripts run end to end in --quick mode and report sane figures (never timed assertions)."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
BENCH_DIR = REPO_ROOT / "bench"


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Shared by the scripts of this module, as in a real run: the first one builds the quick index."""
    return tmp_path_factory.mktemp("bench")


def run_bench(script: str, workdir: Path, *extra: str) -> tuple[dict[str, dict], str]:
    figures_path = workdir / f"{script}.json"
    completed = subprocess.run(
        [
            sys.executable,
            str(BENCH_DIR / f"{script}.py"),
            "--quick",
            "--workdir",
            str(workdir),
            "--json",
            str(figures_path),
            *extra,
        ],
        check=False,
        capture_output=True,
        text=True,
        env={**os.environ, "HF_HUB_OFFLINE": "1"},
        cwd=REPO_ROOT,
        timeout=1800,
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    figures = {row["name"]: row for row in json.loads(figures_path.read_text(encoding="utf-8"))}
    for figure in figures.values():
        assert figure["value"] is not None and math.isfinite(figure["value"]), figure
        assert figure["name"] in completed.stdout  # printed, not only written
    return figures, completed.stdout


@pytest.mark.slow
def test_indexing_counts_every_passage(workdir: Path) -> None:
    figures, _ = run_bench("bench_indexing", workdir)
    throughput = figures["indexing throughput (full build, incl. model load)"]
    assert throughput["value"] > 0
    assert throughput["note"].startswith("12 articles, 24 passages")  # 12 synthetic articles of 2 passages


@pytest.mark.slow
def test_ask_latency(workdir: Path) -> None:
    figures, _ = run_bench("bench_ask", workdir)
    assert figures["ask latency p95"]["value"] >= figures["ask latency p50"]["value"] > 0
    assert figures["retrieval-only latency p50 (hybrid)"]["value"] > 0


@pytest.mark.slow
def test_retrieval_modes_find_the_answer_passages(workdir: Path) -> None:
    figures, _ = run_bench("bench_retrieval", workdir)
    # Each synthetic question names its town and subject, so every mode should find the passage.
    for mode in ("hybrid", "dense", "bm25"):
        assert figures[f"retrieval recall@5 ({mode})"]["value"] >= 90


@pytest.mark.slow
def test_reader_batching(workdir: Path) -> None:
    figures, _ = run_bench("bench_reader", workdir)
    assert figures["reader p50, 5 passages batched"]["value"] > 0
    assert figures["reader batching speed-up"]["value"] > 0
    # the default onnx reader is timed against its torch baseline in the same run
    assert figures["reader p50, 5 passages batched, torch baseline"]["value"] > 0
    assert figures["reader onnx speed-up vs torch"]["value"] > 0


@pytest.mark.slow
def test_readers_are_measured_side_by_side_on_squad_and_crowd_style_unanswerables(workdir: Path) -> None:
    figures, _ = run_bench("bench_readers", workdir, "--readers", "fast,accurate", "--precisions", "fp32,int8")

    for reader in ("fast reader (fp32)", "fast reader (int8)", "accurate reader (fp32)", "accurate reader (int8)"):
        assert 0 <= figures[f"{reader}: held-out SQuAD F1 in context"]["value"] <= 100
        refused = figures[f"{reader}: crowd-style unanswerables refused"]
        assert 0 <= refused["value"] <= 100 and refused["target"] == ">= 70"


@pytest.mark.slow
def test_accuracy_is_measured_in_context_under_attack_and_through_the_whole_bot_for_the_accuracy_page(
    workdir: Path,
) -> None:
    figures, _ = run_bench("bench_accuracy", workdir)

    assert set(figures) == {
        "reader F1, own paragraph (held-out articles)",
        "robustness: worst-case distractor F1",
        "robustness: unanswerable edits refused",
        "robustness: half-unanswerable mix F1",
        "question echoes: F1 with an echo in the paragraph",
        "question echoes: wrong paragraphs echoing the question refused",
        "whole bot: top answer F1 over the held-out articles",
    }
    for figure in figures.values():
        assert figure["page"] == "accuracy" and 0 <= figure["value"] <= 100, figure
    assert "attacked questions" in figures["robustness: worst-case distractor F1"]["note"]
    run_all = _bench_module("run_all")
    recorded = run_all.figure_rows([run_all.Figure(**row) for row in figures.values()], "python bench/run_all.py")
    assert {row["page"] for row in recorded} == {"accuracy"}


@pytest.mark.slow
def test_serve_memory_is_measured_on_a_live_server(workdir: Path) -> None:
    figures, _ = run_bench("bench_serve", workdir)
    peak_gib = figures["qa-bot serve peak RSS (index loaded, 1 question)"]["value"]
    assert peak_gib > 0.1  # torch plus two models: a figure near zero would mean the wrong process was measured


@pytest.mark.slow
def test_load_test_answers_every_question_and_measures_the_server(workdir: Path) -> None:
    args = ("--concurrency", "3", "--questions", "24", "--duration", "600")
    figures, _ = run_bench("bench_load", workdir, *args)
    assert figures["load test errors"]["value"] == 0
    assert figures["load test throughput"]["note"].startswith("24 questions, 3 concurrent askers")
    assert figures["load test latency p95"]["value"] >= figures["load test latency p50"]["value"] > 0
    assert figures["server RSS after warm-up"]["value"] > 100  # MiB: a live server with models loaded
    assert figures["server RSS growth over the run"]["note"] == "24 questions"
    assert figures["server RSS growth over the second half of the run"]["note"].startswith(("levels off", "still"))


def run_summary(script: str, workdir: Path, *extra: str) -> tuple[dict, str]:
    """A --quick run with a JSON summary as its last line, IVF from 2,000 vectors: (summary, stdout)."""
    completed = subprocess.run(
        [sys.executable, str(BENCH_DIR / f"{script}.py"), "--quick", "--workdir", str(workdir), *extra, "--json"],
        check=False,
        capture_output=True,
        text=True,
        env={**os.environ, "HF_HUB_OFFLINE": "1", "QA_BOT_ANN_THRESHOLD": "2000"},
        cwd=REPO_ROOT,
        timeout=1800,
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    return json.loads(completed.stdout.strip().splitlines()[-1]), completed.stdout


@pytest.mark.slow
def test_ann_prints_the_summary_of_the_index_the_project_builds(workdir: Path) -> None:
    summary, stdout = run_summary("bench_ann", workdir, "--size", "6000")
    assert set(summary) >= {"size", "index", "recall_at_10", "p50_ms", "exact_p50_ms", "build_s", "memory_mb"}
    assert summary["size"] == 6000 and summary["index"].startswith("IVF")  # above ann_threshold
    assert 0.5 <= summary["recall_at_10"] <= 1 and summary["memory_mb"] > 6000 * 384 * 4 / 2**20
    assert "recall@10 vs exact" in stdout  # the figures are printed before the summary line


@pytest.mark.slow
def test_large_index_is_built_by_the_streaming_writer_loaded_and_served(workdir: Path) -> None:
    summary, stdout = run_summary("bench_large_index", workdir)
    assert 5000 <= summary["passages"] < 5100  # --quick size, overshot by at most the last article
    assert summary["faiss"].startswith("IVF")  # above QA_BOT_ANN_THRESHOLD
    assert summary["build_peak_rss_mib"] > summary["build_rss_before_mib"] > 0
    assert summary["build_peak_rss_mib"] >= summary["build_peak_anonymous_mib"] > 0
    assert summary["serve_peak_rss_mib"] > 100  # a live server with both models loaded
    for key in ("build_s", "load_s", "faiss_p50_ms", "bm25_p50_ms", "hybrid_p50_ms", "serve_startup_s"):
        assert summary[key] > 0, key
    assert "build peak RSS" in stdout and "build peak anonymous memory" in stdout and "qa-bot serve start-up" in stdout


README = """# qa-bot

Intro text stays.

<!-- perf:start -->
| Benchmark | Result | Target | | Measured by |
|---|---|---|---|---|
| ask latency p50 | 163 ms | <= 300 ms | met | `python bench/run_all.py --only bench_ask` (2026-11-26) |
| old ANN row [random] | 1 ms |  |  | `python bench/run_all.py --only bench_ann` (2026-11-25) |
<!-- perf:end -->

Text after stays too.
"""


@pytest.mark.slow
def test_run_all_updates_only_the_rows_it_measured(workdir: Path, tmp_path: Path) -> None:
    readme = tmp_path / "README.md"
    readme.write_text(README, encoding="utf-8")
    completed = subprocess.run(
        [sys.executable, str(BENCH_DIR / "run_all.py"), "--quick", "--only", "bench_ann", "--update-readme"]
        + ["--readme", str(readme), "--workdir", str(workdir)],
        check=False,
        capture_output=True,
        text=True,
        env={**os.environ, "HF_HUB_OFFLINE": "1"},
        cwd=REPO_ROOT,
        timeout=1800,
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    text = readme.read_text(encoding="utf-8")
    assert text.startswith("# qa-bot\n\nIntro text stays.\n\n<!-- perf:start -->\n| Benchmark |")
    assert text.endswith("<!-- perf:end -->\n\nText after stays too.\n")
    assert text.count("| Benchmark | Result |") == 1
    assert (
        "| ask latency p50 | 163 ms | <= 300 ms | met | `python bench/run_all.py --only bench_ask` (2026-11-26) |"
        in text
    )
    assert "old ANN row [random]" in text  # rows of other runs stay until a run measures them again
    ann_rows = [line for line in text.splitlines() if "embedding-like vectors] recall@10" in line]
    assert len(ann_rows) == 1 and "`python bench/run_all.py --quick --only bench_ann` (" in ann_rows[0]
    assert "efSearch" not in text  # sweep rows are printed only


def test_readme_without_markers_is_left_alone(tmp_path: Path) -> None:
    sys.path.insert(0, str(BENCH_DIR))
    try:
        import run_all
    finally:
        sys.path.remove(str(BENCH_DIR))
    readme = tmp_path / "README.md"
    readme.write_text("# qa-bot\n", encoding="utf-8")
    assert run_all.update_readme(readme, {"a": "| a | b |"}) is False
    assert readme.read_text(encoding="utf-8") == "# qa-bot\n"
    assert run_all.update_readme(tmp_path / "missing.md", {"a": "| a | b |"}) is False


def _bench_module(name: str):
    sys.path.insert(0, str(BENCH_DIR))
    try:
        return __import__(name)
    finally:
        sys.path.remove(str(BENCH_DIR))


def test_recorded_figures_replace_the_rows_measured_again_and_keep_the_others(tmp_path: Path) -> None:
    pages = _bench_module("pages")
    figures = tmp_path / "figures.json"
    old = {"page": "benchmarks", "target": "", "verdict": "", "command": "old", "measured": "2026-11-25"}
    figures.write_text(json.dumps([{**old, "name": "a", "result": "1 ms"}, {**old, "name": "b", "result": "2 ms"}]))
    pages.merge_rows(
        figures, [{**old, "name": "b", "result": "3 ms", "command": "new"}, {**old, "name": "c", "result": "4"}]
    )
    rows = json.loads(figures.read_text())
    assert [(row["name"], row["result"], row["command"]) for row in rows] == [
        ("a", "1 ms", "old"),
        ("b", "3 ms", "new"),
        ("c", "4", "old"),
    ]


def test_the_pages_are_rendered_from_the_recorded_figures_and_the_shipped_model_files(tmp_path: Path) -> None:
    pages = _bench_module("pages")
    readme = tmp_path / "README.md"
    readme.write_text("# qa-bot\n\n<!-- headline:start -->\nstale table\n<!-- headline:end -->\n\nText stays.\n")
    written = pages.update_docs(tmp_path, readme)
    assert sorted(path.name for path in written) == ["README.md", "accuracy.md", "benchmarks.md"]
    benchmarks = (tmp_path / "benchmarks.md").read_text()
    for row in pages.load_rows():
        page = (tmp_path / f"{row['page']}.md").read_text()
        assert f"| {row['name']} | {row['result']} |" in page and f"`{row['command']}` ({row['measured']})" in page
    assert "{{" not in benchmarks and "{{" not in (tmp_path / "accuracy.md").read_text()
    policy = json.loads((REPO_ROOT / "qa_bot" / "models" / "reader" / "answer_policy.json").read_text())
    answered = policy["report"]["checked_on_unseen_articles"]["answered"]
    assert f"| questions answered | {answered:.1f}% |" in (tmp_path / "accuracy.md").read_text()
    text = readme.read_text()
    assert "stale table" not in text and text.endswith("<!-- headline:end -->\n\nText stays.\n")
    assert f"| questions answered | {answered:.1f}% |" in text


def test_a_policy_fitted_with_unanswerable_questions_shows_how_often_they_are_answered(tmp_path: Path) -> None:
    pages = _bench_module("pages")
    policy = json.loads(pages.ANSWER_POLICY.read_text())
    checked = policy["report"]["checked_on_unseen_articles"]
    for key in ("unanswerable_questions", "unanswerable_answered", "shown_right_with_unanswerables"):
        checked.pop(key, None)
    without, path = tmp_path / "without.json", tmp_path / "answer_policy.json"
    without.write_text(json.dumps(policy))
    before = {row["name"] for row in pages.answer_policy_rows(without)}
    checked |= {"unanswerable_questions": 40, "unanswerable_answered": 0.275, "shown_right_with_unanswerables": 70.0}
    path.write_text(json.dumps(policy))
    rows = {row["name"]: row for row in pages.answer_policy_rows(path)}
    assert set(rows) - before == {
        "share of shown answers that are right, unanswerable questions included",
        "crowd-style unanswerable questions that still get an answer",
    }
    assert rows["crowd-style unanswerable questions that still get an answer"]["result"] == "27.5% of 40"
    assert rows["share of shown answers that are right, unanswerable questions included"]["verdict"] == "missed"


@pytest.mark.release
def test_the_committed_pages_show_what_the_recorded_figures_render(tmp_path: Path) -> None:
    """docs/benchmarks.md, docs/accuracy.md and the README's headline table are generated, never edited by hand:
    after new figures or a refitted model, `python bench/run_all.py --docs-only` brings them back in line."""
    pages = _bench_module("pages")
    readme = tmp_path / "README.md"
    readme.write_bytes((REPO_ROOT / "README.md").read_bytes())
    for page in pages.update_docs(tmp_path, readme):
        committed = REPO_ROOT / ("README.md" if page == readme else f"docs/{page.name}")
        assert page.read_text(encoding="utf-8") == committed.read_text(encoding="utf-8"), committed


@pytest.mark.slow
def test_dask_indexing_is_measured_against_the_local_path_in_the_same_run(workdir: Path) -> None:
    figures, _ = run_bench("bench_dask", workdir, "--workers", "2")
    per_worker = figures["Dask passages/s per worker thread"]["value"]
    assert figures["index build, Dask (2 workers x 1 thread, loopback)"]["value"] == pytest.approx(2 * per_worker)
    hours = figures["projected 10M passages on 20 such workers"]["value"]
    assert hours == pytest.approx(10_000_000 / (per_worker * 20) / 3600)
    assert figures["lowest cosine, Dask vs local vector of the same passage"]["value"] > 0.98  # same passages, model
