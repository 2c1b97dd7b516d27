"""Write params.yaml from conf/ exactly as DVC's Hydra composition does (overrides as arguments),
after checking the result against the schema, so an impossible setting is refused here."""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

from dvc.utils.hydra import compose_and_dump

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from omegaconf import OmegaConf  # noqa: E402

from pipeline.cli import run_command  # noqa: E402
from pipeline.params import validate  # noqa: E402


def main(argv: list[str]) -> None:
    """Usage: compose_params.py [--output FILE] [OVERRIDE ...] (default FILE: params.yaml)."""
    output = ROOT / "params.yaml"
    if argv[:1] == ["--output"]:
        output, argv = Path(argv[1]).resolve(), argv[2:]
    handle, draft = tempfile.mkstemp(suffix=".yaml", dir=output.parent)
    os.close(handle)
    try:
        compose_and_dump(draft, str(ROOT / "conf"), None, "config", str(ROOT), argv)
        # refuses what the schema does not allow, naming the setting
        validate(OmegaConf.load(draft), f"the configuration for {output.name}")
        os.replace(draft, output)
    finally:
        Path(draft).unlink(missing_ok=True)
    print(f"wrote {output}" + (f" with {' '.join(argv)}" if argv else ""))


if __name__ == "__main__":
    run_command("compose_params", lambda: main(sys.argv[1:]))
