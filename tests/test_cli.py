"""The qa-bot CLI: JSON contract, index sync summary, bad input handled in one line."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from qa_bot.citations import normalize_answer
from qa_bot.cli import main
from qa_bot.types import ANSWER_ROLES
from tests.conftest import BUNDLED_READER_MISSING, bundled_reader_available

REPO = Path(__file__).resolve().parents[1]
SEED_ARTICLE = REPO / "corpus" / "kurdistan24-coalition-spokesman-peshmerga.txt"

ARTICLE = (
    "Airport reopens in Erbil\n\n"
    "The airport in Erbil reopened on Monday after a two-week closure. "
    "Officials said that 40 flights were scheduled for the first day.\n\n"
    "The governor thanked the airport staff for their work during the closure."
)
CONTRACT_KEYS = {"question", "answers", "latency_ms", "withheld"}
CITATION_KEYS = {
    "article_id",
    "title",
    "source",
    "url",
    "sentence",
    "sentence_start",
    "sentence_end",
    "answer_start",
    "answer_end",
    "text",
}


@pytest.fixture()
def corpus(tmp_path: Path) -> Path:
    folder = tmp_path / "corpus"
    folder.mkdir()
    (folder / "airport.txt").write_text(ARTICLE, encoding="utf-8")
    return folder


@pytest.fixture()
def tiny_env(tiny_reader_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("QA_BOT_READER", str(tiny_reader_dir))
    return tiny_reader_dir


@pytest.fixture()
def index(corpus: Path, tmp_path: Path, tiny_env: Path, capsys: pytest.CaptureFixture) -> Path:
    index_dir = tmp_path / "index"
    assert main(["index", str(corpus), "--index-dir", str(index_dir)]) == 0
    capsys.readouterr()
    return index_dir


def test_index_reports_bad_files_in_one_line_each_and_indexes_the_rest(
    corpus: Path, tmp_path: Path, tiny_env: Path, capsys: pytest.CaptureFixture
):
    (corpus / "image.txt").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)))
    (corpus / "empty.md").write_text("   \n")
    (corpus / "legacy.txt").write_bytes("Caf\xe9 news\n\nThe caf\xe9 in Duhok reopened.".encode("cp1252"))
    code = main(["index", str(corpus), "--index-dir", str(tmp_path / "index")])
    out, err = capsys.readouterr()
    assert code == 0
    assert "2 added, 0 updated, 0 removed, 0 unchanged" in out
    warnings = [line for line in err.splitlines() if line.startswith("warning:")]
    assert any("image.txt" in w for w in warnings) and any("empty.md" in w for w in warnings)
    assert any("legacy.txt" in w for w in warnings)
    assert "Traceback" not in err


def test_second_index_run_reports_unchanged(index: Path, corpus: Path, capsys: pytest.CaptureFixture):
    assert main(["index", str(corpus), "--index-dir", str(index)]) == 0
    assert "0 added, 0 updated, 0 removed, 1 unchanged" in capsys.readouterr().out


def test_ask_json_follows_the_contract_with_offsets_into_the_article(index: Path, capsys: pytest.CaptureFixture):
    assert main(["ask", "When did the airport reopen?", "--index-dir", str(index), "--json"]) == 0
    record = json.loads(capsys.readouterr().out)
    assert set(record) == CONTRACT_KEYS and record["question"] == "When did the airport reopen?"
    assert record["answers"], "threshold 0 must give an answer"
    for answer in record["answers"]:
        assert set(answer) == {"text", "score", "role", "article_count", "citations"} and 0.0 <= answer["score"] <= 1.0
        assert answer["role"] in ANSWER_ROLES and answer["article_count"] == 1
        for citation in answer["citations"]:
            assert set(citation) == CITATION_KEYS
            assert ARTICLE[citation["answer_start"] : citation["answer_end"]] == citation["text"]
            assert normalize_answer(citation["text"]) == normalize_answer(answer["text"])
            assert ARTICLE[citation["sentence_start"] : citation["sentence_end"]] == citation["sentence"]
            assert (
                citation["sentence_start"]
                <= citation["answer_start"]
                < citation["answer_end"]
                <= citation["sentence_end"]
            )
            assert citation["title"] == "Airport reopens in Erbil"


def test_questions_file_gives_one_json_line_per_question(index: Path, tmp_path: Path, capsys: pytest.CaptureFixture):
    questions = tmp_path / "questions.txt"
    questions.write_text("When did the airport reopen?\n\nHow many flights were scheduled?\n")
    assert main(["ask", "--questions", str(questions), "--index-dir", str(index), "--json"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [json.loads(line)["question"] for line in lines] == [
        "When did the airport reopen?",
        "How many flights were scheduled?",
    ]


def test_overlong_question_is_shortened_with_a_notice(index: Path, capsys: pytest.CaptureFixture):
    question = "When did the airport reopen? " + "very " * 2000
    assert main(["ask", question, "--index-dir", str(index)]) == 0
    out = capsys.readouterr().out
    assert "note: question shortened" in out


@pytest.mark.parametrize("question", ["", "   \t\n"])
def test_empty_question_is_one_clear_line_and_a_failure(index: Path, question: str, capsys: pytest.CaptureFixture):
    assert main(["ask", question, "--index-dir", str(index)]) == 1
    err = capsys.readouterr().err
    assert err.strip().splitlines() == ["error: the question is empty; type a question about the articles"]


def test_missing_index_is_one_line_with_the_fix(tmp_path: Path, tiny_env: Path, capsys: pytest.CaptureFixture):
    assert main(["ask", "Anything?", "--index-dir", str(tmp_path / "nowhere")]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "qa-bot index" in err[0]


def test_missing_corpus_fails_and_leaves_the_index_intact(index: Path, tmp_path: Path, capsys: pytest.CaptureFixture):
    before = sorted(p.relative_to(index) for p in index.rglob("*"))
    assert main(["index", str(tmp_path / "no-such-folder"), "--index-dir", str(index)]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "does not exist" in err[0]
    assert sorted(p.relative_to(index) for p in index.rglob("*")) == before
    assert main(["ask", "When did the airport reopen?", "--index-dir", str(index), "--json"]) == 0


@pytest.mark.parametrize("corpus_kind", ["a file", "an empty folder", "missing"])
def test_failed_index_creates_no_index_folder(tmp_path: Path, tiny_env: Path, corpus_kind: str, capsys):
    corpus = tmp_path / "corpus.txt"
    if corpus_kind == "a file":
        corpus.write_text(ARTICLE)
    elif corpus_kind == "an empty folder":
        corpus.mkdir()
    index_dir = tmp_path / "new" / "index"
    assert main(["index", str(corpus), "--index-dir", str(index_dir)]) == 1
    assert len(capsys.readouterr().err.strip().splitlines()) == 1
    assert not (tmp_path / "new").exists()


def test_installed_command_exits_non_zero_without_traceback(tmp_path: Path):
    result = subprocess.run(
        [sys.executable, "-m", "qa_bot.cli", "ask", "Where?", "--index-dir", str(tmp_path / "missing")],
        check=False,
        capture_output=True,
        text=True,
        env=os.environ | {"HF_HUB_OFFLINE": "1"},
        timeout=300,
    )
    assert result.returncode == 1
    assert "Traceback" not in result.stderr and result.stderr.startswith("error: no index at")


@pytest.mark.slow
@pytest.mark.skipif(not bundled_reader_available(), reason=BUNDLED_READER_MISSING)
def test_seed_article_end_to_end_with_the_bundled_reader(tmp_path: Path, capsys: pytest.CaptureFixture):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    shutil.copy(SEED_ARTICLE, corpus)
    text = SEED_ARTICLE.read_text(encoding="utf-8")
    index_dir = tmp_path / "index"
    assert main(["index", str(corpus), "--index-dir", str(index_dir)]) == 0
    capsys.readouterr()

    assert main(["ask", "Which bases host Coalition troops?", "--index-dir", str(index_dir), "--json"]) == 0
    record = json.loads(capsys.readouterr().out)
    found = " | ".join(a["text"] for a in record["answers"])
    for base in ("Erbil", "Al-Assad", "Camp Taji"):
        assert base in found or any(
            base in c["sentence"] and base in text[c["answer_start"] : c["answer_end"]]
            for a in record["answers"]
            for c in a["citations"]
        ), f"{base} missing from {found}"
    bases_sentence = text.index("The second way that the Coalition")
    cited = {c["sentence_start"] for a in record["answers"] for c in a["citations"]}
    assert bases_sentence in cited
    for answer in record["answers"]:
        for c in answer["citations"]:
            assert text[c["answer_start"] : c["answer_end"]] == c["text"]

    assert main(["ask", "What is the capital of Australia?", "--index-dir", str(index_dir), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["answers"] == []

    for question, expected in [
        ("Who is the Coalition spokesman?", "Caggins"),
        ("How many brigades got new uniforms?", "13"),
        ("Which country provided the airstrike?", "France"),
    ]:
        assert main(["ask", question, "--index-dir", str(index_dir), "--json"]) == 0
        answers = json.loads(capsys.readouterr().out)["answers"]
        assert answers and expected in answers[0]["text"], (question, answers)
