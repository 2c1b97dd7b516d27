"""Stage `pretrain@VARIANT`: span-corruption pretraining on the corpus."""

from __future__ import annotations

from pathlib import Path

from knowledge_probe.models import GPT
from knowledge_probe.training import PretrainDataModule, save_model
from pipeline.command import run_stage_command
from pipeline.configs import model_config
from pipeline.prepared import Prepared, read_prepared
from pipeline.runtime import configure_precision, seed_all
from pipeline.stages import dvc_stage
from pipeline.tracked import tracked_stage
from pipeline.train_stage import resume_checkpoint, train_and_record


def pretrain_datamodule(cfg, data: Prepared, block_size: int) -> PretrainDataModule:
    """The configured pretraining batches: span-corrupted biographies (plus questions if mixed)."""
    return PretrainDataModule(
        data.corpus,
        data.vocab,
        block_size,
        cfg.pretrain.batch_size,
        batched=cfg.corruption == "batched",
        shuffle=bool(cfg.pretrain.shuffle),
        window=cfg.pretrain.window,
        seed=int(cfg.seed),
        questions=data.train if cfg.pretrain.mix_questions else (),
    )


def run(cfg, context, variant: str) -> dict:
    seed_all(int(cfg.seed))
    configure_precision(cfg)
    data = read_prepared(cfg)
    model = GPT(model_config(cfg, variant, len(data.vocab)))
    datamodule = pretrain_datamodule(cfg, data, model.config.block_size)
    prepared = Path(cfg.paths.prepared)
    resume = resume_checkpoint(
        cfg,
        cfg.pretrain,
        model,
        cfg.pretrain.epochs,
        dvc_stage("pretrain", variant),
        inputs=[prepared / "corpus.txt", prepared / "train.tsv"],
    )
    with tracked_stage(cfg, context, "pretrain", variant, run_id=resume.saved_run_id()) as (
        tracker,
        summary,
    ):
        tracker.use_artifact("prepared-data", "dataset", cfg.paths.prepared)
        metrics = train_and_record(
            cfg,
            cfg.pretrain,
            model,
            datamodule,
            epochs=cfg.pretrain.epochs,
            schedule_examples=len(datamodule),
            tracker=tracker,
            resume=resume,
            curve_path=Path(cfg.paths.plots) / "pretrain" / f"{variant}.csv",
            metrics_path=Path(cfg.paths.metrics) / "pretrain" / f"{variant}.json",
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
    run_stage_command("pretrain", __doc__, run)


if __name__ == "__main__":
    main()
