"""The command line of a DVC stage: `python -m pipeline.STAGE [--variant V] [--init I]`."""

from __future__ import annotations

import argparse

from knowledge_probe.models import VARIANTS
from pipeline.cli import run_command
from pipeline.params import load_params
from pipeline.records import RunContext, params_setting
from pipeline.resume_state import remove_finished as remove_finished_resume_state
from pipeline.stages import INITS, PER, dvc_stage, stage_view


def run_stage_command(stage: str, description: str, run) -> None:
    """The command line of a DVC stage: parse `--variant` / `--init` where the stage is one per
    variant / init (pipeline/stages.py), then run it on its view of params.yaml."""
    per = PER.get(stage, ())
    parser = argparse.ArgumentParser(description=description)
    if "variant" in per:
        parser.add_argument("--variant", choices=VARIANTS, required=True)
    if "init" in per:
        parser.add_argument("--init", choices=INITS, required=True)
    args = vars(parser.parse_args())

    def main() -> None:
        cfg = load_params()
        own = dvc_stage(stage, args.get("variant"), args.get("init"))
        remove_finished_resume_state(cfg.paths.checkpoints, keep=own)
        context = RunContext(cfg, params_setting(cfg))
        run(stage_view(cfg, stage, args.get("variant")), context, **args)

    run_command(stage, main)
