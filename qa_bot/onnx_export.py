"""ONNX copies of the bundled networks, exported locally on first use, cached and checksummed.

Nothing is downloaded: each network is exported from the weights already loaded with ``torch.onnx`` (eager
attention), and onnxruntime's transformer optimizer fuses each layer's attention, layer norms and GELU into single
operators. Two exports use this:

- the embedder (bundled all-MiniLM-L6-v2 by default): Transformer -> mean pooling -> L2, then its matrix
  multiplications (attention projections included) quantized to int8 with onnxruntime's dynamic quantization (int8
  weights per output channel, activations quantized per batch at run time). The token embedding table stays fp32:
  it is a lookup, so int8 there would only shrink the file, not save time.
- the extractive reader: start and end logits, kept fp32 (int8 costs the reader accuracy); fused where its layers
  are BERT's, otherwise left to onnxruntime's own graph optimisations.

Cache layout: ``<cache dir>/<runtime>/<model name>-<weights fingerprint>/{<model files>, export.json}``
(runtime ``onnx`` here, ``openvino`` in :mod:`qa_bot.openvino_export`); ``export.json`` holds every file's sha256
and is written last, inside a folder that is renamed into place whole, so a half-written export is never used. A
file that fails its checksum is exported again.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import sys
import tempfile
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from qa_bot.checksums import sha256_of
from qa_bot.errors import QABotError

RECIPE = "onnx17-eager-fused-bert-mean-pool-l2-int8-dynamic-per-channel-matmul-attention-v2"  # change with the export
READER_RECIPE = "onnx17-eager-fused-bert-qa-start-end-logits-fp32-v1"  # change with the reader export
UNFUSED_READER_RECIPE = "onnx17-eager-qa-start-end-logits-fp32-v1"  # change with the unfused reader export
QUANTIZED_OPS = ["MatMul", "Attention"]  # not the fused EmbedLayerNormalization
MODEL_FILE = "model-int8.onnx"
READER_MODEL_FILE = "reader-fp32.onnx"
RECORD_FILE = "export.json"
TEXT_INPUTS = ("input_ids", "attention_mask", "token_type_ids")
_INSTALL_HINT = "install it with `pip install onnxruntime onnx`"


@dataclass(frozen=True)
class Export:
    """One network's export (ONNX here, OpenVINO IR in qa_bot.openvino_export): its cache name and how it is written."""

    recipe: str  # recorded in export.json; an export made by another recipe is redone
    model_file: str
    folder_name: str  # <model name>-<weights fingerprint>
    write: Callable[[Path], None]  # writes the model file (and any file it needs beside it) at the given path
    cache_folder: str = "onnx"  # under the cache dir, one per runtime


def _import_onnxruntime(backend_setting: str) -> Any:
    try:
        import onnxruntime
    except ImportError:
        raise QABotError(
            f"the onnx backends need onnxruntime; {_INSTALL_HINT}, or set {backend_setting}=torch"
        ) from None
    return onnxruntime


def int8_session(model: Any, name_or_path: str, cache_dir: Path | None, threads: int) -> Any:
    """An onnxruntime session computing ``model``'s normalised sentence embeddings with int8 weights."""
    _import_onnxruntime("QA_BOT_EMBEDDER_BACKEND")
    check_supported(model, name_or_path, "onnx-int8")

    def write(int8_path: Path) -> None:
        fp32_path = int8_path.with_name("model-fp32.onnx")
        export_embedder_fp32(model, fp32_path)
        _fuse_and_quantize(fp32_path, int8_path, model[0].auto_model.config)
        fp32_path.unlink()

    return _session(Export(RECIPE, MODEL_FILE, folder_name(model, name_or_path, RECIPE), write), cache_dir, threads)


def reader_session(
    model: Any, tokenizer: Any, name_or_path: str, cache_dir: Path | None, threads: int, fuse: bool = True
) -> Any:
    """An onnxruntime session computing an extractive QA model's start and end logits in fp32, fused unless ``fuse``
    is false.

    Raises QABotError when onnxruntime is missing, the layers of a model to fuse do not fuse (not a BERT-style
    encoder) or the graph's logits are not the model's own; torch's exporter raises its own errors for what it
    cannot trace."""
    _import_onnxruntime("QA_BOT_READER_BACKEND")
    model.eval()

    def write(path: Path) -> None:
        exported = path.with_name("reader-unfused.onnx") if fuse else path
        sample = tokenizer(
            ["which one?", "what is it?"], ["the first passage", "a second, longer passage"], padding=True
        )
        logits_axes = {0: "batch", 1: "tokens"}
        with _eager_attention(model):
            _export_fp32(model, sample, {"start_logits": logits_axes, "end_logits": logits_axes}, exported)
        if fuse:
            _save_fused_reader(exported, path, model.config, name_or_path)
        _check_reader_logits(model, sample, path)

    recipe = READER_RECIPE if fuse else UNFUSED_READER_RECIPE
    export = Export(recipe, READER_MODEL_FILE, folder_name(model, name_or_path, recipe), write)
    return _session(export, cache_dir, threads)


def _save_fused_reader(exported: Path, path: Path, config: Any, name_or_path: str) -> None:
    """Fuse the exported reader into onnxruntime's BERT operators, every attention layer or none."""
    fused = _fused(exported, config)
    attention_layers = fused.get_fused_operator_statistics().get("Attention", 0)
    if attention_layers != config.num_hidden_layers:
        raise QABotError(
            f"the reader {name_or_path!r} did not fuse into onnxruntime's BERT operators "
            f"({attention_layers} of {config.num_hidden_layers} attention layers)"
        )
    fused.save_model_to_file(str(path))
    exported.unlink()


def _check_reader_logits(model: Any, sample: Any, path: Path) -> None:
    """The exported graph must give the model's own logits on the sample (inputs are matched by position)."""
    import onnxruntime

    inputs = {name: np.asarray(sample[name], dtype=np.int64) for name in TEXT_INPUTS if name in sample}
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    fused = session.run(["start_logits", "end_logits"], {node.name: inputs[node.name] for node in session.get_inputs()})
    with torch.inference_mode():
        output = model(**{name: torch.from_numpy(array) for name, array in inputs.items()})
    expected = (output.start_logits.numpy(), output.end_logits.numpy())
    if not all(np.allclose(got, want, atol=1e-3) for got, want in zip(fused, expected)):
        raise QABotError("the exported reader's logits differ from the model's own")


def _session(export: Export, cache_dir: Path | None, threads: int) -> Any:
    import onnxruntime  # its absence was reported by the caller, naming its own setting

    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = threads  # 0 = one per physical core
    options.inter_op_num_threads = 1
    # Idle threads sleep instead of spinning: a question's embedding is followed at once by the reader, which
    # spinning threads starve; batch throughput does not depend on it.
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    with exported_file(export, cache_dir) as model_path:
        return onnxruntime.InferenceSession(str(model_path), options, providers=["CPUExecutionProvider"])


@contextmanager
def exported_file(export: Export, cache_dir: Path | None) -> Iterator[Path]:
    """The export's model file from the verified cache (exported there first when missing or damaged); when the
    cache cannot be written, exported into a temporary folder that lasts while the caller loads it."""
    if cache_dir is not None:
        try:
            path = _cached_export(export, Path(cache_dir) / export.cache_folder / export.folder_name)
        except OSError as error:
            print(
                f"notice: cannot use the model cache in {cache_dir} ({error.strerror or error}); exporting for this "
                "run only (set QA_BOT_CACHE_DIR to a writable folder to keep the export)",
                file=sys.stderr,
            )
        else:
            yield path
            return
    with tempfile.TemporaryDirectory(prefix="qa-bot-export-") as folder:
        yield _export_into(export, Path(folder))


def export_embedder_fp32(model: Any, path: Path) -> None:
    """The sentence-transformers ``model`` (Transformer -> mean pooling -> L2) as an fp32 ONNX graph at ``path``."""
    transformer = model[0].auto_model.eval()
    sample = model.tokenizer(["an example sentence", "a second, longer example sentence"], padding=True)
    with _eager_attention(transformer):
        _export_fp32(_PooledEncoder(transformer), sample, {"sentence_embedding": {0: "batch"}}, path)


def check_supported(model: Any, name_or_path: str, backend: str) -> None:
    """The export reproduces Transformer -> mean pooling (-> Normalize); other heads need the torch backend."""
    modules = list(model)
    pooling = modules[1] if len(modules) > 1 else None
    if (
        type(modules[0]).__name__ != "Transformer"
        or getattr(pooling, "pooling_mode", None) != "mean"
        or any(type(m).__name__ != "Normalize" for m in modules[2:])
    ):
        raise QABotError(
            f"the {backend} backend supports mean-pooled transformer embedders only, not {name_or_path!r}; "
            "set QA_BOT_EMBEDDER_BACKEND=torch"
        )


class _PooledEncoder(torch.nn.Module):
    """Transformer -> mean over real tokens -> L2 normalisation, as the sentence-transformers pipeline does."""

    def __init__(self, transformer: torch.nn.Module) -> None:
        super().__init__()
        self.transformer = transformer

    def forward(
        self, input_ids: torch.Tensor, attention_mask: torch.Tensor, token_type_ids: torch.Tensor | None = None
    ) -> torch.Tensor:
        extra = {} if token_type_ids is None else {"token_type_ids": token_type_ids}
        hidden = self.transformer(input_ids=input_ids, attention_mask=attention_mask, **extra).last_hidden_state
        mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
        mean = (hidden * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1e-9)
        return torch.nn.functional.normalize(mean, dim=-1)


def folder_name(model: Any, name_or_path: str, recipe: str) -> str:
    """The model's name and a fingerprint of its weights and the export recipe, whatever folder or hub cache the
    weights were loaded from."""
    digest = hashlib.sha256(recipe.encode())
    for name, tensor in model.state_dict().items():
        digest.update(name.encode())
        digest.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    return f"{Path(name_or_path).name or 'model'}-{digest.hexdigest()[:16]}"


def _is_valid(export: Export, folder: Path) -> bool:
    try:
        record = json.loads((folder / RECORD_FILE).read_text(encoding="utf-8"))
        files = record["sha256"]
        return (
            record.get("recipe") == export.recipe
            and export.model_file in files
            and all(sha256_of(folder / name) == digest for name, digest in files.items())
        )
    except (OSError, ValueError, AttributeError, KeyError, TypeError):
        return False


def _cached_export(export: Export, folder: Path) -> Path:
    """The verified cached file, exporting it first when missing or damaged."""
    if _is_valid(export, folder):
        return folder / export.model_file
    if folder.exists():
        print(
            f"notice: the cached model export in {folder} is damaged or from another version (checksum mismatch); "
            "exporting it again",
            file=sys.stderr,
        )
    folder.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=folder.name + ".partial-", dir=folder.parent))
    try:
        _export_into(export, staging)
        shutil.rmtree(folder, ignore_errors=True)
        try:
            os.rename(staging, folder)
        except OSError:
            if not _is_valid(export, folder):  # another process (a second Dask worker) renamed its copy first
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return folder / export.model_file


def _export_into(export: Export, folder: Path) -> Path:
    """Write the model file (and any file it needs beside it) and an ``export.json`` with every file's sha256."""
    path = folder / export.model_file
    export.write(path)
    written = sorted(file for file in folder.iterdir() if file.name != RECORD_FILE)
    record = {
        "recipe": export.recipe,
        "sha256": {file.name: sha256_of(file) for file in written},
        "bytes": sum(file.stat().st_size for file in written),
    }
    (folder / RECORD_FILE).write_text(json.dumps(record, indent=2), encoding="utf-8")
    return path


@contextmanager
def _quiet_root_logger() -> Iterator[None]:
    """onnxruntime's optimizer and quantizer reconfigure the root logger and print advice (the quantizer's to
    pre-process the model is for static quantization); keep them quiet and restore the logger."""
    root = logging.getLogger()
    level, handlers = root.level, list(root.handlers)
    try:
        root.setLevel(logging.ERROR)
        yield
    finally:
        root.setLevel(level)
        root.handlers[:] = handlers


def _fused(fp32_path: Path, config: Any) -> Any:
    """The exported graph with each BERT layer's attention, layer norms and GELU fused (an onnxruntime OnnxModel)."""
    from onnxruntime.transformers.optimizer import optimize_model

    with _quiet_root_logger():
        return optimize_model(
            str(fp32_path), model_type="bert", num_heads=config.num_attention_heads, hidden_size=config.hidden_size
        )


def _fuse_and_quantize(fp32_path: Path, int8_path: Path, config: Any) -> None:
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    fused_path = fp32_path.with_name("model-fused.onnx")
    try:
        _fused(fp32_path, config).save_model_to_file(str(fused_path))
        with _quiet_root_logger():
            quantize_dynamic(
                fused_path,
                int8_path,
                weight_type=QuantType.QInt8,
                per_channel=True,
                op_types_to_quantize=QUANTIZED_OPS,
                # shape inference cannot type the outputs of onnxruntime's own fused operators; they are float
                extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT},
            )
    finally:
        fused_path.unlink(missing_ok=True)


@contextmanager
def _eager_attention(transformer: Any) -> Iterator[None]:
    """Export the eager attention: onnxruntime fuses its graph into one Attention operator per layer, while the
    SDPA export keeps a mask computation (Where) that took about a fifth of the int8 run time."""
    original = transformer.config._attn_implementation
    transformer.set_attn_implementation("eager")
    try:
        yield
    finally:
        transformer.set_attn_implementation(original)


def _export_fp32(module: torch.nn.Module, sample: Any, outputs: dict[str, dict[int, str]], path: Path) -> None:
    """Trace ``module`` on the tokenizer's ``sample`` batch; batch and token axes stay dynamic."""
    input_names = [name for name in TEXT_INPUTS if name in sample]
    inputs = tuple(torch.tensor(sample[name], dtype=torch.int64) for name in input_names)
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # tracer notes about Python control flow on shapes, expected for BERT
        torch.onnx.export(
            module,
            inputs,
            str(path),
            input_names=input_names,
            output_names=list(outputs),
            dynamic_axes={**{name: {0: "batch", 1: "tokens"} for name in input_names}, **outputs},
            opset_version=17,
            dynamo=False,  # the TorchScript exporter needs no extra packages and handles BERT-style models
        )
