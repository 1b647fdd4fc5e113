"""The embedder on OpenVINO, int8 weights and activations, exported locally on first use and cached.

Nothing is downloaded. The loaded weights are exported to ONNX as for the onnx-int8 backend (Transformer -> mean
pooling -> L2), read by OpenVINO, and quantized by NNCF's post-training quantization for transformers: weights
int8 per output channel, activations int8 with ranges measured once on fixed calibration passages
(``models/embedder_calibration.txt``, SQuAD training paragraphs), with NNCF's bias correction. Because the ranges
are fixed, a text's vector does not depend on the batch it is embedded in (onnx-int8 measures them per batch).
Layer norms, softmax and the pooling stay fp32 (precision hint f32, not bf16, so they do not depend on whether
the CPU has bf16). The cache works as in :mod:`qa_bot.onnx_export` (folder ``openvino``; the IR's .xml and .bin are both
checksummed).
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager, redirect_stdout
from pathlib import Path
from threading import Lock
from typing import Any

import numpy as np

from qa_bot.errors import QABotError
from qa_bot.onnx_export import (
    TEXT_INPUTS,
    Export,
    check_supported,
    export_embedder_fp32,
    exported_file,
    folder_name,
)

CALIBRATION_FILE = Path(__file__).parent / "models" / "embedder_calibration.txt"
CALIBRATION_BATCH = 8
RECIPE = "onnx17-eager-openvino-nncf-ptq-transformer-int8-calibration256-f32-v1"  # change with the export
MODEL_FILE = "model-int8.xml"  # OpenVINO IR; its weights are model-int8.bin beside it
_INSTALL_HINT = "install it with `pip install openvino nncf`, or set QA_BOT_EMBEDDER_BACKEND=onnx-int8"


def int8_model(model: Any, name_or_path: str, cache_dir: Path | None, threads: int) -> Any:
    """The embedder compiled by OpenVINO for the CPU, with int8 weights and activations."""
    openvino = _import_openvino()
    check_supported(model, name_or_path, "openvino-int8")
    core = openvino.Core()

    def write(path: Path) -> None:
        fp32_path = path.with_name("model-fp32.onnx")
        export_embedder_fp32(model, fp32_path)
        network = core.read_model(str(fp32_path))
        quantized = _quantized(network, _calibration_batches(model.tokenizer, network, model.max_seq_length))
        openvino.save_model(quantized, str(path), compress_to_fp16=False)
        fp32_path.unlink()

    export = Export(RECIPE, MODEL_FILE, folder_name(model, name_or_path, RECIPE), write, cache_folder="openvino")
    config = {
        "INFERENCE_NUM_THREADS": threads,  # 0 = OpenVINO's choice, one per core
        "INFERENCE_PRECISION_HINT": "f32",
        # Pinned threads start on the first cores, so two Dask workers of one thread each shared one core
        # (23.2 passages/s each instead of 46.0, two processes side by side), and the reader's threads competed.
        "ENABLE_CPU_PINNING": False,
    }
    with exported_file(export, cache_dir) as path:
        return core.compile_model(str(path), "CPU", config)


def batch_runner(compiled: Any) -> Callable[[dict], np.ndarray]:
    """A function from a tokenized batch (numpy int64 inputs by name) to its normalised sentence embeddings."""
    request = compiled.create_infer_request()
    input_names = [port.get_any_name() for port in compiled.inputs]
    lock = Lock()  # one infer request: the UI's threads take turns, as they would for the two cores anyway

    def embed(batch: dict) -> np.ndarray:
        with lock:
            return np.array(request.infer({name: batch[name] for name in input_names})[0], dtype=np.float32)

    return embed


def _import_openvino() -> Any:
    _hide_telemetry()
    try:
        import openvino
    except ImportError:
        raise QABotError(f"the openvino-int8 backend needs openvino; {_INSTALL_HINT}") from None
    return openvino


def _hide_telemetry() -> None:
    """OpenVINO sends a usage event to Google Analytics when it is imported, and NNCF when it runs, unless their
    telemetry package is missing (each then uses its own no-op stub). qa-bot never contacts the network, so that
    package is hidden from this process before either is imported."""
    if "openvino_telemetry" not in sys.modules:
        sys.modules["openvino_telemetry"] = None  # type: ignore[assignment]  # import now raises ImportError


def _calibration_batches(tokenizer: Any, network: Any, max_length: int) -> list[dict]:
    passages = CALIBRATION_FILE.read_text(encoding="utf-8").splitlines()
    names = [port.get_any_name() for port in network.inputs]
    batches = []
    for begin in range(0, len(passages), CALIBRATION_BATCH):
        encoded = tokenizer(
            passages[begin : begin + CALIBRATION_BATCH],
            padding=True,
            truncation=True,
            max_length=max_length,
            return_tensors="np",
        )
        batches.append({name: encoded[name].astype(np.int64) for name in names if name in TEXT_INPUTS})
    return batches


def _quantized(network: Any, batches: list[dict]) -> Any:
    # NNCF's progress bars go to stdout, which `qa-bot ask --json` keeps for its answer
    with _nncf_quiet() as nncf, redirect_stdout(sys.stderr):
        return nncf.quantize(
            network, nncf.Dataset(batches), model_type=nncf.ModelType.TRANSFORMER, subset_size=len(batches)
        )


@contextmanager
def _nncf_quiet() -> Iterator[Any]:
    """NNCF, imported without its usage telemetry (see _hide_telemetry) and with its logging quiet."""
    _hide_telemetry()
    try:
        import nncf
    except ImportError:
        raise QABotError(f"exporting the openvino-int8 embedder needs nncf; {_INSTALL_HINT}") from None
    nncf_logger = logging.getLogger("nncf")
    level = nncf_logger.level
    nncf_logger.setLevel(logging.ERROR)
    try:
        yield nncf
    finally:
        nncf_logger.setLevel(level)
