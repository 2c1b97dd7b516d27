"""Stage `analyze_complexity`: time, memory and FLOPs of the variants against sequence length."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import torch

from knowledge_probe.analysis.complexity import (
    ComplexitySpec,
    attention_path,
    measure,
    measured_config,
    summarise,
)
from knowledge_probe.analysis.figures import complexity_figure
from knowledge_probe.io import write_json, write_text
from pipeline.cli import ConfigError
from pipeline.command import run_stage_command
from pipeline.configs import model_config
from pipeline.runtime import configure_precision, seed_all
from pipeline.tracked import tracked_stage

# The benchmark's token ids are random: any vocabulary of the corpus's order of size will do, and
# the stage then needs no prepared data.
VOCAB_SIZE = 100


def spec_from(cfg) -> ComplexitySpec:
    """The benchmark's settings; impossible ones are a ConfigError naming the section."""
    section = cfg.analysis.complexity
    try:
        return ComplexitySpec(
            lengths=tuple(section.lengths),
            repeats=section.repeats,
            batch_size=section.batch_size,
            fit_points=section.fit_points,
            threads=cfg.analysis.threads,
            seed=int(cfg.seed),
        )
    except (TypeError, ValueError) as err:
        raise ConfigError(f"analysis.complexity: {err}") from None


def to_csv(rows: list[dict]) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(rows[0]), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue()


def run(cfg, context) -> dict:
    metrics_dir = Path(cfg.paths.metrics) / "analysis"
    with tracked_stage(cfg, context, "analyze_complexity") as (tracker, summary):
        seed_all(int(cfg.seed))
        configure_precision(cfg)
        spec = spec_from(cfg)
        device = "cuda" if torch.cuda.is_available() and cfg.trainer.accelerator == "gpu" else "cpu"
        rows, paths = [], {}
        # the reference's two always (the seed's claim is about them), and any other variant
        for variant in dict.fromkeys(("vanilla", "perceiver", *cfg.variants)):
            config = model_config(cfg, variant, VOCAB_SIZE)
            paths[variant] = attention_path(measured_config(config, spec), torch.device(device))
            rows += measure(config, spec, device)
        result = summarise(rows, spec, model_config(cfg, "vanilla", VOCAB_SIZE))
        result |= {"device": device, "threads": spec.threads, "attention_path": paths}
        write_json(
            metrics_dir / "complexity.json",
            {
                "passed": result["verdict"]["passed"],
                "exponents": result["exponents"],
                "crossover": result["crossover"],
                "analytic_crossover": result["analytic_crossover"],
                "flops_vs_analytic_max_gap": result["flops_vs_analytic_max_gap"],
            },
        )
        write_json(metrics_dir / "details" / "complexity.json", result | {"rows": rows})
        write_text(Path(cfg.paths.plots) / "analysis" / "complexity.csv", to_csv(rows))
        figure = complexity_figure(rows, Path(cfg.paths.plots) / "analysis" / "complexity.png")
        tracker.log_table(
            "analysis/complexity/exponents",
            ["variant", "quantity", "exponent"],
            [[v, q, e] for v, qs in result["exponents"].items() for q, e in qs.items()],
        )
        tracker.log_images("analysis/complexity", [figure])
        ex = result["exponents"]
        summary.update(
            flops=f"L^{ex['vanilla']['flops']:.2f} vs L^{ex['perceiver']['flops']:.2f}",
            seconds=f"L^{ex['vanilla']['seconds']:.2f} vs L^{ex['perceiver']['seconds']:.2f}",
            wrote=f"{metrics_dir}/complexity.json",
        )
    return result


def main() -> None:
    run_stage_command("analyze_complexity", __doc__, run)


if __name__ == "__main__":
    main()
