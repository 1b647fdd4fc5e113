#!/bin/bash
# The accurate reader on an accelerator: a LoRA fine-tune of all-mpnet-base-v2 on the examples made here
# (train_reader --write-examples). The backbone (fp16, without its unused pooler) and the examples travel as one tar
# cut in pieces that fit beside the repository, one piece per call:
#   accelerator_accurate.sh prepare        here, on the CPU, the venv first on PATH: writes .gpu/ (the pieces, their
#                                          sha256, the smoke data) and .whl/ (what the accelerator's Python lacks);
#                                          both are ignored by git
#   accelerator_accurate.sh smoke          carry .gpu/tiny .whl: installs the wheels and trains a random full-size
#                                          MPNet for a few steps (the code path and the rate: about 700 ex/s on an H200)
#   accelerator_accurate.sh stage          carry .gpu/cN: stages piece N (c1 to the one before the last)
#   accelerator_accurate.sh train MINUTES  carry the last .gpu/cN and .gpu/sha256: assembles and checks the pieces,
#                                          trains for MINUTES; the adapter and the log come back in $OUT
# Calls follow each other within the 30 s a machine stays warm, or the staged pieces are lost.
# The working tree travels with each call and the limit is 64 MiB in all: for these calls keep the shipped weights
# out of it (git rm --cached qa_bot/models/reader/model.safetensors qa_bot/models/reader-accurate/adapter_model.safetensors,
# both listed in .git/info/exclude) and put them back afterwards (git reset -q HEAD -- those two paths).
set -uo pipefail
export PYTHONUNBUFFERED=1 TOKENIZERS_PARALLELISM=true PYTHONPATH=/tmp/site
OUT=${OUT:-/tmp/out}; STAGE=${STAGE:-/tmp/stage}; WORK=${WORK:-/tmp/work}; REPO=$PWD
DEVICE=${DEVICE:-cuda}; SMOKE_STEPS=${SMOKE_STEPS:-140}
SQUAD=${SQUAD:-../shared/data/squad-train-v1.0.json.gz}
# The whole training half of SQuAD and the generated examples (about 122k examples, 13 MB with xz)
MIX=${MIX:---max-questions 0 --negative-ratio 0.25 --distractors 8000 --unanswerables 8000 --echoes 3000 --echo-negatives 4000 --crowd-unanswerables 4000}
WHEELS="pydantic pydantic_core pydantic-settings python-dotenv typing-inspection annotated-types typing_extensions peft"
installed_version() { python3 -m pip show "$1" | sed -n 's/^Version: //p'; }
mkdir -p "$OUT" $STAGE $WORK
for piece in .gpu/c*/piece*; do [ -f "$piece" ] && cp -n "$piece" $STAGE/; done
ls -la $STAGE
common="--device $DEVICE --bf16 --threads 8 --lora-rank 32 --lora-alpha 64 --batch-size 64 --learning-rate 5e-4"

case "${1:-}" in
prepare)
  rm -rf .gpu .whl "$WORK/prepare" && mkdir -p .gpu/tiny .whl "$WORK/prepare" || exit 1
  for package in $WHEELS; do
    python3 -m pip download -q --no-deps --only-binary=:all: -d .whl "$package==$(installed_version "$package")" || exit 1
  done
  # pydantic_core is compiled: a wheel for each Python the accelerator may have (pip takes the one that fits)
  for py in 3.10 3.12 3.13 3.14; do
    python3 -m pip download -q --no-deps --only-binary=:all: --python-version $py --platform manylinux2014_x86_64 \
      -d .whl "pydantic_core==$(installed_version pydantic_core)" || echo "no pydantic_core for Python $py"
  done
  python3 -m qa_bot.training.train_reader --squad "$SQUAD" --out "$WORK/prepare/unused" --backbone mpnet $MIX \
    --write-examples "$WORK/prepare/train.jsonl.xz" || exit 1
  python3 - "$WORK/prepare" <<'PY' || exit 1
import gzip, itertools, lzma, sys
from pathlib import Path
from qa_bot.backbone import mpnet_backbone
from qa_bot.settings import Settings
from transformers import AutoConfig, AutoTokenizer, MPNetModel

# fp16 halves what travels; the pooler is unused by the QA head
work, source = Path(sys.argv[1]), mpnet_backbone(Settings().cache_path())
model = MPNetModel.from_pretrained(source, add_pooling_layer=False).half()
for folder in (work / "mpnet16", Path(".gpu/tiny")):
    AutoConfig.from_pretrained(source).save_pretrained(folder)
    AutoTokenizer.from_pretrained(source).save_pretrained(folder)
model.save_pretrained(work / "mpnet16")
with open(work / "train.jsonl.xz", "rb") as whole, gzip.open(".gpu/tiny/smoke.jsonl.gz", "wb") as smoke:
    smoke.writelines(itertools.islice(lzma.open(whole), 4000))
PY
  (cd "$WORK/prepare" && sha256sum train.jsonl.xz mpnet16/model.safetensors > "$REPO/.gpu/sha256") || exit 1
  tar -c -C "$WORK/prepare" mpnet16 train.jsonl.xz | split -b 59M -d -a 1 --numeric-suffixes=1 - "$WORK/prepare/piece"
  for piece in "$WORK"/prepare/piece*; do
    n=${piece##*piece}; mkdir -p ".gpu/c$n" && mv "$piece" ".gpu/c$n/piece$n"
  done
  du -sh .gpu/* .whl
  ;;
smoke)
  nvidia-smi --query-gpu=name,memory.total --format=csv
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site \
    --find-links .whl $WHEELS || exit 1
  python3 -c "import torch, transformers, peft, qa_bot.training.train_reader; print(torch.__version__, transformers.__version__, peft.__version__, torch.cuda.is_available())" || exit 1
  python3 -c "
from transformers import AutoConfig, AutoTokenizer, MPNetForQuestionAnswering
MPNetForQuestionAnswering(AutoConfig.from_pretrained('.gpu/tiny')).save_pretrained('$WORK/random')
AutoTokenizer.from_pretrained('.gpu/tiny').save_pretrained('$WORK/random')" || exit 1
  python3 -m qa_bot.training.train_reader $common --examples .gpu/tiny/smoke.jsonl.gz --backbone $WORK/random \
    --out $WORK/smoke --max-steps $SMOKE_STEPS --checkpoint-every 100 --checkpoint-dir $WORK/smoke-ck 2>&1 | tee "$OUT/smoke.log"
  python3 -c "
from peft import PeftModel
from transformers import AutoModelForQuestionAnswering
PeftModel.from_pretrained(AutoModelForQuestionAnswering.from_pretrained('$WORK/random'), '$WORK/smoke'); print('adapter loads')"
  ls -la $WORK/smoke
  ;;
stage) ;;
train)
  cat $(ls $STAGE/piece* | sort -V) | tar -x -C $WORK || exit 1
  (cd $WORK && sha256sum -c "$REPO/.gpu/sha256") || exit 1
  python3 -m qa_bot.training.train_reader $common --examples $WORK/train.jsonl.xz --backbone $WORK/mpnet16 \
    --out $WORK/accurate --epochs 3 --warmup-fraction 0.06 --max-minutes "$2" --run-minutes "$(python3 -c "print($2 + 0.7)")" \
    --shuffle-seed 241 --checkpoint-every 1000000 --checkpoint-dir $WORK/ck 2>&1 | tee "$OUT/train.log"
  mkdir -p "$OUT/accurate"
  cp $WORK/accurate/{adapter_model.safetensors,adapter_config.json,training_config.json} "$OUT/accurate/"
  ls -la "$OUT/accurate"
  ;;
*)
  echo "usage: accelerator_accurate.sh prepare | smoke | stage | train MINUTES" >&2
  exit 2
  ;;
esac
