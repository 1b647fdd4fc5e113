"""Average the weights of readers that share one architecture (WiSE-FT style weight interpolation).

Interpolating a fine-tuned reader with the one it started from keeps much of what the fine-tuning taught while
giving back part of what it cost elsewhere (Wortsman et al. 2022, "Robust fine-tuning of zero-shot models").

    python -m qa_bot.training.average --models robust stage3 --weights 0.6 0.4 --out averaged
"""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

WEIGHTS = "model.safetensors"


def average(models: list[Path], weights: list[float], out: Path) -> Path:
    """``out`` holds the weighted mean of the models' tensors (fp32 sums, saved in the first model's dtypes) and
    the first model's other files (config, tokenizer, training record)."""
    if len(models) != len(weights) or abs(sum(weights) - 1) > 1e-6:
        raise SystemExit("error: give one weight per model, summing to 1")
    states = [load_file(str(model / WEIGHTS)) for model in models]
    if any(state.keys() != states[0].keys() for state in states):
        raise SystemExit("error: the models do not share one architecture")
    averaged = {
        name: sum(w * state[name].float() for w, state in zip(weights, states)).to(states[0][name].dtype)
        for name in states[0]
    }
    out.mkdir(parents=True, exist_ok=True)
    for path in models[0].iterdir():
        if path.is_file() and path.name != WEIGHTS:
            shutil.copy2(path, out / path.name)
    save_file(averaged, str(out / WEIGHTS), metadata={"format": "pt"})
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", type=Path, required=True, help="reader folders")
    parser.add_argument("--weights", nargs="+", type=float, required=True, help="one weight per model, summing to 1")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    print(f"wrote {average(args.models, args.weights, args.out)}")


if __name__ == "__main__":
    torch.set_num_threads(1)
    main()
