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
from tests.conftest import require_bundled_reader

REPO = Path(__file__).resolve().parents[1]
SEED_ARTICLE = REPO / "corpus" / "kurdistan24-coalition-spokesman-peshmerga.txt"

ARTICLE = (
    "Airport reopens in Erbil\n\n"
    "The airport in Erbil reopened on Monday after a two-week closure. "
    "Officials said that 40 flights were scheduled for the first day.\n\n"
    "The governor thanked the airport staff for their work during the closure."
)
CONTRACT_KEYS = {"question", "answers", "latency_ms", "withheld", "articles_differ"}
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


@pytest.mark.parametrize("corpus_kind", ["a file", "missing"])
def test_failed_index_into_the_shipped_index_folder_adds_nothing_to_it(
    tmp_path: Path, tiny_env: Path, corpus_kind: str, capsys
):
    corpus = tmp_path / "corpus.txt"
    if corpus_kind == "a file":
        corpus.write_text(ARTICLE)
    index_dir = tmp_path / "index"
    index_dir.mkdir()
    (index_dir / "README.md").write_text("build output\n")
    assert main(["index", str(corpus), "--index-dir", str(index_dir)]) == 1
    assert [p.name for p in index_dir.iterdir()] == ["README.md"]


@pytest.fixture()
def no_models(monkeypatch: pytest.MonkeyPatch) -> None:
    """Any model load fails the test: cheap preconditions must be checked first."""
    import qa_bot.pipeline

    def refuse(*args, **kwargs):
        raise AssertionError("a model was loaded before the index was checked")

    monkeypatch.setattr(qa_bot.pipeline, "Embedder", refuse)
    monkeypatch.setattr(qa_bot.pipeline, "Reader", refuse)


def test_missing_index_is_reported_before_any_model_loads(tmp_path: Path, no_models, capsys):
    assert main(["ask", "Anything?", "--index-dir", str(tmp_path / "nowhere")]) == 1
    assert capsys.readouterr().err.startswith(f"error: no index at {tmp_path / 'nowhere'}")


def test_binary_current_pointer_is_the_damaged_index_line(index: Path, no_models, capsys):
    (index / "CURRENT").write_bytes(b"\xff\xfe\x00\x9c\n")
    assert main(["ask", "When did the airport reopen?", "--index-dir", str(index)]) == 1
    [line] = capsys.readouterr().err.strip().splitlines()
    assert "is damaged (CURRENT is not a version name)" in line and f"--index-dir {index} --rebuild" in line


@pytest.mark.parametrize("bad", ["\udcff\udcfe", "\ud800"], ids=["undecodable argv bytes", "lone surrogate"])
def test_a_question_with_bytes_that_are_not_text_is_answered_with_a_notice(index: Path, bad: str, capsys):
    assert main(["ask", f"When did the airport {bad}reopen?", "--index-dir", str(index), "--json"]) == 0
    out, err = capsys.readouterr()
    record = json.loads(out)
    assert record["question"] == "When did the airport " + "\ufffd" * len(bad) + "reopen?"
    assert record["answers"]
    assert err.splitlines() == ["note: the question held bytes that are not valid text; they were replaced by \ufffd"]


def test_questions_file_with_undecodable_bytes_answers_every_line_with_notices_on_stderr(
    index: Path, tmp_path: Path, capsys
):
    questions = tmp_path / "questions.txt"
    questions.write_bytes(b"When did the airport \xff reopen?\n" + b"When did it reopen? " + b"very " * 300 + b"\n")
    args = ["ask", "--questions", str(questions), "--index-dir", str(index), "--json"]
    assert main(args + ["--top-k", "1"]) == 0
    out, err = capsys.readouterr()
    first, second = (json.loads(line) for line in out.splitlines())
    assert first["question"] == "When did the airport \ufffd reopen?" and first["answers"]
    assert second["question"].startswith("When did it reopen?") and len(second["question"]) <= 1000
    notes = err.splitlines()
    assert notes[0] == "note: line 1: the question held bytes that are not valid text; they were replaced by \ufffd"
    assert notes[1].startswith("note: line 2: question shortened to its first")


def test_a_question_that_is_not_text_is_one_clear_error():
    from qa_bot.errors import QABotError
    from qa_bot.pipeline import clean_question

    for question in (42, ["When?"], {"q": 1}):
        with pytest.raises(QABotError, match="the question must be text"):
            clean_question(question, 1000)


def test_library_from_index_checks_the_index_before_any_model_loads(tmp_path: Path, no_models):
    from qa_bot.errors import IndexUnusable
    from qa_bot.pipeline import QABot

    with pytest.raises(IndexUnusable, match="no index at"):
        QABot.from_index(tmp_path / "nowhere")


# --- README promises --------------------------------------------------------------------------

TOWNS = ["Amedi", "Zakho", "Akre", "Soran", "Ranya", "Koya"]


@pytest.fixture()
def six_article_index(tmp_path: Path, tiny_env: Path, capsys) -> Path:
    corpus = tmp_path / "six"
    corpus.mkdir()
    for number, town in enumerate(TOWNS):
        (corpus / f"{town}.txt").write_text(f"{town} market\n\nThe market in {town} opened {number + 2} new stalls.")
    assert main(["index", str(corpus), "--index-dir", str(tmp_path / "six-index")]) == 0
    capsys.readouterr()
    return tmp_path / "six-index"


@pytest.fixture()
def reader_inputs(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """How many passages the reader was handed, per question."""
    from qa_bot.reader import Reader

    counts: list[int] = []
    read = Reader.read

    def counting_read(self, question, passages, *args, **kwargs):
        counts.append(len(passages))
        return read(self, question, passages, *args, **kwargs)

    monkeypatch.setattr(Reader, "read", counting_read)
    return counts


def test_top_k_option_and_setting_decide_how_many_passages_the_reader_gets(
    six_article_index: Path, reader_inputs: list[int], monkeypatch, capsys
):
    ask = ["ask", "Which market opened new stalls?", "--index-dir", str(six_article_index), "--json"]
    for top_k in ("1", "4"):
        assert main([*ask, "--top-k", top_k]) == 0
    monkeypatch.setenv("QA_BOT_TOP_K", "3")
    assert main(ask) == 0
    assert reader_inputs == [1, 4, 3]


def test_rebuild_re_embeds_every_passage_and_a_plain_sync_none(six_article_index: Path, tmp_path: Path, monkeypatch):
    from qa_bot.embedding import Embedder

    embedded: list[str] = []
    encode = Embedder.encode

    def counting_encode(self, texts, *args, **kwargs):
        embedded.extend(texts)
        return encode(self, texts, *args, **kwargs)

    monkeypatch.setattr(Embedder, "encode", counting_encode)
    version = (six_article_index / "CURRENT").read_text()
    assert main(["index", str(tmp_path / "six"), "--index-dir", str(six_article_index)]) == 0
    assert (embedded, (six_article_index / "CURRENT").read_text()) == ([], version)
    assert main(["index", str(tmp_path / "six"), "--index-dir", str(six_article_index), "--rebuild"]) == 0
    assert sorted(text.split()[0] for text in embedded) == sorted(TOWNS)  # each article's one passage, again
    assert (six_article_index / "CURRENT").read_text() != version


def test_max_article_bytes_setting_skips_an_oversized_file_with_a_report(
    corpus: Path, tmp_path: Path, tiny_env: Path, monkeypatch, capsys
):
    (corpus / "long.txt").write_text("Long report\n\n" + "The harbour grew again. " * 100)
    monkeypatch.setenv("QA_BOT_MAX_ARTICLE_BYTES", "1000")
    assert main(["index", str(corpus), "--index-dir", str(tmp_path / "index")]) == 0
    out, err = capsys.readouterr()
    assert "1 added" in out
    [warning] = [line for line in err.splitlines() if line.startswith("warning:")]
    assert warning.startswith("warning: skipped long.txt: file is 2.4 KB, over the 1000 bytes limit")
    assert "QA_BOT_MAX_ARTICLE_BYTES" in warning


def test_feedback_export_through_the_cli(tmp_path: Path, capsys):
    from qa_bot.feedback import FeedbackStore, default_feedback_path

    index_dir = tmp_path / "index"
    store = FeedbackStore(default_feedback_path(index_dir))
    store.record("a1", "When did the airport reopen?", [{"text": "Monday", "score": 0.9, "citations": []}], "up")
    store.record("a2", "Who thanked the staff?", [], "down")
    assert store.add_comment("a2", "It was the governor.")
    out = tmp_path / "export" / "votes.jsonl"
    assert main(["feedback", "export", str(out), "--index-dir", str(index_dir)]) == 0
    assert capsys.readouterr().out.strip() == f"exported 2 feedback records to {out}"
    records = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert [(r["question"], r["vote"], r["comment"]) for r in records] == [
        ("When did the airport reopen?", "up", None),
        ("Who thanked the staff?", "down", "It was the governor."),
    ]
    assert records[0]["answers"][0]["text"] == "Monday"


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
@pytest.mark.parametrize("precision", ["auto", "fp32"])  # auto, the default, is bf16 on a CPU with bf16 units
def test_seed_article_end_to_end_with_the_bundled_reader(
    tmp_path: Path, capsys: pytest.CaptureFixture, monkeypatch: pytest.MonkeyPatch, precision: str
):
    require_bundled_reader()
    monkeypatch.setenv("QA_BOT_READER_PRECISION", precision)
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    shutil.copy(SEED_ARTICLE, corpus)
    text = SEED_ARTICLE.read_text(encoding="utf-8")
    index_dir = tmp_path / "index"
    assert main(["index", str(corpus), "--index-dir", str(index_dir)]) == 0
    capsys.readouterr()

    assert main(["ask", "Which bases host Coalition troops?", "--index-dir", str(index_dir), "--json"]) == 0
    record = json.loads(capsys.readouterr().out)
    # the bases and nothing else: not "The government of Iraq", nor the region between the bases
    assert [(a["text"], a["role"]) for a in record["answers"]] == [
        ("Erbil and Al-Assad Air Bases", "answer"),
        ("Camp Taji", "list_item"),
    ]
    bases_sentence = text.index("The second way that the Coalition")
    for answer in record["answers"]:
        [citation] = answer["citations"]
        assert citation["sentence_start"] == bases_sentence
        assert text[citation["answer_start"] : citation["answer_end"]] == citation["text"] == answer["text"]
    assert "Kurdistan Region and Anbar Province" in [a["text"] for a in record["withheld"]]

    assert main(["ask", "What is the capital of Australia?", "--index-dir", str(index_dir), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["answers"] == []

    for question, expected in [
        ("Who is the Coalition spokesman?", "Caggins"),
        ("How many brigades got new uniforms?", "13"),
        ("Which country provided the airstrike?", "France"),
        ("Which country carried out the airstrike?", "France"),
    ]:
        assert main(["ask", question, "--index-dir", str(index_dir), "--json"]) == 0
        answers = json.loads(capsys.readouterr().out)["answers"]
        assert answers and expected in answers[0]["text"], (question, answers)


def test_text_output_shows_the_answer_its_list_items_and_alternatives_with_their_citations():
    from qa_bot.cli import format_response
    from qa_bot.types import Answer, Citation, Response

    def answer(text: str, role: str, articles: int = 1) -> Answer:
        start = ARTICLE.index(text)
        citation = Citation("a", "Airport reopens", "S", None, None, "a:0", "sentence", 0, 9, start, start + len(text))
        return Answer(text, 0.8, (citation,) * articles, role=role, article_count=articles)

    response = Response(
        "Q?", [answer("Erbil", "answer", 2), answer("Monday", "list_item"), answer("40", "alternative")], [], 5.0
    )
    lines = format_response(response).splitlines()
    assert lines[:3] == [
        "Question: Q?",
        "Answer: Erbil [1]; Monday [1] (likely 80%, found in 2 articles)",
        "Other possible answer: 40 [1] (likely 80%)",
    ]
    assert lines[3] == "[1] “sentence” (Airport reopens, S)" and lines[4] == "(5 ms)"


def test_an_invalid_setting_is_one_line_naming_the_variable(monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    monkeypatch.setenv("QA_BOT_EMBEDDER_BACKEND", "bogus")
    assert main(["ask", "Which bases host Coalition troops?", "--index-dir", "missing-index"]) != 0
    error = capsys.readouterr().err.strip()
    assert error.startswith("error: invalid setting QA_BOT_EMBEDDER_BACKEND:") and "\n" not in error, error
