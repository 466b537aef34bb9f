"""What a transfer method is: the methods' names and settings (:class:`MethodConfig`), a trained method, and the
encoders of the scale axis with their training settings (``configs/scale.yaml``).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from xner.config import config_dir
from xner.methods.adapters import AdapterConfig, MLMConfig, madx_language_lora
from xner.methods.distill import DistillConfig
from xner.modeling.config import TrainConfig, offline_recipe
from xner.robustness.suite import ModelSpec

if TYPE_CHECKING:
    pass


METHODS = ("direct", "multi-source", "distill", "lora", "madx")


SETTING = {
    "direct": "zero-shot",
    "multi-source": "multi-source",
    "distill": "distilled",
    "lora": "adapter-lora",
    "madx": "adapter-madx",
}


METHOD_OF_SETTING = {v: k for k, v in SETTING.items()}


class MethodError(ValueError):
    """A method cannot run with the given languages or settings."""


@dataclass
class MethodConfig:
    """Everything that shapes a trained method (the cache key covers all of it)."""

    method: str
    target: str
    sources: tuple[str, ...]
    encoder: str = "e5-small"
    epochs: int = 1
    max_train_samples: int | None = 2000
    max_eval_samples: int | None = 300
    max_unlabeled: int | None = None  # the reference distils on the full unlabelled target train text
    freeze_embeddings: bool = True
    freeze_layers: int = 0  # also freeze all embeddings and the lowest n encoder layers (the offline recipe: 6)
    bf16: bool = False  # the encoder under bf16 autocast while training (the offline recipe); predictions float32
    learning_rate: float = 1e-4
    batch_size: int = 16
    seed: int = 0
    encoder_seed: int = 0
    dataset: str = "wikiann"
    lora: AdapterConfig = field(default_factory=AdapterConfig)
    language_lora: AdapterConfig = field(default_factory=madx_language_lora)
    distill: DistillConfig = field(default_factory=DistillConfig)
    mlm: MLMConfig = field(default_factory=MLMConfig)
    num_threads: int | None = None  # torch CPU threads of training and prediction (None: all); not in the key

    def __post_init__(self) -> None:
        self.sources = tuple(self.sources)
        if self.method not in METHODS:
            raise MethodError(f"unknown method {self.method!r}; expected one of {', '.join(METHODS)}")
        if not self.sources:
            raise MethodError("give at least one source language")
        if self.target in self.sources:
            raise MethodError(f"the target {self.target!r} is also a source {self.sources}: that is not transfer")
        if self.method == "multi-source" and len(self.sources) < 2:
            raise MethodError(f"multi-source needs ≥ 2 sources, got {self.sources}")
        if self.num_threads is not None and self.num_threads < 1:
            raise MethodError(f"num_threads must be ≥ 1 or None, got {self.num_threads}")
        if self.freeze_layers < 0:
            raise MethodError(f"freeze_layers must be ≥ 0, got {self.freeze_layers}")

    @property
    def languages(self) -> list[str]:
        """All languages involved (a mini encoder is pretrained on their text)."""
        return sorted(set(self.sources) | {self.target})

    @property
    def used_sources(self) -> tuple[str, ...]:
        """The sources this method trains on: all of them, sorted, for multi-source and distill (their order does
        not matter, so one model serves every pair with the same sources); the first one for the others."""
        return tuple(sorted(self.sources)) if self.method in ("multi-source", "distill") else self.sources[:1]

    def train_config(self, **changes: Any) -> Any:
        """The :class:`~xner.modeling.TrainConfig` of the fine-tuning steps."""
        return TrainConfig(
            model=self.encoder,
            epochs=self.epochs,
            max_train_samples=self.max_train_samples,
            max_eval_samples=self.max_eval_samples,
            freeze_embeddings=self.freeze_embeddings,
            freeze_layers=self.freeze_layers,
            bf16=self.bf16,
            learning_rate=self.learning_rate,
            batch_size=self.batch_size,
            seed=self.seed,
            num_threads=self.num_threads,
            early_stopping_patience=None,
            progress=False,
            **changes,
        )

    def teacher(self, source: str) -> MethodConfig:
        """The ``direct`` model of ``source`` that teaches this method's student: the same settings, with the
        teacher's own learning rate and epochs where ``distill.teacher_settings`` gives them."""
        own = (self.distill.teacher_settings or {}).get(source, {})
        return dataclasses.replace(self, method="direct", sources=(source,), **own)

    def key(self) -> str:
        """A short digest of every setting that shapes the trained model of this method."""
        d = dataclasses.asdict(self)
        d["sources"] = list(self.used_sources)
        d.pop("num_threads")  # how many CPU threads train a model does not decide which model it is
        for k, default in (("freeze_layers", 0), ("bf16", False)):
            if d[k] == default:
                d.pop(k)  # added later: at their defaults they leave the keys of models trained before them alone
        if self.method not in ("distill", "madx"):
            d.pop("target")  # the model does not depend on the target
        for k, used in (
            ("lora", ("lora", "madx")),
            ("language_lora", ("madx",)),
            ("distill", ("distill",)),
            ("mlm", ("madx",)),
        ):
            if self.method not in used:
                d.pop(k)
        if self.method not in ("distill",):
            d.pop("max_unlabeled")
        else:
            own = {s: v for s, v in (d["distill"].get("teacher_settings") or {}).items() if s in self.used_sources}
            d["distill"]["teacher_settings"] = own or None  # only this student's teachers shape it
            for k in ("learning_rate", "teacher_settings"):
                if d["distill"].get(k) is None:
                    d["distill"].pop(k)  # added later: unset, they leave the keys of earlier students alone
        return hashlib.sha256(json.dumps(d, sort_keys=True, default=str).encode()).hexdigest()[:10]

    def folder_name(self) -> str:
        """``<method>-<sources>[-to-<target>]-<encoder>-<key>``."""
        enc = Path(self.encoder).name if Path(self.encoder).exists() else self.encoder.replace("/", "_")
        to = f"-to-{self.target}" if self.method in ("distill", "madx") else ""
        return f"{self.method}-{'+'.join(self.used_sources)}{to}-{enc}-{self.key()}"


@dataclass
class TrainedMethod:
    """A trained (or cached) method: its predictor as a suite ModelSpec, where it lives, what it cost."""

    spec: ModelSpec
    path: Path
    cached: bool
    seconds: float
    info: dict[str, Any] = field(default_factory=dict)


def _scale_config(path: str | Path | None) -> tuple[Path, dict[str, Any]]:
    import yaml

    f = Path(path) if path is not None else config_dir() / "scale.yaml"
    if not f.is_file():
        raise MethodError(f"{f}: scale configuration not found")
    conf = yaml.safe_load(f.read_text(encoding="utf-8")) or {}
    if not isinstance(conf.get("offline"), list):
        raise MethodError(f"{f}: expected a list under 'offline:'")
    return f, conf


def _encoder_entries(f: Path, conf: dict[str, Any], online: bool) -> list[dict[str, Any]]:
    out = [dict(e, online=False) for e in conf["offline"]]
    if online:
        out += [dict(e, online=True) for e in conf.get("online", [])]
    for e in out:
        if "name" not in e:
            raise MethodError(f"{f}: every encoder needs a name, got {e}")
    return out


def scale_encoders(online: bool = False, path: str | Path | None = None) -> list[dict[str, Any]]:
    """The encoders of the scale axis from ``configs/scale.yaml`` (offline ones; with ``online`` the hub ones too)."""
    return _encoder_entries(*_scale_config(path), online)


TRAIN_SETTINGS = ("learning_rate", "freeze_embeddings", "epochs")


def encoder_settings(
    encoder: str,
    *,
    learning_rate: float | None = None,
    freeze_embeddings: bool | None = None,
    epochs: int | None = None,
    defaults: Mapping[str, Any] | None = None,
    path: str | Path | None = None,
) -> dict[str, Any]:
    """Training settings for ``encoder``: each one given wins, else the encoder's own in configs/scale.yaml, else
    ``defaults`` (by default the shared ``settings`` of configs/scale.yaml) — so switching encoder is one parameter."""
    f, conf = _scale_config(path)
    own = next((e for e in _encoder_entries(f, conf, online=True) if e["name"] == encoder), {})
    base = {**(conf.get("settings") or {}), **(defaults or {})}
    given = {"learning_rate": learning_rate, "freeze_embeddings": freeze_embeddings, "epochs": epochs}
    missing = [k for k in TRAIN_SETTINGS if given[k] is None and k not in own and k not in base]
    if missing:
        raise MethodError(
            f"{f}: no {', '.join(missing)} for encoder {encoder!r}; give them, or set them under 'settings:'"
        )
    return {k: v if v is not None else own.get(k, base.get(k)) for k, v in given.items()}


RECIPES = ("offline", "scale")

#: The encoder the offline recipe was tuned for (bench/RESULTS.md, "Fine-tuning recipe").
RECIPE_ENCODER = "e5-small"

#: The settings a runner takes from a recipe (never its sample caps, which each study sets for itself).
RECIPE_SETTINGS = ("learning_rate", "freeze_embeddings", "freeze_layers", "bf16", "batch_size", "epochs")


def add_recipe_arguments(parser: Any) -> None:
    """``--recipe``, ``--batch-size`` and ``--threads`` of a runner's command line (:func:`recipe_settings`)."""
    parser.add_argument(
        "--recipe",
        default="offline",
        choices=RECIPES,
        help="training settings: offline = e5-small as the main job trains it (bf16, 6 frozen layers), other "
        "encoders as configs/scale.yaml; scale = configs/scale.yaml for every encoder (default: offline)",
    )
    parser.add_argument("--batch-size", type=int, default=None, help="default: the recipe's")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: all)")


def recipe_settings(
    encoder: str,
    recipe: str = "offline",
    *,
    offline_path: str | Path | None = None,
    scale_path: str | Path | None = None,
    **given: Any,
) -> dict[str, Any]:
    """The :class:`MethodConfig` training settings of ``encoder`` under ``recipe``; settings given (not None) win.

    ``"offline"``: e5-small takes the main job's fine-tuning recipe (``configs/offline.yaml`` stage 04 — bf16, all
    embeddings and the lowest 6 layers frozen, learning rate, batch size, transfer epochs; issue 14), so a study's
    e5-small models are trained as the offline study's are; encoders the recipe was not tuned for (the mini
    encoders, hub encoders) keep their own settings in ``configs/scale.yaml``. ``"scale"``: every encoder takes its
    ``configs/scale.yaml`` settings (the methods comparison's). Unknown recipes or settings raise :class:`MethodError`.
    """
    if recipe not in RECIPES:
        raise MethodError(f"unknown recipe {recipe!r}; expected one of {', '.join(RECIPES)}")
    unknown = sorted(set(given) - set(RECIPE_SETTINGS))
    if unknown:
        raise MethodError(f"not a recipe setting: {', '.join(unknown)}; expected any of {', '.join(RECIPE_SETTINGS)}")
    if recipe == "offline" and encoder == RECIPE_ENCODER:
        base = offline_recipe(offline_path)
        missing = [k for k in RECIPE_SETTINGS if k not in base]
        if missing:
            raise MethodError(f"the offline recipe (stage 04_training of offline.yaml) lacks {', '.join(missing)}")
        base = {k: base[k] for k in RECIPE_SETTINGS}
    else:
        base = encoder_settings(encoder, path=scale_path)  # learning_rate, freeze_embeddings, epochs
    return {**base, **{k: v for k, v in given.items() if v is not None}}
