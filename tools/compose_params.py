"""Write params.yaml from conf/ exactly as DVC's Hydra composition does (overrides as arguments)."""

from __future__ import annotations

import sys
from pathlib import Path

from dvc.utils.hydra import compose_and_dump

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from pipeline.cli import run_command  # noqa: E402


def main(argv: list[str]) -> None:
    """Usage: compose_params.py [--output FILE] [OVERRIDE ...] (default FILE: params.yaml)."""
    output = ROOT / "params.yaml"
    if argv[:1] == ["--output"]:
        output, argv = Path(argv[1]).resolve(), argv[2:]
    compose_and_dump(str(output), str(ROOT / "conf"), None, "config", str(ROOT), argv)
    print(f"wrote {output}" + (f" with {' '.join(argv)}" if argv else ""))


if __name__ == "__main__":
    run_command("compose_params", lambda: main(sys.argv[1:]))
