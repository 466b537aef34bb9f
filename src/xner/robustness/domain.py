"""Domain shift: WikiANN-trained models evaluated on other domains through an explicit label mapping.

The other-domain sets are listed under ``domains:`` in ``configs/languages.yaml`` (Europarl: parliament,
en/es; CoNLL-2002: news, es/nl). Their CoNLL labels (PER ORG LOC MISC) are mapped onto WikiANN's with
:func:`xner.data.map_labels` and the explicit map ``{"MISC": None}``: MISC entities are dropped (their
tokens become ``O``) and counted, so a WikiANN model is neither rewarded nor punished for a type it was never
taught. Each row carries the mapping's counts.

The drop is measured against the in-domain WikiANN test set of the same language. The two sets share no
sentences, so the test is an *unpaired* bootstrap: each set is resampled independently and the drop's
percentile interval and two-sided p-value come from the differences.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from xner import config
from xner.data import load_split, map_labels, tag_names
from xner.labels import WIKIANN, LabelSet
from xner.metrics import sentence_counts
from xner.robustness.suite import SCHEMA, EvalSet, ModelSpec, SuiteError, as_model_spec, base_row, predict, score_row
from xner.utils import cap

if TYPE_CHECKING:
    import datasets

DEFAULT_TYPE_MAP: dict[str, str | None] = {"MISC": None}


def domain_languages() -> dict[str, list[str]]:
    """Other-domain dataset → its languages, from ``configs/languages.yaml``."""
    return {name: list(meta.get("languages", [])) for name, meta in config.domains().items()}


def domain_eval_set(
    lang: str,
    dataset: str,
    *,
    split: str = "test",
    target: LabelSet = WIKIANN,
    type_map: Mapping[str, str | None] | None = None,
    ds: datasets.Dataset | None = None,
) -> EvalSet:
    """Load one other-domain test set (or take ``ds``) and map its labels onto ``target`` explicitly.

    The returned :class:`~xner.robustness.suite.EvalSet` carries the mapping in ``extra``: ``label_mapping`` (the
    report as text), ``entities_kept``, ``entities_dropped`` and ``dropped_by_type`` (JSON).
    """
    if ds is None:
        ds = load_split(lang, split, dataset)
    mapped, rep = map_labels(ds, target, dict(DEFAULT_TYPE_MAP if type_map is None else type_map))
    extra = {
        "label_mapping": str(rep),
        "entities_kept": int(sum(rep.kept.values()) + sum(rep.mapped.values())),
        "entities_dropped": int(sum(rep.dropped.values())),
        "dropped_by_type": json.dumps(dict(sorted(rep.dropped.items()))),
    }
    return EvalSet(mapped, lang, eval_dataset=dataset, split="all" if dataset == "europarl" else split, extra=extra)


def domain_eval_sets(
    langs: Sequence[str], datasets: Sequence[str] | None = None, *, split: str = "test", target: LabelSet = WIKIANN
) -> dict[str, EvalSet]:
    """Every configured other-domain set in ``langs`` (optionally only ``datasets``), keyed ``<dataset>-<lang>``."""
    conf = domain_languages()
    names = list(datasets) if datasets is not None else list(conf)
    unknown = [d for d in names if d not in conf]
    if unknown:
        raise SuiteError(f"unknown domain datasets {unknown}; configured: {', '.join(conf)}")
    return {
        f"{d}-{lang}": domain_eval_set(lang, d, split=split, target=target)
        for d in names
        for lang in langs
        if lang in conf[d]
    }


def unpaired_drop(
    gold_a: list[list[str]],
    pred_a: list[list[str]],
    gold_b: list[list[str]],
    pred_b: list[list[str]],
    *,
    n_resamples: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
) -> tuple[float, float, float, float]:
    """F1(a) − F1(b) for two *different* sentence sets: independent bootstrap; (delta, low, high, p_value)."""
    ca, cb = sentence_counts(gold_a, pred_a), sentence_counts(gold_b, pred_b)

    def f1(c: np.ndarray) -> np.ndarray:
        den = c[..., 0].sum(-1) + c[..., 1].sum(-1)
        return np.divide(2.0 * c[..., 2].sum(-1), den, out=np.zeros(np.shape(den)), where=den > 0)

    delta = float(f1(ca) - f1(cb))
    rng = np.random.default_rng(seed)
    deltas = np.empty(n_resamples)
    step = max(1, 2_000_000 // max(len(ca), len(cb), 1))
    for s in range(0, n_resamples, step):
        n = min(step, n_resamples - s)
        ia = rng.integers(0, len(ca), size=(n, len(ca)))
        ib = rng.integers(0, len(cb), size=(n, len(cb)))
        deltas[s : s + n] = f1(ca[ia]) - f1(cb[ib])
    alpha = (1 - confidence) / 2
    low, high = np.quantile(deltas, [alpha, 1 - alpha])
    p = min(1.0, 2 * min(float(np.mean(deltas <= 0)), float(np.mean(deltas >= 0))))
    return delta, float(low), float(high), p


def run_domain_shift(
    models: Mapping[str, Any],
    in_domain: Mapping[str, EvalSet | datasets.Dataset],
    domain_sets: Mapping[str, EvalSet] | None = None,
    *,
    n_resamples: int = 1000,
    confidence: float = 0.95,
    bootstrap_seed: int = 0,
    log: Any = None,
) -> pd.DataFrame:
    """Score models on in-domain WikiANN test sets and on other domains of the same language.

    Args:
        models: name → predictor or :class:`~xner.robustness.suite.ModelSpec`.
        in_domain: language code → its WikiANN test set (the reference for the drop).
        domain_sets: name → mapped other-domain :class:`~xner.robustness.suite.EvalSet` (default: every configured
            domain set in the languages of ``in_domain``, see :func:`domain_eval_sets`).

    Returns one row per model × evaluation set in the suite's columns: in-domain rows have
    ``perturbation="clean"``; other-domain rows ``perturbation="domain_shift"``, the unpaired drop against
    the in-domain set of their language and the label-mapping counts.
    """
    say = log or (lambda msg: None)
    specs = {n: as_model_spec(n, m) for n, m in models.items()}
    refs: dict[str, EvalSet] = {}
    for lang, ts in in_domain.items():
        refs[lang] = ts if isinstance(ts, EvalSet) else EvalSet(ts, lang)
    if domain_sets is None:
        domain_sets = domain_eval_sets(sorted(refs))
    missing = sorted({ts.lang for ts in domain_sets.values()} - set(refs))
    if missing:
        raise SuiteError(f"domain sets in {missing} have no in-domain reference; give in_domain[{missing[0]!r}]")
    boot = {"n_resamples": n_resamples, "confidence": confidence, "seed": bootstrap_seed}
    rows: list[dict[str, Any]] = []
    for mname, spec in specs.items():
        ref_scores: dict[str, tuple[list, list]] = {}
        for lang, ref in refs.items():
            toks, gold = _lists(ref.dataset)
            pred = predict(spec.predictor, toks, mname)
            ref_scores[lang] = (gold, pred)
            row = base_row(spec, ref, "clean")
            row.update(score_row(gold, pred, **boot))
            row.update({"drop": 0.0, "drop_low": 0.0, "drop_high": 0.0, "p_value": float("nan")})
            rows.append(row)
        for name, ts in domain_sets.items():
            say(f"{mname} on {name}")
            toks, gold = _lists(ts.dataset)
            pred = predict(spec.predictor, toks, mname)
            row = base_row(spec, ts, "domain_shift")
            row.update(score_row(gold, pred, **boot))
            g_ref, p_ref = ref_scores[ts.lang]
            d, lo, hi, p = unpaired_drop(g_ref, p_ref, gold, pred, **boot)
            row.update({"drop": d, "drop_low": lo, "drop_high": hi, "p_value": p})
            rows.append(row)
    table = pd.DataFrame(rows)
    first = list(SCHEMA) + ["drop", "drop_low", "drop_high", "p_value"]
    return table.reindex(columns=first + [c for c in table.columns if c not in first])


def run_for_models(
    models: Mapping[str, ModelSpec], *, max_sentences: int | None = None, **kwargs: Any
) -> tuple[pd.DataFrame, list[str]]:
    """Domain shift for each model in the language it was trained on (``ModelSpec.source``).

    For every training language with configured other-domain sets, the in-domain reference is that language's
    WikiANN test split. Returns the table (empty when no model's language has other-domain data) and notes on
    what was left out and why. ``max_sentences`` caps every evaluation set (the first N sentences).
    """
    by_lang: dict[str, dict[str, ModelSpec]] = {}
    for name, spec in models.items():
        by_lang.setdefault(spec.source, {})[name] = spec
    conf = domain_languages()
    tables, notes = [], []
    for lang, specs in sorted(by_lang.items()):
        sets = {k: v for k, v in domain_eval_sets([lang]).items()} if any(lang in ls for ls in conf.values()) else {}
        if not sets:
            notes.append(
                f"{', '.join(specs)}: no other-domain set in {lang!r} (configured: "
                + "; ".join(f"{d}: {', '.join(ls)}" for d, ls in conf.items())
                + ")"
            )
            continue
        ref = cap(load_split(lang, "test", "wikiann"), max_sentences)
        sets = {k: dataclasses.replace(v, dataset=cap(v.dataset, max_sentences)) for k, v in sets.items()}
        tables.append(run_domain_shift(specs, {lang: ref}, sets, **kwargs))
    return (pd.concat(tables, ignore_index=True) if tables else pd.DataFrame(columns=list(SCHEMA))), notes


def as_perturbation_rows(table: pd.DataFrame) -> pd.DataFrame:
    """Domain-shift rows relabelled ``domain:<dataset>`` so they sit beside perturbations in one heatmap."""
    out = table[table["perturbation"] == "domain_shift"].copy()
    out["perturbation"] = "domain:" + out["eval_dataset"].astype(str)
    return out


def _lists(ds: datasets.Dataset) -> tuple[list[list[str]], list[list[str]]]:
    return [list(t) for t in ds["tokens"]], tag_names(ds)


__all__ = [
    "DEFAULT_TYPE_MAP",
    "ModelSpec",
    "as_perturbation_rows",
    "domain_eval_set",
    "domain_eval_sets",
    "domain_languages",
    "run_domain_shift",
    "run_for_models",
    "unpaired_drop",
]
