"""Trained models shared across runs: a model is trained once per training data, encoder and settings.

A model trained on a language's training split serves every pair that trains on it: the native model of ``hi``
(``hi`` train → ``hi`` test) *is* the zero-shot model of ``hi → mr`` and ``hi → ur``. The key of a model is a
digest of everything that shapes it — the training and dev sentences with their tags, the model name, the
resolved encoder and every setting of its configuration except those that only change how it runs
(:data:`NON_SHAPING`) — never the setting's name or the pair. A run whose key is in the cache links its model
folder to the cached one instead of training; training is deterministic on the CPU, so the linked model is the one
the run would have trained.

Entries are written under a temporary name and renamed when complete, so a killed run leaves no half-written model
that a later run could take for finished.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from xner.data import tag_names
from xner.utils import text_digest

#: Configuration fields that change how a model is trained or evaluated, not which model comes out.
NON_SHAPING = frozenset({"eval_batch_size", "max_predict_samples", "num_threads", "progress"})
META = "xner_cache.json"
HISTORY = "history.csv"


def training_key(model: str, encoder: str | None, config: Any, train: Any, dev: Any | None) -> str:
    """The cache key of a model: a digest of its training and dev data, the model and encoder, and its settings."""
    settings = {k: v for k, v in dataclasses.asdict(config).items() if k not in NON_SHAPING} if config else {}
    parts = {
        "model": model,
        "encoder": encoder,
        "settings": settings,
        "train": [text_digest(train["tokens"]), text_digest(tag_names(train))],
        "dev": None if dev is None or len(dev) == 0 else [text_digest(dev["tokens"]), text_digest(tag_names(dev))],
    }
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode("utf-8")).hexdigest()[:16]


@dataclass
class CachedModel:
    """A model folder from the cache (or just trained into it) and what training it cost."""

    folder: Path
    history: pd.DataFrame | None
    train_seconds: float
    reused: bool


def cached_training(
    cache_dir: str | Path, key: str, name: str, train: Callable[[Path], tuple[pd.DataFrame | None, float]]
) -> CachedModel:
    """The cached model ``<cache_dir>/<name>-<key>/model``, trained by ``train(folder)`` when it is not there yet.

    ``train`` saves the model into the folder it is given and returns its learning curve (or None) and seconds.
    """
    entry = Path(cache_dir) / f"{name.replace('/', '_')}-{key}"
    meta = entry / META
    if meta.is_file():
        info = json.loads(meta.read_text(encoding="utf-8"))
        hist = pd.read_csv(entry / HISTORY) if (entry / HISTORY).is_file() else None
        return CachedModel(entry / "model", hist, float(info["train_seconds"]), True)
    tmp = entry.with_name(entry.name + ".tmp")
    if tmp.exists():  # left by a killed run
        shutil.rmtree(tmp)
    tmp.mkdir(parents=True)
    history, seconds = train(tmp / "model")
    if history is not None:
        history.to_csv(tmp / HISTORY, index=False)
    (tmp / META).write_text(json.dumps({"key": key, "train_seconds": seconds}) + "\n", encoding="utf-8")
    if entry.exists():  # trained meanwhile by another run with the same key: keep the first
        shutil.rmtree(tmp)
    else:
        tmp.rename(entry)
    return CachedModel(entry / "model", history, seconds, False)


def link_model(cached: Path, run_model: Path) -> None:
    """Make ``run_model`` (a run's ``model`` folder) a relative symbolic link to the cached model folder."""
    run_model.parent.mkdir(parents=True, exist_ok=True)
    if run_model.is_symlink() or run_model.is_file():
        run_model.unlink()
    elif run_model.is_dir():
        shutil.rmtree(run_model)
    run_model.symlink_to(os.path.relpath(cached.resolve(), run_model.parent.resolve()), target_is_directory=True)
