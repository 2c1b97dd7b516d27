#!/usr/bin/env bash
# The complete handout reproduction on the real data on one GPU: every stage of the pipeline
# (pipeline/stages.py) in its order, with both 650-epoch pretrainings side by side on the card.
# Prints wall time per stage, tokens per second and dev accuracies.
#
#   bash benchmarks/gpu_check.sh [OUTPUT_DIR] [EXTRA HYDRA OVERRIDES...]
#   e.g. bash benchmarks/gpu_check.sh /tmp/check trainer=cpu experiment=smoke   (a dry run on a CPU)
set -euo pipefail
cd "$(dirname "$0")/.."
out=$(realpath -m "${1:-gpu_check}")
shift || true
mkdir -p "$out"
python tools/compose_params.py --output "$out/params.yaml" experiment=handout trainer=gpu "logger.dir=$out" \
  "paths.checkpoints=$out/checkpoints" "paths.prepared=$out/prepared" "paths.models=$out/models" "paths.metrics=$out/metrics" \
  "paths.predictions=$out/predictions" "paths.plots=$out/plots" "paths.reports=$out/reports" "$@"
export KP_PARAMS="$out/params.yaml" PYTHONUNBUFFERED=1
start=$(date +%s%N)
stage() {  # run one stage, print its wall time
  local t0; t0=$(date +%s%N)
  python -m "pipeline.$1" "${@:2}" 2>>"$out/stderr.log" | grep -E "^\[" || { echo "stage $* failed (see $out/stderr.log)"; return 1; }
  printf '  %-40s %6d ms wall\n' "$*" "$(( ($(date +%s%N) - t0) / 1000000 ))"
}
mapfile -t runs < <(python -m pipeline.stages)  # every stage run, in the pipeline's order
pretraining=""
for run in "${runs[@]}"; do
  read -r name args <<< "$run"
  if [ "$name" = pretrain ]; then  # the pretrainings of both variants share the card
    stage $run > "$out/pretrain-${args##* }.log" &
    pretraining=yes
    continue
  fi
  if [ -n "$pretraining" ]; then wait; cat "$out"/pretrain-*.log; pretraining=""; fi
  stage $run
done
cat "$out/reports/summary.md"
printf 'total wall time: %d s\n' "$(( ($(date +%s%N) - start) / 1000000000 ))"
nvidia-smi --query-gpu=name,memory.used --format=csv,noheader 2>/dev/null || true
