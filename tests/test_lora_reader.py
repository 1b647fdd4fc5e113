"""A LoRA reader on an encoder without segment ids (as MPNet is): trained, saved small, merged on first use.

The backbone is a tiny random MPNet with the bundled tokenizer told to emit no token_type_ids, so training, the
shared window encoding and the reader all run the no-segment path the accurate reader takes.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch

from qa_bot.reader import Reader
from qa_bot.settings import Settings
from qa_bot.training.train_reader import train
from qa_bot.types import Passage
from tests.test_train_reader import tiny_config

pytestmark = pytest.mark.slow  # real optimisation steps


def write_tiny_mpnet(folder: Path) -> Path:
    from transformers import AutoTokenizer, MPNetConfig, MPNetForQuestionAnswering

    from qa_bot.settings import bundled_embedder

    tokenizer = AutoTokenizer.from_pretrained(bundled_embedder(), local_files_only=True)
    torch.manual_seed(0)
    config = MPNetConfig(
        vocab_size=len(tokenizer),
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        pad_token_id=tokenizer.pad_token_id,
    )
    MPNetForQuestionAnswering(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return without_segment_ids(folder)


def without_segment_ids(folder: Path) -> Path:
    """The saved tokenizer told to emit no token_type_ids, as MPNet's own tokenizer does by its class (a tokenizer
    loaded with this setting does not write it back when saved, so each saved copy is told again)."""
    tokenizer_config = folder / "tokenizer_config.json"
    saved = json.loads(tokenizer_config.read_text())
    tokenizer_config.write_text(json.dumps(saved | {"model_input_names": ["input_ids", "attention_mask"]}))
    return folder


def peft_logits(backbone: Path, adapter: Path, inputs: dict) -> tuple[torch.Tensor, torch.Tensor]:
    from peft import PeftModel
    from transformers import AutoModelForQuestionAnswering

    base = AutoModelForQuestionAnswering.from_pretrained(backbone, dtype=torch.float32)
    model = PeftModel.from_pretrained(base, adapter).eval()
    with torch.inference_mode():
        output = model(**inputs)
    return output.start_logits, output.end_logits


@pytest.fixture(scope="module")
def lora_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, dict]:
    tmp_path = tmp_path_factory.mktemp("lora")
    backbone = write_tiny_mpnet(tmp_path / "mpnet")
    config = tiny_config(
        tmp_path, backbone=str(backbone), lora_rank=4, lora_alpha=8.0, max_steps=40, learning_rate=2e-2
    )
    out = without_segment_ids(train(config))
    return backbone, out, json.loads((out / "training_config.json").read_text())


def test_a_lora_run_learns_and_saves_only_the_adapter_and_head(lora_run):
    backbone, out, record = lora_run
    losses = [loss for _, loss in record["loss_curve"]]

    assert losses[-1] < 0.8 * losses[0]
    assert (out / "adapter_config.json").is_file() and not (out / "model.safetensors").exists()
    assert (out / "adapter_model.safetensors").stat().st_size < (backbone / "model.safetensors").stat().st_size / 2
    assert record["lora_rank"] == 4 and record["steps_done"] == record["total_steps"] == 40


def test_the_merged_reader_gives_the_lora_models_logits_and_reads_answers(lora_run, tmp_path: Path):
    backbone, adapter, _ = lora_run
    settings = Settings(reader_precision="fp32", threads=1, cache_dir=str(tmp_path / "cache"))

    reader = Reader(str(adapter), settings)

    text = "The base at Town01 hosts 2 brigades of trainers."
    inputs = reader.tokenizer(["Where is base 1?"], [text], return_tensors="pt")
    assert "token_type_ids" not in inputs
    with torch.inference_mode():
        merged = reader.model(**inputs)
    expected_start, expected_end = peft_logits(backbone, adapter, dict(inputs))
    assert torch.allclose(merged.start_logits, expected_start, atol=1e-5)
    assert torch.allclose(merged.end_logits, expected_end, atol=1e-5)
    spans = reader.read("Where is base 1?", [Passage("p0", "a0", 0, 0, len(text), text, 0, 0)]).spans
    assert spans and spans[0].text == text[spans[0].start : spans[0].end]
    assert reader.max_length == 64  # windows follow the adapter's training record


def test_the_merge_is_cached_with_checksums_and_redone_when_damaged(lora_run, tmp_path: Path, capsys):
    _, adapter, _ = lora_run
    settings = Settings(reader_precision="fp32", threads=1, cache_dir=str(tmp_path / "cache"))
    Reader(str(adapter), settings)
    (merged,) = (tmp_path / "cache" / "readers").iterdir()
    weights = merged / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:-8] + b"\0" * 8)

    reader = Reader(str(adapter), settings)

    assert "damaged" in capsys.readouterr().err
    assert [p.name for p in (tmp_path / "cache" / "readers").iterdir()] == [merged.name]
    assert reader.model.config.model_type == "mpnet"


def test_a_lora_run_checkpoints_only_what_it_trains_and_resumes(tmp_path: Path, caplog: pytest.LogCaptureFixture):
    import logging

    backbone = write_tiny_mpnet(tmp_path / "mpnet")
    config = tiny_config(tmp_path, backbone=str(backbone), lora_rank=4, max_steps=30)
    train(config)  # stands in for a run killed after its step-25 checkpoint
    state = torch.load(Path(config.checkpoint_dir) / "state.pt", weights_only=False)
    assert state["step"] == 25
    assert state["model"] and all("lora_" in name or "qa_outputs" in name for name in state["model"])

    with caplog.at_level(logging.INFO, logger="train_reader"):
        out = train(config)

    assert "resuming at step 25" in caplog.text
    assert json.loads((out / "training_config.json").read_text())["resumed_at_step"] == 25


def test_int8_keeps_mpnets_outlier_layers_in_fp32_and_still_reads(tmp_path: Path):
    reader = Reader(str(write_tiny_mpnet(tmp_path / "mpnet")), Settings(reader_precision="int8", threads=1))
    kinds = {
        name: type(module).__module__
        for name, module in reader.model.named_modules()
        if "dense" in name or name.endswith((".q", ".o", "qa_outputs"))
    }
    quantized = {name for name, kind in kinds.items() if "quantized" in kind}
    assert {"mpnet.encoder.layer.0.attention.attn.q", "mpnet.encoder.layer.1.intermediate.dense"} <= quantized
    assert not any(name.endswith(("attn.o", "output.dense", "qa_outputs")) for name in quantized)
    context = "The Coalition keeps troops at Erbil Air Base."
    spans = reader.read("Where are the troops?", [Passage("p", "a", 0, 0, len(context), context, 0, 0)]).spans
    assert spans and all(span.text == context[span.start : span.end] for span in spans)


def test_averaged_adapters_merge_to_the_weighted_mean_of_their_merged_readers(lora_run, tmp_path: Path):
    from safetensors.torch import load_file, save_file

    from qa_bot.adapters import ADAPTER_WEIGHTS, merge
    from qa_bot.training.average import average

    backbone, first, _ = lora_run
    second = tmp_path / "second"
    shutil.copytree(first, second)
    torch.manual_seed(1)
    state = load_file(str(first / ADAPTER_WEIGHTS))
    save_file({name: t + 0.3 * torch.randn_like(t) for name, t in state.items()}, str(second / ADAPTER_WEIGHTS))

    averaged = average([first, second], [0.7, 0.3], tmp_path / "averaged")

    merged = {}
    for name, adapter in {"first": first, "second": second, "averaged": averaged}.items():
        merge(adapter, backbone, tmp_path / f"merged-{name}")
        merged[name] = load_file(str(tmp_path / f"merged-{name}" / "model.safetensors"))
    assert json.loads((averaged / "adapter_config.json").read_text())["r"] == 8
    for name, tensor in merged["averaged"].items():
        expected = 0.7 * merged["first"][name] + 0.3 * merged["second"][name]
        assert torch.allclose(tensor, expected, atol=1e-3), name
