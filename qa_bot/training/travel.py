"""A reader trained with frozen word embeddings travels without them (a third of its size): ``strip`` drops them
where it was trained, ``restore`` puts back those of the reader it started from.

    python -m qa_bot.training.travel strip /tmp/work/five
    python -m qa_bot.training.travel restore five-stripped --init stage5 --out qa_bot/models/reader

``strip --int8`` also stores each weight matrix as int8 rows with one scale per row (half the size again), for a
teacher that must fit beside the repository on the way to the accelerator; ``restore`` turns it back into floats.
"""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

WEIGHTS = "model.safetensors"
WORD_EMBEDDINGS = "word_embeddings.weight"
INT8, SCALE = ".int8", ".int8_scale"


def strip(folder: str | Path, int8: bool = False) -> list[str]:
    """Drop the word embeddings from ``folder``'s weights in place (and, with ``int8``, store every matrix as int8
    rows); returns the dropped names."""
    path = Path(folder) / WEIGHTS
    tensors = load_file(path)
    dropped = [name for name in tensors if name.endswith(WORD_EMBEDDINGS)]
    kept = {k: v for k, v in tensors.items() if k not in dropped}
    if int8:
        kept = {k: v for name, tensor in kept.items() for k, v in _to_int8(name, tensor).items()}
    save_file(kept, path, metadata={"format": "pt"})
    return dropped


def _to_int8(name: str, tensor: torch.Tensor) -> dict[str, torch.Tensor]:
    if tensor.dim() != 2:
        return {name: tensor}
    scale = tensor.float().abs().amax(dim=1, keepdim=True).clamp(min=1e-12) / 127
    # the scale keeps the matrix's own dtype, so that restore gives back what was stripped
    return {name + INT8: (tensor.float() / scale).round().to(torch.int8), name + SCALE: scale.to(tensor.dtype)}


def _from_int8(tensors: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    whole = {k: v for k, v in tensors.items() if not k.endswith((INT8, SCALE))}
    for name in (k.removesuffix(INT8) for k in tensors if k.endswith(INT8)):
        scale = tensors[name + SCALE]
        whole[name] = (tensors[name + INT8].float() * scale.float()).to(scale.dtype)
    return whole


def restore(stripped: str | Path, init: str | Path, out: str | Path) -> Path:
    """``stripped`` with the word embeddings of ``init`` (unchanged by a frozen run), written whole to ``out``."""
    stripped, out = Path(stripped), Path(out)
    tensors = _from_int8(load_file(stripped / WEIGHTS))
    tensors |= {k: v for k, v in load_file(Path(init) / WEIGHTS).items() if k.endswith(WORD_EMBEDDINGS)}
    out.mkdir(parents=True, exist_ok=True)
    for item in stripped.iterdir():
        if item.is_file() and item.name != WEIGHTS:
            shutil.copy(item, out / item.name)
    save_file(tensors, out / WEIGHTS, metadata={"format": "pt"})
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m qa_bot.training.travel", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    stripping = commands.add_parser("strip")
    stripping.add_argument("folder")
    stripping.add_argument("--int8", action="store_true", help="also store each matrix as int8 rows")
    restoring = commands.add_parser("restore")
    restoring.add_argument("stripped")
    restoring.add_argument("--init", required=True, help="the reader the run started from")
    restoring.add_argument("--out", required=True)
    args = parser.parse_args(argv)
    if args.command == "strip":
        print(f"dropped {strip(args.folder, args.int8)} from {args.folder}")
    else:
        print(f"restored {restore(args.stripped, args.init, args.out)}")


if __name__ == "__main__":
    main()
