"""Write params.yaml from conf/ exactly as DVC's Hydra composition does (overrides as arguments)."""

from __future__ import annotations

import sys
from pathlib import Path

from dvc.utils.hydra import compose_and_dump

ROOT = Path(__file__).resolve().parents[1]


def main(argv: list[str]) -> None:
    compose_and_dump(str(ROOT / "params.yaml"), str(ROOT / "conf"), None, "config", str(ROOT), argv)
    print(f"wrote {ROOT / 'params.yaml'}" + (f" with {' '.join(argv)}" if argv else ""))


if __name__ == "__main__":
    main(sys.argv[1:])
