"""Write the passages that calibrate the openvino-int8 embedder's activation ranges (qa_bot/openvino_export.py).

Paragraphs of SQuAD training articles only (the 90% the reader trained on, seed 13), so the held-out articles that
measure recall never shaped the quantization; one paragraph per line, in a seeded random order.

    python -m qa_bot.training.embedder_calibration --squad ../shared/data/squad-train-v1.0.json.gz \
        --out qa_bot/models/embedder_calibration.txt
"""

from __future__ import annotations

import argparse
import random
from pathlib import Path

from qa_bot.squad import load_squad, split_articles

PASSAGES = 256  # more did not change the vectors measurably; each costs calibration time on first use
SEED = 13  # the reader's article split


def calibration_passages(articles: list[dict], count: int = PASSAGES, seed: int = SEED) -> list[str]:
    training, _ = split_articles(articles, 0.1, seed)
    paragraphs = [" ".join(p["context"].split()) for article in training for p in article["paragraphs"]]
    return random.Random(seed).sample(paragraphs, count)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--squad", type=Path, required=True, help="SQuAD v1 training set (JSON, .gz allowed)")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    args.out.write_text("\n".join(calibration_passages(load_squad(args.squad))) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
