"""Stage `evaluate@VARIANT-INIT`: greedy answers for dev (scored) and test (no gold)."""

from __future__ import annotations

import time
from pathlib import Path

import torch

from knowledge_probe.evaluation import ExactMatch, predict, write_predictions
from knowledge_probe.io import write_json
from knowledge_probe.training import load_model
from pipeline.command import run_stage_command
from pipeline.configs import model_config
from pipeline.prepared import read_prepared
from pipeline.runtime import configure_precision
from pipeline.tracked import tracked_stage


def run(cfg, context, variant: str, init: str) -> dict:
    name = f"{variant}-{init}"
    with tracked_stage(cfg, context, "evaluate", variant, init) as (tracker, summary):
        configure_precision(cfg)
        data = read_prepared(cfg)
        source = Path(cfg.paths.models) / variant / init / "finetune.ckpt"
        model, _ = load_model(
            source,
            config=model_config(cfg, variant, len(data.vocab)),
            vocab_fingerprint=data.vocab.fingerprint,
        )
        tracker.use_artifact(f"{name}-finetune", "model", source)
        model.to(
            "cuda" if torch.cuda.is_available() and cfg.trainer.accelerator == "gpu" else "cpu"
        )
        options = dict(
            batch_size=cfg.evaluate.batch_size,
            max_new=cfg.evaluate.max_new,
            plain=cfg.decode == "plain",
        )
        start = time.perf_counter()
        dev_answers = predict(model, data.vocab, data.dev, **options)
        decode_seconds = time.perf_counter() - start
        test_answers = predict(model, data.vocab, data.test, **options)
        metric = ExactMatch()
        metric.update(dev_answers, [q.place for q in data.dev])
        result = {k: v.item() for k, v in metric.compute().items()} | {
            "decode_seconds": round(decode_seconds, 3)
        }
        write_json(Path(cfg.paths.metrics) / "eval" / f"{name}.json", result)
        out = Path(cfg.paths.predictions)
        write_predictions(out / f"{name}.dev.tsv", data.dev, dev_answers)
        write_predictions(out / f"{name}.test.tsv", data.test, test_answers)
        tracker.summary({f"dev/{k}": v for k, v in result.items()} | {"test/total": len(data.test)})
        tracker.log_table(
            "dev/predictions",
            ["name", "gold", "prediction", "correct"],
            [
                [q.name, q.place, a, a == q.place]
                for q, a in zip(data.dev, dev_answers, strict=True)
            ],
        )
        tracker.log_table(
            "test/predictions",
            ["name", "prediction"],
            [[q.name, a] for q, a in zip(data.test, test_answers, strict=True)],
        )
        tracker.log_artifact(
            out / f"{name}.dev.tsv", f"{name}-predictions", "predictions", metadata=result
        )
        summary.update(
            read=str(source),
            wrote=f"{out}/{name}.{{dev,test}}.tsv",
            dev=f"{result['correct']}/{result['total']} = {result['accuracy']:.1%}",
            decode=f"{decode_seconds:.1f}s",
        )
    return result


def main() -> None:
    run_stage_command("evaluate", __doc__, run)


if __name__ == "__main__":
    main()
