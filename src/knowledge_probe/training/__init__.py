"""Training: LightningModule, DataModules, reference optimiser and schedule, checkpoints."""

from knowledge_probe.training.checkpoint import CheckpointError, load_model, save_model
from knowledge_probe.training.curves import CurveRecorder
from knowledge_probe.training.datamodule import FinetuneDataModule, PretrainDataModule
from knowledge_probe.training.fit import FitSummary, fit
from knowledge_probe.training.module import LanguageModelModule, NonFiniteLossError
from knowledge_probe.training.optim import OptimConfig, lr_multiplier
from knowledge_probe.training.resume import ResumeCheckpoint, TrainingInterrupted, run_fingerprint

__all__ = [
    "CheckpointError",
    "CurveRecorder",
    "FinetuneDataModule",
    "FitSummary",
    "LanguageModelModule",
    "NonFiniteLossError",
    "OptimConfig",
    "PretrainDataModule",
    "ResumeCheckpoint",
    "TrainingInterrupted",
    "fit",
    "load_model",
    "lr_multiplier",
    "run_fingerprint",
    "save_model",
]
