"""Write dvc.yaml from the stage table (pipeline/stages.py) and the stages' imports.

    python tools/write_dvc_yaml.py            # rewrite dvc.yaml
    python tools/write_dvc_yaml.py --check    # exit 1 if dvc.yaml is not what this writes

Each stage's params are the keys it reads (pipeline/stages.py); its code deps are every module of
`pipeline` it imports, directly or not, and every package of `knowledge_probe` those import. The
schema (pipeline/schema.py) is a dep whose own imports are not followed: it imports the whole
library to read defaults and check settings, which reach a stage as params, not as code it runs.
"""

from __future__ import annotations

import argparse
import ast
import sys
from functools import cache
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from knowledge_probe.models.gpt import VARIANTS  # noqa: E402
from pipeline.stages import (  # noqa: E402
    EVERY_MODEL,
    INITS,
    PARAMS,
    PER,
    command,
    declared,
    variant_only_slots,
)

HEADER = """\
# Written by `make dvc.yaml` (tools/write_dvc_yaml.py) from pipeline/stages.py, which says which
# config keys each stage reads; a test checks that this file is current. Do not edit by hand.
# The per-model stages run over params.yaml's `dvc_items`, which the configuration derives from
# its `variants`; an item's `only*` fields are the model keys that only its variant reads (the
# vanilla items repeat a shared key there, since DVC cannot splice a list into params).
"""
NOT_CACHED = {"cache": False}
# project files that are deps but whose imports are not followed (see above)
LEAVES = {REPO / "pipeline" / "schema.py"}


def module_file(name: str) -> Path | None:
    """The source file of a `pipeline` or `knowledge_probe` module, or None for other modules."""
    root = REPO if name.split(".")[0] == "pipeline" else REPO / "src"
    if name.split(".")[0] not in ("pipeline", "knowledge_probe"):
        return None
    base = root.joinpath(*name.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


@cache
def imports(path: Path) -> frozenset[Path]:
    """The project modules that `path` imports directly (with their parent packages)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names = [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
        else:
            continue
        for name in names:
            parts = name.split(".")
            for end in range(1, len(parts) + 1):  # importing a.b.c runs a and a.b first
                file = module_file(".".join(parts[:end]))
                if file is not None:
                    found.add(file)
    return frozenset(found - {path})


def code_deps(module: str) -> list[str]:
    """Every project file a stage module runs: pipeline modules, and knowledge_probe packages."""
    seen, todo = set(), [module_file(module)]
    while todo:
        path = todo.pop()
        if path not in seen:
            seen.add(path)
            if path not in LEAVES:
                todo.extend(imports(path))
    deps = set()
    for path in seen:
        relative = path.relative_to(REPO)
        if relative.parts[0] == "pipeline":
            if relative.name != "__init__.py":
                deps.add(relative.as_posix())
        elif len(relative.parts) > 3:  # src/knowledge_probe/PACKAGE/...: the whole package
            deps.add(Path(*relative.parts[:3]).as_posix())
        elif relative.name != "__init__.py":
            deps.add(relative.as_posix())
    return sorted(deps)


def params_of(stage: str) -> list[str]:
    return list(declared(stage))


def model_stage(stage: str, items: str, deps: list[str], outs: dict) -> dict:
    """A foreach stage over the `items` of params.yaml's `dvc_items` (see `dvc_items`), whose
    params are shared keys plus each item's `only*` keys."""
    slots = [f"${{item.{s}}}" for s in variant_only_slots()[VARIANTS[0]]]
    return {
        "foreach": f"${{dvc_items.{items}}}",
        "do": {
            "cmd": command(stage, {a: f"${{item.{a}}}" for a in PER[stage]}),
            "deps": code_deps(f"pipeline.{stage}") + deps,
            "params": list(declared(stage, VARIANTS[0])) + slots,
            **outs,
        },
    }


def pipeline() -> dict:
    stages = {
        "prepare": {
            "cmd": command("prepare", {}),
            "deps": code_deps("pipeline.prepare"),
            "params": params_of("prepare"),
            "outs": ["data/prepared"],
            "metrics": [{"metrics/data.json": NOT_CACHED}],
        },
        "baseline": {
            "cmd": command("baseline", {}),
            "deps": code_deps("pipeline.baseline") + ["data/prepared"],
            "metrics": [{"metrics/baseline.json": NOT_CACHED}],
        },
        "pretrain": model_stage(
            "pretrain",
            "models",
            ["data/prepared"],
            {
                "outs": ["models/${key}/pretrain.ckpt"],
                "metrics": [{"metrics/pretrain/${key}.json": NOT_CACHED}],
                "plots": [
                    {"plots/pretrain/${key}.csv": {"cache": False, "x": "step", "y": "loss"}}
                ],
            },
        ),
        "finetune": model_stage(
            "finetune",
            "runs",
            ["data/prepared", "${item.start}"],
            {
                "outs": ["models/${item.variant}/${item.init}/finetune.ckpt"],
                "metrics": [{"metrics/finetune/${key}.json": NOT_CACHED}],
                "plots": [
                    {"plots/finetune/${key}.csv": {"cache": False, "x": "step", "y": "loss"}}
                ],
            },
        ),
        "evaluate": model_stage(
            "evaluate",
            "runs",
            ["data/prepared", "models/${item.variant}/${item.init}/finetune.ckpt"],
            {
                "outs": [
                    {"predictions/${key}.dev.tsv": NOT_CACHED},
                    {"predictions/${key}.test.tsv": NOT_CACHED},
                ],
                "metrics": [{"metrics/eval/${key}.json": NOT_CACHED}],
            },
        ),
        "analyze_attention": {
            "cmd": command("analyze_attention", {}),
            "deps": code_deps("pipeline.analyze_attention"),
            "params": params_of("analyze_attention"),
            "metrics": [{"metrics/analysis/attention.json": NOT_CACHED}],
            "outs": [{"metrics/analysis/details/attention.json": NOT_CACHED}],
            "plots": [
                {f"plots/analysis/attention_{name}.png": NOT_CACHED}
                for name in ("copying", "averaging", "noisy_keys", "two_heads")
            ],
        },
        "analyze_complexity": {
            "cmd": command("analyze_complexity", {}),
            "deps": code_deps("pipeline.analyze_complexity"),
            "params": params_of("analyze_complexity"),
            "metrics": [{"metrics/analysis/complexity.json": NOT_CACHED}],
            "outs": [{"metrics/analysis/details/complexity.json": NOT_CACHED}],
            "plots": [
                {"plots/analysis/complexity.csv": {"cache": False, "x": "length", "y": "seconds"}},
                {"plots/analysis/complexity.png": NOT_CACHED},
            ],
        },
        "analyze_hallucination": {
            "cmd": command("analyze_hallucination", {}),
            "deps": code_deps("pipeline.analyze_hallucination")
            # whichever variants the configuration trains: every finetuned model, every answer
            + ["data/prepared", "models", "predictions"],
            "params": params_of("analyze_hallucination"),
            "metrics": [{"metrics/analysis/hallucination.json": NOT_CACHED}],
            "outs": [
                {"metrics/analysis/details/hallucination.json": NOT_CACHED},
                {"metrics/analysis/strangers": NOT_CACHED},
            ],
            "plots": [
                {"plots/analysis/hallucination_places.png": NOT_CACHED},
                {"plots/analysis/hallucination_origin.png": NOT_CACHED},
            ],
        },
        "report": {
            "cmd": command("report", {}),
            # the whole configuration is shown, so the whole params.yaml is a dependency
            "deps": code_deps("pipeline.report")
            + ["params.yaml", "metrics/baseline.json", "metrics/data.json"]
            + [f"metrics/{d}" for d in ("pretrain", "finetune", "eval", "analysis")]
            + ["plots"],
            "outs": [{"reports": NOT_CACHED}],
        },
    }
    assert set(stages) == set(PARAMS) and PARAMS["report"] is None
    assert set(PER) | set(EVERY_MODEL) <= set(stages)
    stages = {name: stages[name] for name in PARAMS}  # in the order they run
    plots = [
        {
            "pretrain_loss": {
                "template": "linear",
                "x": "step",
                "y": {f"plots/pretrain/{v}.csv": "loss" for v in VARIANTS},
            }
        },
        {
            "finetune_loss": {
                "template": "linear",
                "x": "step",
                "y": {f"plots/finetune/{v}-{i}.csv": "loss" for v in VARIANTS for i in INITS},
            }
        },
    ]
    return {"stages": stages, "plots": plots}


class _NoAliases(yaml.SafeDumper):
    """Write repeated values out in full: anchors would make the file harder to read."""

    def ignore_aliases(self, data) -> bool:
        return True


def render() -> str:
    return HEADER + yaml.dump(pipeline(), Dumper=_NoAliases, sort_keys=False, width=100)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--check", action="store_true", help="only check that dvc.yaml is current")
    target = REPO / "dvc.yaml"
    if parser.parse_args().check:
        if target.read_text(encoding="utf-8") != render():
            sys.exit("dvc.yaml is out of date: run `make dvc.yaml`")
        return
    target.write_text(render(), encoding="utf-8")


if __name__ == "__main__":
    main()
