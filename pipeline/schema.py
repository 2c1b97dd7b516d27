"""The configuration's schema: every key, its type and its default, registered in Hydra's
ConfigStore. conf/*.yaml only choose options and override values; composing (Hydra, DVC) and
loading params.yaml (pipeline/params.py) both check a configuration against it.

A default that belongs to a library object is read from that object (GPTConfig, OptimConfig,
SyntheticSpec, AttentionSpec, ComplexitySpec, predict), so it is written once; the rest are
written here. Together they are the everyday experiment; conf/experiment/ holds the other
recipes (handout, smoke, best).
"""

from __future__ import annotations

import dataclasses
import inspect
import re
from dataclasses import dataclass, field
from typing import Any

from hydra.core.config_store import ConfigStore
from omegaconf import MISSING, DictConfig, OmegaConf
from omegaconf.errors import (
    ConfigAttributeError,
    ConfigKeyError,
    MissingMandatoryValue,
    OmegaConfBaseException,
)

from knowledge_probe.analysis.attention_exploration import AttentionSpec
from knowledge_probe.analysis.complexity import ComplexitySpec
from knowledge_probe.analysis.hallucination import origin_agreement
from knowledge_probe.data.corruption import WINDOWS
from knowledge_probe.data.synthetic import SyntheticSpec
from knowledge_probe.evaluation.predict import predict
from knowledge_probe.models.gpt import LATENT_ALIGNMENTS, POSITIONS, VARIANTS, GPTConfig
from knowledge_probe.training.datamodule import PretrainDataModule
from knowledge_probe.training.fit import fit
from knowledge_probe.training.optim import DECAY_SCOPES, OptimConfig
from pipeline.stages import dvc_items

# where the course's four files are looked for, relative to the repository root (where stages run)
COURSE_DATA = "../shared/data/cs224n"
# the switches' values: the fast way first, then the reference's (conf/fast/off.yaml picks those)
ATTENTION = ("fused", "explicit")
CORRUPTION = DECODE = ("batched", "plain")
DROPOUT = ("int16", "plain")
PRECISIONS = ("bf16-mixed", "32-true")


def choice(default: str, choices: tuple[str, ...]) -> Any:
    """A field whose value must be one of `choices`."""
    return field(default=default, metadata={"choices": choices})


def positive(default: float) -> Any:
    """A field whose value must be above zero."""
    return field(default=default, metadata={"positive": True})


def at_least(default: float, minimum: float) -> Any:
    """A field whose value must be `minimum` or more."""
    return field(default=default, metadata={"minimum": minimum})


def listed(values: tuple) -> Any:
    """A list-valued field (a library tuple default, as YAML writes it)."""
    return field(default_factory=lambda: list(values))


def default_of(function, name: str) -> Any:
    """The default of a library function's keyword argument."""
    return inspect.signature(function).parameters[name].default


def named(flag: bool, names: tuple[str, str]) -> str:
    """A library flag's value as a switch names it: the first name when the flag is on."""
    return names[0] if flag else names[1]


@dataclass
class Paths:
    prepared: str = "data/prepared"
    models: str = "models"
    metrics: str = "metrics"
    predictions: str = "predictions"
    plots: str = "plots"
    reports: str = "reports"
    # resume checkpoints of unfinished training runs (not pipeline outputs)
    checkpoints: str = "checkpoints"


@dataclass
class Resume:
    # training state every N optimizer steps and on SIGTERM/SIGINT; 0: only on signals
    every_n_steps: int = at_least(200, 0)


@dataclass
class Pretrain:
    epochs: int = positive(80)
    batch_size: int = positive(32)
    learning_rate: float = positive(OptimConfig.learning_rate)
    betas: list[float] = listed(OptimConfig.betas)
    weight_decay: float = at_least(OptimConfig.weight_decay, 0)
    # matmul: decay only Linear weights. reference: all but biases, as the reference code does.
    decay_scope: str = choice(OptimConfig.decay_scope, DECAY_SCOPES)
    warmup_tokens: int = at_least(OptimConfig.warmup_tokens, 0)
    # cosine decay reaches its floor after this many epochs' worth of tokens (the cosine is set
    # for 160 epochs, training stops at 80: a rate still high at the end stores facts faster)
    decay_epochs: int = positive(160)
    min_lr_ratio: float = at_least(OptimConfig.min_lr_ratio, 0)
    # true: flat at the floor after the decay. false: the reference code's formula, whose cosine
    # keeps going (floor from 0.8x to 1.2x of the decay length, back to the full rate at 2x)
    clamp_after_decay: bool = OptimConfig.clamp_after_decay
    grad_clip: float = at_least(1.0, 0)
    shuffle: bool = True
    # prefix: span corruption of each biography's first int(block*7/8) characters (the
    # reference). random: of a piece taken from a uniform offset, so the whole biography is seen.
    window: str = choice(WINDOWS[0], WINDOWS)
    # the training questions, in their finetuning form, join every pretraining epoch
    mix_questions: bool = True


@dataclass
class Finetune:
    epochs_pretrained: int = positive(4)
    epochs_scratch: int = positive(60)
    batch_size: int = positive(64)
    learning_rate: float = positive(3.0e-4)
    betas: list[float] = listed(OptimConfig.betas)
    weight_decay: float = at_least(OptimConfig.weight_decay, 0)
    decay_scope: str = choice(OptimConfig.decay_scope, DECAY_SCOPES)
    warmup_tokens: int = at_least(OptimConfig.warmup_tokens, 0)
    decay_epochs: int = positive(60)
    min_lr_ratio: float = at_least(OptimConfig.min_lr_ratio, 0)
    clamp_after_decay: bool = OptimConfig.clamp_after_decay
    grad_clip: float = at_least(1.0, 0)
    shuffle: bool = True


@dataclass
class Evaluate:
    batch_size: int = positive(default_of(predict, "batch_size"))
    max_new: int = positive(default_of(predict, "max_new"))


@dataclass
class Attention:
    """Part 1: attention with explicit vectors (dimension, keys, the scale beta, noise, draws)."""

    dim: int = AttentionSpec.dim
    n_keys: int = AttentionSpec.n_keys
    betas: list[float] = listed(AttentionSpec.betas)
    beta: float = AttentionSpec.beta
    noise_alphas: list[float] = listed(AttentionSpec.noise_alphas)
    alpha: float = AttentionSpec.alpha
    trials: int = AttentionSpec.trials
    draws: int = AttentionSpec.draws
    tolerance: float = AttentionSpec.tolerance


@dataclass
class Complexity:
    """Part 2g: one training step of each variant (this config's model sizes) per length."""

    lengths: list[int] = listed(ComplexitySpec.lengths)
    repeats: int = ComplexitySpec.repeats
    batch_size: int = ComplexitySpec.batch_size
    fit_points: int = ComplexitySpec.fit_points


@dataclass
class Hallucination:
    """Part 3: questions about people who do not exist, asked of every finetuned model."""

    strangers: int = positive(200)
    permutations: int = positive(default_of(origin_agreement, "permutations"))


@dataclass
class Analysis:
    # CPU threads for the complexity benchmark and the model queries (one: steady on a shared machine)
    threads: int = positive(ComplexitySpec.threads)
    attention: Attention = field(default_factory=Attention)
    complexity: Complexity = field(default_factory=Complexity)
    hallucination: Hallucination = field(default_factory=Hallucination)


@dataclass
class SyntheticData:
    """Generated biographies and questions, deterministic from `seed` (SyntheticSpec's fields)."""

    source: str = "synthetic"
    path: str | None = None
    n_train: int = SyntheticSpec.n_train
    n_dev: int = SyntheticSpec.n_dev
    n_test: int = SyntheticSpec.n_test
    n_background: int = SyntheticSpec.n_background
    cities_per_country: int = SyntheticSpec.cities_per_country
    locale_fidelity: float = SyntheticSpec.locale_fidelity
    max_bio_chars: int = SyntheticSpec.max_bio_chars
    bio_variants: int = SyntheticSpec.bio_variants
    seed: int = SyntheticSpec.seed


@dataclass
class CourseData:
    """The course's four files, from a directory or a .zip/.tar archive, checked by SHA-256."""

    source: str = "cs224n"
    path: str = COURSE_DATA


@dataclass
class FilesData:
    """Your own four files in the course's layout; `path` has no default (set it)."""

    source: str = "files"
    path: str = MISSING


@dataclass
class Model:
    """GPTConfig's fields and defaults; `variant` is what a single Hydra run trains (the DVC
    pipeline trains every variant)."""

    variant: str = choice(GPTConfig.variant, VARIANTS)
    block_size: int = GPTConfig.block_size
    n_layer: int = GPTConfig.n_layer
    n_head: int = GPTConfig.n_head
    n_embd: int = GPTConfig.n_embd
    embd_pdrop: float = GPTConfig.embd_pdrop
    resid_pdrop: float = GPTConfig.resid_pdrop
    attn_pdrop: float = GPTConfig.attn_pdrop
    bottleneck_dim: int = GPTConfig.bottleneck_dim
    # learned: absolute position table (the reference); rotary: rotary embeddings in attention
    position: str = choice(GPTConfig.position, POSITIONS)
    # perceiver only. left: latent j sees inputs 0..j (the reference); right: latents sit on
    # each example's last bottleneck_dim positions (Perceiver AR), reaching every input
    latent_alignment: str = choice(GPTConfig.latent_alignment, LATENT_ALIGNMENTS)
    # chunked only: positions per chunk; a position reads its own chunk and the last position
    # of each of the chunk_window chunks before it
    chunk_size: int = GPTConfig.chunk_size
    chunk_window: int = GPTConfig.chunk_window


@dataclass
class Trainer:
    """Lightning's Trainer settings (conf/trainer/ chooses cpu, gpu or ddp)."""

    accelerator: str = "cpu"
    devices: Any = 1
    num_nodes: int = positive(1)
    strategy: str = "auto"
    # bf16-mixed: bf16 autocast in training (it pays on GPUs and on CPUs with AMX/AVX-512-BF16)
    # and TF32 matrix products on GPUs that have them. 32-true: float32 throughout (the reference)
    precision: str = choice(PRECISIONS[0], PRECISIONS)
    deterministic: bool = False


@dataclass
class Logger:
    """W&B tracking, offline by default: runs are kept under wandb/ for `wandb sync`."""

    backend: str = choice("wandb", ("wandb", "none"))
    project: str = "knowledge-probe"
    entity: str | None = None
    mode: str = choice("offline", ("offline", "online", "disabled"))
    dir: str = "."
    # seconds to wait for the server before falling back to offline files
    init_timeout: int = at_least(30, 0)


@dataclass
class Config:
    seed: int = 0
    experiment_name: str = "default"
    # the bodies the pipeline trains, evaluates and reports (experiment=handout: the reference's two)
    variants: list[str] = field(default_factory=lambda: list(VARIANTS))
    # derived from `variants`: the items of dvc.yaml's per-model stages (pipeline/stages.py); not
    # a setting of its own
    dvc_items: dict[str, Any] = "${dvc_items:${variants}}"
    paths: Paths = field(default_factory=Paths)
    resume: Resume = field(default_factory=Resume)
    # Performance switches: each gives the same answers both ways (tests prove it; `dropout`
    # draws other masks from the same distribution), and each is declared by exactly the stages
    # that read it (pipeline/stages.py). `fast=off` (conf/fast/) sets them all, and
    # trainer.precision, to the reference's way.
    # fused: scaled_dot_product_attention. explicit: the reference's softmax attention.
    attention: str = choice(named(GPTConfig.fused_attention, ATTENTION), ATTENTION)
    # int16: CPU training dropout masks from 16-bit random integers, p rounded to 1/65536
    # (models/dropout.py). plain: torch's Bernoulli draws (the reference).
    dropout: str = choice(named(default_of(fit, "int16_dropout"), DROPOUT), DROPOUT)
    # batched: span corruption of whole pretraining batches in tensor operations, served as
    # resumable batches. plain: one example at a time through a DataLoader (the reference).
    corruption: str = choice(
        named(default_of(PretrainDataModule, "batched"), CORRUPTION), CORRUPTION
    )
    # batched: length-bucketed batches with a key/value cache. plain: one question at a time
    # without a cache (the reference; slow).
    decode: str = choice(named(not default_of(predict, "plain"), DECODE), DECODE)
    # true: each training batch's examples packed into as few rows as fit, each with its own
    # positions and a block-diagonal causal mask (models/packing.py). false: one example per row.
    # Off by default: with bf16 autocast, packed pretraining reached a higher loss at every
    # stage of three seeds and answered fewer dev questions (README, "Packing and the science").
    packing: bool = default_of(fit, "packing")
    # torch.compile the training forward pass: worth it for long GPU runs, not for short ones
    compile: bool = default_of(fit, "compile_model")
    pretrain: Pretrain = field(default_factory=Pretrain)
    finetune: Finetune = field(default_factory=Finetune)
    evaluate: Evaluate = field(default_factory=Evaluate)
    analysis: Analysis = field(default_factory=Analysis)
    data: Any = MISSING  # conf/data/ picks one of DATA_SCHEMAS
    model: Model = field(default_factory=Model)
    trainer: Trainer = field(default_factory=Trainer)
    logger: Logger = field(default_factory=Logger)


DATA_SCHEMAS = {"synthetic": SyntheticData, "cs224n": CourseData, "files": FilesData}


def register() -> None:
    """Make the schema known to Hydra: conf/config.yaml and the data options build on it."""
    OmegaConf.register_new_resolver(
        "dvc_items", lambda variants: dvc_items(tuple(variants)), replace=True
    )
    store = ConfigStore.instance()
    store.store(name="schema", node=Config)
    for source, schema in DATA_SCHEMAS.items():
        store.store(group="schema/data", name=source, node=schema)


register()


def describe(schema: type, name: str) -> str:
    """What field `name` of dataclass `schema` accepts, in words: `a positive int`, `one of ...`."""
    spec = schema.__dataclass_fields__[name]
    if "choices" in spec.metadata:
        return f"one of {', '.join(spec.metadata['choices'])}"
    kind = {"float": "number", "bool": "true or false", "str | None": "str or null"}
    kind = kind.get(str(spec.type), str(spec.type))
    if spec.metadata.get("positive"):
        return f"a positive {kind}"
    return f"{kind} >= {spec.metadata['minimum']}" if "minimum" in spec.metadata else kind


def explain(err: Exception, cfg: DictConfig | None = None) -> str:
    """One line for a configuration that does not fit the schema: the key, its value, what is
    allowed. `err` comes from OmegaConf (merging params.yaml) or Hydra (composing)."""
    cause = err if isinstance(err, OmegaConfBaseException) else err.__cause__ or err
    key, owner = getattr(cause, "full_key", None), getattr(cause, "object_type", None)
    override = re.search(r"override \+?([\w.]+)=(\S*)|use \+([\w.]+)=(\S*)", str(err))
    value = None
    if cfg is not None and key:
        value = OmegaConf.select(cfg, key, default=None, throw_on_missing=False)
    elif override:
        value = override.group(2) if override.group(1) else override.group(4)
    if isinstance(cause, MissingMandatoryValue) and key:
        return f"incomplete configuration (missing setting {key}): set it"
    if not key or not dataclasses.is_dataclass(owner):  # Hydra's own: the first line and options
        lines = [line.strip() for line in str(err).splitlines()]
        options = re.search(r"(Available options in '[^']*'):\n((?:\t.*\n?)+)", str(err))
        listed = f"; {options.group(1)}: {', '.join(options.group(2).split())}" if options else ""
        return lines[0] + listed
    name, section = key.rsplit(".", 1)[-1], key.rpartition(".")[0] or "the configuration"
    if isinstance(cause, (ConfigAttributeError, ConfigKeyError)):
        known = ", ".join(f.name for f in dataclasses.fields(owner))
        return f"unknown setting {key} (= {value!r}); {section} has: {known}"
    return f"{key} must be {describe(owner, name)}, got {value!r}"


def build(library_class: type, section: DictConfig, **extra: Any) -> Any:
    """`library_class` from the same-named keys of `section` (lists as tuples): how a setting
    is checked by the object it configures."""
    names = {f.name for f in dataclasses.fields(library_class)} - set(extra)
    values = {k: section[k] for k in names if k in section}
    return library_class(
        **{k: tuple(v) if OmegaConf.is_list(v) else v for k, v in values.items()}, **extra
    )


def check_variants(cfg: DictConfig) -> None:
    """Some known bodies, each once, and the pipeline's items derived from them."""
    variants = list(cfg.variants)
    unknown = [v for v in variants if v not in VARIANTS]
    if not variants or unknown or len(set(variants)) < len(variants):
        raise ValueError(f"must name each of some of {', '.join(VARIANTS)} once, got {variants}")
    if OmegaConf.to_container(cfg.dvc_items) != dvc_items(tuple(variants)):
        raise ValueError(
            "dvc_items is not what `variants` gives: recompose params.yaml with `make params`"
        )


def library_checks(cfg: DictConfig) -> dict[str, Any]:
    """Per section, a function that builds its library objects (which refuse impossible values)."""
    checks = {  # the DVC pipeline builds every variant, so each one's shape must be possible
        "variants": lambda: check_variants(cfg),
        "model": lambda: [
            build(GPTConfig, cfg.model, vocab_size=256, variant=v)
            for v in dict.fromkeys((*cfg.variants, cfg.model.variant))
        ],
        "pretrain": lambda: build(OptimConfig, cfg.pretrain),
        "finetune": lambda: build(OptimConfig, cfg.finetune),
        "analysis.attention": lambda: build(AttentionSpec, cfg.analysis.attention),
        "analysis.complexity": lambda: build(
            ComplexitySpec, cfg.analysis.complexity, threads=cfg.analysis.threads
        ),
    }
    if cfg.data.source == "synthetic":
        checks["data"] = lambda: build(SyntheticSpec, cfg.data)
    return checks
