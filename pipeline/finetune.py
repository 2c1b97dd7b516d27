"""Stage `finetune@VARIANT-INIT`: answer `Where was NAME born?`, from scratch or from pretraining."""

from __future__ import annotations

from pathlib import Path

from knowledge_probe.models import GPT
from knowledge_probe.training import FinetuneDataModule, load_model, save_model
from pipeline.common import model_config, read_prepared, run_stage_command, tracked_stage
from pipeline.training import train_and_record


def run(cfg, variant: str, init: str, tracker=None) -> dict:
    name = f"{variant}-{init}"
    with tracked_stage(cfg, "finetune", f"finetune-{name}", tracker) as (tracker, summary):
        data = read_prepared(cfg)
        config = model_config(cfg, variant, len(data.vocab))
        if init == "pretrained":
            source = Path(cfg.paths.models) / variant / "pretrain.ckpt"
            model, _ = load_model(source, config=config, vocab_fingerprint=data.vocab.fingerprint)
            tracker.use_artifact(f"{variant}-pretrain", "model", source)
            epochs = cfg.finetune.epochs_pretrained
        else:
            model, epochs, source = GPT(config), cfg.finetune.epochs_scratch, None
        datamodule = FinetuneDataModule(
            data.train,
            data.vocab,
            config.block_size,
            cfg.finetune.batch_size,
            fast=bool(cfg.fast),
            shuffle=bool(cfg.finetune.shuffle),
            num_workers=cfg.trainer.num_workers,
            seed=int(cfg.seed),
        )
        metrics = train_and_record(
            cfg,
            cfg.finetune,
            model,
            datamodule,
            epochs,
            tracker,
            Path(cfg.paths.plots) / "finetune" / f"{name}.csv",
            Path(cfg.paths.metrics) / "finetune" / f"{name}.json",
            f"finetune_{variant}_{init}",
            inputs=[Path(cfg.paths.prepared) / "train.tsv", *([source] if source else [])],
        )
        checkpoint = Path(cfg.paths.models) / variant / init / "finetune.ckpt"
        save_model(
            checkpoint,
            model,
            data.vocab.fingerprint,
            {"stage": "finetune", "init": init, **metrics},
        )
        tracker.log_artifact(checkpoint, f"{name}-finetune", "model", metadata=metrics)
        summary.update(
            read=f"{len(data.train)} questions",
            wrote=str(checkpoint),
            epochs=str(epochs),
            loss=f"{metrics['final_loss']:.3f}",
        )
    return metrics


def main() -> None:
    run_stage_command(__doc__, run, with_init=True)


if __name__ == "__main__":
    main()
