"""How every command ends: an expected failure prints one or two lines (what happened, the file,
line or setting, what to do) and exits non-zero; a traceback appears only for a bug, or for
any failure with `KP_DEBUG=1`.

Exit codes: 2 for bad input or configuration, 1 for an output that cannot be written,
130 / 143 for SIGINT / SIGTERM once the training state is saved.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from typing import NoReturn

from hydra.errors import HydraException
from omegaconf.errors import OmegaConfBaseException

from knowledge_probe.data.cs224n import DataSourceError
from knowledge_probe.data.errors import DataFormatError, UnknownCharacterError
from knowledge_probe.training import CheckpointError, NonFiniteLossError, TrainingInterrupted

EXIT_INPUT = 2
EXIT_OUTPUT = 1


class ConfigError(ValueError):
    """The configuration is invalid or incomplete; the message names the file or key and the fix."""


# failures that come from what the user gave (files, settings), not from a bug
EXPECTED = (
    ConfigError,
    DataFormatError,
    UnknownCharacterError,
    DataSourceError,
    CheckpointError,
    NonFiniteLossError,
    HydraException,  # an override or config group that does not compose
    OmegaConfBaseException,  # a value that does not fit the schema
)


def debugging() -> bool:
    return os.environ.get("KP_DEBUG", "") not in ("", "0")


def fail(name: str, message: object, code: int) -> NoReturn:
    print(f"{name}: {message}", file=sys.stderr, flush=True)
    raise SystemExit(code)


def run_command(name: str, main: Callable[[], object]) -> None:
    """Run `main`, ending expected failures with a short message and their exit code."""
    if debugging():
        main()
        return
    try:
        main()
    except TrainingInterrupted as err:
        fail(name, err, 128 + err.signum)
    except KeyboardInterrupt:
        fail(name, "interrupted", 130)
    except (HydraException, OmegaConfBaseException) as err:
        from pipeline.schema import explain  # the schema knows what each key allows

        fail(name, explain(err), EXIT_INPUT)
    except EXPECTED as err:
        fail(name, err, EXIT_INPUT)
    except OSError as err:  # an output location that cannot be written, a missing input path
        where = err.filename or "a file"
        problem = err.strerror or err
        fail(
            name, f"cannot use {where}: {problem}; check the path and its permissions", EXIT_OUTPUT
        )
