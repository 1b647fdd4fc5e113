"""The int8 ONNX copy of a sentence-transformers embedder: exported locally on first use, cached, checksummed.

Nothing is downloaded: the network is exported from the weights already loaded (the bundled all-MiniLM-L6-v2
by default) with ``torch.onnx``; onnxruntime's transformer optimizer fuses each layer's attention, layer norms and
GELU into single operators; then the matrix multiplications (attention projections included) are quantized to int8
with onnxruntime's dynamic quantization (int8 weights per output channel, activations quantized per batch at run
time). The token embedding table stays fp32: it is a lookup, so int8 there would only shrink the file (23 MB, not
59 MB), not save time.

Cache layout: ``<cache dir>/onnx/<model name>-<weights fingerprint>/{model-int8.onnx, export.json}``;
``export.json`` holds the file's sha256 and is written last, inside a folder that is renamed into place whole,
so a half-written export is never used. A file that fails its checksum is exported again.
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
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import torch

from qa_bot.errors import QABotError

RECIPE = "onnx17-eager-fused-bert-mean-pool-l2-int8-dynamic-per-channel-matmul-attention-v2"  # change with the export
QUANTIZED_OPS = ["MatMul", "Attention"]  # not the fused EmbedLayerNormalization
MODEL_FILE = "model-int8.onnx"
RECORD_FILE = "export.json"
_INSTALL_HINT = "install it with `pip install onnxruntime onnx`, or set QA_BOT_EMBEDDER_BACKEND=torch"


def _import_onnxruntime() -> Any:
    try:
        import onnxruntime
    except ImportError:
        raise QABotError(f"the onnx-int8 embedder backend needs onnxruntime; {_INSTALL_HINT}") from None
    return onnxruntime


def int8_session(model: Any, name_or_path: str, cache_dir: Path | None, threads: int) -> Any:
    """An onnxruntime session computing ``model``'s normalised sentence embeddings with int8 weights."""
    onnxruntime = _import_onnxruntime()
    _check_supported(model, name_or_path)
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = threads  # 0 = one per physical core
    options.inter_op_num_threads = 1
    # Idle threads sleep instead of spinning: a question's embedding is followed at once by the torch reader, which
    # spinning threads starve (ask p50 230 -> 199 ms on 2 cores, 40 questions interleaved); batch throughput is
    # the same (63.4 vs 63.3 passages/s).
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    folder_name = f"{Path(name_or_path).name or 'model'}-{_weights_fingerprint(model)}"
    if cache_dir is not None:
        try:
            model_path = _cached_export(model, Path(cache_dir) / "onnx" / folder_name)
            return onnxruntime.InferenceSession(str(model_path), options, providers=["CPUExecutionProvider"])
        except OSError as error:
            print(
                f"notice: cannot use the ONNX cache in {cache_dir} ({error.strerror or error}); exporting for this "
                "run only (set QA_BOT_CACHE_DIR to a writable folder to keep the export)",
                file=sys.stderr,
            )
    with tempfile.TemporaryDirectory(prefix="qa-bot-onnx-") as folder:
        model_path = _export(model, Path(folder))
        return onnxruntime.InferenceSession(str(model_path), options, providers=["CPUExecutionProvider"])


def _check_supported(model: Any, name_or_path: str) -> None:
    """The export reproduces Transformer -> mean pooling (-> Normalize); other heads need the torch backend."""
    modules = list(model)
    pooling = modules[1] if len(modules) > 1 else None
    if (
        type(modules[0]).__name__ != "Transformer"
        or getattr(pooling, "pooling_mode", None) != "mean"
        or any(type(m).__name__ != "Normalize" for m in modules[2:])
    ):
        raise QABotError(
            f"the onnx-int8 backend supports mean-pooled transformer embedders only, not {name_or_path!r}; "
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


def _weights_fingerprint(model: Any) -> str:
    """Identifies the weights (and the export recipe), whatever folder or hub cache they were loaded from."""
    digest = hashlib.sha256(RECIPE.encode())
    for name, tensor in model.state_dict().items():
        digest.update(name.encode())
        digest.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()[:16]


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        while chunk := stream.read(4 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def _is_valid(folder: Path) -> bool:
    try:
        record = json.loads((folder / RECORD_FILE).read_text(encoding="utf-8"))
        return record.get("recipe") == RECIPE and record.get("sha256") == _sha256(folder / MODEL_FILE)
    except (OSError, ValueError, AttributeError):
        return False


def _cached_export(model: Any, folder: Path) -> Path:
    """The verified cached file, exporting it first when missing or damaged."""
    if _is_valid(folder):
        return folder / MODEL_FILE
    if folder.exists():
        print(f"notice: the cached ONNX export in {folder} fails its checksum; exporting it again", file=sys.stderr)
    folder.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=folder.name + ".partial-", dir=folder.parent))
    try:
        _export(model, staging)
        shutil.rmtree(folder, ignore_errors=True)
        try:
            os.rename(staging, folder)
        except OSError:
            if not _is_valid(folder):  # another process (a second Dask worker) renamed its copy first
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return folder / MODEL_FILE


def _export(model: Any, folder: Path) -> Path:
    """Write ``model-int8.onnx`` and its ``export.json`` into ``folder``."""
    _import_onnxruntime()
    transformer = model[0].auto_model.eval()
    fp32_path, int8_path = folder / "model-fp32.onnx", folder / MODEL_FILE
    with _eager_attention(transformer):
        _export_fp32(_PooledEncoder(transformer), model.tokenizer, fp32_path)
    _fuse_and_quantize(fp32_path, int8_path, transformer.config)
    fp32_path.unlink()
    record = {"recipe": RECIPE, "sha256": _sha256(int8_path), "bytes": int8_path.stat().st_size}
    (folder / RECORD_FILE).write_text(json.dumps(record, indent=2), encoding="utf-8")
    return int8_path


def _fuse_and_quantize(fp32_path: Path, int8_path: Path, config: Any) -> None:
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic
    from onnxruntime.transformers.optimizer import optimize_model

    fused_path = fp32_path.with_name("model-fused.onnx")
    root = logging.getLogger()  # onnxruntime's optimizer and quantizer reconfigure the root logger; restore it
    level, handlers = root.level, list(root.handlers)
    try:
        root.setLevel(logging.ERROR)  # the quantizer's advice to pre-process the model is for static quantization
        fused = optimize_model(
            str(fp32_path), model_type="bert", num_heads=config.num_attention_heads, hidden_size=config.hidden_size
        )
        fused.save_model_to_file(str(fused_path))
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
        root.setLevel(level)
        root.handlers[:] = handlers
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


def _export_fp32(encoder: _PooledEncoder, tokenizer: Any, path: Path) -> None:
    sample = tokenizer(["an example sentence", "a second, longer example sentence"], padding=True)
    input_names = [name for name in ("input_ids", "attention_mask", "token_type_ids") if name in sample]
    inputs = tuple(torch.tensor(sample[name], dtype=torch.int64) for name in input_names)
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # tracer notes about Python control flow on shapes, expected for BERT
        torch.onnx.export(
            encoder,
            inputs,
            str(path),
            input_names=input_names,
            output_names=["sentence_embedding"],
            dynamic_axes={
                **{name: {0: "batch", 1: "tokens"} for name in input_names},
                "sentence_embedding": {0: "batch"},
            },
            opset_version=17,
            dynamo=False,  # the TorchScript exporter needs no extra packages and handles BERT-style models
        )
