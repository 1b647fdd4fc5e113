"""Average the weights of readers that share one architecture (WiSE-FT style weight interpolation).

Interpolating a fine-tuned reader with the one it started from keeps much of what the fine-tuning taught while
giving back part of what it cost elsewhere (Wortsman et al. 2022, "Robust fine-tuning of zero-shot models").
LoRA readers (adapter folders) are averaged exactly: the weighted sum of their low-rank updates is one adapter
whose rank is the sum of theirs (their A matrices stacked, their B matrices scaled and placed side by side), and
the heads they train whole are averaged. Adapters are merged into the backbone on first use, so the larger rank
costs nothing at run time.

    python -m qa_bot.training.average --models robust stage3 --weights 0.6 0.4 --out averaged
"""

from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

from qa_bot.adapters import ADAPTER_CONFIG, ADAPTER_WEIGHTS, is_adapter

WEIGHTS = "model.safetensors"
AVERAGING_RECORD = "averaging.json"  # which readers, in which shares: the copied training record is the first's
# An adapter whose update this module cannot express as one scaled B @ A per layer.
UNSUPPORTED_LORA = ("use_rslora", "use_dora", "rank_pattern", "alpha_pattern")


def average(models: list[Path], weights: list[float], out: Path) -> Path:
    """``out`` holds the weighted mean of the models (fp32 sums, saved in the first model's dtypes) and the first
    model's other files (config, tokenizer, training record)."""
    if len(models) != len(weights) or abs(sum(weights) - 1) > 1e-6:
        raise SystemExit("error: give one weight per model, summing to 1")
    adapters = [is_adapter(model) for model in models]
    if any(adapters) and not all(adapters):
        raise SystemExit("error: average LoRA adapters with adapters and whole readers with whole readers")
    weights_file = ADAPTER_WEIGHTS if adapters[0] else WEIGHTS
    states = [load_file(str(model / weights_file)) for model in models]
    if any(state.keys() != states[0].keys() for state in states):
        raise SystemExit("error: the models do not share one architecture")
    if adapters[0]:
        configs = [json.loads((model / ADAPTER_CONFIG).read_text(encoding="utf-8")) for model in models]
        averaged, config = _combine_adapters(states, configs, weights)
    else:
        averaged = {name: _weighted_mean(name, states, weights) for name in states[0]}
    # written only once every check has passed, so a refused average leaves no half-made folder
    out.mkdir(parents=True, exist_ok=True)
    for path in models[0].iterdir():
        if path.is_file() and path.name != weights_file:
            shutil.copy2(path, out / path.name)
    if adapters[0]:
        (out / ADAPTER_CONFIG).write_text(json.dumps(config, indent=2), encoding="utf-8")
    save_file(averaged, str(out / weights_file), metadata={"format": "pt"})
    record = {"models": [str(model) for model in models], "weights": weights}
    (out / AVERAGING_RECORD).write_text(json.dumps(record, indent=2), encoding="utf-8")
    return out


def _weighted_mean(name: str, states: list[dict], weights: list[float]) -> torch.Tensor:
    return sum(w * state[name].float() for w, state in zip(weights, states)).to(states[0][name].dtype)


def _combine_adapters(states: list[dict], configs: list[dict], weights: list[float]) -> tuple[dict, dict]:
    """One adapter whose update is sum_i w_i * (alpha_i / r_i) * B_i @ A_i, at rank sum_i r_i and scale 1."""

    def layout(config: dict) -> tuple:
        return (
            config["base_model_name_or_path"],
            sorted(config.get("target_modules") or []),
            sorted(config.get("modules_to_save") or []),
        )

    if any(layout(config) != layout(configs[0]) for config in configs):
        raise SystemExit("error: the adapters do not share one backbone, target layers and trained modules")
    if any(c.get(key) for c in configs for key in UNSUPPORTED_LORA):
        raise SystemExit(f"error: only plain LoRA adapters can be averaged (none of {', '.join(UNSUPPORTED_LORA)})")
    scales = [w * c["lora_alpha"] / c["r"] for w, c in zip(weights, configs)]
    combined = {}
    for name in states[0]:
        if name.endswith("lora_A.weight"):
            combined[name] = torch.cat([state[name] for state in states], dim=0)
        elif name.endswith("lora_B.weight"):
            scaled = [s * state[name].float() for s, state in zip(scales, states)]
            combined[name] = torch.cat(scaled, dim=1).to(states[0][name].dtype)
        else:
            combined[name] = _weighted_mean(name, states, weights)
    rank = sum(c["r"] for c in configs)
    return combined, configs[0] | {"r": rank, "lora_alpha": float(rank)}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", type=Path, required=True, help="reader or LoRA adapter folders")
    parser.add_argument("--weights", nargs="+", type=float, required=True, help="one weight per model, summing to 1")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    print(f"wrote {average(args.models, args.weights, args.out)}")


if __name__ == "__main__":
    torch.set_num_threads(1)
    main()
