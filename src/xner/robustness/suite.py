"""The adversarial suite: models × test sets × perturbations → one tidy results table.

For every model and test set the clean set is scored once; for every perturbation and perturbation seed the
perturbed copy (the same sentences) is scored, and its drop against the clean set is tested with a paired
bootstrap that resamples sentence indices jointly for the clean and the perturbed copy — each side scored
against its own gold, since replaced entities change length (:func:`xner.metrics.paired_bootstrap` with
``gold_b``). A perturbation that cannot be applied gives rows with ``applied=False``, its reason and empty
scores, never the clean scores passed off as perturbed.

Columns: the evaluation schema every stage shares (``source, target, setting, model, seed, eval_lang,
eval_dataset, eval_split, perturbation, n_sentences, precision, recall, f1, f1_low, f1_high, lenient_f1``),
then ``drop, drop_low, drop_high, p_value`` (clean F1 − perturbed F1; positive = the model got worse) and
the perturbation report fields (:meth:`xner.robustness.perturb.base.PerturbationReport.as_row`).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from xner.data import tag_names
from xner.figures import SEQUENTIAL_CMAP, style
from xner.metrics import EVAL_SCHEMA, bootstrap_ci, paired_bootstrap, score
from xner.modeling.crf import CRFConfig, CRFTagger, train_crf
from xner.modeling.predict import NERModel
from xner.robustness.perturb.base import PerturbationReport, PerturbationWarning, dataset_lang
from xner.robustness.perturb.registry import PerturbationContext, build
from xner.signature import signature, write_table

if TYPE_CHECKING:
    import datasets
    import matplotlib.figure


SCHEMA = EVAL_SCHEMA
DROP_COLUMNS = ("drop", "drop_low", "drop_high", "p_value")
REPORT_COLUMNS = tuple(PerturbationReport("x", 0).as_row())
COLUMNS = SCHEMA + DROP_COLUMNS + REPORT_COLUMNS

Predictor = Callable[[list[list[str]]], list[list[str]]]


class SuiteError(ValueError):
    """A model or test set given to the suite is unusable (the message says which and why)."""


@dataclass
class ModelSpec:
    """A predictor and what it is: ``setting`` (native, zero-shot, ...), ``model`` (encoder name or crf)."""

    predictor: Any
    source: str = ""
    target: str = ""
    setting: str = ""
    model: str = ""
    seed: int = 0


@dataclass
class EvalSet:
    """A test set and its identity in the table; ``extra`` columns (e.g. a label-mapping report) ride along."""

    dataset: datasets.Dataset
    lang: str
    eval_dataset: str = "wikiann"
    split: str = "test"
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class SuiteResult:
    """The results table plus each perturbation run's full report (keyed by test set, perturbation, seed)."""

    table: pd.DataFrame
    reports: dict[tuple[str, str, int], PerturbationReport]

    def records(self) -> pd.DataFrame:
        """Every entity replacement of every run (with the locale a name came from), one row each."""
        rows = []
        for (ts, pert, seed), rep in sorted(self.reports.items()):
            for rec in rep.records:
                rows.append({"test_set": ts, "perturbation": pert, "perturbation_seed": seed, **rec})
        return pd.DataFrame(rows)


def predict(predictor: Any, tokens: list[list[str]], name: str = "model") -> list[list[str]]:
    """Call a predictor (``.predict(tokens)`` or a plain callable) and check it returned one tag per word."""
    fn = predictor.predict if hasattr(predictor, "predict") else predictor
    if not callable(fn):
        raise SuiteError(
            f"model {name!r}: expected an object with .predict(tokens) or a callable, got {type(predictor).__name__}"
        )
    out = fn(tokens)
    if len(out) != len(tokens):
        raise SuiteError(f"model {name!r} returned {len(out)} sentences for {len(tokens)}")
    for i, (toks, tags) in enumerate(zip(tokens, out, strict=True)):
        if len(toks) != len(tags):
            raise SuiteError(f"model {name!r}: sentence {i} has {len(toks)} words but {len(tags)} predicted tags")
    return [list(t) for t in out]


def as_model_spec(name: str, m: Any) -> ModelSpec:
    """A :class:`ModelSpec` from what a caller passed for model ``name``: a spec, a predictor or a callable."""
    if isinstance(m, ModelSpec):
        spec = m
    else:
        spec = ModelSpec(predictor=m)
    spec.setting = spec.setting or name
    spec.model = spec.model or name
    return spec


def _eval_set(name: str, ts: Any) -> EvalSet:
    if isinstance(ts, EvalSet):
        return ts
    lang = dataset_lang(ts)
    if lang is None:
        raise SuiteError(f"test set {name!r} has no language codes in 'langs'; wrap it in EvalSet(ds, lang=...)")
    return EvalSet(ts, lang)


def _gold(ds: datasets.Dataset) -> tuple[list[list[str]], list[list[str]]]:
    return [list(t) for t in ds["tokens"]], tag_names(ds)


def score_row(
    gold: list[list[str]], pred: list[list[str]], *, n_resamples: int, confidence: float, seed: int
) -> dict[str, Any]:
    """Strict precision/recall/F1 with a bootstrap CI and the lenient F1, as table columns."""
    strict = score(gold, pred, mode="strict")
    ci = bootstrap_ci(gold, pred, n_resamples=n_resamples, confidence=confidence, seed=seed, mode="strict")
    return {
        "n_sentences": len(gold),
        "precision": strict.precision,
        "recall": strict.recall,
        "f1": strict.f1,
        "f1_low": ci.low,
        "f1_high": ci.high,
        "lenient_f1": score(gold, pred, mode="lenient").f1,
    }


def run_suite(
    models: Mapping[str, Any],
    test_sets: Mapping[str, Any],
    perturbations: Sequence[Any],
    *,
    contexts: PerturbationContext | Mapping[str, PerturbationContext] | None = None,
    seeds: Sequence[int] = (0,),
    n_resamples: int = 1000,
    confidence: float = 0.95,
    bootstrap_seed: int = 0,
    log: Callable[[str], None] | None = None,
) -> SuiteResult:
    """Evaluate every model on every test set, clean and under every perturbation and seed.

    Args:
        models: name → predictor (``.predict(tokens)`` or callable) or :class:`ModelSpec`.
        test_sets: name → dataset (language read from ``langs``) or :class:`EvalSet`.
        perturbations: specs for :func:`xner.robustness.perturb.build` (names, dicts) or built perturbations.
        contexts: the perturbation context for all test sets, or one per test set name; a test set without
            one gets ``PerturbationContext(lang=<its language>)``.
        seeds: perturbation seeds; each gives its own perturbed copy and rows.
        n_resamples, confidence, bootstrap_seed: bootstrap settings for the F1 CIs and the paired test.
        log: optional progress callback (e.g. ``print``).
    """
    say = log or (lambda msg: None)
    specs = {name: as_model_spec(name, m) for name, m in models.items()}
    if not specs:
        raise SuiteError("no models given")
    rows: list[dict[str, Any]] = []
    reports: dict[tuple[str, str, int], PerturbationReport] = {}
    boot = {"n_resamples": n_resamples, "confidence": confidence, "seed": bootstrap_seed}
    for ts_name, ts_raw in test_sets.items():
        ts = _eval_set(ts_name, ts_raw)
        ctx = _context_for(contexts, ts_name, ts.lang)
        tokens, gold = _gold(ts.dataset)
        clean_pred = {}
        for mname, spec in specs.items():
            say(f"[{ts_name}] {mname}: clean")
            clean_pred[mname] = predict(spec.predictor, tokens, mname)
            row = base_row(spec, ts, "clean")
            row.update(score_row(gold, clean_pred[mname], **boot))
            row.update({"drop": 0.0, "drop_low": 0.0, "drop_high": 0.0, "p_value": math.nan})
            row.update({"applied": True, "perturbation_seed": None})
            rows.append(row)
        built = [build(p, ctx, on_unavailable="record") for p in perturbations]
        names = [p.name for p in built]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise SuiteError(
                f"perturbations {dupes} appear twice; give each a distinct label, e.g. "
                f"{{'name': 'mask', 'rate': 0.3, 'label': 'mask@0.3'}}"
            )
        for pert in built:
            for pseed in seeds:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", PerturbationWarning)
                    pds, rep = pert.apply(ts.dataset, seed=pseed)
                reports[(ts_name, pert.name, int(pseed))] = rep
                say(f"[{ts_name}] {rep.summary()}")
                p_tokens, p_gold = _gold(pds) if rep.applied else (tokens, gold)
                for mname, spec in specs.items():
                    row = base_row(spec, ts, pert.name)
                    row.update(rep.as_row())
                    if not rep.applied:
                        row.update(
                            {k: math.nan for k in ("precision", "recall", "f1", "f1_low", "f1_high", "lenient_f1")}
                        )
                        row.update({k: math.nan for k in DROP_COLUMNS})
                        row["n_sentences"] = len(tokens)
                        rows.append(row)
                        continue
                    pred = predict(spec.predictor, p_tokens, mname)
                    row.update(score_row(p_gold, pred, **boot))
                    test = paired_bootstrap(gold, clean_pred[mname], pred, gold_b=p_gold, mode="strict", **boot)
                    row.update(
                        {"drop": test.delta, "drop_low": test.low, "drop_high": test.high, "p_value": test.p_value}
                    )
                    rows.append(row)
    table = pd.DataFrame(rows)
    extra_cols = [c for c in table.columns if c not in COLUMNS]
    table = table.reindex(columns=list(COLUMNS) + extra_cols)
    return SuiteResult(table, reports)


def _context_for(contexts: Any, ts_name: str, lang: str) -> PerturbationContext:
    if contexts is None:
        return PerturbationContext(lang=lang)
    if isinstance(contexts, PerturbationContext):
        ctx = contexts
    elif ts_name in contexts:
        ctx = contexts[ts_name]
    else:
        return PerturbationContext(lang=lang)
    if ctx.lang is not None and ctx.lang != lang:
        raise SuiteError(f"test set {ts_name!r} is {lang!r} but its perturbation context says lang={ctx.lang!r}")
    if ctx.lang is None:
        ctx = PerturbationContext(**{**ctx.__dict__, "lang": lang})
    return ctx


def base_row(spec: ModelSpec, ts: EvalSet, perturbation: str) -> dict[str, Any]:
    """The identifying columns of an evaluation row: the model's spec, the evaluation set and the perturbation."""
    return {
        "source": spec.source,
        "target": spec.target,
        "setting": spec.setting,
        "model": spec.model,
        "seed": spec.seed,
        "eval_lang": ts.lang,
        "eval_dataset": ts.eval_dataset,
        "eval_split": ts.split,
        "perturbation": perturbation,
        **ts.extra,
    }


def suite_signature(table: pd.DataFrame, **fields: Any) -> dict[str, Any]:
    """The signature of a suite table: data, splits, languages, models, seeds, metric mode, stage 05."""

    def uniq(col: str) -> list[Any]:
        return sorted({str(v) for v in table[col].dropna()}) if col in table else []

    return signature(
        data=uniq("eval_dataset"),
        split=uniq("eval_split"),
        languages=sorted(set(uniq("eval_lang")) | set(uniq("source")) - {""}),
        model=uniq("model"),
        seed=uniq("seed"),
        mode="strict IOB2 (lenient beside it); percentile bootstrap over sentences",
        stage="05_adversarial",
        perturbations=uniq("perturbation"),
        perturbation_seeds=uniq("perturbation_seed"),
        **fields,
    )


def write_suite(
    result: SuiteResult, results_dir: str | Path, stem: str = "adversarial", **sig_fields: Any
) -> list[Path]:
    """Write the table (``<stem>.csv`` + signature), the replacement records and the full reports (JSON)."""
    import json

    results_dir = Path(results_dir)
    sig = suite_signature(result.table, **sig_fields)
    paths = [write_table(result.table, results_dir / f"{stem}.csv", sig)]
    records = result.records()
    if len(records):
        paths.append(write_table(records, results_dir / f"{stem}_replacements.csv", sig))
    rep_path = results_dir / f"{stem}_reports.json"
    payload = [
        {
            "test_set": ts,
            "perturbation": p,
            "perturbation_seed": s,
            **{k: v for k, v in r.to_dict().items() if k != "records"},
        }
        for (ts, p, s), r in sorted(result.reports.items())
    ]
    rep_path.write_text(json.dumps(payload, indent=1, ensure_ascii=False, default=str) + "\n", encoding="utf-8")
    paths.append(rep_path)
    return paths


# ------------------------------------------------------------------------------------------ models


def load_predictor(path: str | Path) -> Any:
    """Load a trained model folder: a feature CRF (``crf_config.json``) or a fine-tuned encoder (``config.json``)."""
    path = Path(path)
    if (path / "crf_config.json").is_file():
        return CRFTagger.load(path)
    if (path / "config.json").is_file():
        return NERModel.load(path)
    raise SuiteError(
        f"{path}: not a trained model folder (expected crf_config.json for a CRF or config.json for an encoder)"
    )


def _saved_meta(path: Path) -> dict[str, Any]:
    import json

    for name in ("xner_model.json", "crf_config.json"):
        f = path / name
        if f.is_file():
            meta = json.loads(f.read_text(encoding="utf-8"))
            return {k: meta[k] for k in ("setting", "source", "target", "seed", "model") if k in meta}
    return {}


def load_models(models: Mapping[str, Any], source: str, target: str) -> dict[str, ModelSpec]:
    """Resolve the notebook's ``models`` parameter into :class:`ModelSpec` objects.

    Each entry is ``name: path`` or ``name: {"path": ..., "setting": ..., "source": ..., "model": ..., "seed": ...}``.
    Unset fields come from the checkpoint's saved metadata, then from the name: a model named/set ``native``
    was trained on the target (``source = target``), any other on the pair's source.
    """
    out: dict[str, ModelSpec] = {}
    for name, entry in models.items():
        info = dict(entry) if isinstance(entry, Mapping) else {"path": entry}
        if "path" not in info:
            raise SuiteError(f"model {name!r}: no 'path' given ({info})")
        path = Path(info.pop("path"))
        if not path.exists():
            raise SuiteError(f"model {name!r}: {path} does not exist")
        meta = {**_saved_meta(path), **info}
        setting = str(meta.get("setting", name))
        src = str(meta.get("source", target if setting == "native" else source))
        out[name] = ModelSpec(
            load_predictor(path),
            source=src,
            target=str(meta.get("target", target)),
            setting=setting,
            model=str(meta.get("model", "crf" if (path / "crf_config.json").is_file() else path.name)),
            seed=int(meta.get("seed", 0)),
        )
    return out


def quick_crf_models(
    source_train: datasets.Dataset,
    target_train: datasets.Dataset,
    source: str,
    target: str,
    *,
    n_train: int = 1000,
    max_iterations: int = 50,
) -> dict[str, ModelSpec]:
    """Train two small feature CRFs in place (native: target train; zero-shot: source train) on the first
    ``n_train`` sentences: the quick default that runs the stage without trained checkpoints."""
    cfg = CRFConfig(max_train_samples=n_train, max_iterations=max_iterations)
    return {
        "native": ModelSpec(
            train_crf(target_train, config=cfg), source=target, target=target, setting="native", model="crf"
        ),
        "zero-shot": ModelSpec(
            train_crf(source_train, config=cfg), source=source, target=target, setting="zero-shot", model="crf"
        ),
    }


# ------------------------------------------------------------------------------------- comparisons


def side_by_side(
    table: pd.DataFrame, settings: Sequence[str] = ("native", "zero-shot"), value: str = "f1"
) -> pd.DataFrame:
    """Native and transfer models of a pair next to each other, one row per test set × perturbation.

    Values are averaged over model seeds and perturbation seeds; columns are ``<value>_<setting>`` and
    ``drop_<setting>`` for each setting, plus ``drop_gap`` (second setting's drop − first's) when two are given.
    """
    have = [s for s in settings if s in set(table["setting"])]
    if not have:
        raise SuiteError(f"none of the settings {list(settings)} is in the table (has {sorted(set(table['setting']))})")
    sub = table[table["setting"].isin(have)]
    keys = ["eval_lang", "eval_dataset", "eval_split", "perturbation"]
    agg = sub.groupby(keys + ["setting"], dropna=False)[[value, "drop"]].mean().unstack("setting")
    agg.columns = [f"{v}_{s}" for v, s in agg.columns]
    if len(have) == 2:
        agg["drop_gap"] = agg[f"drop_{have[1]}"] - agg[f"drop_{have[0]}"]
    return agg.reset_index()


def degradation_matrix(
    table: pd.DataFrame, value: str = "drop", rows: str = "perturbation", cols: str = "setting"
) -> pd.DataFrame:
    """Mean ``value`` per (row, column) over everything else (seeds, models of a setting); clean rows left out."""
    sub = table[table["perturbation"] != "clean"]
    return sub.pivot_table(index=rows, columns=cols, values=value, aggfunc="mean", dropna=False).sort_index()


def plot_degradation_heatmap(
    table: pd.DataFrame,
    value: str = "drop",
    rows: str = "perturbation",
    cols: str = "setting",
    title: str | None = None,
) -> matplotlib.figure.Figure:
    """Heatmap of F1 drop (points of F1) per perturbation × setting; not-applied cells are marked ``n/a``."""
    import matplotlib.pyplot as plt

    mat = degradation_matrix(table, value, rows, cols)
    data = mat.to_numpy(dtype=float) * (100.0 if value in ("drop", "f1") else 1.0)
    with style():
        fig, ax = plt.subplots(figsize=(1.4 + 1.1 * max(1, data.shape[1]), 0.9 + 0.38 * max(1, data.shape[0])))
        masked = np.ma.masked_invalid(data)
        finite = data[np.isfinite(data)]
        vmax = float(np.abs(finite).max()) if finite.size else 1.0
        im = ax.imshow(
            masked,
            cmap=SEQUENTIAL_CMAP,
            vmin=min(0.0, float(finite.min()) if finite.size else 0.0),
            vmax=vmax or 1.0,
            aspect="auto",
        )
        ax.set_xticks(range(data.shape[1]), [str(c) for c in mat.columns], rotation=30, ha="right")
        ax.set_yticks(range(data.shape[0]), [str(r) for r in mat.index])
        for i in range(data.shape[0]):
            for j in range(data.shape[1]):
                v = data[i, j]
                txt = "n/a" if not np.isfinite(v) else f"{v:.1f}"
                dark = np.isfinite(v) and vmax and v < 0.6 * vmax
                ax.text(j, i, txt, ha="center", va="center", fontsize=7, color="white" if dark else "black")
        label = "F1 drop (points)" if value == "drop" else value
        fig.colorbar(im, ax=ax, label=label, shrink=0.8)
        ax.set_xlabel(cols)
        ax.set_ylabel(rows)
        ax.set_title(title or f"{label} by {rows} × {cols}")
        ax.spines[:].set_visible(False)
        fig.tight_layout()
    return fig
