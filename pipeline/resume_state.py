"""Resume checkpoints of finished stages are removed, whoever finished them.

A training stage deletes its resume checkpoint when it completes. DVC, though, may complete a
stage without running it, by restoring its outputs from the run cache, and then no project code
runs to tidy up. So a stage counts as finished when every output it has in `dvc.lock` is in the
workspace with the recorded content, and `make run` (after `dvc repro`) and every stage start
remove the resume checkpoints of finished stages. A checkpoint left in the meantime is
harmless: it carries a fingerprint of its run's configuration and inputs, and any other run
replaces it.
"""

from __future__ import annotations

import argparse
import hashlib
from pathlib import Path

import yaml

LOCK = Path("dvc.lock")


def resume_path(checkpoints: str | Path, dvc_stage: str) -> Path:
    """Where the training stage named `dvc_stage` in dvc.lock keeps its resume state."""
    return Path(checkpoints) / f"{dvc_stage}.ckpt"


def _md5(path: Path) -> str:
    digest = hashlib.md5(usedforsecurity=False)
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def finished(entry: dict) -> bool:
    """Every file output of a dvc.lock stage entry is present with its recorded content."""
    outs = entry.get("outs") or []
    for out in outs:
        path = Path(out["path"])
        if (
            out.get("md5", "").endswith(".dir")
            or not path.is_file()
            or _md5(path) != out.get("md5")
        ):
            return False
    return bool(outs)


def remove_finished(
    checkpoints: str | Path, *, keep: str | None = None, lock: Path = LOCK
) -> list[Path]:
    """Delete the resume checkpoints of stages that `lock` shows finished (but `keep`'s: a stage
    run by hand may be resuming while its older outputs are still in place)."""
    states = sorted(Path(checkpoints).glob("*.ckpt"))
    if not states or not lock.is_file():
        return []
    stages = (yaml.safe_load(lock.read_text(encoding="utf-8")) or {}).get("stages", {})
    removed = []
    for path in states:
        name = path.stem
        if name != keep and name in stages and finished(stages[name]):
            path.unlink(missing_ok=True)
            removed.append(path)
    return removed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--checkpoints", default="checkpoints", help="the resume checkpoint folder")
    args = parser.parse_args()
    for path in remove_finished(args.checkpoints):
        print(f"removed {path}: its stage's outputs are complete")


if __name__ == "__main__":
    main()
