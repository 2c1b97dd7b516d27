"""Model checkpoints that carry their config and vocabulary fingerprint, loaded safely."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from knowledge_probe.io import write_with
from knowledge_probe.models.gpt import GPT, GPTConfig

FORMAT = 1


class CheckpointError(RuntimeError):
    """The checkpoint is unreadable, or was made for another model or vocabulary."""


def save_model(
    path: str | Path, model: GPT, vocab_fingerprint: str, meta: dict[str, Any] | None = None
) -> None:
    payload = {
        "format": FORMAT,
        "model_config": model.config.to_dict(),
        "vocab_fingerprint": vocab_fingerprint,
        "state_dict": {k: v.detach().cpu() for k, v in model.state_dict().items()},
        "meta": meta or {},
    }
    write_with(path, lambda tmp: torch.save(payload, tmp))


def read_checkpoint(path: str | Path) -> dict[str, Any]:
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(
            f"{path}: checkpoint not found; run the stage that produces it (dvc repro)"
        )
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:
        raise CheckpointError(
            f"{path}: cannot read the checkpoint ({type(err).__name__}: {err}); it is truncated or corrupt, delete it and rerun its stage"
        ) from None
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise CheckpointError(f"{path}: not a knowledge-probe checkpoint of format {FORMAT}")
    return payload


def check_compatible(
    path: str | Path, payload: dict, config: GPTConfig | None, vocab_fingerprint: str | None
) -> None:
    if vocab_fingerprint is not None and payload["vocab_fingerprint"] != vocab_fingerprint:
        raise CheckpointError(
            f"{path}: made with vocabulary {payload['vocab_fingerprint']}, but the data now has {vocab_fingerprint}; "
            "retrain on the current data"
        )
    if config is not None:
        saved = GPTConfig(**payload["model_config"]).architecture()
        wanted = config.architecture()
        diff = {k: (saved[k], wanted[k]) for k in wanted if saved.get(k) != wanted[k]}
        if diff:
            shown = ", ".join(
                f"{k}: checkpoint {a!r} vs requested {b!r}" for k, (a, b) in diff.items()
            )
            raise CheckpointError(f"{path}: model mismatch ({shown})")


def load_model(
    path: str | Path, *, config: GPTConfig | None = None, vocab_fingerprint: str | None = None
) -> tuple[GPT, dict[str, Any]]:
    """Rebuild the saved model. With `config`/`vocab_fingerprint`, refuse a checkpoint that differs.

    `config`'s runtime switches (dropout, fused attention) win over the saved ones.
    """
    payload = read_checkpoint(path)
    check_compatible(path, payload, config, vocab_fingerprint)
    model = GPT(config or GPTConfig(**payload["model_config"]))
    model.load_state_dict(payload["state_dict"])
    return model, payload["meta"]
