"""Stage `pretrain@VARIANT`: span-corruption pretraining on the corpus."""

from __future__ import annotations

from pathlib import Path

from knowledge_probe.models import GPT
from knowledge_probe.training import PretrainDataModule, save_model
from pipeline.common import (
    Prepared,
    model_config,
    read_prepared,
    run_stage_command,
    tracked_stage,
)
from pipeline.training import train_and_record


def pretrain_datamodule(cfg, data: Prepared, block_size: int) -> PretrainDataModule:
    """The configured pretraining batches: span-corrupted biographies (plus questions if mixed)."""
    return PretrainDataModule(
        data.corpus,
        data.vocab,
        block_size,
        cfg.pretrain.batch_size,
        fast=bool(cfg.fast),
        shuffle=bool(cfg.pretrain.shuffle),
        num_workers=cfg.trainer.num_workers,
        window=cfg.pretrain.window,
        seed=int(cfg.seed),
        questions=data.train if cfg.pretrain.mix_questions else (),
    )


def run(cfg, variant: str, tracker=None) -> dict:
    with tracked_stage(cfg, "pretrain", f"pretrain-{variant}", tracker) as (tracker, summary):
        data = read_prepared(cfg)
        tracker.use_artifact("prepared-data", "dataset", cfg.paths.prepared)
        model = GPT(model_config(cfg, variant, len(data.vocab)))
        datamodule = pretrain_datamodule(cfg, data, model.config.block_size)
        metrics = train_and_record(
            cfg,
            cfg.pretrain,
            model,
            datamodule,
            cfg.pretrain.epochs,
            tracker,
            Path(cfg.paths.plots) / "pretrain" / f"{variant}.csv",
            Path(cfg.paths.metrics) / "pretrain" / f"{variant}.json",
            f"pretrain_{variant}",
            inputs=[
                Path(cfg.paths.prepared) / "corpus.txt",
                Path(cfg.paths.prepared) / "train.tsv",
            ],
        )
        checkpoint = Path(cfg.paths.models) / variant / "pretrain.ckpt"
        save_model(checkpoint, model, data.vocab.fingerprint, {"stage": "pretrain", **metrics})
        tracker.log_artifact(checkpoint, f"{variant}-pretrain", "model", metadata=metrics)
        summary.update(
            read=f"{len(data.corpus)} bios"
            + (f" + {len(data.train)} train questions" if cfg.pretrain.mix_questions else ""),
            wrote=str(checkpoint),
            params=f"{metrics['parameters']:,}",
            loss=f"{metrics['final_loss']:.3f}",
            speed=f"{metrics['tokens_per_sec']:.0f} tok/s",
        )
    return metrics


def main() -> None:
    run_stage_command(__doc__, run, with_init=False)


if __name__ == "__main__":
    main()
