"""The whole chain for one configuration, as a Hydra application.

    python -m pipeline.experiment model=perceiver
    python -m pipeline.experiment -m model=vanilla,perceiver,chunked seed=0,1,2

Each job prepares the data, trains the configured `model` variant from scratch and from
pretraining, evaluates both, runs the analyses, and writes its report into its own output
directory. Each stage logs its own W&B run, as under `dvc repro`, grouped by the job's setting.
After a multirun, `CompareRuns` (conf/config.yaml's hydra callbacks) writes a comparison of all
jobs into the sweep directory, listing the jobs that failed.
"""

from __future__ import annotations

import os
import sys
import traceback
from importlib import import_module
from pathlib import Path

import hydra
from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from omegaconf import DictConfig, OmegaConf

from knowledge_probe.io import write_json
from knowledge_probe.reporting import FAILURE_FILE
from knowledge_probe.training import TrainingInterrupted
from pipeline.cli import EXPECTED, debugging, fail, run_command
from pipeline.params import validate
from pipeline.records import RunContext, setting_label
from pipeline.stages import jobs, stage_view
from pipeline.tracked import quiet_libraries


def run_chain(cfg: DictConfig, output_dir: Path, context: RunContext) -> list[dict]:
    """Run every stage for `cfg.model.variant`, in the stage table's order, writing under
    `output_dir`; return the summary rows. Each stage sees its view of the configuration and
    logs its own W&B run."""
    cfg = cfg.copy()
    OmegaConf.set_struct(cfg, False)
    for key in cfg.paths:
        cfg.paths[key] = str(output_dir / Path(cfg.paths[key]).name)
    context = RunContext(cfg, context.setting, context.job)
    quiet_libraries()
    result = None
    for stage, arguments in jobs((cfg.model.variant,)):
        view = stage_view(cfg, stage, arguments.get("variant"))
        result = import_module(f"pipeline.{stage}").run(view, context, **arguments)
    return result  # the last stage, the report, returns the summary rows


@hydra.main(version_base=None, config_path="../conf", config_name="config")
def main(cfg: DictConfig) -> float:
    hydra_cfg = HydraConfig.get()
    sweeping = hydra_cfg.mode == RunMode.MULTIRUN
    context = RunContext(
        cfg,
        setting_label(cfg.experiment_name, hydra_cfg.overrides.task),
        hydra_cfg.job.num if sweeping else None,
    )
    output_dir = Path(hydra_cfg.runtime.output_dir)
    rows: list[dict] = []

    def chain() -> None:
        rows.extend(run_chain(validate(cfg, "configuration"), output_dir, context))

    if not sweeping:
        run_command("experiment", chain)  # the same endings as every other command
    else:
        try:
            chain()
        except TrainingInterrupted as err:  # the state is saved; the sweep stops here
            fail("experiment", err, 128 + err.signum)
        except (Exception, SystemExit) as err:
            if isinstance(err, SystemExit) and not err.code:
                raise
            # one failed job must not cost the sweep the jobs that finished: record it, go on
            expected = isinstance(err, (*EXPECTED, SystemExit))
            if isinstance(err, SystemExit):
                error = str(err.code)
            else:
                error = str(err) if expected else f"{type(err).__name__}: {err}"
            write_json(
                output_dir / FAILURE_FILE,
                {"overrides": list(hydra_cfg.overrides.task), "error": error},
            )
            if not expected or debugging():  # a bug: show where
                traceback.print_exc()
            print(f"job {context.job} failed ({error}); the sweep goes on", file=sys.stderr)
            return float("nan")
    pretrained = [r for r in rows if r["init"] == "pretrained"]
    return pretrained[0]["accuracy"] if pretrained else 0.0  # the objective for Optuna sweeps


if __name__ == "__main__":
    # Hydra's own errors (an override that does not fit the schema) reach run_command, which
    # ends them in one line and exit code 2 like every other configuration error
    os.environ.setdefault("HYDRA_FULL_ERROR", "1")
    run_command("experiment", main)
