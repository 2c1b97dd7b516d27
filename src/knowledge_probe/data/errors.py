"""Errors raised on bad input files; each names the file, the line and what to do."""

from __future__ import annotations

from pathlib import Path


class DataFormatError(ValueError):
    """A data file is malformed. The message names the file, the line and the fix."""

    def __init__(self, path: str | Path, line: int | None, problem: str, fix: str = ""):
        self.path, self.line, self.problem, self.fix = str(path), line, problem, fix
        where = f"{path}:{line}" if line is not None else str(path)
        super().__init__(f"{where}: {problem}" + (f" ({fix})" if fix else ""))


class UnknownCharacterError(ValueError):
    """Text contains characters the vocabulary (built from the pretraining corpus) lacks."""

    def __init__(self, characters: set[str], context: str = ""):
        self.characters = characters
        shown = ", ".join(f"{c!r} (U+{ord(c):04X})" for c in sorted(characters))
        super().__init__(
            f"{len(characters)} character(s) not in the vocabulary: {shown}"
            + (f" in {context}" if context else "")
            + "; the vocabulary is built from the pretraining corpus, so add text containing them there"
        )
