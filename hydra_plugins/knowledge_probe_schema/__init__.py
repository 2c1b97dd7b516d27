"""Registers the configuration's schema (pipeline/schema.py) wherever Hydra composes conf/,
DVC's `dvc exp run -S` included: Hydra imports every module under `hydra_plugins` on its path,
and DVC puts the repository root there."""

import pipeline.schema  # noqa: F401 - registering is what importing it does
