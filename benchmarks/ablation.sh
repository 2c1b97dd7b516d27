#!/usr/bin/env bash
# The recipe ablation on the real data: the handout recipe, each option of conf/recipe/ alone
# and all together (= experiment=best), for both variants and three seeds, each a complete
# experiment (prepare, pretrain, finetune from scratch and from pretraining, evaluate). Hydra
# writes one comparison table (mean and std per setting, variant and init) into the sweep
# directory. 36 experiments of 650 pretraining epochs: meant for a GPU.
#
#   bash benchmarks/ablation.sh trainer=gpu [MORE HYDRA OVERRIDES]
#   SEEDS=0 bash benchmarks/ablation.sh data=synthetic experiment_name=dry pretrain.epochs=1 \
#       finetune.epochs_pretrained=1 finetune.epochs_scratch=1   # a quick dry run of the wiring
set -euo pipefail
cd "$(dirname "$0")/.."
python=${PYTHON:-.venv/bin/python}
[ -x "$python" ] || python=python
start=$(date +%s)
"$python" -m pipeline.experiment -m experiment=handout \
    +recipe=reference,window,questions,rotary,latents,all \
    model=vanilla,perceiver seed="${SEEDS:-0,1,2}" logger=none "$@"
echo "ablation finished in $(( $(date +%s) - start )) s"
