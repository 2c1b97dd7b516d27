#!/usr/bin/env bash
# The recipe ablation on the real data: the handout recipe, each option of conf/recipe/ alone
# and all together (= experiment=best), for both variants and three seeds, each a complete
# experiment (prepare, pretrain, finetune from scratch and from pretraining, evaluate). Hydra
# writes one comparison table (mean and std per setting, variant and init) into the sweep
# directory. 36 experiments of 650 pretraining epochs: meant for a GPU.
#
#   bash benchmarks/ablation.sh trainer=gpu [MORE HYDRA OVERRIDES]
#   a dry run of the wiring (12 tiny jobs, about a minute on a 2-core CPU):
#   SEEDS=0 bash benchmarks/ablation.sh data=tiny \
#       model.n_layer=2 model.n_head=2 model.n_embd=32 model.bottleneck_dim=16 \
#       pretrain.epochs=1 finetune.epochs_pretrained=1 finetune.epochs_scratch=1 \
#       'analysis.complexity.lengths=[64,128]' analysis.complexity.fit_points=2 \
#       analysis.attention.trials=20 analysis.attention.draws=100 \
#       analysis.hallucination.strangers=20 analysis.hallucination.permutations=100
set -euo pipefail
cd "$(dirname "$0")/.."
python=${PYTHON:-.venv/bin/python}
[ -x "$python" ] || python=python
start=$(date +%s)
"$python" -m pipeline.experiment -m experiment=handout \
    +recipe=reference,window,questions,rotary,latents,all \
    model=vanilla,perceiver seed="${SEEDS:-0,1,2}" "$@"
echo "ablation finished in $(( $(date +%s) - start )) s"
