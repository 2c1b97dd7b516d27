"""Reading params.yaml and checking a configuration against the schema (pipeline/schema.py):
every problem is one line naming the file, the setting, its value and what is allowed."""

from __future__ import annotations

import os
from dataclasses import fields, is_dataclass
from pathlib import Path

import yaml
from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from pipeline.cli import ConfigError
from pipeline.schema import DATA_SCHEMAS, Config, describe, explain, library_checks

PARAMS_FILE = Path(os.environ.get("KP_PARAMS", "params.yaml"))


def load_params(path: str | Path = PARAMS_FILE) -> DictConfig:
    """params.yaml, resolved and validated; every problem is a ConfigError naming file and fix."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(
            f"{path} not found: run stages from the repository root (or `make params` to compose it)"
        )
    try:
        cfg = OmegaConf.load(path)
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark else str(path)
        problem = getattr(err, "problem", None) or err
        raise ConfigError(
            f"{where}: not valid YAML ({problem}); fix it, or recompose it with `make params`"
        ) from None
    if not isinstance(cfg, DictConfig):
        raise ConfigError(
            f"{path}: expected a mapping of settings; recompose it with `make params`"
        )
    return validate(cfg, str(path))


def schema_for(cfg: DictConfig, origin: str) -> DictConfig:
    """The schema of `cfg`: Config, with the data section of its `data.source`."""
    source = OmegaConf.select(cfg, "data.source", default=None)
    if source not in DATA_SCHEMAS:
        raise ConfigError(
            f"{origin}: unknown data.source {source!r}; allowed: {', '.join(DATA_SCHEMAS)}"
        )
    schema = OmegaConf.structured(Config)
    schema.data = OmegaConf.structured(DATA_SCHEMAS[source])
    return schema


def missing_key(schema: DictConfig, cfg: DictConfig, prefix: str = "") -> str | None:
    """The first key of `schema` that `cfg` lacks or leaves unset (`???`)."""
    for key in schema:
        if key not in cfg or OmegaConf.is_missing(cfg, key):
            return prefix + str(key)
        nested = not OmegaConf.is_missing(schema, key) and isinstance(schema[key], DictConfig)
        if nested and isinstance(cfg[key], DictConfig):
            found = missing_key(schema[key], cfg[key], f"{prefix}{key}.")
            if found:
                return found
    return None


def out_of_range(node, schema: type, prefix: str = "") -> str | None:
    """The first value outside what its schema field allows, described in one line."""
    for spec in fields(schema):
        value, key = node[spec.name], prefix + spec.name
        if is_dataclass(OmegaConf.get_type(node, spec.name)):
            problem = out_of_range(value, OmegaConf.get_type(node, spec.name), f"{key}.")
            if problem:
                return problem
            continue
        meta = spec.metadata
        if "choices" in meta and value not in meta["choices"]:
            return f"unknown {key} {value!r}; allowed: {', '.join(meta['choices'])}"
        if (meta.get("positive") and value <= 0) or ("minimum" in meta and value < meta["minimum"]):
            return f"{key} must be {describe(schema, spec.name)}, got {value!r}"
    return None


def validate(cfg: DictConfig, origin: str) -> DictConfig:
    """`cfg` checked against the schema, then by the library's own settings objects; returned
    typed. Refuses unknown keys, wrong types, impossible values and missing settings."""
    try:  # as plain values: a composed config's typed nodes may hold keys added with `+`
        cfg = OmegaConf.create(OmegaConf.to_container(cfg, resolve=True))
        schema = schema_for(cfg, origin)
        missing = missing_key(schema, cfg)
        if missing:
            raise ConfigError(
                f"{origin}: incomplete configuration (missing setting {missing}); set it, or "
                "recompose params.yaml with `make params`"
            )
        typed = OmegaConf.merge(schema, cfg)
    except OmegaConfBaseException as err:
        raise ConfigError(f"{origin}: {explain(err, cfg)}") from None
    problem = out_of_range(typed, Config)
    if problem:
        raise ConfigError(f"{origin}: {problem}")
    for section, check in library_checks(typed).items():
        try:
            check()
        except (TypeError, ValueError) as err:
            raise ConfigError(f"{origin}: {section}: {err}") from None
    return typed
