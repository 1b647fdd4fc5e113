"""SQuAD evaluation: official scoring, reader and open evaluation, held-out split, report files."""

from __future__ import annotations

import gzip
import json
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from PIL import Image

from qa_bot import eval as evaluation
from qa_bot.errors import QABotError
from qa_bot.metrics import normalize_answer
from qa_bot.training.squad_data import split_articles
from qa_bot.training.tiny_reader import write_tiny_reader
from qa_bot.types import Answer, Citation, Passage, Span

TOWER = (
    "The Eiffel Tower was completed in 1889. It was designed by the engineering company of Gustave Eiffel. "
    "The tower is 330 metres tall."
)
DANUBE = "The Danube flows through ten countries. It empties into the Black Sea."


def qa(qid: str, question: str, context: str, *answers: str) -> dict:
    return {
        "id": qid,
        "question": question,
        "answers": [{"text": a, "answer_start": context.index(a)} for a in answers],
        "is_impossible": not answers,
    }


def tiny_squad(unanswerable: bool = False) -> list[dict]:
    danube_questions = [qa("q4", "Where does the Danube empty?", DANUBE, "the Black Sea")]
    if unanswerable:
        danube_questions += [
            qa("q5", "Who built the Danube?", DANUBE),
            qa("q6", "What colour is the Danube?", DANUBE),
        ]
    return [
        {
            "title": "Eiffel_Tower",
            "paragraphs": [
                {
                    "context": TOWER,
                    "qas": [
                        qa("q1", "When was the Eiffel Tower completed?", TOWER, "1889"),
                        qa(
                            "q2",
                            "Whose company designed the tower?",
                            TOWER,
                            "Gustave Eiffel",
                            "the engineering company of Gustave Eiffel",
                        ),
                        qa("q3", "How many metres tall is the tower?", TOWER, "330 metres", "330"),
                    ],
                }
            ],
        },
        {"title": "Danube", "paragraphs": [{"context": DANUBE, "qas": danube_questions}]},
    ]


def write_squad(path: Path, articles: list[dict]) -> Path:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "wt", encoding="utf-8") as handle:
        json.dump({"version": "v2.0", "data": articles}, handle)
    return path


@dataclass
class StubReader:
    """Answers each question with a fixed (text, score); the text must occur in the passage."""

    answers: dict[str, tuple[str, float]]
    threshold: float = 0.5
    seen: list[list[Passage]] = field(default_factory=list)

    def read(self, question: str, passages: list[Passage]):
        self.seen.append(list(passages))
        spans = []
        if question in self.answers:
            text, score = self.answers[question]
            for passage in passages:
                start = passage.text.find(text)
                if start >= 0:
                    spans.append(Span(passage.passage_id, start, start + len(text), text, score, 1.0))
                    break
        return _ReadResult(spans, question=question)


@dataclass
class _ReadResult:
    spans: list[Span]
    notices: list[str] = field(default_factory=list)
    question: str = ""  # as the reader read it


def gold_reader() -> StubReader:
    return StubReader(
        {
            "When was the Eiffel Tower completed?": ("1889", 0.9),
            "Whose company designed the tower?": ("Gustave Eiffel", 0.9),
            "How many metres tall is the tower?": ("330 metres", 0.9),
            "Where does the Danube empty?": ("the Black Sea", 0.9),
        }
    )


# ---------------------------------------------------------------- scoring


def test_normalisation_follows_squad() -> None:
    assert normalize_answer("The  Black-Sea, an ocean!") == "blacksea ocean"
    assert evaluation.exact_match("the Black Sea.", ["Black Sea"]) == 1.0
    assert evaluation.exact_match("Black", ["Black Sea"]) == 0.0


def test_f1_takes_the_best_gold_answer() -> None:
    # "engineering company" vs "engineering company of gustave eiffel": precision 1, recall 2/5 -> F1 4/7.
    partial = evaluation.f1_score(
        "engineering company", ["Gustave Eiffel", "the engineering company of Gustave Eiffel"]
    )
    assert partial == pytest.approx(4 / 7)
    assert evaluation.f1_score("Gustave Eiffel", ["Gustave Eiffel", "the engineering company of Gustave Eiffel"]) == 1.0


def test_no_answer_is_right_only_for_unanswerable_questions() -> None:
    assert evaluation.f1_score("", []) == 1.0
    assert evaluation.exact_match("", []) == 1.0
    assert evaluation.f1_score("the Danube", []) == 0.0
    assert evaluation.f1_score("", ["1889"]) == 0.0


def test_contains_answer_matches_whole_tokens() -> None:
    assert evaluation.contains_answer("It was completed in 1889.", ["1889"])
    assert evaluation.contains_answer("It empties into the Black Sea.", ["black sea"])
    assert not evaluation.contains_answer("It was completed in 18890.", ["1889"])
    assert not evaluation.contains_answer("Anything at all", ["the"])  # normalises to nothing: never a match


@pytest.mark.parametrize(
    ("question", "kind"),
    [
        ("Who wrote Hamlet?", "who"),
        ("Whose company designed the tower?", "who"),
        ("In what year did the earthquake occur?", "what"),
        ("The Normans came from which country?", "which"),
        ("How many metres tall is the tower?", "how many"),
        ("How much did it cost?", "how much"),
        ("How is adolescence defined?", "other"),
        ("When did it open?", "when"),
        ("Where does the Danube empty?", "where"),
        ("Why did the empire fall?", "why"),
        ("Is wisdom the same as intelligence?", "other"),
    ],
)
def test_question_type(question: str, kind: str) -> None:
    assert evaluation.question_type(question) == kind


# ---------------------------------------------------------------- data


def shown(text: str, score: float, role: str = "answer", sentence: str = "") -> Answer:
    citation = Citation(
        "a", "T", "S", None, None, "a:0", sentence or text, 0, len(sentence or text), 0, len(text), text
    )
    return Answer(text, score, (citation,), role=role)


def test_shown_answers_are_judged_as_users_read_them() -> None:
    gold = ["Erbil and Al-Assad Air Bases, in the Kurdistan Region and Anbar Province, as well as Camp Taji"]
    bases = evaluation.score_shown(
        [
            shown("Erbil and Al-Assad Air Bases", 0.9, sentence="bases: " + gold[0] + "."),
            shown("Camp Taji", 0.9, "list_item"),
            shown("The government of Iraq", 0.8, "alternative"),
        ],
        gold,
    )
    assert bases.top_text == "Erbil and Al-Assad Air Bases, Camp Taji" and bases.cited
    assert bases.right == (True, True, False)  # the list as a whole, an item the gold names, a wrong alternative
    assert evaluation.score_shown([], gold) == evaluation.ShownScore("", 0.0, False, (), ())


def test_shown_summary_reports_precision_answered_rate_and_calibration() -> None:
    scores = [
        evaluation.score_shown([shown("1889", 0.9), shown("1890", 0.5, "alternative")], ["1889"]),
        evaluation.score_shown([shown("Paris", 0.9)], ["Lyon"]),
        evaluation.score_shown([], ["the Black Sea"]),
    ]
    summary = evaluation.shown_summary(scores)
    assert summary["answered"] == 66.67 and summary["answers_shown_per_question"] == 1.0
    assert summary["shown_right"] == 33.33 and summary["top_answer_F1"] == 33.33
    assert summary["top_answer_F1_answered"] == 50.0 and summary["top_cited_sentence_holds_gold"] == 33.33
    # bins: 0.9 -> 1 right of 2 (gap 0.4 x 2), 0.5 -> 0 right of 1 (gap 0.5)
    assert summary["shown_confidence_ECE"] == pytest.approx((0.8 + 0.5) / 3, abs=1e-4)


def test_load_plain_and_gzipped_files(tmp_path: Path) -> None:
    plain = evaluation.load_squad_file(write_squad(tmp_path / "tiny.json", tiny_squad()))
    zipped = evaluation.load_squad_file(write_squad(tmp_path / "tiny.json.gz", tiny_squad()))
    assert plain == zipped == tiny_squad()


def test_unusable_files_give_one_line_errors(tmp_path: Path) -> None:
    with pytest.raises(QABotError, match="not found"):
        evaluation.load_squad_file(tmp_path / "missing.json")
    (tmp_path / "other.json").write_text('{"rows": []}', encoding="utf-8")
    with pytest.raises(QABotError, match="not a SQuAD-format"):
        evaluation.load_squad_file(tmp_path / "other.json")
    write_squad(tmp_path / "empty.json", [{"title": "x", "paragraphs": []}])
    with pytest.raises(QABotError, match="no questions"):
        evaluation.load_squad_file(tmp_path / "empty.json")


def test_limit_spreads_questions_over_the_file() -> None:
    chosen = evaluation.select_questions(tiny_squad(), limit=2)
    assert [example.qid for example in chosen] == ["q1", "q3"]
    assert len(evaluation.select_questions(tiny_squad(), limit=3)) == 3
    assert len(evaluation.select_questions(tiny_squad(), limit=100)) == 4


def test_heldout_split_matches_the_training_split(tmp_path: Path) -> None:
    articles = [
        {
            "title": f"Article_{n}",
            "paragraphs": [{"context": f"Fact {n}.", "qas": [qa(f"a{n}", "What?", f"Fact {n}.", "Fact")]}],
        }
        for n in range(30)
    ]
    source = write_squad(tmp_path / "train.json.gz", articles)
    assert evaluation.main(["--squad", str(source), "--write-heldout", str(tmp_path / "heldout.json")]) == 0
    written = json.loads((tmp_path / "heldout.json").read_text(encoding="utf-8"))["data"]
    train, heldout = split_articles(articles, 0.1, seed=13)
    assert written == heldout and len(written) == 3
    assert not {a["title"] for a in written} & {a["title"] for a in train}


# ---------------------------------------------------------------- reader evaluation


def test_perfect_reader_scores_100() -> None:
    results = evaluation.evaluate_reader(gold_reader(), tiny_squad())
    assert (results["EM"], results["F1"], results["EM_with_threshold"], results["F1_with_threshold"]) == (
        100.0,
        100.0,
        100.0,
        100.0,
    )
    assert results["questions"] == results["answerable"] == 4
    assert len(results["latencies_ms"]) == 4


def test_each_question_reads_only_its_own_paragraph() -> None:
    reader = gold_reader()
    evaluation.evaluate_reader(reader, tiny_squad())
    assert [[p.text for p in passages] for passages in reader.seen] == [[TOWER]] * 3 + [[DANUBE]]


def test_wrong_reader_scores_0() -> None:
    wrong = StubReader({q: ("ten countries", 0.9) for q in ["Where does the Danube empty?"]})
    results = evaluation.evaluate_reader(wrong, tiny_squad())
    assert results["EM"] == results["F1"] == 0.0
    assert results["answered"] == 25.0  # only the Danube question got a (wrong) span


def test_partial_and_thresholded_predictions() -> None:
    reader = StubReader(
        {
            "When was the Eiffel Tower completed?": ("1889", 0.9),  # right
            "Whose company designed the tower?": ("engineering company", 0.9),  # F1 4/7
            "How many metres tall is the tower?": ("The tower", 0.9),  # wrong
            "Where does the Danube empty?": ("Black Sea", 0.3),  # right, but below the threshold
        }
    )
    results = evaluation.evaluate_reader(reader, tiny_squad())
    assert results["EM"] == 50.0  # best spans: 1 + 0 + 0 + 1 of 4
    assert results["F1"] == round(100 * (1 + 4 / 7 + 0 + 1) / 4, 2) == 64.29
    assert results["EM_with_threshold"] == 25.0
    assert results["F1_with_threshold"] == round(100 * (1 + 4 / 7) / 4, 2)
    assert results["by_type"]["who"] == {"count": 1, "EM": 0.0, "F1": 57.14}
    assert results["by_type"]["where"]["F1"] == 100.0
    assert results["predictions"]["q4"] == ""  # what a user sees: no answer
    assert results["NoAns_accuracy"] is None


def test_squad_v2_unanswerable_questions() -> None:
    reader = StubReader(
        {
            "When was the Eiffel Tower completed?": ("1889", 0.9),
            "Whose company designed the tower?": ("engineering company", 0.9),
            "How many metres tall is the tower?": ("The tower", 0.9),
            "Where does the Danube empty?": ("Black Sea", 0.3),
            "Who built the Danube?": ("Danube", 0.2),  # below threshold: correctly no answer
            "What colour is the Danube?": ("ten countries", 0.9),  # answers an unanswerable question: wrong
        }
    )
    results = evaluation.evaluate_reader(reader, tiny_squad(unanswerable=True))
    assert (results["answerable"], results["unanswerable"]) == (4, 2)
    assert results["NoAns_accuracy"] == 50.0
    assert results["HasAns_F1"] == round(100 * (1 + 4 / 7) / 4, 2)
    assert results["EM_with_threshold"] == round(100 * 2 / 6, 2)
    assert results["F1_with_threshold"] == round(100 * (1 + 4 / 7 + 1) / 6, 2)
    assert results["F1"] == 64.29  # best-span F1 stays over answerable questions only


# ---------------------------------------------------------------- report


def test_report_writes_json_and_a_png_chart(tmp_path: Path) -> None:
    results = evaluation.evaluate_reader(gold_reader(), tiny_squad())
    paths = evaluation.write_report(results, tmp_path / "report")
    assert json.loads(paths.results_json.read_text(encoding="utf-8"))["F1"] == 100.0
    assert paths.chart_png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with Image.open(paths.chart_png) as image:
        image.verify()
        assert image.size[0] > 600
    assert "F1 100.0" in evaluation.format_summary(results)


# ---------------------------------------------------------------- with the real pipeline


@pytest.fixture(scope="module")
def tiny_reader_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_tiny_reader(tmp_path_factory.mktemp("tiny-reader"))  # no threshold file: the reader's default


@pytest.mark.slow
def test_reader_eval_entry_point_with_a_real_model(tmp_path: Path, tiny_reader_dir: Path) -> None:
    from qa_bot.settings import Settings

    data = write_squad(tmp_path / "tiny.json", tiny_squad(unanswerable=True))
    results = evaluation.run_cli(data, "reader", None, tmp_path / "out", Settings(reader=str(tiny_reader_dir)))
    assert (results["questions"], results["unanswerable"]) == (6, 2)
    assert 0.0 <= results["F1"] <= 100.0 and results["threshold"] == 0.5
    assert json.loads((tmp_path / "out" / "results.json").read_text(encoding="utf-8"))["mode"] == "reader"
    assert (tmp_path / "out" / "chart.png").read_bytes()[:4] == b"\x89PNG"


@pytest.mark.slow
def test_open_eval_indexes_the_articles_and_scores_the_bot(
    tmp_path: Path, tiny_reader_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from qa_bot import pipeline
    from qa_bot.settings import Settings

    known = gold_reader()
    del known.answers["How many metres tall is the tower?"]  # the bot finds no answer: counts as wrong
    monkeypatch.setattr(pipeline, "Reader", lambda name_or_path, settings: known)
    settings = Settings(reader=str(tiny_reader_dir))  # the index counts passage tokens with the reader's tokenizer
    results = evaluation.evaluate_open(tiny_squad(), settings, tmp_path / "work")

    corpus = sorted((tmp_path / "work" / "corpus").glob("*.txt"))
    assert [path.read_text(encoding="utf-8") for path in corpus] == [
        f"Eiffel Tower\n\n{TOWER}",
        f"Danube\n\n{DANUBE}",
    ]
    assert results["EM"] == 75.0 and results["F1"] == 75.0
    assert results["citation_accuracy"] == 75.0  # the three answers cite the sentence holding them
    assert results["shown"]["answered"] == 75.0 and results["shown"]["shown_right"] == 100.0
    assert results["recall_at"] == {"1": 100.0, "5": 100.0, "10": 100.0}
    assert results["latency_ms"]["p50"] > 0
