"""Stage `analyze_attention`: the seed's part-1 claims about attention, checked by simulation."""

from __future__ import annotations

from pathlib import Path

from knowledge_probe.analysis.attention_exploration import AttentionSpec, explore
from knowledge_probe.analysis.figures import attention_figures
from knowledge_probe.io import write_json
from pipeline.cli import ConfigError
from pipeline.command import run_stage_command
from pipeline.tracked import tracked_stage


def spec_from(cfg) -> AttentionSpec:
    """The simulations' settings; impossible ones are a ConfigError naming the section."""
    section = cfg.analysis.attention
    fields = {
        k: tuple(section[k]) if k in ("betas", "noise_alphas") else section[k]
        for k in AttentionSpec.__dataclass_fields__
        if k in section
    }
    try:
        return AttentionSpec(**fields, seed=int(cfg.seed))
    except (TypeError, ValueError) as err:
        raise ConfigError(f"analysis.attention: {err}") from None


def headline(metrics: dict) -> dict:
    """Numbers and flags only, one level of nesting at most (what `dvc exp show` tabulates)."""
    out = {}
    for key, value in metrics.items():
        if isinstance(value, bool | int | float) or value is None:
            out[key] = value
        elif isinstance(value, dict) and key != "candidates":
            out |= {f"{key}_{k}": v for k, v in value.items() if isinstance(v, bool | int | float)}
    return out


def run(cfg, context) -> dict:
    metrics_dir = Path(cfg.paths.metrics) / "analysis"
    with tracked_stage(cfg, context, "analyze_attention") as (tracker, summary):
        spec = spec_from(cfg)
        experiments = {e.name: e for e in explore(spec)}
        metrics = {
            name: {"passed": e.verdict.passed} | headline(e.metrics)
            for name, e in experiments.items()
        }
        write_json(metrics_dir / "attention.json", metrics)
        write_json(
            metrics_dir / "details" / "attention.json",
            {
                "spec": spec.__dict__,
                "experiments": [{"name": n} | e.summary() for n, e in experiments.items()],
            },
        )
        figures = attention_figures(experiments, Path(cfg.paths.plots) / "analysis")
        tracker.summary({f"analysis/attention/{n}/passed": m["passed"] for n, m in metrics.items()})
        tracker.log_images("analysis/attention", figures)
        passed = sum(bool(e.verdict.passed) for e in experiments.values())
        summary.update(
            supported=f"{passed}/{len(experiments)} claims",
            wrote=f"{metrics_dir}/attention.json, {len(figures)} figures",
        )
    return metrics


def main() -> None:
    run_stage_command("analyze_attention", __doc__, run)


if __name__ == "__main__":
    main()
