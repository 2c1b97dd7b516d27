"""The whole chain for one configuration, as a Hydra application.

    python -m pipeline.experiment model=perceiver
    python -m pipeline.experiment -m model=vanilla,perceiver seed=0,1,2

Each job prepares the data, trains the configured `model` variant from scratch and from
pretraining, evaluates both, runs the analyses, and writes its report into its own output
directory, logging to one W&B run that is finished before the next job starts. After a multirun, `CompareRuns`
(conf/hydra/callbacks) writes a comparison of all jobs into the sweep directory.
"""

from __future__ import annotations

from pathlib import Path

import hydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, OmegaConf

from pipeline import (
    analyze_attention,
    analyze_complexity,
    analyze_hallucination,
    baseline,
    evaluate,
    finetune,
    prepare,
    pretrain,
    report,
)
from pipeline.common import INITS, quiet_libraries, start_stage_tracker, validate


def run_chain(cfg: DictConfig, output_dir: Path) -> dict:
    """Run every stage for `cfg.model.variant`, writing under `output_dir`; return the summary rows."""
    cfg = cfg.copy()
    OmegaConf.set_struct(cfg, False)
    for key in ("prepared", "models", "metrics", "predictions", "plots", "reports", "checkpoints"):
        cfg.paths[key] = str(output_dir / Path(cfg.paths[key]).name)
    variant = cfg.model.variant
    quiet_libraries()
    tracker = start_stage_tracker(
        cfg, "experiment", f"{cfg.experiment_name}-{variant}-seed{cfg.seed}"
    )
    try:
        prepare.run(cfg, tracker)
        baseline.run(cfg, tracker)
        pretrain.run(cfg, variant, tracker)
        for init in INITS:
            finetune.run(cfg, variant, init, tracker)
            evaluate.run(cfg, variant, init, tracker)
        analyze_attention.run(cfg, tracker)
        analyze_complexity.run(cfg, tracker)
        analyze_hallucination.run(cfg, tracker)
        rows = report.run(cfg, tracker)
    except BaseException:
        tracker.finish(exit_code=1)
        raise
    tracker.finish()
    return {"rows": rows}


@hydra.main(version_base=None, config_path="../conf", config_name="config")
def main(cfg: DictConfig) -> float:
    OmegaConf.resolve(cfg)
    validate(cfg, "configuration")
    result = run_chain(cfg, Path(HydraConfig.get().runtime.output_dir))
    pretrained = [r for r in result["rows"] if r["init"] == "pretrained"]
    return pretrained[0]["accuracy"] if pretrained else 0.0  # the objective for Optuna sweeps


if __name__ == "__main__":
    main()
