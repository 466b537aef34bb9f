"""Training configuration as dataclasses with help text, loadable from YAML (as ``run_ner.py`` does it).

Every field carries ``metadata={"help": ...}`` so that a notebook, a command line or a reader can list what each
setting does (:func:`describe`). :func:`load_config` reads a YAML mapping (or a dict), rejects unknown keys with
the list of known ones, and converts values to the field's type (YAML reads ``5e-5`` as a string).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import yaml

from xner.config import ConfigError, config_dir
from xner.utils import coerce_fields


def _help(text: str, **kw: Any) -> Any:
    return field(metadata={"help": text}, **kw)


@dataclass
class TrainConfig:
    """How to fine-tune an encoder for NER (token classification with first-sub-word labels)."""

    model: str = _help(
        "Encoder: 'e5-small' (offline default), 'mini-tiny'/'mini-small'/'mini-base' (offline mini encoder), "
        "a Hugging Face checkpoint name (xlm-roberta-base, bert-base-multilingual-cased, google/mt5-small, ...) "
        "or a local folder with a saved checkpoint.",
        default="mini-tiny",
    )
    learning_rate: float = _help("Peak learning rate of AdamW (linear warm-up, then linear decay).", default=5e-5)
    classifier_learning_rate: float | None = _help(
        "Learning rate of the freshly initialised classification head (default: learning_rate).", default=None
    )
    epochs: int = _help("Maximum number of passes over the training data.", default=3)
    batch_size: int = _help("Training windows per optimisation step.", default=32)
    eval_batch_size: int = _help("Windows per forward pass when predicting (sorted by length).", default=64)
    max_length: int = _help(
        "Maximum sub-word tokens per window, special tokens included (capped by the model's own limit). Longer "
        "sentences are split into overlapping windows and the predictions stitched back; nothing is truncated.",
        default=128,
    )
    window_overlap: float = _help(
        "Share of a window's sub-word budget that consecutive windows of a long sentence overlap (0 ≤ x < 1).",
        default=0.5,
    )
    warmup_ratio: float = _help("Share of the optimisation steps used for linear warm-up.", default=0.1)
    weight_decay: float = _help("AdamW weight decay (not applied to biases and LayerNorm weights).", default=0.01)
    max_grad_norm: float = _help("Gradient clipping norm (0 disables clipping).", default=1.0)
    seed: int = _help("Seed for head initialisation, dropout, shuffling and sampling.", default=0)
    max_train_samples: int | None = _help("Use only the first N training sentences (quick runs).", default=None)
    max_eval_samples: int | None = _help(
        "Use only the first N dev sentences for early stopping (quick runs).", default=None
    )
    max_predict_samples: int | None = _help(
        "Use only the first N sentences of each test set (quick runs).", default=None
    )
    early_stopping_patience: int | None = _help(
        "Stop after this many epochs without a better dev strict F1 and keep the best epoch; None disables.",
        default=2,
    )
    dropout: float | None = _help(
        "Hidden and attention dropout while fine-tuning (None: the checkpoint's own, e.g. 0.1 for BERT).", default=None
    )
    freeze_embeddings: bool = _help(
        "Freeze the word-embedding matrix (position embeddings and all layers still train). Makes CPU training "
        "of large-vocabulary encoders several times faster.",
        default=False,
    )
    freeze_layers: int = _help(
        "Freeze the embeddings and the lowest N transformer layers (0: all layers train). Backpropagation then "
        "stops at layer N, which saves most of the backward pass's cost of those layers.",
        default=0,
    )
    bf16: bool = _help(
        "Run the encoder under torch.autocast(bfloat16) on the CPU, training and dev evaluation (the head, the CRF, "
        "the loss and the optimizer state stay float32). Faster on CPUs with native bf16 (AVX-512 BF16, AMX).",
        default=False,
    )
    group_by_length: bool = _help(
        "Batch training windows of similar length (shuffled mega-batches sorted by length): less padding.",
        default=True,
    )
    num_threads: int | None = _help("torch CPU threads (default: the CPUs this process may use).", default=None)
    head: str = _help(
        "Output layer: 'softmax' (independent per-word classification, the standard) or 'crf' (a linear-chain CRF "
        "over the per-word logits, trained jointly; its transitions are saved as xner_crf.json).",
        default="softmax",
    )
    crf_learning_rate: float = _help("Learning rate of the CRF head's transition scores (head='crf').", default=1e-2)
    decode: str = _help(
        "Reading labels from per-word logits with head='softmax': 'viterbi' (the most probable valid strict-IOB2 "
        "sequence) or 'argmax' (per word; may emit I-X after O, which strict scoring drops). head='crf' always "
        "decodes with its learned transitions.",
        default="viterbi",
    )
    save_checkpoint: bool = _help(
        "Save the best model with save_pretrained into the run's output folder.", default=True
    )
    progress: bool = _help("Show tqdm progress bars.", default=True)

    def __post_init__(self) -> None:
        coerce_fields(self)
        if self.epochs < 1:
            raise ConfigError(f"epochs must be ≥ 1, got {self.epochs}")
        if self.batch_size < 1 or self.eval_batch_size < 1:
            raise ConfigError("batch_size and eval_batch_size must be ≥ 1")
        if self.max_length < 8:
            raise ConfigError(f"max_length must be ≥ 8 sub-word tokens, got {self.max_length}")
        if not 0.0 <= self.window_overlap < 1.0:
            raise ConfigError(f"window_overlap must be in [0, 1), got {self.window_overlap}")
        if not 0.0 <= self.warmup_ratio < 1.0:
            raise ConfigError(f"warmup_ratio must be in [0, 1), got {self.warmup_ratio}")
        if self.dropout is not None and not 0.0 <= self.dropout < 1.0:
            raise ConfigError(f"dropout must be in [0, 1) or None, got {self.dropout}")
        if self.decode not in ("viterbi", "argmax"):
            raise ConfigError(f"decode must be 'viterbi' or 'argmax', got {self.decode!r}")
        if self.head not in ("softmax", "crf"):
            raise ConfigError(f"head must be 'softmax' or 'crf', got {self.head!r}")
        if self.freeze_layers < 0:
            raise ConfigError(f"freeze_layers must be ≥ 0, got {self.freeze_layers}")
        for name in ("max_train_samples", "max_eval_samples", "max_predict_samples"):
            v = getattr(self, name)
            if v is not None and v < 1:
                raise ConfigError(f"{name} must be ≥ 1 or None, got {v}")


T = TypeVar("T")


def load_config(source: str | Path | dict[str, Any] | None = None, cls: type[T] = TrainConfig, **overrides: Any) -> T:
    """Build a configuration dataclass from a YAML file, a dict, or defaults, then apply ``overrides``.

    Unknown keys are an error that lists the known ones (a typo never silently becomes a default).
    """
    values: dict[str, Any] = {}
    where = "overrides"
    if isinstance(source, (str, Path)):
        path = Path(source)
        if not path.is_file():
            raise ConfigError(f"{path}: configuration file not found")
        with path.open(encoding="utf-8") as fh:
            loaded = yaml.safe_load(fh) or {}
        if not isinstance(loaded, dict):
            raise ConfigError(f"{path}: expected a mapping of setting: value, got {type(loaded).__name__}")
        values.update(loaded)
        where = str(path)
    elif isinstance(source, dict):
        values.update(source)
        where = "the given mapping"
    elif source is not None:
        raise ConfigError(f"cannot read a configuration from {type(source).__name__}")
    values.update(overrides)
    known = {f.name for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    unknown = sorted(set(values) - known)
    if unknown:
        raise ConfigError(
            f"{where}: unknown setting(s) {unknown} for {cls.__name__}; known: {', '.join(sorted(known))}"
        )
    return cls(**values)


#: The stage of ``configs/offline.yaml`` whose settings are the offline encoder recipe.
RECIPE_STAGE = "04_training"


def offline_recipe(path: str | Path | None = None, stage: str = RECIPE_STAGE) -> dict[str, Any]:
    """The offline encoder recipe: the :class:`TrainConfig` settings of ``stage`` in ``configs/offline.yaml``.

    ``path`` defaults to ``offline.yaml`` in :func:`xner.config.config_dir`. Keys of the stage that are not
    TrainConfig fields (``setting``, ``include_crf``, ``model_cache``, setting-specific keys) are left out, so
    the one recipe of the main job serves every runner that fine-tunes the encoder (e.g.
    :mod:`xner.projection.compare`). Values are converted as :class:`TrainConfig` converts them. Raises
    :class:`ConfigError` naming the file when it is missing, not YAML, or has no such stage mapping.
    """
    path = Path(path) if path is not None else config_dir() / "offline.yaml"
    if not path.is_file():
        raise ConfigError(f"{path}: configuration file not found (the offline recipe is its stage {stage!r})")
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {' '.join(str(exc).split())}") from None
    stages = raw.get("stages") if isinstance(raw, dict) else None
    stage_cfg = stages.get(stage) if isinstance(stages, dict) else None
    if not isinstance(stage_cfg, dict):
        raise ConfigError(f"{path}: expected a mapping stages: {{{stage}: {{setting: value, ...}}}}")
    known = {f.name for f in dataclasses.fields(TrainConfig)}
    recipe = {k: v for k, v in stage_cfg.items() if k in known}
    try:
        checked = TrainConfig(**recipe)  # converts the types (YAML reads 5e-4 as a string) and checks the values
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{path}: stage {stage!r}: {exc}") from None
    return {k: getattr(checked, k) for k in recipe}


def save_config(cfg: Any, path: str | Path) -> Path:
    """Write a configuration dataclass as YAML (the inverse of :func:`load_config`)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(dataclasses.asdict(cfg), sort_keys=False, allow_unicode=True), encoding="utf-8")
    return path


def describe(cls: type) -> list[dict[str, Any]]:
    """One row per field of a configuration dataclass: ``name, type, default, help``."""
    rows = []
    for f in dataclasses.fields(cls):
        default = f.default if f.default is not dataclasses.MISSING else None
        rows.append({"name": f.name, "type": str(f.type), "default": default, "help": f.metadata.get("help", "")})
    return rows
