"""A reader trained with frozen word embeddings travels without them (a third of its size): ``strip`` drops them
where it was trained, ``restore`` puts back those of the reader it started from.

    python -m qa_bot.training.travel strip /tmp/work/five
    python -m qa_bot.training.travel restore five-stripped --init stage5 --out qa_bot/models/reader
"""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

from safetensors.torch import load_file, save_file

WEIGHTS = "model.safetensors"
WORD_EMBEDDINGS = "word_embeddings.weight"


def strip(folder: str | Path) -> list[str]:
    """Drop the word embeddings from ``folder``'s weights in place; returns the dropped names."""
    path = Path(folder) / WEIGHTS
    tensors = load_file(path)
    dropped = [name for name in tensors if name.endswith(WORD_EMBEDDINGS)]
    save_file({k: v for k, v in tensors.items() if k not in dropped}, path, metadata={"format": "pt"})
    return dropped


def restore(stripped: str | Path, init: str | Path, out: str | Path) -> Path:
    """``stripped`` with the word embeddings of ``init`` (unchanged by a frozen run), written whole to ``out``."""
    stripped, out = Path(stripped), Path(out)
    tensors = load_file(stripped / WEIGHTS)
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
    commands.add_parser("strip").add_argument("folder")
    restoring = commands.add_parser("restore")
    restoring.add_argument("stripped")
    restoring.add_argument("--init", required=True, help="the reader the run started from")
    restoring.add_argument("--out", required=True)
    args = parser.parse_args(argv)
    if args.command == "strip":
        print(f"dropped {strip(args.folder)} from {args.folder}")
    else:
        print(f"restored {restore(args.stripped, args.init, args.out)}")


if __name__ == "__main__":
    main()
