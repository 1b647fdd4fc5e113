#!/bin/bash
# One accelerator call (the stage-7 reader): a 6-layer teacher from the bundled reader on the examples made here,
# then a 5-layer student distilled from it. Carry gpu/ (train.jsonl.xz from train_reader --write-examples); the
# weights come back without their word embeddings as $OUT/pack.tar.part*: python -m qa_bot.training.travel restore.
set -uo pipefail
export PYTHONUNBUFFERED=1 TOKENIZERS_PARALLELISM=true
OUT=${OUT:-/tmp/out}; mkdir -p "$OUT" /tmp/work/logs
EXAMPLES=${EXAMPLES:-gpu/train.jsonl.xz}
DEVICE=${DEVICE:-cuda}
A_MIN=${A_MIN:-3.3}; B_MIN=${B_MIN:-2.7}; EXTRA=${EXTRA:-}
nvidia-smi --query-gpu=name,memory.total --format=csv 2>/dev/null
python3 -c "import torch, transformers; print('torch', torch.__version__, 'transformers', transformers.__version__, torch.cuda.is_available())"
common="--examples $EXAMPLES --device $DEVICE --bf16 --freeze-word-embeddings --checkpoint-every 100000 --threads 8 $EXTRA"
python3 -m qa_bot.training.train_reader $common --init-from qa_bot/models/reader --out /tmp/work/six \
  --batch-size 64 --learning-rate 4e-5 --epochs 2 --shuffle-seed 97 --max-minutes $A_MIN \
  --checkpoint-dir /tmp/work/ck6 2>&1 | tee /tmp/work/logs/six.log
python3 -m qa_bot.training.train_reader $common --init-from /tmp/work/six --teacher /tmp/work/six --keep-layers 0,1,2,3,5 \
  --out /tmp/work/five --batch-size 64 --learning-rate 6e-5 --epochs 2 --shuffle-seed 101 --max-minutes $B_MIN \
  --checkpoint-dir /tmp/work/ck5 2>&1 | tee /tmp/work/logs/five.log
for m in six five; do [ -f /tmp/work/$m/model.safetensors ] && python3 -m qa_bot.training.travel strip /tmp/work/$m; done
tar -C /tmp/work -cf - six five logs | split -b 15M -d - "$OUT/pack.tar.part"
ls -la "$OUT"
