"""Stage `finetune@VARIANT-INIT`: answer `Where was NAME born?`, from scratch or from pretraining."""

from __future__ import annotations

from pathlib import Path

from knowledge_probe.models import GPT
from knowledge_probe.training import FinetuneDataModule, load_model, save_model
from pipeline.command import run_stage_command
from pipeline.configs import model_config
from pipeline.prepared import read_prepared
from pipeline.runtime import configure_precision, seed_all
from pipeline.stages import dvc_stage
from pipeline.tracked import tracked_stage
from pipeline.train_stage import resume_checkpoint, train_and_record


def run(cfg, context, variant: str, init: str) -> dict:
    name = f"{variant}-{init}"
    seed_all(int(cfg.seed))
    configure_precision(cfg)
    data = read_prepared(cfg)
    config = model_config(cfg, variant, len(data.vocab))
    if init == "pretrained":
        source = Path(cfg.paths.models) / variant / "pretrain.ckpt"
        model, _ = load_model(source, config=config, vocab_fingerprint=data.vocab.fingerprint)
        epochs = cfg.finetune.epochs_pretrained
    else:
        model, epochs, source = GPT(config), cfg.finetune.epochs_scratch, None
    datamodule = FinetuneDataModule(
        data.train,
        data.vocab,
        config.block_size,
        cfg.finetune.batch_size,
        shuffle=bool(cfg.finetune.shuffle),
        seed=int(cfg.seed),
    )
    resume = resume_checkpoint(
        cfg,
        cfg.finetune,
        model,
        epochs,
        dvc_stage("finetune", variant, init),
        inputs=[Path(cfg.paths.prepared) / "train.tsv", *([source] if source else [])],
    )
    with tracked_stage(cfg, context, "finetune", variant, init, run_id=resume.saved_run_id()) as (
        tracker,
        summary,
    ):
        if source:
            tracker.use_artifact(f"{variant}-pretrain", "model", source)
        metrics = train_and_record(
            cfg,
            cfg.finetune,
            model,
            datamodule,
            epochs=epochs,
            # as the reference: the schedule's length counts the pretraining corpus's documents
            schedule_examples=len(data.corpus),
            tracker=tracker,
            resume=resume,
            curve_path=Path(cfg.paths.plots) / "finetune" / f"{name}.csv",
            metrics_path=Path(cfg.paths.metrics) / "finetune" / f"{name}.json",
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
    run_stage_command("finetune", __doc__, run)


if __name__ == "__main__":
    main()
