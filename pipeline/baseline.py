"""Stage `baseline`: accuracy of answering the most frequent training place for everyone."""

from __future__ import annotations

from pathlib import Path

from knowledge_probe.evaluation import ExactMatch, majority_place
from knowledge_probe.io import write_json
from pipeline.command import run_stage_command
from pipeline.prepared import read_prepared
from pipeline.tracked import tracked_stage


def run(cfg, context) -> dict:
    """Scored like a model's answers, so its run carries the same `dev/*` keys."""
    with tracked_stage(cfg, context, "baseline") as (tracker, summary):
        data = read_prepared(cfg)
        place = majority_place(data.train)
        metric = ExactMatch()
        metric.update([place] * len(data.dev), [q.place for q in data.dev])
        result = {k: v.item() for k, v in metric.compute().items()} | {"place": place}
        write_json(Path(cfg.paths.metrics) / "baseline.json", result)
        tracker.summary({f"dev/{k}": v for k, v in result.items()})
        summary.update(
            place=place, dev=f"{result['correct']}/{result['total']} = {result['accuracy']:.1%}"
        )
    return result


def main() -> None:
    run_stage_command("baseline", __doc__, run)


if __name__ == "__main__":
    main()
