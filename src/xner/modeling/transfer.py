"""Transfer settings: which data trains a model, which data evaluates it, and the tidy rows of the result.

Settings (one :class:`TransferSpec` each):

* ``native`` — target train → target test (dev: target dev);
* ``zero-shot`` — source train → target test (dev: source dev; no target labels are seen at all);
* ``multi-source`` — several sources' train splits at once, interleaved sentence by sentence (dev: the
  sources' dev splits together);
* ``few-shot`` — source train plus ``k`` target train sentences drawn with the seed (dev: source dev);
* ``translate-train`` — the projected target data that stage 03 writes under ``results/`` (a CoNLL file or a
  folder with ``train.tsv``; dev: source dev);
* ``translate-test`` — the zero-shot source model (same data, so the same cached model), evaluated on the target
  test set through a ``test_tagger`` that translates each target sentence into the source language, tags it
  and projects the labels back (:func:`xner.projection.compare.translate_test_tagger`); target test only.

Sample caps apply per language (``max_train_samples`` sentences of *each* source), so a multi-source model
sees each source as a single-source model does. Every setting is evaluated with strict span F1 and a
percentile-bootstrap CI on the target test set and on each source's own test set, as rows of the evaluation
schema shared by all stages (:data:`SCHEMA`). Neural models and the CRF go through the same code path.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from xner.data import (
    find_split_file,
    from_lists,
    label_set_of,
    load_split,
    map_labels,
    read_conll,
    tag_names,
    write_conll,
)
from xner.labels import LabelSet
from xner.metrics import EVAL_SCHEMA, bootstrap_ci, score
from xner.modeling.cache import cached_training, link_model, training_key
from xner.modeling.config import TrainConfig
from xner.modeling.crf import CRFConfig, train_crf
from xner.modeling.load import load_predictor
from xner.modeling.train import TrainingDataError, check_same_labels, train_ner
from xner.utils import cap

log = logging.getLogger(__name__)

SETTINGS = ("native", "zero-shot", "multi-source", "few-shot", "translate-train", "translate-test")
SCHEMA = list(EVAL_SCHEMA)
EXTRA = ["few_shot_k", "n_train_sentences"]

Predictor = Callable[[list[list[str]]], list[list[str]]]


class SettingError(ValueError):
    """A transfer setting is specified inconsistently."""


@dataclass(frozen=True)
class TransferSpec:
    """One training/evaluation setting for a target language."""

    setting: str
    target: str
    sources: tuple[str, ...] = ()
    k: int | None = None
    projected: str | None = None
    dataset: str = "wikiann"
    type_map: dict[str, str | None] | None = field(default=None, hash=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "sources", tuple(self.sources))
        s, src = self.setting, self.sources
        if s not in SETTINGS:
            raise SettingError(f"unknown setting {s!r}; expected one of {', '.join(SETTINGS)}")
        if s == "native":
            if src not in ((), (self.target,)):
                raise SettingError(f"native trains on the target {self.target!r} only; got sources {src}")
            object.__setattr__(self, "sources", (self.target,))
        elif s in ("zero-shot", "translate-train", "translate-test"):
            if len(src) != 1 or src[0] == self.target:
                raise SettingError(f"{s} needs exactly one source language different from the target; got {src}")
        elif s == "multi-source":
            if len(src) < 2 or self.target in src or len(set(src)) != len(src):
                raise SettingError(f"multi-source needs ≥ 2 distinct sources other than the target; got {src}")
        elif s == "few-shot":
            if not src or self.target in src:
                raise SettingError(f"few-shot needs source language(s) other than the target; got {src}")
        if s == "few-shot" and (self.k is None or self.k < 1):
            raise SettingError(f"few-shot needs k ≥ 1 target sentences (k=0 is zero-shot); got k={self.k}")
        if s != "few-shot" and self.k is not None:
            raise SettingError(f"k (few-shot target sentences) only applies to few-shot, not {s}")
        if s == "translate-train" and not self.projected:
            raise SettingError(
                "translate-train needs projected=<CoNLL folder or file written by stage 03 (projection)>"
            )
        if s != "translate-train" and self.projected:
            raise SettingError(f"projected data only applies to translate-train, not {s}")

    @property
    def source(self) -> str:
        """The source column of result rows: the source languages joined by ``+``."""
        return "+".join(self.sources)

    @property
    def languages(self) -> list[str]:
        """Every language involved (a mini encoder is pretrained on their text)."""
        return sorted(set(self.sources) | {self.target})


@dataclass
class EvalSet:
    """One evaluation set: a language's split of a dataset."""

    lang: str
    dataset: str
    split: str
    data: Any


@dataclass
class SettingData:
    """Training data, dev data and evaluation sets of one setting, with counts of what was used."""

    spec: TransferSpec
    train: Any
    dev: Any | None
    evals: list[EvalSet]
    label_set: LabelSet
    notes: dict[str, Any] = field(default_factory=dict)


def _interleave(parts: Sequence[Any], label_set: LabelSet) -> Any:
    """Sentences of several datasets interleaved round-robin (so any prefix is balanced across them)."""
    toks: list[list[str]] = []
    tags: list[list[str]] = []
    langs: list[list[str]] = []
    cols = [(list(p["tokens"]), tag_names(p), list(p["langs"])) for p in parts]
    for i in range(max(len(c[0]) for c in cols)):
        for t, g, lg in cols:
            if i < len(t):
                toks.append(list(t[i]))
                tags.append(g[i])
                langs.append(list(lg[i]))
    return from_lists(toks, tags, langs=langs, label_set=label_set)


def load_projected(path: str | Path, lang: str, label_set: LabelSet | None = None) -> Any:
    """The projected training data of translate-train: a CoNLL file, or a folder holding its train file."""
    p = Path(path)
    if not p.exists():
        raise FileNotFoundError(
            f"translate-train: projected data {p} does not exist. Run stage 03 (notebooks/03_projection.py) for this "
            "pair first; it writes the projected target training data as CoNLL under results/, and pass that file "
            "or folder as projected=..."
        )
    if p.is_dir():
        p = find_split_file(p, "train")
    return read_conll(p, lang=lang, label_set=label_set)


def _check_nonempty(ds: Any, what: str) -> None:
    if ds is None or len(ds) == 0:
        raise TrainingDataError(f"{what} is empty")


def build_setting_data(
    spec: TransferSpec,
    *,
    seed: int = 0,
    max_train_samples: int | None = None,
    max_eval_samples: int | None = None,
    max_predict_samples: int | None = None,
    loader: Callable[..., Any] = load_split,
) -> SettingData:
    """Assemble the training, dev and evaluation data of a setting (see the module docstring)."""
    ds = spec.dataset
    target_test = cap(loader(spec.target, "test", ds), max_predict_samples)
    _check_nonempty(target_test, f"the {ds} test split of {spec.target}")
    label_set = label_set_of(target_test)
    notes: dict[str, Any] = {}

    def conform(d: Any, what: str) -> Any:
        if d is None or len(d) == 0:
            return d
        ls = label_set_of(d)
        if ls.labels == label_set.labels:
            return d
        if spec.type_map is None:
            check_same_labels(ls, label_set, f"test set ({what} vs the {spec.target} test split)")
        mapped, report = map_labels(d, label_set, spec.type_map)
        notes.setdefault("label_mapping", []).append(f"{what}: {report}")
        log.info("%s: %s", what, report)
        return mapped

    if spec.setting == "translate-train":
        train = conform(
            cap(load_projected(spec.projected, spec.target), max_train_samples), f"projected {spec.projected}"
        )
    else:
        parts = []
        for src in spec.sources:
            part = cap(loader(src, "train", ds), max_train_samples)
            _check_nonempty(part, f"the {ds} train split of {src}")
            parts.append(conform(part, f"{src} train"))
        train = parts[0] if len(parts) == 1 else _interleave(parts, label_set)
    _check_nonempty(train, "the training data")
    if spec.setting == "few-shot":
        pool = conform(loader(spec.target, "train", ds), f"{spec.target} train")
        if spec.k > len(pool):
            raise SettingError(f"few-shot k={spec.k} but the {spec.target} train split has only {len(pool)} sentences")
        rng = np.random.default_rng(seed)
        picked = sorted(rng.choice(len(pool), size=spec.k, replace=False).tolist())
        shots = pool.select(picked)
        notes["few_shot_indices"] = picked
        train = _concat(train, shots, label_set)
    devs = []
    dev_langs = [spec.target] if spec.setting == "native" else list(spec.sources)
    for lang in dev_langs:
        d = cap(loader(lang, "dev", ds), max_eval_samples)
        if d is None or len(d) == 0:
            notes.setdefault("empty_dev", []).append(lang)
            log.warning("the %s dev split of %s is empty; it is left out of early stopping", ds, lang)
            continue
        devs.append(conform(d, f"{lang} dev"))
    dev = None if not devs else devs[0] if len(devs) == 1 else _interleave(devs, label_set)
    evals = [EvalSet(spec.target, ds, "test", target_test)]
    for src in spec.sources if spec.setting != "translate-test" else ():  # translate-test tags target text only
        if src != spec.target:
            d = cap(loader(src, "test", ds), max_predict_samples)
            _check_nonempty(d, f"the {ds} test split of {src}")
            evals.append(EvalSet(src, ds, "test", conform(d, f"{src} test")))
    notes["n_train_sentences"] = len(train)
    notes["n_dev_sentences"] = 0 if dev is None else len(dev)
    return SettingData(spec, train, dev, evals, label_set, notes)


def _concat(a: Any, b: Any, label_set: LabelSet) -> Any:
    return from_lists(
        list(a["tokens"]) + list(b["tokens"]),
        tag_names(a) + tag_names(b),
        langs=list(a["langs"]) + list(b["langs"]),
        label_set=label_set,
    )


def evaluate_predictor(
    predictor: Predictor | Any,
    evals: Sequence[EvalSet],
    *,
    meta: dict[str, Any],
    n_resamples: int = 1000,
    seed: int = 0,
    perturbation: str = "clean",
    predictions_dir: str | Path | None = None,
) -> pd.DataFrame:
    """Score a predictor on evaluation sets: one row of :data:`SCHEMA` per set (strict F1 with bootstrap CI,
    strict P/R, lenient F1). ``meta`` fills ``source, target, setting, model, seed`` (and any extra columns).
    With ``predictions_dir`` the predicted tags are written as CoNLL, one file per set."""
    predict = predictor.predict if hasattr(predictor, "predict") else predictor
    rows = []
    for ev in evals:
        tokens = [list(t) for t in ev.data["tokens"]]
        gold = tag_names(ev.data)
        pred = predict(tokens)
        strict = score(gold, pred, mode="strict")
        ci = bootstrap_ci(gold, pred, n_resamples=n_resamples, seed=seed, mode="strict")
        lenient = score(gold, pred, mode="lenient")
        rows.append(
            {
                **meta,
                "eval_lang": ev.lang,
                "eval_dataset": ev.dataset,
                "eval_split": ev.split,
                "perturbation": perturbation,
                "n_sentences": len(tokens),
                "precision": strict.precision,
                "recall": strict.recall,
                "f1": strict.f1,
                "f1_low": ci.low,
                "f1_high": ci.high,
                "lenient_f1": lenient.f1,
            }
        )
        if predictions_dir is not None:
            pd_ds = from_lists(tokens, pred, lang=ev.lang, label_set=label_set_of(ev.data))
            write_conll(pd_ds, Path(predictions_dir) / f"{ev.dataset}-{ev.lang}-{ev.split}.tsv")
    df = pd.DataFrame(rows)
    cols = [c for c in SCHEMA if c in df.columns] + [c for c in df.columns if c not in SCHEMA]
    return df[cols]


@dataclass
class SettingResult:
    """What one run of a setting produced."""

    rows: pd.DataFrame
    predictor: Any
    history: pd.DataFrame | None
    data: SettingData
    stats: dict[str, Any] = field(default_factory=dict)


def run_setting(
    spec: TransferSpec,
    model: str,
    *,
    train_config: TrainConfig | None = None,
    crf_config: CRFConfig | None = None,
    seed: int | None = None,
    encoder: str | None = None,
    encoder_seed: int = 0,
    output_dir: str | Path | None = None,
    n_resamples: int = 1000,
    loader: Callable[..., Any] = load_split,
    model_cache: str | Path | None = None,
    test_tagger: Callable[[Any], Predictor] | None = None,
) -> SettingResult:
    """Train ``model`` (``"crf"`` or any encoder name) under ``spec`` and evaluate it; see the module docstring.

    The sample caps and the seed come from ``train_config`` (also for the CRF, so both see the same data). With
    ``output_dir`` the model (``save_pretrained`` / CRFsuite file), its learning curve and the predictions on
    every evaluation set are written there. ``encoder`` is an already resolved checkpoint (path) for ``model``
    (default: ``resolve_encoder(model, languages=spec.languages, seed=encoder_seed)``); ``model`` names the rows.
    With ``model_cache`` (a folder; needs ``output_dir``) a model trained before on the same data with the same
    encoder and settings is reused (:mod:`xner.modeling.cache`): the run's ``model`` folder links to it.
    ``test_tagger`` (translate-test only, and required there) turns the trained source model into the tagger of
    the target test set, e.g. ``lambda m: translate_test_tagger(m, translator, ...)``.
    """
    if (spec.setting == "translate-test") != (test_tagger is not None):
        raise SettingError(
            "translate-test needs test_tagger=<source model → tagger of target sentences> "
            "(xner.projection.compare.translate_test_tagger), and no other setting takes one"
        )

    cfg = train_config or TrainConfig(model=model)
    seed = cfg.seed if seed is None else seed
    cfg = dataclasses.replace(cfg, model=model, seed=seed)
    data = build_setting_data(
        spec,
        seed=seed,
        max_train_samples=cfg.max_train_samples,
        max_eval_samples=cfg.max_eval_samples,
        max_predict_samples=cfg.max_predict_samples,
        loader=loader,
    )
    out = Path(output_dir) if output_dir is not None else None
    if model_cache is not None and out is None:
        raise SettingError("model_cache needs output_dir: the run's model folder links to the cached model")

    def fit(folder: Path | None) -> tuple[Any, pd.DataFrame | None, float]:
        t0 = time.perf_counter()
        if model == "crf":
            predictor, history = train_crf(data.train, data.dev, crf_config), None
            if folder is not None:
                predictor.save(folder)
        else:
            ft = dataclasses.replace(cfg, max_train_samples=None, max_eval_samples=None)  # capped per language above
            res = train_ner(
                data.train,
                data.dev,
                ft,
                encoder=encoder,
                languages=spec.languages,
                encoder_seed=encoder_seed,
                output_dir=folder,
                run_name=f"{model} {spec.setting} {spec.source}→{spec.target} seed {seed}",
            )
            predictor, history = res.model, res.history
        return predictor, history, time.perf_counter() - t0

    reused = False
    if model_cache is None:
        predictor, history, train_seconds = fit((out / "model") if out is not None else None)
    else:
        shaping = crf_config if model == "crf" else cfg
        key = training_key(model, None if model == "crf" else encoder, shaping, data.train, data.dev)
        trained: list[Any] = []

        def train_into(folder: Path) -> tuple[pd.DataFrame | None, float]:
            predictor, history, seconds = fit(folder)
            trained.append(predictor)
            return history, seconds

        entry = cached_training(model_cache, key, model, train_into)
        link_model(entry.folder, out / "model")
        predictor = trained[0] if trained else load_predictor(entry.folder)
        history, train_seconds, reused = entry.history, entry.train_seconds, entry.reused
    meta = {
        "source": spec.source,
        "target": spec.target,
        "setting": spec.setting,
        "model": model,
        "seed": seed,
        "few_shot_k": spec.k,
        "n_train_sentences": len(data.train),
    }
    t1 = time.perf_counter()
    rows = evaluate_predictor(
        predictor if test_tagger is None else test_tagger(predictor),
        data.evals,
        meta=meta,
        n_resamples=n_resamples,
        seed=seed,
        predictions_dir=(out / "predictions") if out is not None else None,
    )
    eval_seconds = time.perf_counter() - t1
    if history is not None:
        history = history.assign(source=spec.source, target=spec.target, setting=spec.setting, model=model, seed=seed)
    stats = {
        "train_seconds": train_seconds,
        "eval_seconds": eval_seconds,
        "eval_sentences": int(sum(len(e.data) for e in data.evals)),
        "model_reused": reused,
        **data.notes,
    }
    return SettingResult(rows=rows, predictor=predictor, history=history, data=data, stats=stats)


def spec_for(
    setting: str,
    source: str | Sequence[str],
    target: str,
    *,
    k: int | None = None,
    projected: str | Path | None = None,
    dataset: str = "wikiann",
    type_map: dict[str, str | None] | None = None,
) -> TransferSpec:
    """Build a :class:`TransferSpec` from a pair's source(s) and target (``source`` may be ``"a+b"``)."""
    sources = tuple(source.split("+")) if isinstance(source, str) else tuple(source)
    if setting == "native":
        sources = (target,)
    return TransferSpec(
        setting=setting,
        target=target,
        sources=sources,
        k=k if setting == "few-shot" else None,
        projected=str(projected) if projected and setting == "translate-train" else None,
        dataset=dataset,
        type_map=type_map,
    )


__all__ = [
    "EXTRA",
    "EvalSet",
    "SCHEMA",
    "SETTINGS",
    "SettingData",
    "SettingError",
    "SettingResult",
    "TransferSpec",
    "build_setting_data",
    "evaluate_predictor",
    "load_projected",
    "run_setting",
    "spec_for",
]
