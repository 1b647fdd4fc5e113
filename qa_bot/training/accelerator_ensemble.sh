#!/bin/bash
# One accelerator call (the stage-8 trial, not shipped: see the model card): two more teachers, then two 5-layer
# students distilled from an ensemble of four: the stage-7 teacher (carried as int8 rows: with the repository it must
# fit in 64 MiB), the shipped stage-7 reader and the two new ones. Carry gpu/: train.jsonl.xz (train_reader
# --write-examples) and six/ (travel strip --int8 of the stage-7 teacher, tokenizer files left out). Students come
# back without their word embeddings, new teachers as int8 rows, in $OUT/pack.tar.part*: travel restore.
set -uo pipefail
export PYTHONUNBUFFERED=1 TOKENIZERS_PARALLELISM=true
OUT=${OUT:-/tmp/out}; WORK=${WORK:-/tmp/work}; mkdir -p "$OUT" "$WORK/logs"
EXAMPLES=${EXAMPLES:-gpu/train.jsonl.xz}
DEVICE=${DEVICE:-cuda}; SHIPPED=qa_bot/models/reader
T_MIN=${T_MIN:-2.8}; S_MIN=${S_MIN:-3.0}; EXTRA=${EXTRA:-}
nvidia-smi --query-gpu=name,memory.total --format=csv 2>/dev/null
python3 -c "import torch, transformers; print('torch', torch.__version__, 'transformers', transformers.__version__, torch.cuda.is_available())"
python3 -m qa_bot.training.travel restore gpu/six --init $SHIPPED --out "$WORK/six" && cp $SHIPPED/tokenizer*.json "$WORK/six/" || exit 1
common="--examples $EXAMPLES --device $DEVICE --bf16 --freeze-word-embeddings --batch-size 64 --threads 4 --checkpoint-every 100000"
train() {  # name, then its own flags; two runs share the chip at a time
  local name=$1; shift
  python3 -m qa_bot.training.train_reader $common --out "$WORK/$name" --checkpoint-dir "$WORK/ck-$name" "$@" $EXTRA \
    > "$WORK/logs/$name.log" 2>&1
  echo "$name: exit $? $(grep -c 'step ' "$WORK/logs/$name.log") log lines; $(tail -n 1 "$WORK/logs/$name.log")"
}
train teacher-b --init-from $SHIPPED --learning-rate 3e-5 --epochs 2 --seed 23 --shuffle-seed 211 --max-minutes $T_MIN &
train teacher-c --init-from "$WORK/six" --learning-rate 3e-5 --epochs 2 --seed 29 --shuffle-seed 223 --max-minutes $T_MIN &
wait
teachers="$WORK/six,$SHIPPED,$WORK/teacher-b,$WORK/teacher-c"
train student-a --init-from $SHIPPED --teacher "$teachers" --learning-rate 3e-5 --epochs 2 --seed 31 --shuffle-seed 227 \
  --max-minutes $S_MIN &
train student-b --init-from $SHIPPED --teacher "$teachers" --learning-rate 5e-5 --distill-weight 0.7 --epochs 2 --seed 37 \
  --shuffle-seed 229 --max-minutes $S_MIN &
wait
for m in student-a student-b; do [ -f "$WORK/$m/model.safetensors" ] && python3 -m qa_bot.training.travel strip "$WORK/$m"; done
for m in teacher-b teacher-c; do [ -f "$WORK/$m/model.safetensors" ] && python3 -m qa_bot.training.travel strip "$WORK/$m" --int8; done
tar -C "$WORK" --exclude='tokenizer*' -cf - student-a student-b teacher-b teacher-c logs | split -b 15M -d - "$OUT/pack.tar.part"
ls -la "$OUT"
