"""Question 4: which transfer method is most robust? Train methods, run the perturbation suite, compare.

Methods (:data:`METHODS`), all trained without target labels:

* ``direct`` — fine-tune on the first source (zero-shot transfer, :func:`xner.modeling.train_ner`);
* ``multi-source`` — fine-tune on all sources interleaved (:mod:`xner.modeling.transfer`'s multi-source data);
* ``distill`` — a student trained on the target train split's *tokens* to match the ``direct`` teachers of every
  source (:mod:`xner.methods.distill`, Wu et al. 2020; one source: single-source, several: similarity-weighted
  multi-source with the reference's data-based temperature). The student's budget is the reference's by default
  (3 epochs over the whole target train text, batch 32, embeddings and bottom 3 layers frozen;
  ``MethodConfig.distill`` and ``max_unlabeled`` change it), whatever ``epochs`` the other methods get;
* ``lora`` — LoRA adapters + full head on the first source (:mod:`xner.methods.adapters`);
* ``madx`` — MAD-X (Pfeiffer et al. 2020) with LoRA modules: language adapters (MLM on all local train and dev
  text of the language but the last :data:`~xner.methods.train.HELDOUT_SENTENCES` dev sentences, on which the
  held-out MLM loss is measured; LoRA rank 40 on the feed-forward projections ≈ MAD-X's 1.8M parameters at
  reduction factor 2) + task adapter over the frozen source language adapter, target language adapter swapped in
  at test time.

Trained models are cached under ``models_dir`` by method, languages, encoder and every setting that shapes
them (a teacher of ``distill`` *is* the ``direct`` model of its source, so it is trained once). Evaluation
(:func:`evaluate_methods`) runs :func:`xner.robustness.suite.run_suite` over all methods at once, adds domain-shift rows
(:mod:`xner.robustness.domain`) for every involved language that has other-domain data, and tests each method against a
baseline with paired bootstraps (:func:`compare_to_baseline`): the difference in F1 and the difference in
drop, resampling the same sentences for both methods. :func:`plot_method_heatmap` draws the method ×
perturbation drop heatmap. ``python -m xner.methods --help`` runs the whole comparison from a shell.
"""

from __future__ import annotations

import dataclasses
import json
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from xner.data import dataset_for, load_split, tag_names
from xner.figures import save_figure
from xner.methods.adapters import MLMConfig
from xner.methods.config import METHOD_OF_SETTING, METHODS, TRAIN_SETTINGS, MethodConfig, MethodError, encoder_settings
from xner.methods.plots import plot_method_heatmap
from xner.methods.train import CachedPredictor, train_method
from xner.metrics import sentence_counts
from xner.robustness.domain import domain_eval_sets, domain_languages, run_domain_shift
from xner.robustness.perturb import PerturbationContext, build
from xner.robustness.suite import EvalSet, ModelSpec, run_suite
from xner.signature import signature, write_table
from xner.utils import cap

if TYPE_CHECKING:
    pass


def _f1(c: np.ndarray) -> np.ndarray:
    den = c[..., 0].sum(-1) + c[..., 1].sum(-1)
    return np.divide(2.0 * c[..., 2].sum(-1), den, out=np.zeros(np.shape(den)), where=den > 0)


def drop_difference(
    gold_clean: list[list[str]],
    clean_a: list[list[str]],
    clean_b: list[list[str]],
    gold_pert: list[list[str]],
    pert_a: list[list[str]],
    pert_b: list[list[str]],
    *,
    same_sentences: bool = True,
    n_resamples: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
) -> dict[str, float]:
    """Paired bootstrap of two methods a, b: ``f1_delta = F1_a − F1_b`` on the perturbed set and
    ``drop_delta = drop_a − drop_b`` (drop = clean F1 − perturbed F1; negative: a is more robust).

    Both methods are scored on the same resampled sentences. With ``same_sentences`` (a perturbed copy) the
    clean and perturbed sets share the resampled indices; otherwise (another domain) they are resampled
    independently of each other, still jointly for a and b.
    """
    ca, cb = sentence_counts(gold_clean, clean_a), sentence_counts(gold_clean, clean_b)
    pa, pb = sentence_counts(gold_pert, pert_a), sentence_counts(gold_pert, pert_b)
    if same_sentences and len(ca) != len(pa):
        raise MethodError(f"paired drop test needs the same sentences: {len(ca)} clean vs {len(pa)} perturbed")
    point_f1 = float(_f1(pa) - _f1(pb))
    point_drop = float((_f1(ca) - _f1(pa)) - (_f1(cb) - _f1(pb)))
    rng = np.random.default_rng(seed)
    f1d = np.empty(n_resamples)
    dd = np.empty(n_resamples)
    step = max(1, 1_000_000 // max(len(ca), len(pa), 1))
    for s in range(0, n_resamples, step):
        n = min(step, n_resamples - s)
        ic = rng.integers(0, len(ca), size=(n, len(ca)))
        ip = ic if same_sentences else rng.integers(0, len(pa), size=(n, len(pa)))
        fa, fb = _f1(pa[ip]), _f1(pb[ip])
        f1d[s : s + n] = fa - fb
        dd[s : s + n] = (_f1(ca[ic]) - fa) - (_f1(cb[ic]) - fb)
    alpha = (1 - confidence) / 2

    def p(d: np.ndarray) -> float:
        return min(1.0, 2 * min(float(np.mean(d <= 0)), float(np.mean(d >= 0))))

    lo1, hi1 = np.quantile(f1d, [alpha, 1 - alpha])
    lo2, hi2 = np.quantile(dd, [alpha, 1 - alpha])
    return {
        "f1_delta": point_f1,
        "f1_delta_low": float(lo1),
        "f1_delta_high": float(hi1),
        "f1_delta_p": p(f1d),
        "drop_delta": point_drop,
        "drop_delta_low": float(lo2),
        "drop_delta_high": float(hi2),
        "drop_delta_p": p(dd),
    }


@dataclass
class MethodsEvaluation:
    """The suite table (all methods, perturbations and domain shift) and the paired comparison with the baseline."""

    table: pd.DataFrame
    comparison: pd.DataFrame
    notes: list[str]


def _method_column(table: pd.DataFrame, reference_encoder: str | None) -> pd.DataFrame:
    t = table.copy()
    t["method"] = t["setting"].map(METHOD_OF_SETTING).fillna(t["setting"])
    enc = t["model"].astype(str)
    ref = reference_encoder if reference_encoder is not None else (enc.mode().iloc[0] if len(enc) else "")
    t["variant"] = np.where(enc == ref, t["method"], t["method"] + "@" + enc)
    return t


@dataclass
class PairedSet:
    """A clean evaluation set and its perturbed (or other-domain) counterpart, scored by every method alike."""

    perturbation: str
    eval_set: str
    seed: int
    clean_tokens: list[list[str]]
    clean_gold: list[list[str]]
    tokens: list[list[str]]
    gold: list[list[str]]
    same_sentences: bool


def _perturbed_sets(test: Any, name: str, perturbations: Sequence[Any], ctx: Any, seeds: Sequence[int]) -> list:
    """The perturbed copies of ``test``, rebuilt deterministically (same specs, context and seeds) for pairing."""
    sets: list[PairedSet] = []
    tokens, gold = [list(t) for t in test["tokens"]], tag_names(test)
    for p in perturbations:
        pert = build(p, ctx, on_unavailable="record")
        for s in seeds:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                pds, rep = pert.apply(test, seed=s)
            if rep.applied:
                sets.append(
                    PairedSet(pert.name, name, s, tokens, gold, [list(t) for t in pds["tokens"]], tag_names(pds), True)
                )
    return sets


def _domain_rows(
    cached: Mapping[str, ModelSpec],
    langs: Sequence[str],
    loader: Callable[..., Any],
    dataset: str,
    max_sentences: int | None,
    n_resamples: int,
    log: Callable[[str], None],
) -> tuple[list[pd.DataFrame], list[PairedSet]]:
    """Domain-shift rows for every language with other-domain data, and their paired sets."""
    tables, sets = [], []
    for lang in langs:
        ref = cap(loader(lang, "test", dataset), max_sentences)
        dsets = {
            k: dataclasses.replace(v, dataset=cap(v.dataset, max_sentences))
            for k, v in domain_eval_sets([lang]).items()
        }
        dt = run_domain_shift(cached, {lang: ref}, dsets, n_resamples=n_resamples, log=log).assign(applied=True)
        dt.loc[dt["perturbation"] == "domain_shift", "perturbation"] = "domain:" + dt["eval_dataset"].astype(str)
        dt.loc[dt["perturbation"] == "clean", "perturbation"] = "clean (domain ref)"
        tables.append(dt)
        rt, rg = [list(t) for t in ref["tokens"]], tag_names(ref)
        for name, es in dsets.items():
            toks, gold = [list(t) for t in es.dataset["tokens"]], tag_names(es.dataset)
            sets.append(PairedSet(f"domain:{es.eval_dataset}", name, 0, rt, rg, toks, gold, False))
    return tables, sets


def _against_baseline(
    cached: Mapping[str, ModelSpec], baseline: str, target: str, sets: Sequence[PairedSet], n_resamples: int
) -> pd.DataFrame:
    """Every model against the baseline on every paired set (:func:`drop_difference`)."""
    if baseline not in cached:
        raise MethodError(f"baseline {baseline!r} is not among the models {sorted(cached)}")
    rows, b = [], cached[baseline]
    for name, spec in cached.items():
        if name == baseline:
            continue
        for ps in sets:
            r = drop_difference(
                ps.clean_gold,
                spec.predictor.predict(ps.clean_tokens),
                b.predictor.predict(ps.clean_tokens),
                ps.gold,
                spec.predictor.predict(ps.tokens),
                b.predictor.predict(ps.tokens),
                same_sentences=ps.same_sentences,
                n_resamples=n_resamples,
            )
            rows.append(
                {
                    "source": spec.source,
                    "target": target,
                    "method": name,
                    "setting": spec.setting,
                    "model": spec.model,
                    "baseline": baseline,
                    "eval_set": ps.eval_set,
                    "perturbation": ps.perturbation,
                    "perturbation_seed": ps.seed,
                    "n_sentences": len(ps.tokens),
                    **r,
                }
            )
    return pd.DataFrame(rows)


def evaluate_methods(
    models: Mapping[str, ModelSpec],
    target: str,
    sources: Sequence[str],
    perturbations: Sequence[Any],
    *,
    baseline: str | None = "direct",
    seeds: Sequence[int] = (0,),
    max_test_samples: int | None = 300,
    domain_shift: bool = True,
    max_domain_sentences: int | None = 300,
    n_resamples: int = 1000,
    dataset: str = "wikiann",
    loader: Callable[..., Any] | None = None,
    context_kwargs: Mapping[str, Any] | None = None,
    reference_encoder: str | None = None,
    log: Callable[[str], None] = lambda m: None,
) -> MethodsEvaluation:
    """Run the perturbation suite (and domain shift) over ``models`` (name → ModelSpec) on the target test set;
    test every model against ``models[baseline]`` with :func:`drop_difference`."""
    loader = loader or load_split
    cached = {n: dataclasses.replace(s, predictor=CachedPredictor(s.predictor)) for n, s in models.items()}
    test = cap(loader(target, "test", dataset), max_test_samples)
    ctx = PerturbationContext(
        lang=target,
        source_lang=sources[0],
        source_train=loader(sources[0], "train", dataset),
        target_train=loader(target, "train", dataset),
        **{"encoder": reference_encoder, **dict(context_kwargs or {})},
    )
    res = run_suite(
        cached,
        # named by the dataset the target's test split came from (a raw dataset would be labelled wikiann)
        {f"{dataset}-{target}": EvalSet(test, target, eval_dataset=dataset_for(dataset, target))},
        perturbations,
        contexts=ctx,
        seeds=seeds,
        n_resamples=n_resamples,
        log=log,
    )
    pair = {"pair_source": "+".join(sources), "pair_target": target}
    tables = [res.table.assign(**pair)]
    notes: list[str] = []
    sets = _perturbed_sets(test, f"{dataset}-{target}", perturbations, ctx, seeds)
    if domain_shift:
        conf = domain_languages()
        involved = sorted(set(sources) | {target})
        langs = [lg for lg in involved if any(lg in v for v in conf.values())]
        if not langs:
            notes.append(f"domain shift: no other-domain data in {involved} (configured: {json.dumps(conf)})")
        dtables, dsets = _domain_rows(cached, langs, loader, dataset, max_domain_sentences, n_resamples, log)
        tables += [t.assign(**pair) for t in dtables]
        sets += dsets
    table = _method_column(pd.concat(tables, ignore_index=True), reference_encoder)
    comparison = pd.DataFrame()
    if baseline is not None:
        comparison = _against_baseline(cached, baseline, target, sets, n_resamples)
    return MethodsEvaluation(table, comparison, notes)


def robustness_summary(comparison: pd.DataFrame) -> pd.DataFrame:
    """Per target and perturbation, the method with the smallest drop relative to the baseline (means over
    perturbation seeds), with its drop difference, CI and p-value."""
    if comparison.empty:
        return comparison
    cols = ["drop_delta", "drop_delta_low", "drop_delta_high", "drop_delta_p", "f1_delta"]
    g = comparison.groupby(["target", "perturbation", "method"], as_index=False)[cols].mean()
    idx = g.groupby(["target", "perturbation"])["drop_delta"].idxmin()
    return g.loc[idx].sort_values(["target", "perturbation"]).reset_index(drop=True)


def summary_markdown(ev: MethodsEvaluation) -> str:
    """The comparison in words and tables, computed from ``ev`` only: clean F1 and mean drop per method and target,
    and for every perturbation the method whose drop is smallest relative to the baseline (paired bootstrap)."""
    t = ev.table
    lines: list[str] = []
    clean = t[t["perturbation"] == "clean"]
    pert = t[~t["perturbation"].astype(str).str.startswith(("clean", "domain"))]
    pert = pert[pert["applied"].fillna(True).astype(bool)]
    targets = list(dict.fromkeys(t["pair_target"].astype(str)))
    variants = list(dict.fromkeys(t["variant"].astype(str)))
    lines += [
        "| method | " + " | ".join(f"{x}: clean F1 [95 % CI] | {x}: mean drop (points)" for x in targets) + " |",
        "|---|" + "---|---|" * len(targets),
    ]
    for v in variants:
        cells = []
        for x in targets:
            c = clean[(clean["variant"] == v) & (clean["pair_target"] == x)]
            d = pert[(pert["variant"] == v) & (pert["pair_target"] == x)]["drop"]
            cells.append(
                f"{c['f1'].mean():.3f} [{c['f1_low'].mean():.3f}, {c['f1_high'].mean():.3f}]" if len(c) else "—"
            )
            cells.append(f"{100 * d.mean():.1f}" if len(d) else "—")
        lines.append(f"| {v} | " + " | ".join(cells) + " |")
    if ev.comparison.empty:
        return "\n".join(lines) + "\n"
    base = str(ev.comparison["baseline"].iloc[0])
    # A model that learned little has little to lose: a small drop means nothing when the clean F1 is far below the
    # baseline's. Only methods whose clean-F1 CI reaches the baseline's CI (per target) compete for "most robust".
    ci = clean.groupby(["pair_target", "variant"])[["f1_low", "f1_high", "f1"]].mean()
    excluded = sorted(
        {
            (x, v)
            for (x, v) in ci.index
            if v != base and (x, base) in ci.index and ci.loc[(x, v), "f1_high"] < ci.loc[(x, base), "f1_low"]
        }
    )
    keep = [(x, v) not in set(excluded) for x, v in zip(ev.comparison["target"], ev.comparison["method"], strict=True)]
    summ = robustness_summary(ev.comparison[keep])
    lines += [
        "",
        f"Most robust method per target and perturbation: the smallest drop relative to `{base}` "
        "(drop difference in F1 points, paired bootstrap 95 % CI and p; negative = more robust than the baseline), "
        f"among the methods whose clean F1 is not significantly below `{base}`'s (95 % CIs overlap).",
    ]
    if excluded:
        lines += [
            "Left out for a clean F1 significantly below the baseline's: "
            + "; ".join(
                f"{v} on {x} ({ci.loc[(x, v), 'f1']:.3f} vs {ci.loc[(x, base), 'f1']:.3f})" for x, v in excluded
            )
            + "."
        ]
    if summ.empty:
        return (
            "\n".join(lines + ["", "No method is comparable with the baseline on clean text: none is ranked."]) + "\n"
        )
    lines += [
        "",
        "| target | perturbation | most robust | drop difference [95 % CI] | p | F1 difference |",
        "|---|---|---|---|---|---|",
    ]
    for r in summ.itertuples():
        lines.append(
            f"| {r.target} | {r.perturbation} | {r.method} | {100 * r.drop_delta:+.1f} "
            f"[{100 * r.drop_delta_low:+.1f}, {100 * r.drop_delta_high:+.1f}] | {r.drop_delta_p:.3f} | "
            f"{100 * r.f1_delta:+.1f} |"
        )
    c = (
        ev.comparison[keep]
        .groupby(["method"], as_index=False)
        .agg(
            n=("drop_delta", "size"),
            better=("drop_delta_high", lambda x: int((x < 0).sum())),
            worse=("drop_delta_low", lambda x: int((x > 0).sum())),
            mean=("drop_delta", "mean"),
        )
    )
    lines += [
        "",
        f"Against `{base}` over all targets and perturbations, the same methods (rows whose 95 % CI of the drop "
        "difference excludes 0):",
        "",
        "| method | comparisons | significantly more robust | significantly less robust | "
        "mean drop difference (points) |",
        "|---|---|---|---|---|",
    ]
    for r in c.sort_values("mean").itertuples():
        lines.append(f"| {r.method} | {r.n} | {r.better} | {r.worse} | {100 * r.mean:+.1f} |")
    return "\n".join(lines) + "\n"


def write_evaluation(
    ev: MethodsEvaluation, results_dir: str | Path, stem: str = "methods", **sig_fields: Any
) -> list[Path]:
    """Write the suite table, the comparison and the robustness summary (CSV + signature)."""
    results_dir = Path(results_dir)
    t = ev.table
    sig = signature(
        stage="07_methods",
        data=sorted(set(t["eval_dataset"].astype(str))),
        languages=sorted(set(t["eval_lang"].astype(str)) | set(t["pair_target"].astype(str))),
        model=sorted(set(t["model"].astype(str))),
        methods=sorted(set(t["method"].astype(str))),
        seed=sorted({str(s) for s in t["seed"]}),
        mode="strict IOB2; percentile bootstrap over sentences",
        **sig_fields,
    )
    paths = [write_table(t, results_dir / f"{stem}_suite.csv", sig)]
    if not ev.comparison.empty:
        paths.append(write_table(ev.comparison, results_dir / f"{stem}_vs_baseline.csv", sig))
        paths.append(write_table(robustness_summary(ev.comparison), results_dir / f"{stem}_most_robust.csv", sig))
    return paths


DEFAULT_PERTURBATIONS = (
    "unseen_entities",
    "context_replacement",
    "context_band",
    "foreign_names",
    "mask",
    "random_replace",
    "typos",
    "strip_diacritics",
    "case_noise",
    "code_switch",
    "mask+typos",
)


def run_comparison(
    pairs: Sequence[tuple[str, Sequence[str]]],
    methods: Sequence[str] = METHODS,
    *,
    encoder: str = "e5-small",
    epochs: int = 1,
    max_train_samples: int | None = 2000,
    max_unlabeled: int | None = None,
    max_eval_samples: int | None = 300,
    max_test_samples: int | None = 300,
    perturbations: Sequence[Any] = DEFAULT_PERTURBATIONS,
    seeds: Sequence[int] = (0,),
    n_resamples: int = 1000,
    mlm_sentences: int | None = None,
    models_dir: str | Path = "results/models/07_methods",
    results_dir: str | Path = "results/07_methods",
    figures_dir: str | Path = "figures/07_methods",
    learning_rate: float = 1e-4,
    batch_size: int = 16,
    scale: Sequence[Mapping[str, Any]] = (),
    scale_methods: Sequence[str] = ("direct",),
    num_threads: int | None = None,
    log: Callable[[str], None] = print,
) -> tuple[MethodsEvaluation, pd.DataFrame]:
    """Every method on every ``(target, sources)`` pair, one suite per pair, one table, comparison and figure.

    The first source of each pair is its ``direct``/``lora``/``madx`` source; ``multi-source`` and ``distill``
    use all. ``scale`` adds the encoder-size axis: for each entry (``name`` and optionally ``learning_rate``,
    ``freeze_embeddings`` and ``epochs``; what it leaves out comes from :func:`encoder_settings`, with this run's
    settings as defaults) the ``scale_methods`` are trained with
    that encoder too and enter the same suite as ``<method>@<encoder>``, tested against ``direct`` with ``encoder``.
    ``num_threads`` sets the torch CPU threads of training and prediction (None: all the process may use).
    Returns the combined evaluation and the cost table (training seconds per method and pair).
    """
    variants: list[tuple[str, str, dict[str, Any]]] = [(m, m, {}) for m in methods]
    shared = {"learning_rate": learning_rate, "epochs": epochs, "freeze_embeddings": MethodConfig.freeze_embeddings}
    for entry in scale:
        own = encoder_settings(entry["name"], **{k: entry.get(k) for k in TRAIN_SETTINGS}, defaults=shared)
        variants += [
            (f"{m}@{entry['name']}", m, {"encoder": entry["name"], **own})
            for m in scale_methods
            if entry["name"] != encoder
        ]
    evs, costs = [], []
    for target, sources in pairs:
        models = {}
        for name, m, over in variants:
            settings: dict[str, Any] = {"encoder": encoder, "learning_rate": learning_rate, "epochs": epochs, **over}
            mc = MethodConfig(
                method=m,
                target=target,
                sources=tuple(sources if m in ("multi-source", "distill") else sources[:1]),
                max_train_samples=max_train_samples,
                batch_size=batch_size,
                max_unlabeled=max_unlabeled,
                max_eval_samples=max_eval_samples,
                mlm=MLMConfig(max_sentences=mlm_sentences, progress=False),
                num_threads=num_threads,
                **settings,
            )
            tm = train_method(mc, models_dir, log=log)
            models[name] = tm.spec
            costs.append(
                {
                    "target": target,
                    "method": name,
                    "encoder": mc.encoder,
                    "sources": "+".join(mc.used_sources),
                    "cached": tm.cached,
                    "train_seconds": tm.info.get("train_seconds", tm.seconds),
                    "path": str(tm.path),
                    "teacher_weights": json.dumps(tm.info.get("teacher_weights")),
                }
            )
        evs.append(
            evaluate_methods(
                models,
                target,
                sources,
                perturbations,
                seeds=seeds,
                max_test_samples=max_test_samples,
                max_domain_sentences=max_test_samples,
                n_resamples=n_resamples,
                baseline="direct" if "direct" in models else None,
                reference_encoder=encoder,
                log=log,
            )
        )
    ev = MethodsEvaluation(
        pd.concat([e.table for e in evs], ignore_index=True),
        pd.concat([e.comparison for e in evs], ignore_index=True),
        [n for e in evs for n in e.notes],
    )
    write_evaluation(ev, results_dir, pairs=[f"{'+'.join(s)}-{t}" for t, s in pairs], encoder=encoder)
    cost = pd.DataFrame(costs)
    write_table(cost, Path(results_dir) / "methods_training_cost.csv", signature(stage="07_methods", encoder=encoder))
    save_figure(
        plot_method_heatmap(ev.table, title=f"F1 drop under perturbation, by method ({encoder})"),
        Path(figures_dir) / "methods_heatmap",
    )
    return ev, cost
