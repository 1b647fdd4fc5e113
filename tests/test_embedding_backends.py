"""Embedder backends: the int8 exports (onnxruntime, OpenVINO) match torch, are cached and verified, and the index
records its backend."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path

import numpy as np
import onnx
import pytest

from qa_bot.cli import main
from qa_bot.embedding import Embedder
from qa_bot.errors import IndexUnusable, QABotError
from qa_bot.index import OpenIndex, sync_index
from qa_bot.onnx_export import MODEL_FILE, RECORD_FILE, int8_session
from qa_bot.openvino_export import MODEL_FILE as OPENVINO_MODEL_FILE
from qa_bot.openvino_export import int8_model
from qa_bot.retrieval import HybridRetriever
from qa_bot.settings import Settings, bundled_embedder
from tests.test_index import ARTICLES, QUESTIONS, RecordingEmbedder, index_settings, minilm, write_corpus

TEXTS = [
    "Which bases host Coalition troops?",
    "The Halvorsen Bridge opened to traffic in 1932 and spans 410 metres across the Tarn River.",
    "Marta Quillon founded the Blue Fern Bakery in Lyon in 2004. " * 12,  # longer than most passages
    "Lyon",
]


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("cache")


@pytest.fixture(scope="module")
def onnx_embedder(cache_dir: Path) -> Embedder:
    return Embedder(bundled_embedder(), "onnx-int8", cache_dir)


@pytest.fixture(scope="module")
def openvino_embedder(cache_dir: Path) -> Embedder:
    return Embedder(bundled_embedder(), "openvino-int8", cache_dir)


def export_folder(cache_dir: Path, runtime: str = "onnx") -> Path:
    (folder,) = (cache_dir / runtime).iterdir()
    return folder


def test_onnx_int8_vectors_match_torch(onnx_embedder: Embedder) -> None:
    fast, reference = onnx_embedder.encode(TEXTS, batch_size=2), minilm().encode(TEXTS)
    assert fast.shape == reference.shape and fast.dtype == np.float32
    assert np.allclose(np.linalg.norm(fast, axis=1), 1, atol=1e-4)
    assert (fast * reference).sum(axis=1).min() > 0.97  # int8 weights: close to, not equal to, fp32
    # Dynamic int8 quantizes activations per batch, so a text's vector depends slightly on its batch.
    assert float(onnx_embedder.encode(TEXTS[1:2])[0] @ fast[1]) > 0.99
    assert onnx_embedder.identity() == {**minilm().identity(), "backend": "onnx-int8"}


def test_openvino_int8_vectors_match_torch_whatever_the_batch(openvino_embedder: Embedder) -> None:
    fast, reference = openvino_embedder.encode(TEXTS, batch_size=2), minilm().encode(TEXTS)
    assert fast.shape == reference.shape and fast.dtype == np.float32
    assert np.allclose(np.linalg.norm(fast, axis=1), 1, atol=1e-4)
    assert (fast * reference).sum(axis=1).min() > 0.98
    # Activation ranges are fixed at export, so a text's vector is the same alone or in any batch (Dask workers).
    assert np.allclose(openvino_embedder.encode(TEXTS[1:2])[0], fast[1], atol=1e-4)
    assert openvino_embedder.identity() == {**minilm().identity(), "backend": "openvino-int8"}


def test_openvino_meets_few_input_shapes_so_its_per_shape_memory_stays_bounded(openvino_embedder: Embedder) -> None:
    shapes: set[tuple[int, ...]] = set()
    run_batch = openvino_embedder._run_batch

    def recording(batch: dict) -> np.ndarray:
        shapes.add(batch["input_ids"].shape)
        return run_batch(batch)

    openvino_embedder._run_batch = recording
    try:
        questions = [f"What did the harbour master {'really ' * n}say?" for n in range(40)]  # 40 token lengths
        vectors = np.concatenate([openvino_embedder.encode_query(question) for question in questions])
    finally:
        openvino_embedder._run_batch = run_batch
    assert {length % 32 for _, length in shapes} == {0} and len(shapes) <= 2
    # the padding is masked out: each vector is the one its question gets in a batch padded to another length
    assert np.allclose(vectors, openvino_embedder.encode(questions, batch_size=8), atol=1e-4)


def test_openvino_export_checksums_both_files_and_is_redone_when_its_weights_are_damaged(
    openvino_embedder: Embedder, cache_dir: Path, capsys
) -> None:
    folder = export_folder(cache_dir, "openvino")
    weights = folder / OPENVINO_MODEL_FILE.replace(".xml", ".bin")
    assert set(json.loads((folder / RECORD_FILE).read_text())["sha256"]) == {OPENVINO_MODEL_FILE, weights.name}
    with weights.open("r+b") as stream:
        stream.seek(100_000)
        stream.write(b"\1" * 64)
    again = Embedder(bundled_embedder(), "openvino-int8", cache_dir)
    assert "checksum mismatch" in capsys.readouterr().err
    assert np.allclose(again.encode(TEXTS), openvino_embedder.encode(TEXTS), atol=1e-5)


def test_openvino_threads_are_not_pinned_so_two_workers_use_two_cores(cache_dir: Path) -> None:
    # pinned, two single-thread processes ran on the same core (CHANGELOG.md, Scale); not timed here
    compiled = int8_model(minilm()._model, bundled_embedder(), cache_dir, 1)
    assert compiled.get_property("ENABLE_CPU_PINNING") is False
    assert compiled.get_property("INFERENCE_NUM_THREADS") == 1


def test_openvino_and_nncf_are_imported_with_their_usage_telemetry_stubbed() -> None:
    # Both send usage events to Google Analytics unless their telemetry package is missing. A fresh interpreter:
    # under pytest NNCF stubs its telemetry by itself, and CI=true would make OpenVINO's decline.
    probe = (
        "from qa_bot.openvino_export import _import_openvino, _nncf_quiet\n"
        "_import_openvino()\n"
        "with _nncf_quiet():\n"
        "    pass\n"
        "import openvino.tools.ovc as ovc, nncf.telemetry.wrapper as nncf_telemetry\n"
        "print(type(ovc.telemetry).__module__, type(nncf_telemetry.telemetry).__name__)\n"
    )
    env = {key: value for key, value in os.environ.items() if key not in ("NNCF_CI", "CI")}
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, env=env, check=True)
    assert result.stdout.split() == ["openvino.tools.ovc.telemetry_stub", "MagicMock"]


def test_export_runs_each_layer_as_fused_int8_attention(onnx_embedder: Embedder, cache_dir: Path) -> None:
    operators = Counter(node.op_type for node in onnx.load(export_folder(cache_dir) / MODEL_FILE).graph.node)
    layers = 6  # all-MiniLM-L6-v2
    # The unfused export (SDPA attention, mask arithmetic per layer) embedded about 1.25x slower.
    assert operators["QAttention"] == layers and operators["SkipLayerNormalization"] == 2 * layers
    assert operators["MatMulInteger"] == 3 * layers and "Where" not in operators  # output + both feed-forward


def test_idle_embedder_threads_sleep_so_the_reader_that_follows_gets_the_cores(cache_dir: Path) -> None:
    # spinning onnxruntime threads slowed each question's torch reader pass (CHANGELOG.md, Scale); not timed here
    options = int8_session(minilm()._model, bundled_embedder(), cache_dir, 0).get_session_options()
    assert options.get_session_config_entry("session.intra_op.allow_spinning") == "0"


def test_export_is_cached_with_a_checksum_and_redone_when_damaged(onnx_embedder: Embedder, cache_dir: Path, capsys):
    folder = export_folder(cache_dir)
    record = json.loads((folder / RECORD_FILE).read_text())
    assert len(record["sha256"][MODEL_FILE]) == 64 and not list(cache_dir.glob("onnx/*.partial-*"))
    written = (folder / MODEL_FILE).stat().st_mtime_ns
    Embedder(bundled_embedder(), "onnx-int8", cache_dir)
    assert (folder / MODEL_FILE).stat().st_mtime_ns == written  # reused, not exported again

    with (folder / MODEL_FILE).open("r+b") as stream:
        stream.seek(5000)
        stream.write(b"\0" * 64)
    again = Embedder(bundled_embedder(), "onnx-int8", cache_dir)
    assert "checksum mismatch" in capsys.readouterr().err
    assert np.allclose(again.encode(TEXTS), onnx_embedder.encode(TEXTS), atol=1e-5)


def test_an_unwritable_cache_still_embeds_with_a_notice(tmp_path: Path, onnx_embedder: Embedder, capsys) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the cache folder would go")
    embedder = Embedder(bundled_embedder(), "onnx-int8", blocker / "cache")
    assert "exporting for this run only" in capsys.readouterr().err
    assert np.allclose(embedder.encode(TEXTS), onnx_embedder.encode(TEXTS), atol=1e-5)


def test_backend_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch, cache_dir: Path) -> None:
    monkeypatch.setenv("QA_BOT_CACHE_DIR", str(cache_dir))
    assert Settings().embedder_backend == "openvino-int8"  # the default: the fastest measured (CHANGELOG.md, Scale)
    monkeypatch.setenv("QA_BOT_EMBEDDER_BACKEND", "torch")
    assert Embedder.from_settings(Settings()).identity()["backend"] == "torch"
    with pytest.raises(QABotError, match="QA_BOT_EMBEDDER_BACKEND"):
        Embedder(bundled_embedder(), "tensorrt")


@pytest.fixture(scope="module")
def torch_index(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("torch-index")
    corpus = write_corpus(root / "corpus", ARTICLES)
    sync_index(corpus, root / "index", index_settings(), progress=False, embedder=minilm())
    return root / "index"


def top_passages(index: OpenIndex, embedder: Embedder, mode: str) -> list[str]:
    retriever = HybridRetriever(index, embedder, index_settings())
    return [retriever.retrieve(question, 1, mode)[0].passage.passage_id for question in QUESTIONS]


def test_an_index_records_its_backend_and_answers_questions_embedded_by_the_others(
    torch_index: Path, onnx_embedder: Embedder, openvino_embedder: Embedder
) -> None:
    for other in (onnx_embedder, openvino_embedder):
        index = OpenIndex.load(torch_index, other.identity())  # mixing backends is allowed (measured)
        assert index.manifest["embedder"]["backend"] == "torch"
        assert top_passages(index, other, "dense") == top_passages(index, minilm(), "dense")


def test_switching_backend_reembeds_everything(torch_index: Path, tmp_path: Path, onnx_embedder: Embedder) -> None:
    index_dir = tmp_path / "index"
    shutil.copytree(torch_index, index_dir)
    corpus = write_corpus(tmp_path / "corpus", ARTICLES)
    report = sync_index(corpus, index_dir, index_settings(), progress=False, embedder=onnx_embedder)
    assert report.embedded == report.passages > 0  # vectors of one backend are not mixed into the other's index
    assert OpenIndex.load(index_dir).manifest["embedder"]["backend"] == "onnx-int8"


def test_a_different_embedder_model_is_refused_in_one_line(torch_index: Path) -> None:
    other = RecordingEmbedder(name="paraphrase-MiniLM-L3-v2")
    with pytest.raises(IndexUnusable) as refused:
        OpenIndex.load(torch_index, other.identity())
    message = str(refused.value)
    assert "\n" not in message and "paraphrase-MiniLM-L3-v2" in message and "--rebuild" in message


@pytest.mark.slow
def test_cli_index_with_torch_then_ask_with_the_default_backend(
    tmp_path: Path, tiny_reader_dir: Path, cache_dir: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    monkeypatch.setenv("QA_BOT_READER", str(tiny_reader_dir))
    monkeypatch.setenv("QA_BOT_CACHE_DIR", str(cache_dir))
    corpus = write_corpus(tmp_path / "corpus", ARTICLES)
    monkeypatch.setenv("QA_BOT_EMBEDDER_BACKEND", "torch")
    assert main(["index", str(corpus), "--index-dir", str(tmp_path / "index")]) == 0
    monkeypatch.delenv("QA_BOT_EMBEDDER_BACKEND")
    assert main(["ask", QUESTIONS[0], "--index-dir", str(tmp_path / "index"), "--json"]) == 0
    assert json.loads(capsys.readouterr().out.strip().splitlines()[-1])["question"] == QUESTIONS[0]
