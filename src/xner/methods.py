"""Question 4: which transfer method is most robust? Train methods, run the perturbation suite, compare.

Methods (:data:`METHODS`), all trained without target labels:

* ``direct`` — fine-tune on the first source (zero-shot transfer, :func:`xner.modeling.train_ner`);
* ``multi-source`` — fine-tune on all sources interleaved (:mod:`xner.transfer`'s multi-source data);
* ``distill`` — a student trained on the target train split's *tokens* to match the ``direct`` teachers of every
  source (:mod:`xner.distill`, Wu et al. 2020; one source: single-source, several: similarity-weighted
  multi-source with the reference's data-based temperature). The student's budget is the reference's by default
  (3 epochs over the whole target train text, batch 32, embeddings and bottom 3 layers frozen;
  ``MethodConfig.distill`` and ``max_unlabeled`` change it), whatever ``epochs`` the other methods get;
* ``lora`` — LoRA adapters + full head on the first source (:mod:`xner.adapters`);
* ``madx`` — MAD-X (Pfeiffer et al. 2020) with LoRA modules: language adapters (MLM on all local train and dev
  text of the language but the last :data:`HELDOUT_SENTENCES` dev sentences, on which the held-out MLM loss is
  measured; LoRA rank 40 on the feed-forward projections ≈ MAD-X's 1.8M parameters at reduction factor 2) + task
  adapter over the frozen source language adapter, target language adapter swapped in at test time.

Trained models are cached under ``models_dir`` by method, languages, encoder and every setting that shapes
them (a teacher of ``distill`` *is* the ``direct`` model of its source, so it is trained once). Evaluation
(:func:`evaluate_methods`) runs :func:`xner.suite.run_suite` over all methods at once, adds domain-shift rows
(:mod:`xner.domain`) for every involved language that has other-domain data, and tests each method against a
baseline with paired bootstraps (:func:`compare_to_baseline`): the difference in F1 and the difference in
drop, resampling the same sentences for both methods. :func:`plot_method_heatmap` draws the method ×
perturbation drop heatmap. ``python -m xner.methods --help`` runs the whole comparison from a shell.
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import json
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from xner.adapters import LoraSettings, MLMSettings, madx_language_lora
from xner.distill import DistillConfig
from xner.metrics import sentence_counts
from xner.suite import ModelSpec

if TYPE_CHECKING:
    import matplotlib.figure

log = logging.getLogger(__name__)

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
    learning_rate: float = 1e-4
    batch_size: int = 16
    seed: int = 0
    encoder_seed: int = 0
    dataset: str = "wikiann"
    lora: LoraSettings = field(default_factory=LoraSettings)
    language_lora: LoraSettings = field(default_factory=madx_language_lora)
    distill: DistillConfig = field(default_factory=DistillConfig)
    mlm: MLMSettings = field(default_factory=MLMSettings)

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
        from xner.modeling.config import TrainConfig

        return TrainConfig(
            model=self.encoder,
            epochs=self.epochs,
            max_train_samples=self.max_train_samples,
            max_eval_samples=self.max_eval_samples,
            freeze_embeddings=self.freeze_embeddings,
            learning_rate=self.learning_rate,
            batch_size=self.batch_size,
            seed=self.seed,
            early_stopping_patience=None,
            progress=False,
            **changes,
        )

    def key(self) -> str:
        """A short digest of every setting that shapes the trained model of this method."""
        d = dataclasses.asdict(self)
        d["sources"] = list(self.used_sources)
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


def _resolve(mc: MethodConfig) -> str:
    from xner.encoders import resolve_encoder

    return resolve_encoder(mc.encoder, languages=mc.languages, seed=mc.encoder_seed)


def _setting_data(mc: MethodConfig, sources: Sequence[str], loader: Callable[..., Any]) -> Any:
    from xner.transfer import build_setting_data, spec_for

    setting = "zero-shot" if len(sources) == 1 else "multi-source"
    spec = spec_for(setting, "+".join(sources), mc.target, dataset=mc.dataset)
    return build_setting_data(
        spec,
        seed=mc.seed,
        max_train_samples=mc.max_train_samples,
        max_eval_samples=mc.max_eval_samples,
        max_predict_samples=1,
        loader=loader,
    )


def _load(method: str, path: Path) -> Any:
    if method in ("lora", "madx"):
        from xner.adapters import load_adapter_model

        return load_adapter_model(path)
    from xner.modeling.predict import NERModel

    return NERModel.load(path)


HELDOUT_SENTENCES = 200  # the last dev sentences of a language: held out of its adapter's MLM text


def language_text(lang: str, dataset: str, loader: Callable[..., Any]) -> tuple[list[list[str]], list[list[str]]]:
    """A language's adapter text — all local train and dev text but the last :data:`HELDOUT_SENTENCES` dev
    sentences — and that held-out slice (never test text)."""
    train = [list(t) for t in loader(lang, "train", dataset)["tokens"]]
    dev = [list(t) for t in loader(lang, "dev", dataset)["tokens"]]
    if len(dev) <= HELDOUT_SENTENCES:
        raise MethodError(f"{lang}: {len(dev)} dev sentences, need more than {HELDOUT_SENTENCES} to hold some out")
    return train + dev[:-HELDOUT_SENTENCES], dev[-HELDOUT_SENTENCES:]


def language_adapter(mc: MethodConfig, lang: str, models_dir: Path, loader: Callable[..., Any], encoder: str) -> Path:
    """The cached MLM language adapter of ``lang`` for this encoder and these settings (trained when missing)."""
    from xner.adapters import train_language_adapter

    key = hashlib.sha256(
        json.dumps(
            {
                "enc": mc.encoder,
                "lang": lang,
                "lora": dataclasses.asdict(mc.language_lora),
                "mlm": dataclasses.asdict(mc.mlm),
                "ds": mc.dataset,
                "es": mc.encoder_seed,
                "text": f"train+dev-{HELDOUT_SENTENCES}",
            },
            sort_keys=True,
        ).encode()
    ).hexdigest()[:10]
    enc = mc.encoder.replace("/", "_") if not Path(mc.encoder).exists() else Path(mc.encoder).name
    out = models_dir / f"lang-adapter-{lang}-{enc}-{key}"
    if (out / "language_adapter.json").is_file():
        return out
    text, heldout = language_text(lang, mc.dataset, loader)
    tmp = out.with_name(out.name + ".tmp")
    train_language_adapter(encoder, text, lang, tmp, mc.language_lora, mc.mlm, heldout=heldout)
    tmp.rename(out)
    return out


def train_method(
    mc: MethodConfig,
    models_dir: str | Path,
    *,
    loader: Callable[..., Any] | None = None,
    say: Callable[[str], None] = lambda m: None,
) -> TrainedMethod:
    """Train ``mc.method`` (or load it from ``models_dir`` when trained before with the same settings)."""
    from xner.data import load_split

    loader = loader or load_split
    models_dir = Path(models_dir)
    path = models_dir / mc.folder_name()
    spec_kw = {
        "source": "+".join(mc.used_sources),
        "target": mc.target,
        "setting": SETTING[mc.method],
        "model": mc.encoder,
        "seed": mc.seed,
    }
    if (path / "xner_model.json").is_file():
        say(f"{mc.method}: cached {path}")
        info = (
            json.loads((path / "method.json").read_text(encoding="utf-8")) if (path / "method.json").is_file() else {}
        )
        return TrainedMethod(ModelSpec(_load(mc.method, path), **spec_kw), path, True, 0.0, info)
    t0 = time.perf_counter()
    encoder = _resolve(mc)
    cfg = mc.train_config()
    info: dict[str, Any] = {"method": mc.method, "config": dataclasses.asdict(mc), "encoder_path": encoder}
    tmp = path.with_name(path.name + ".tmp")
    say(f"{mc.method}: training {path.name}")
    if mc.method in ("direct", "multi-source"):
        from xner.modeling.train import train_ner

        data = _setting_data(mc, mc.used_sources, loader)
        res = train_ner(
            data.train,
            data.dev,
            dataclasses.replace(cfg, max_train_samples=None, max_eval_samples=None),
            encoder=encoder,
            output_dir=tmp,
            run_name=path.name,
        )
        predictor = res.model
        info["history"] = res.history.to_dict("records")
    elif mc.method == "distill":
        from xner.distill import distill

        teachers = {}
        for src in mc.used_sources:
            tm = train_method(
                dataclasses.replace(mc, method="direct", sources=(src,)), models_dir, loader=loader, say=say
            )
            teachers[src] = tm.spec.predictor
            info.setdefault("teacher_paths", {})[src] = str(tm.path)
        text = [list(t) for t in loader(mc.target, "train", mc.dataset)["tokens"]]
        src_text = {s: [list(t) for t in loader(s, "train", mc.dataset)["tokens"]] for s in mc.used_sources}
        data = _setting_data(mc, mc.used_sources, loader)
        res = distill(
            teachers,
            text,
            encoder,
            dataclasses.replace(cfg, max_train_samples=mc.max_unlabeled),
            mc.distill,
            source_texts=src_text if len(mc.used_sources) > 1 else None,
            dev=data.dev,
            output_dir=tmp,
            run_name=path.name,
        )
        predictor = res.model
        info["teacher_weights"] = [dataclasses.asdict(w) for w in res.weights]
        info["history"] = res.history.to_dict("records")
    elif mc.method == "lora":
        from xner.adapters import train_lora_ner

        data = _setting_data(mc, mc.used_sources, loader)
        res = train_lora_ner(
            data.train,
            data.dev,
            encoder,
            dataclasses.replace(cfg, max_train_samples=None, max_eval_samples=None),
            mc.lora,
            output_dir=tmp,
            run_name=path.name,
        )
        predictor = res.model
        info.update(res.stats)
    else:  # madx
        from xner.adapters import train_madx

        src = mc.used_sources[0]
        adapters = {lang: language_adapter(mc, lang, models_dir, loader, encoder) for lang in (src, mc.target)}
        data = _setting_data(mc, (src,), loader)
        res = train_madx(
            data.train,
            data.dev,
            encoder,
            adapters,
            src,
            mc.target,
            dataclasses.replace(cfg, max_train_samples=None, max_eval_samples=None),
            mc.lora,
            output_dir=tmp,
            run_name=path.name,
        )
        predictor = res.model
        info.update(res.stats)
        info["language_adapters"] = {k: str(v) for k, v in adapters.items()}
    seconds = time.perf_counter() - t0
    info["train_seconds"] = seconds
    (tmp / "method.json").write_text(json.dumps(info, indent=2, default=str) + "\n", encoding="utf-8")
    if path.exists():
        import shutil

        shutil.rmtree(path)
    tmp.rename(path)
    if mc.method == "madx":  # saved adapters now live under the final folder
        from xner.adapters import load_adapter_model

        predictor = load_adapter_model(path)
    return TrainedMethod(ModelSpec(predictor, **spec_kw), path, False, seconds, info)


# ---------------------------------------------------------------------------------------------- evaluation


class CachedPredictor:
    """Remembers the predictions of a predictor by input, so a comparison can re-read them without re-running."""

    def __init__(self, predictor: Any) -> None:
        self.predictor = predictor
        self._cache: dict[str, list[list[str]]] = {}

    @staticmethod
    def _key(tokens: Sequence[Sequence[str]]) -> str:
        from xner.encoders.mini import text_digest

        return text_digest(tokens)

    def predict(self, tokens: list[list[str]]) -> list[list[str]]:
        """Predictions for ``tokens`` (computed once per distinct input)."""
        k = self._key(tokens)
        if k not in self._cache:
            fn = self.predictor.predict if hasattr(self.predictor, "predict") else self.predictor
            self._cache[k] = [list(t) for t in fn(tokens)]
        return self._cache[k]

    __call__ = predict


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
    say: Callable[[str], None] = lambda m: None,
) -> MethodsEvaluation:
    """Run the perturbation suite (and domain shift) over ``models`` (name → ModelSpec) on the target test set;
    test every model against ``models[baseline]`` with :func:`drop_difference`."""
    from xner.data import load_split, tag_names
    from xner.perturb import PerturbationContext, build
    from xner.suite import run_suite

    loader = loader or load_split
    cached = {n: dataclasses.replace(s, predictor=CachedPredictor(s.predictor)) for n, s in models.items()}
    test = loader(target, "test", dataset)
    if max_test_samples is not None:
        test = test.select(range(min(max_test_samples, len(test))))
    ctx = PerturbationContext(
        lang=target,
        source_lang=sources[0],
        source_train=loader(sources[0], "train", dataset),
        target_train=loader(target, "train", dataset),
        **{"encoder": reference_encoder, **dict(context_kwargs or {})},
    )
    res = run_suite(
        cached,
        {f"{dataset}-{target}": test},
        perturbations,
        contexts=ctx,
        seeds=seeds,
        n_resamples=n_resamples,
        log=say,
    )
    tables = [res.table.assign(pair_source="+".join(sources), pair_target=target)]
    notes: list[str] = []
    # the perturbed copies, rebuilt deterministically (same specs, context and seeds) for the paired comparison
    sets: list[tuple[str, str, Any, list, list, list, list, bool]] = []
    tokens, gold = [list(t) for t in test["tokens"]], tag_names(test)
    for p in perturbations:
        pert = build(p, ctx, on_unavailable="record")
        for s in seeds:
            import warnings

            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                pds, rep = pert.apply(test, seed=s)
            if rep.applied:
                sets.append(
                    (
                        pert.name,
                        f"{dataset}-{target}",
                        s,
                        tokens,
                        gold,
                        [list(t) for t in pds["tokens"]],
                        tag_names(pds),
                        True,
                    )
                )
    if domain_shift:
        from xner.domain import domain_eval_sets, domain_languages, run_domain_shift

        conf = domain_languages()
        langs = [lg for lg in sorted(set(sources) | {target}) if any(lg in v for v in conf.values())]
        if not langs:
            notes.append(
                f"domain shift: no other-domain data in {sorted(set(sources) | {target})} "
                f"(configured: {json.dumps(conf)})"
            )
        for lang in langs:
            ref = loader(lang, "test", dataset)
            if max_domain_sentences is not None:
                ref = ref.select(range(min(max_domain_sentences, len(ref))))
            dsets = domain_eval_sets([lang])
            if max_domain_sentences is not None:
                from xner.suite import EvalSet

                dsets = {
                    k: EvalSet(
                        v.dataset.select(range(min(max_domain_sentences, len(v.dataset)))),
                        v.lang,
                        v.eval_dataset,
                        v.split,
                        v.extra,
                    )
                    for k, v in dsets.items()
                }
            dt = run_domain_shift(cached, {lang: ref}, dsets, n_resamples=n_resamples, log=say)
            dt = dt.assign(pair_source="+".join(sources), pair_target=target, applied=True)
            dt.loc[dt["perturbation"] == "domain_shift", "perturbation"] = "domain:" + dt["eval_dataset"].astype(str)
            dt.loc[dt["perturbation"] == "clean", "perturbation"] = "clean (domain ref)"
            tables.append(dt)
            rt, rg = [list(t) for t in ref["tokens"]], tag_names(ref)
            for name, es in dsets.items():
                sets.append(
                    (
                        f"domain:{es.eval_dataset}",
                        name,
                        0,
                        rt,
                        rg,
                        [list(t) for t in es.dataset["tokens"]],
                        tag_names(es.dataset),
                        False,
                    )
                )
    table = _method_column(pd.concat(tables, ignore_index=True), reference_encoder)
    comparison = pd.DataFrame()
    if baseline is not None:
        if baseline not in cached:
            raise MethodError(f"baseline {baseline!r} is not among the models {sorted(cached)}")
        rows = []
        b = cached[baseline]
        for name, spec in cached.items():
            if name == baseline:
                continue
            for pert, eval_set, s, ct, cg, pt, pg, same in sets:
                r = drop_difference(
                    cg,
                    spec.predictor.predict(ct),
                    b.predictor.predict(ct),
                    pg,
                    spec.predictor.predict(pt),
                    b.predictor.predict(pt),
                    same_sentences=same,
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
                        "eval_set": eval_set,
                        "perturbation": pert,
                        "perturbation_seed": s,
                        "n_sentences": len(pt),
                        **r,
                    }
                )
        comparison = pd.DataFrame(rows)
    return MethodsEvaluation(table, comparison, notes)


# ---------------------------------------------------------------------------------------------- summary and figure


def robustness_summary(comparison: pd.DataFrame) -> pd.DataFrame:
    """Per target and perturbation, the method with the smallest drop relative to the baseline (means over
    perturbation seeds), with its drop difference, CI and p-value."""
    if comparison.empty:
        return comparison
    cols = ["drop_delta", "drop_delta_low", "drop_delta_high", "drop_delta_p", "f1_delta"]
    g = comparison.groupby(["target", "perturbation", "method"], as_index=False)[cols].mean()
    idx = g.groupby(["target", "perturbation"])["drop_delta"].idxmin()
    return g.loc[idx].sort_values(["target", "perturbation"]).reset_index(drop=True)


def drop_matrix(table: pd.DataFrame, column: str = "variant") -> pd.DataFrame:
    """Mean F1 drop (points) per (target, perturbation) × method, clean rows left out."""
    sub = table[~table["perturbation"].astype(str).str.startswith("clean")]
    sub = sub[sub["applied"].fillna(True).astype(bool)]
    mat = sub.pivot_table(index=["pair_target", "perturbation"], columns=column, values="drop", aggfunc="mean")
    return mat * 100.0


def plot_method_heatmap(
    table: pd.DataFrame, column: str = "variant", title: str | None = None
) -> matplotlib.figure.Figure:
    """Method × perturbation heatmap of the F1 drop (points), one panel per target language."""
    import matplotlib.pyplot as plt

    from xner.figures import SEQUENTIAL_CMAP, style

    mat = drop_matrix(table, column)
    targets = list(dict.fromkeys(mat.index.get_level_values(0)))
    if not targets:
        raise MethodError("no perturbed rows to plot")
    methods = [m for m in (*METHODS, *sorted(mat.columns)) if m in mat.columns]
    methods = list(dict.fromkeys(methods))
    finite = mat.to_numpy(dtype=float)
    finite = finite[np.isfinite(finite)]
    vmin, vmax = (min(0.0, float(finite.min())), float(finite.max()) or 1.0) if finite.size else (0.0, 1.0)
    with style():
        rows = list(dict.fromkeys(str(i) for t in targets for i in mat.loc[t].index))  # one row order for all panels
        fig, axes = plt.subplots(
            1,
            len(targets),
            figsize=(1.6 + 0.75 * len(methods) * len(targets) + 1.2, 1.0 + 0.33 * len(rows)),
            squeeze=False,
            sharey=True,
        )
        im = None
        for k, (ax, t) in enumerate(zip(axes[0], targets, strict=True)):
            sub = mat.loc[t].reindex(index=rows, columns=methods)
            data = sub.to_numpy(dtype=float)
            im = ax.imshow(np.ma.masked_invalid(data), cmap=SEQUENTIAL_CMAP, vmin=vmin, vmax=vmax, aspect="auto")
            ax.set_xticks(range(len(methods)), methods, rotation=35, ha="right")
            ax.set_yticks(range(len(rows)), rows)
            ax.tick_params(axis="y", labelleft=k == 0)
            for i in range(data.shape[0]):
                for j in range(data.shape[1]):
                    v = data[i, j]
                    ax.text(
                        j,
                        i,
                        "n/a" if not np.isfinite(v) else f"{v:.1f}",
                        ha="center",
                        va="center",
                        fontsize=6.5,
                        color="white" if np.isfinite(v) and v < vmin + 0.6 * (vmax - vmin) else "black",
                    )
            src = table.loc[table["pair_target"] == t, "pair_source"]
            ax.set_title(f"{src.iloc[0] if len(src) else '?'} → {t}")
            ax.spines[:].set_visible(False)
        fig.colorbar(im, ax=list(axes[0]), label="F1 drop (points)", shrink=0.8)
        if title:
            fig.suptitle(title)
    return fig


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
    from xner.signature import signature, write_table

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


def _scale_config(path: str | Path | None) -> tuple[Path, dict[str, Any]]:
    import yaml

    from xner.config import config_dir

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


# ---------------------------------------------------------------------------------------------- command line

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
    say: Callable[[str], None] = print,
) -> tuple[MethodsEvaluation, pd.DataFrame]:
    """Every method on every ``(target, sources)`` pair, one suite per pair, one table, comparison and figure.

    The first source of each pair is its ``direct``/``lora``/``madx`` source; ``multi-source`` and ``distill``
    use all. ``scale`` adds the encoder-size axis: for each entry (``name`` and optionally ``learning_rate``,
    ``freeze_embeddings`` and ``epochs``; what it leaves out comes from :func:`encoder_settings`, with this run's
    settings as defaults) the ``scale_methods`` are trained with
    that encoder too and enter the same suite as ``<method>@<encoder>``, tested against ``direct`` with ``encoder``.
    Returns the combined evaluation and the cost table (training seconds per method and pair).
    """
    from xner.figures import save_figure

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
                mlm=MLMSettings(max_sentences=mlm_sentences, progress=False),
                **settings,
            )
            tm = train_method(mc, models_dir, say=say)
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
                say=say,
            )
        )
    ev = MethodsEvaluation(
        pd.concat([e.table for e in evs], ignore_index=True),
        pd.concat([e.comparison for e in evs], ignore_index=True),
        [n for e in evs for n in e.notes],
    )
    write_evaluation(ev, results_dir, pairs=[f"{'+'.join(s)}-{t}" for t, s in pairs], encoder=encoder)
    cost = pd.DataFrame(costs)
    from xner.signature import signature, write_table

    write_table(cost, Path(results_dir) / "methods_training_cost.csv", signature(stage="07_methods", encoder=encoder))
    save_figure(
        plot_method_heatmap(ev.table, title=f"F1 drop under perturbation, by method ({encoder})"),
        Path(figures_dir) / "methods_heatmap",
    )
    return ev, cost


def _parse_pair(text: str) -> tuple[str, list[str]]:
    """``"id+nl:ms"`` → (``"ms"``, [``"id"``, ``"nl"``])."""
    if ":" not in text:
        raise argparse.ArgumentTypeError(f"pair {text!r}: expected SOURCES:TARGET, e.g. id+nl:ms")
    src, tgt = text.split(":", 1)
    return tgt, src.split("+")


def main(argv: Sequence[str] | None = None) -> int:
    """Command line: ``python -m xner.methods --pair id+nl:ms --pair nl+id:af``."""
    ap = argparse.ArgumentParser(prog="python -m xner.methods", description=__doc__.split("\n\n")[0])
    ap.add_argument(
        "--pair",
        action="append",
        type=_parse_pair,
        required=True,
        help="SOURCES:TARGET; the first source is the direct/lora/madx source (repeatable)",
    )
    ap.add_argument("--methods", nargs="+", default=list(METHODS), choices=METHODS)
    ap.add_argument("--encoder", default="e5-small")
    ap.add_argument("--epochs", type=int, default=1)
    ap.add_argument("--max-train-samples", type=int, default=2000)
    ap.add_argument(
        "--max-unlabeled",
        type=int,
        default=None,
        help="target text sentences for distill (default: all, as the reference)",
    )
    ap.add_argument("--max-eval-samples", type=int, default=300)
    ap.add_argument("--max-test-samples", type=int, default=300)
    ap.add_argument(
        "--mlm-sentences", type=int, default=None, help="text sentences per MAD-X language adapter (default: all)"
    )
    ap.add_argument("--perturbations", nargs="+", default=list(DEFAULT_PERTURBATIONS))
    ap.add_argument("--seeds", nargs="+", type=int, default=[0])
    ap.add_argument("--n-resamples", type=int, default=1000)
    ap.add_argument("--models-dir", default="results/models/07_methods")
    ap.add_argument("--results-dir", default="results/07_methods")
    ap.add_argument("--figures-dir", default="figures/07_methods")
    ap.add_argument("--learning-rate", type=float, default=1e-4, help="fine-tuning learning rate (LoRA: its own)")
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument(
        "--scale",
        nargs="*",
        default=[],
        metavar="ENCODER",
        help="encoder-size axis: encoders of configs/scale.yaml trained with --scale-methods too",
    )
    ap.add_argument("--scale-methods", nargs="+", default=["direct"], choices=METHODS)
    a = ap.parse_args(argv)
    scale = [{"name": n} for n in a.scale]  # each encoder's own settings come from configs/scale.yaml
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    ev, cost = run_comparison(
        a.pair,
        a.methods,
        encoder=a.encoder,
        epochs=a.epochs,
        max_train_samples=a.max_train_samples,
        max_unlabeled=a.max_unlabeled,
        max_eval_samples=a.max_eval_samples,
        max_test_samples=a.max_test_samples,
        perturbations=a.perturbations,
        seeds=a.seeds,
        n_resamples=a.n_resamples,
        mlm_sentences=a.mlm_sentences,
        models_dir=a.models_dir,
        results_dir=a.results_dir,
        figures_dir=a.figures_dir,
        learning_rate=a.learning_rate,
        batch_size=a.batch_size,
        scale=scale,
        scale_methods=a.scale_methods,
    )
    print(cost.to_string())
    md = summary_markdown(ev)
    Path(a.results_dir, "methods_summary.md").write_text(md, encoding="utf-8")
    print(md)
    for n in ev.notes:
        print("note:", n)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())


__all__ = [
    "CachedPredictor",
    "METHODS",
    "MethodConfig",
    "MethodError",
    "MethodsEvaluation",
    "SETTING",
    "TrainedMethod",
    "drop_difference",
    "drop_matrix",
    "evaluate_methods",
    "language_adapter",
    "main",
    "plot_method_heatmap",
    "encoder_settings",
    "robustness_summary",
    "run_comparison",
    "scale_encoders",
    "summary_markdown",
    "train_method",
    "write_evaluation",
]
