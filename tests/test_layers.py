"""The library never imports the pipeline: stages depend on `knowledge_probe`, not the reverse."""

from __future__ import annotations

import ast
from pathlib import Path

LIBRARY = Path(__file__).resolve().parents[1] / "src" / "knowledge_probe"


def imported_modules(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            found.add(node.module)
    return found


def test_no_library_module_imports_the_pipeline() -> None:
    offenders = {
        str(path.relative_to(LIBRARY)): sorted(
            m
            for m in imported_modules(path)
            if m.split(".")[0] in ("pipeline", "tools", "benchmarks")
        )
        for path in LIBRARY.rglob("*.py")
    }
    assert {k: v for k, v in offenders.items() if v} == {}
