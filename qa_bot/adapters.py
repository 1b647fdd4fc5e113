"""A LoRA reader (adapter and QA head, as qa_bot.training.train_reader saves it) merged once with its backbone.

The repository ships only the small adapter; on first use it is merged into the verified backbone and the merged
fp32 weights are kept in the model cache with checksums, like the ONNX and OpenVINO exports.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from qa_bot.errors import QABotError

ADAPTER_CONFIG = "adapter_config.json"
ADAPTER_WEIGHTS = "adapter_model.safetensors"
MERGE_RECIPE = "peft-lora-merge-and-unload-fp32-v1"  # change with the merge


def is_adapter(folder: str | Path) -> bool:
    return (Path(folder) / ADAPTER_CONFIG).is_file()


def backbone_of(adapter: Path, cache_dir: Path) -> Path:
    """The adapter's base model: the verified all-mpnet-base-v2 when it was trained on that, else its folder."""
    from qa_bot import backbone

    base = Path(json.loads((adapter / ADAPTER_CONFIG).read_text(encoding="utf-8"))["base_model_name_or_path"])
    if base.name == backbone.MODEL_NAME:
        return backbone.mpnet_backbone(cache_dir)
    if (base / "config.json").is_file():
        return base
    raise QABotError(f"the reader adapter in {adapter} was trained on {base}, which is not on this machine")


def merge(adapter: Path, base: Path, out: Path) -> None:
    """Write the merged model (backbone + LoRA deltas, the trained head) to the folder ``out``."""
    import torch
    from transformers import AutoModelForQuestionAnswering

    try:
        from peft import PeftModel
    except ImportError:
        raise QABotError("the accurate reader needs peft: pip install 'qa-bot[accurate]'") from None
    from transformers.utils import logging as transformers_logging

    # The backbone has no QA head of its own (the adapter brings it): transformers' report of it is noise here.
    verbosity = transformers_logging.get_verbosity()
    transformers_logging.set_verbosity_error()
    try:
        model = AutoModelForQuestionAnswering.from_pretrained(base, dtype=torch.float32)
    finally:
        transformers_logging.set_verbosity(verbosity)
    merged = PeftModel.from_pretrained(model, adapter).merge_and_unload()
    merged.save_pretrained(out, safe_serialization=True)


@contextmanager
def loadable(name_or_path: str, cache_dir: Path) -> Iterator[str]:
    """What ``from_pretrained`` should load for this reader: itself, or, for an adapter, the cached merged model."""
    adapter = Path(name_or_path)
    if not is_adapter(adapter):
        yield name_or_path
        return
    from qa_bot.onnx_export import Export, exported_file

    base = backbone_of(adapter, cache_dir)
    fingerprint = hashlib.sha256((MERGE_RECIPE + str(base.name)).encode())
    fingerprint.update((adapter / ADAPTER_WEIGHTS).read_bytes())
    export = Export(
        recipe=MERGE_RECIPE,
        model_file="model.safetensors",
        folder_name=f"{adapter.name}-{fingerprint.hexdigest()[:16]}",
        write=lambda path: merge(adapter, base, path.parent),
        cache_folder="readers",
    )
    with exported_file(export, cache_dir) as weights:
        yield str(weights.parent)
