"""The stage table: the stages in the order they run, and which config keys each reads.
dvc.yaml is written from it (`make dvc.yaml`), pipeline.experiment and benchmarks/gpu_check.sh
run its stages in its order (`python -m pipeline.stages` prints them), and each stage sees only
the keys it declares.

A stage that reads a key it does not declare therefore fails at once instead of leaving DVC's
cache stale. Three sections are visible to every stage and declared by none, because they never
change a result: where files go (`paths`), tracking (`logger`) and the resume cadence (`resume`).
"""

from __future__ import annotations

from dataclasses import fields

from omegaconf import DictConfig, OmegaConf

from knowledge_probe.models.gpt import READ_BY, VARIANTS, GPTConfig
from pipeline.cli import ConfigError

INITS = ("scratch", "pretrained")
UNTRACKED = ("paths", "logger", "resume")
# GPTConfig fields that do not come from `model.*`: the data (vocab_size), the stage (variant)
# and the `attention` switch (fused_attention)
NOT_FROM_MODEL_SECTION = ("vocab_size", "variant", "fused_attention")

# Keys read by each stage besides its model's keys, in the order the stages run. `None`: the
# whole configuration (the report shows it).
PARAMS: dict[str, tuple[str, ...] | None] = {
    "prepare": ("data", "model.block_size"),
    "baseline": (),
    "pretrain": (
        "seed",
        "attention",
        "dropout",
        "corruption",
        "packing",
        "compile",
        "pretrain",
        "trainer",
    ),
    "finetune": ("seed", "attention", "dropout", "packing", "compile", "finetune", "trainer"),
    "evaluate": ("attention", "decode", "evaluate", "trainer.accelerator", "trainer.precision"),
    "analyze_attention": ("seed", "analysis.attention"),
    "analyze_complexity": (
        "variants",
        "seed",
        "attention",
        "trainer.accelerator",
        "trainer.precision",
        "analysis.complexity",
        "analysis.threads",
    ),
    "analyze_hallucination": (
        "seed",
        "attention",
        "decode",
        "evaluate",
        "trainer.accelerator",
        "trainer.precision",
        "analysis.hallucination",
        "analysis.threads",
        "pretrain.window",
    ),
    "report": None,
}
# stages that run once per variant (and init), with `--variant` (and `--init`): each builds its
# variant's model
PER: dict[str, tuple[str, ...]] = {
    "pretrain": ("variant",),
    "finetune": ("variant", "init"),
    "evaluate": ("variant", "init"),
}
ONE_MODEL = tuple(PER)
# stages that build the models of several variants: the complexity stage measures those that
# `variants` names, the hallucination stage asks whichever finetuned models there are (a single
# run may train any body)
EVERY_MODEL = ("analyze_complexity", "analyze_hallucination")


def foreach_key(variant: str, init: str | None = None) -> str:
    """The key of a per-model stage's item in dvc.yaml's `foreach` table."""
    return f"{variant}-{init}" if init else variant


def dvc_stage(stage: str, variant: str | None = None, init: str | None = None) -> str:
    """The stage's name in dvc.yaml and dvc.lock (`pretrain@vanilla`, `finetune@vanilla-scratch`)."""
    return f"{stage}@{foreach_key(variant, init)}" if variant else stage


def jobs(variants: tuple[str, ...]) -> list[tuple[str, dict[str, str]]]:
    """Every run of a stage, in order: (stage, its `--variant` / `--init` arguments)."""
    out = []
    for stage in PARAMS:
        runs = [{}]
        if "variant" in PER.get(stage, ()):
            runs = [{"variant": v} for v in variants]
        if "init" in PER.get(stage, ()):
            runs = [run | {"init": i} for run in runs for i in INITS]
        out += [(stage, run) for run in runs]
    return out


def command(stage: str, arguments: dict[str, str]) -> str:
    """The command line of one run of `stage`."""
    return " ".join([f"python -m pipeline.{stage}", *(f"--{k} {v}" for k, v in arguments.items())])


def model_fields(variant: str) -> tuple[str, ...]:
    """The `model.*` keys that a `variant` model is built from."""
    names = [f.name for f in fields(GPTConfig) if f.name not in NOT_FROM_MODEL_SECTION]
    names = [n for n in names if variant in READ_BY.get(n, (variant,))]
    return tuple(names)


def variant_only_slots() -> dict[str, dict[str, str]]:
    """Per variant, the `model.*` keys only it reads, as fields only0, only1, ... of the same
    number for every variant (dvc.yaml cannot splice a list into a stage's params).

    The first variant's keys are read by every variant (the vanilla model's fields are a subset
    of the others'), so a stage lists them once, and a variant with fewer keys of its own repeats
    one of those.
    """
    shared = declared("pretrain", VARIANTS[0])
    own = {v: [k for k in declared("pretrain", v) if k not in shared] for v in VARIANTS}
    assert all(set(shared) <= set(declared("pretrain", v)) for v in VARIANTS)
    width = max(len(keys) for keys in own.values())
    filler = next(k for k in shared if k.startswith("model."))
    return {
        v: {f"only{i}": keys[i] if i < len(keys) else filler for i in range(width)}
        for v, keys in own.items()
    }


def dvc_items(variants) -> dict[str, dict]:
    """The items of dvc.yaml's `foreach` stages for `variants`: `models` (one per variant, for
    pretraining) and `runs` (one per variant and init, for finetuning and evaluation). The
    configuration derives them from its `variants` (key `dvc_items`), so DVC trains those."""
    slots = variant_only_slots()
    models = {v: {"variant": v, **slots[v]} for v in variants}
    runs = {
        foreach_key(v, i): {
            "variant": v,
            "init": i,
            # a scratch run does not depend on pretraining: its start is the stage script
            "start": f"models/{v}/pretrain.ckpt" if i == "pretrained" else "pipeline/finetune.py",
            **slots[v],
        }
        for v in variants
        for i in INITS
    }
    return {"models": models, "runs": runs}


def declared(stage: str, variant: str | None = None) -> tuple[str, ...] | None:
    """Every config key `stage` reads (for `variant`, where the stage is one per variant)."""
    keys = PARAMS[stage]
    if keys is None:
        return None
    if stage in ONE_MODEL:
        keys += tuple(f"model.{name}" for name in model_fields(variant))
    elif stage in EVERY_MODEL:
        union = dict.fromkeys(name for v in VARIANTS for name in model_fields(v))
        keys += tuple(f"model.{name}" for name in union)
    return keys


def stage_view(cfg: DictConfig, stage: str, variant: str | None = None) -> DictConfig:
    """A read-only copy of `cfg` holding only what `stage` declares, plus the untracked sections."""
    keys = declared(stage, variant)
    if keys is None:
        view = cfg.copy()
    else:
        view = OmegaConf.create({})
        for key in (*keys, *UNTRACKED):
            value = OmegaConf.select(cfg, key, throw_on_missing=True, default=KeyError)
            if value is KeyError:
                raise ConfigError(
                    f"the configuration has no {key!r}, which stage {stage} reads; "
                    "recompose params.yaml with `make params`"
                )
            OmegaConf.update(view, key, value, force_add=True)
    OmegaConf.set_struct(view, True)
    OmegaConf.set_readonly(view, True)
    return view


if __name__ == "__main__":  # every run of a stage in order, one per line: STAGE [--variant V ...]
    from pipeline.params import load_params  # the variants params.yaml (or $KP_PARAMS) names

    for stage, arguments in jobs(tuple(load_params().variants)):
        print(command(stage, arguments).removeprefix("python -m pipeline."))
