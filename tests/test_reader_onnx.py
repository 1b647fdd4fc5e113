"""The reader's onnx backend: the same spans as torch, a cached and verified export, a torch fallback, the setting."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from qa_bot import onnx_export
from qa_bot.errors import QABotError
from qa_bot.onnx_export import READER_MODEL_FILE, RECORD_FILE
from qa_bot.reader import Reader
from qa_bot.settings import Settings, load_settings
from qa_bot.types import Passage
from tests.conftest import write_tiny_reader
from tests.test_lora_reader import write_tiny_mpnet
from tests.test_reader import TEXTS, passages

QUESTIONS = ["Where are coalition forces based?", "Who welcomed the brigade?", "When are salaries paid?"]


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_tiny_reader(tmp_path_factory.mktemp("reader"))


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("cache")


def reader(model_dir: Path, cache_dir: Path, **settings) -> Reader:
    return Reader(str(model_dir), Settings(cache_dir=str(cache_dir), threads=1, **settings))


def spans(reader: Reader, given: list[Passage]) -> list[list[tuple]]:
    return [[(s.passage_id, s.start, s.end, s.score) for s in reader.read(q, given).spans] for q in QUESTIONS]


def assert_same_spans(got: list[list[tuple]], expected: list[list[tuple]]) -> None:
    assert got and all(got)
    for got_spans, expected_spans in zip(got, expected, strict=True):
        assert [s[:3] for s in got_spans] == [s[:3] for s in expected_spans]
        assert [s[3] for s in got_spans] == pytest.approx([s[3] for s in expected_spans], abs=1e-4)


def export_folder(cache_dir: Path) -> Path:
    (folder,) = (cache_dir / "onnx").iterdir()
    return folder


def test_onnx_reader_gives_the_torch_spans_and_scores(model_dir: Path, cache_dir: Path) -> None:
    fast, reference = reader(model_dir, cache_dir), reader(model_dir, cache_dir, reader_backend="torch")
    assert fast._session is not None and reference._session is None
    long_text = " ".join(TEXTS * 12)  # strided windows and padding in one batch
    given = passages(TEXTS + [long_text])
    assert_same_spans(spans(fast, given), spans(reference, given))


def test_an_mpnet_reader_runs_on_onnxruntime_unfused_with_the_torch_spans(tmp_path: Path) -> None:
    mpnet = write_tiny_mpnet(tmp_path / "mpnet")
    fast = reader(mpnet, tmp_path / "cache")
    reference = reader(mpnet, tmp_path / "cache", reader_backend="torch")
    assert fast._session is not None and reference._session is None
    assert json.loads((export_folder(tmp_path / "cache") / RECORD_FILE).read_text())["recipe"] == (
        onnx_export.UNFUSED_READER_RECIPE
    )
    given = passages(TEXTS + [" ".join(TEXTS * 12)])  # strided windows and padding in one batch
    assert_same_spans(spans(fast, given), spans(reference, given))


def test_export_is_cached_with_a_checksum_and_redone_when_damaged(model_dir: Path, cache_dir: Path, capsys) -> None:
    reference = spans(reader(model_dir, cache_dir, reader_backend="torch"), passages(TEXTS))
    reader(model_dir, cache_dir)
    folder = export_folder(cache_dir)
    assert len(json.loads((folder / RECORD_FILE).read_text())["sha256"][READER_MODEL_FILE]) == 64
    assert not list(cache_dir.glob("onnx/*.partial-*"))
    written = (folder / READER_MODEL_FILE).stat().st_mtime_ns
    reader(model_dir, cache_dir)
    assert (folder / READER_MODEL_FILE).stat().st_mtime_ns == written  # reused, not exported again

    with (folder / READER_MODEL_FILE).open("r+b") as stream:
        stream.seek(2000)
        stream.write(b"\0" * 64)
    again = reader(model_dir, cache_dir)
    assert "checksum mismatch" in capsys.readouterr().err
    assert again._session is not None
    assert_same_spans(spans(again, passages(TEXTS)), reference)


def test_a_reader_that_cannot_be_exported_runs_on_torch_with_a_notice(
    model_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    def failing_export(*args, **kwargs):
        raise RuntimeError("Exporting the operator 'aten::unknown_op' to ONNX is not supported\nmore detail")

    monkeypatch.setattr(onnx_export, "_export_fp32", failing_export)
    fallback = reader(model_dir, tmp_path / "cache")
    notices = [line for line in capsys.readouterr().err.splitlines() if line.startswith("notice:")]
    reason = "Exporting the operator 'aten::unknown_op' to ONNX is not supported"  # its first line only
    assert notices == [f"notice: the reader runs on torch, not onnxruntime ({reason})"]
    assert fallback._session is None and not list((tmp_path / "cache" / "onnx").iterdir())
    reference = reader(model_dir, tmp_path / "cache", reader_backend="torch")
    assert_same_spans(spans(fallback, passages(TEXTS)), spans(reference, passages(TEXTS)))


def test_int8_precision_stays_on_the_torch_quantized_path(model_dir: Path, tmp_path: Path) -> None:
    quantized = reader(model_dir, tmp_path / "cache", reader_precision="int8")
    assert quantized._session is None and not (tmp_path / "cache").exists()  # nothing exported
    assert isinstance(quantized.model.qa_outputs, torch.ao.nn.quantized.dynamic.Linear)
    assert quantized.read(QUESTIONS[0], passages(TEXTS)).spans


def test_backend_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    assert Settings().reader_backend == "onnx"  # the default: 1.17x faster than torch on the bundled reader
    monkeypatch.setenv("QA_BOT_READER_BACKEND", "torch")
    assert load_settings().reader_backend == "torch"
    monkeypatch.setenv("QA_BOT_READER_BACKEND", "tensorrt")
    with pytest.raises(QABotError) as refused:
        load_settings()
    message = str(refused.value)
    assert "\n" not in message and "QA_BOT_READER_BACKEND" in message and "'onnx'" in message
