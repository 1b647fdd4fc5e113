"""The reader on a tiny random BERT with the real MiniLM tokenizer: offsets, caps, batching, config."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import numpy as np
import pytest
import torch

from qa_bot.errors import QABotError
from qa_bot.reader import QUESTION_TOKEN_BUDGET, Reader
from qa_bot.settings import Settings
from qa_bot.spans import ScoreCalibration
from qa_bot.types import Passage
from tests.conftest import BUNDLED_READER_MISSING, bundled_reader_available, write_tiny_reader

TEXTS = [
    "The coalition spokesman, Col. Myles Caggins, said forces remain at Erbil, Al-Assad Air Base and Camp Taji.",
    "Café owners in Duhok — “we are open” — welcomed the Peshmerga's 2nd brigade on 14 March 2020.",
    "Peshmerga units received training in counter-IED techniques from coalition advisers.",
    "The ministry said salaries would be paid before the end of the month.",
]


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_tiny_reader(tmp_path_factory.mktemp("reader"))


def passages(texts: list[str]) -> list[Passage]:
    return [Passage(f"art{i}:0", f"art{i}", 0, 0, len(t), t, 0, 0) for i, t in enumerate(texts)]


def record_forward_passes(reader: Reader, monkeypatch: pytest.MonkeyPatch) -> list[dict[str, np.ndarray]]:
    """Record the inputs of every model forward pass, on either backend."""
    calls = []
    run_model = reader._run_model

    def recording_run_model(inputs):
        calls.append(inputs)
        return run_model(inputs)

    monkeypatch.setattr(reader, "_run_model", recording_run_model)
    return calls


@pytest.fixture(scope="module")
def reader(model_dir: Path) -> Reader:
    return Reader(str(model_dir), Settings(reader_precision="fp32", threads=1))


def test_span_text_is_the_passage_text_at_its_offsets(reader: Reader):
    given = passages(TEXTS)
    result = reader.read("Where are coalition forces based?", given)
    by_id = {p.passage_id: p for p in given}
    assert result.spans and result.notices == []
    for span in result.spans:
        assert span.text == by_id[span.passage_id].text[span.start : span.end]
        assert span.text.strip() == span.text != ""
        assert 0.0 <= span.score <= 1.0
    assert [s.score for s in result.spans] == sorted((s.score for s in result.spans), reverse=True)


def test_all_passages_including_strided_windows_go_through_one_forward_pass(
    reader: Reader, monkeypatch: pytest.MonkeyPatch
):
    long_text = " ".join(TEXTS * 12)  # several 256-token windows
    given = passages(TEXTS[:3] + [long_text])
    calls = record_forward_passes(reader, monkeypatch)
    result = reader.read("Who is the coalition spokesman?", given)
    assert len(calls) == 1
    rows, width = calls[0]["input_ids"].shape
    assert rows > len(given)  # the long passage contributed several windows
    assert width == reader.max_length
    long_spans = [s for s in result.spans if s.passage_id == given[3].passage_id]
    assert long_spans and all(s.text == long_text[s.start : s.end] for s in long_spans)
    # windows overlap, yet no two kept spans of the long passage overlap
    ranges = sorted((s.start, s.end) for s in long_spans)
    assert all(a_end <= b_start for (_, a_end), (b_start, _) in itertools.pairwise(ranges))


def test_never_reads_more_than_the_passage_limit(model_dir: Path, monkeypatch: pytest.MonkeyPatch):
    reader = Reader(str(model_dir), Settings(reader_precision="fp32", threads=1, top_k=1, top_k_limit=2))
    given = passages(TEXTS)
    calls = record_forward_passes(reader, monkeypatch)
    result = reader.read("Where are coalition forces based?", given)
    assert calls[0]["input_ids"].shape[0] == 2
    assert {s.passage_id for s in result.spans} <= {given[0].passage_id, given[1].passage_id}


def test_long_question_is_truncated_with_a_notice(reader: Reader, monkeypatch: pytest.MonkeyPatch):
    question = "Which coalition base " + "near the northern Iraqi city " * 40 + "hosts the trainers?"
    calls = record_forward_passes(reader, monkeypatch)
    result = reader.read(question, passages(TEXTS[:1]))
    assert result.notices == [f"The question was truncated to its first {QUESTION_TOKEN_BUDGET} tokens for the reader."]
    question_segment = (calls[0]["token_type_ids"][0] == 0) & (calls[0]["attention_mask"][0] == 1)
    assert int(question_segment.sum()) == QUESTION_TOKEN_BUDGET + 2  # [CLS] question [SEP]
    assert result.spans and all(s.text == TEXTS[0][s.start : s.end] for s in result.spans)


def test_read_many_in_small_batches_matches_reading_one_question_at_a_time(
    reader: Reader, monkeypatch: pytest.MonkeyPatch
):
    queries = [("Where are the bases?", passages(TEXTS[:2])), ("When were salaries paid?", passages(TEXTS[2:]))]
    calls = record_forward_passes(reader, monkeypatch)
    batched = reader.read_many(queries, batch_size=3)
    assert [call["input_ids"].shape[0] for call in calls] == [3, 1]
    monkeypatch.undo()
    for (question, given), result in zip(queries, batched):
        single = reader.read(question, given)
        assert [(s.passage_id, s.start, s.end) for s in result.spans] == [
            (s.passage_id, s.start, s.end) for s in single.spans
        ]
        assert [s.score for s in result.spans] == pytest.approx([s.score for s in single.spans], abs=1e-5)


def test_no_passages_gives_no_spans(reader: Reader):
    assert reader.read("Anything?", []).spans == []


def test_int8_reader_quantizes_every_linear_layer_per_channel_and_reads_valid_spans(model_dir: Path):
    reader = Reader(str(model_dir), Settings(reader_precision="int8", threads=1))
    quantized = [m for m in reader.model.modules() if isinstance(m, torch.ao.nn.quantized.dynamic.Linear)]
    assert quantized and not any(isinstance(m, torch.nn.Linear) for m in reader.model.modules())
    # one scale per matrix flattens rows of very different ranges: it cost the fast reader 2.9 F1
    assert all(m.weight().qscheme() == torch.per_channel_affine for m in quantized)
    given = passages(TEXTS[:2])
    spans = reader.read("Where are coalition forces based?", given).spans
    assert spans and all(s.text == given[int(s.passage_id[3])].text[s.start : s.end] for s in spans)


def test_bf16_reader_finds_the_fp32_answers(model_dir: Path, reader: Reader):
    bf16 = Reader(str(model_dir), Settings(reader_precision="bf16", threads=1))
    assert bf16._session is None and bf16.model.qa_outputs.weight.dtype == torch.bfloat16
    given = passages(TEXTS)
    for question in ["Where are coalition forces based?", "Who welcomed the brigade?"]:
        got, expected = bf16.read(question, given).spans[0], reader.read(question, given).spans[0]
        assert (got.passage_id, got.start, got.end) == (expected.passage_id, expected.start, expected.end)
        assert got.score == pytest.approx(expected.score, abs=0.02)


@pytest.mark.parametrize("cpu_has_bf16, in_use", [(True, "bf16"), (False, "fp32")])
def test_auto_precision_is_bf16_only_where_the_cpu_has_bf16_units(
    monkeypatch: pytest.MonkeyPatch, cpu_has_bf16: bool, in_use: str
):
    monkeypatch.delenv("QA_BOT_READER_PRECISION", raising=False)
    monkeypatch.setattr("qa_bot.settings.cpu_has_bf16", lambda: cpu_has_bf16)
    assert Settings().reader_precision == "auto" and Settings().reader_precision_in_use() == in_use
    assert Settings(reader_precision="int8").reader_precision_in_use() == "int8"


def test_threshold_and_scores_come_from_calibration_unless_overridden(model_dir: Path, tmp_path: Path):
    uncalibrated = Reader(str(model_dir), Settings(reader_precision="fp32"))
    assert uncalibrated.threshold == 0.5 and uncalibrated.score_calibration == ScoreCalibration(1.0, 0.0)
    calibrated = tmp_path / "calibrated"
    for item in model_dir.iterdir():
        (calibrated / item.name).parent.mkdir(exist_ok=True)
        (calibrated / item.name).write_bytes(item.read_bytes())
    (calibrated / "reader_config.json").write_text(
        json.dumps({"no_answer_threshold": 0.37, "score_calibration": {"scale": 0.3, "bias": -1.8}})
    )
    reader = Reader(str(calibrated), Settings(reader_precision="fp32"))
    assert reader.threshold == 0.37 and reader.score_calibration == ScoreCalibration(0.3, -1.8)
    spans = reader.read("Where are coalition forces based?", passages(TEXTS[:1])).spans
    assert spans[0].score == pytest.approx(1 / (1 + np.exp(-(0.3 * spans[0].span_logit - 1.8))))
    overridden = Settings(reader_precision="fp32", no_answer_threshold=0.8)
    assert Reader(str(calibrated), overridden).threshold == 0.8


@pytest.mark.parametrize("name", ["/nonexistent/reader-folder", "nobody/not-a-cached-model"])
def test_unloadable_reader_is_one_clear_line(name: str):
    with pytest.raises(QABotError) as error:
        Reader(name, Settings())
    message = str(error.value)
    assert "\n" not in message and name in message and "QA_BOT_READER" in message


AIRSTRIKE = (
    "Last week Peshmerga commandos asked for help near Makhmour. Jets from France provided the airstrike, "
    "which destroyed an ISIS cave. The operation ended on Monday."
)


@pytest.mark.skipif(not bundled_reader_available(), reason=BUNDLED_READER_MISSING)
def test_bundled_reader_answers_a_paragraph_offline_and_rejects_one_without_the_answer(
    monkeypatch: pytest.MonkeyPatch,
):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    reader = Reader(Settings().reader_path(), Settings(threads=1))
    passage = Passage("p", "a", 0, 0, len(AIRSTRIKE), AIRSTRIKE, 0, 0)
    for question, answer in [
        ("Who provided the airstrike?", "France"),
        ("What did the airstrike destroy?", "ISIS cave"),
        ("When did the operation end?", "Monday"),
    ]:
        best = reader.read(question, [passage]).spans[0]
        assert answer in best.text and best.score >= reader.threshold, (question, best)
    weather = "The weather in Erbil was sunny on Tuesday, and the markets were busy."
    spans = reader.read("Who provided the airstrike?", [Passage("w", "a", 0, 0, len(weather), weather, 0, 0)]).spans
    assert all(span.score < reader.threshold for span in spans)
