"""Data transfer against model transfer, on one pair: zero-shot vs translate-test vs translate-train.

For a source language with labelled training data and a target language with a labelled test split (WikiANN
by default) and an offline translator between them (Apertium), :func:`compare_transfer` trains, per model
(the feature CRF and/or an encoder such as ``e5-small``) and seed:

* **zero-shot** (model transfer): a source model tags the target test sentences directly;
* **translate-test** (data transfer at test time): the same source model tags the target test sentences'
  translations into the source language, and its labels are projected back with every projection method
  and aligner (:mod:`xner.projection.translate_test`);
* **translate-train** (data transfer at training time): the source training data translated into the target
  language with projected labels (:mod:`xner.projection.translate_train`) trains a target model;
* **translate-train+source**: the same, with the source training data added.

Every row has strict P/R/F1 on the target test split with a percentile-bootstrap CI, and a paired bootstrap
test (same resampled sentences) of its F1 minus the zero-shot F1 of the same model and seed. Training sizes
are small on purpose (``n_train`` sentences of the source). The encoder is fine-tuned with the recipe of the
offline main job, read from ``configs/offline.yaml`` (stage ``04_training``, :func:`recipe_config`), so the two
never drift apart. Nothing is tuned: the projection methods use the published defaults, and model selection uses
the source dev split only.

``python -m xner.projection.compare --pair id-ms --models crf e5-small --seeds 0 1 2 --out results/datatransfer``
writes ``<out>/<pair>.csv`` (with signature) and prints the plain statement of :func:`verdict`;
``python -m xner.projection.compare --summarise results/datatransfer --summary results/datatransfer/summary.csv
--figure figures/paper/datatransfer`` writes the summary over pairs, its verdicts and the figure
(the workflow's target ``datatransfer``, ``make datatransfer``, runs both).
"""

from __future__ import annotations

import argparse
import dataclasses
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from xner.data import from_lists, label_set_of, load_split, tag_names
from xner.figures import PALETTE, save_figure, style
from xner.metrics import bootstrap_ci, paired_bootstrap, score
from xner.modeling.config import TrainConfig, offline_recipe
from xner.modeling.crf import CRFConfig, train_crf
from xner.modeling.train import train_ner
from xner.projection.align import Aligner, EflomalAligner, PrecomputedAligner, e5_aligner
from xner.projection.project import ProjectionConfig
from xner.projection.translate import Translator, get_translator
from xner.projection.translate_test import translate_sentences, translate_test
from xner.projection.translate_train import translate_train
from xner.signature import signature, write_table
from xner.utils import cap

#: The pairs of the study: (source, target, source dataset, target dataset). Apertium translates each both ways.
PAIRS: dict[str, tuple[str, str, str, str]] = {
    "id-ms": ("id", "ms", "wikiann", "wikiann"),
    "nl-af": ("nl", "af", "wikiann", "wikiann"),
    "hi-ur": ("hi", "ur", "wikiann", "wikiann"),
    "es-pt": ("es", "pt", "wikiann", "wikiann"),
    "en-es": ("en", "es", "wikiann", "wikiann"),
    "en-es-conll": ("en", "es", "conll2003", "conll2002"),  # news: CoNLL-2003 English → CoNLL-2002 Spanish
}


#: Projection methods of translate-test (published defaults; ILP and greedy both for the n-gram matching).
TEST_METHODS = (
    ProjectionConfig(method="heuristic", compare_solvers=False),
    ProjectionConfig(method="ngram", solver="ilp", compare_solvers=False),
    ProjectionConfig(method="ngram", solver="greedy", compare_solvers=False),
    ProjectionConfig(method="model", solver="ilp", compare_solvers=False),
    ProjectionConfig(method="heuristic+bt", compare_solvers=False),
)


def recipe_config(model: str = "e5-small", **overrides: Any) -> TrainConfig:
    """The encoder recipe of the offline main job, read from ``configs/offline.yaml`` (stage ``04_training``,
    :func:`xner.modeling.config.offline_recipe`), without progress bars; ``overrides`` replace settings."""
    return TrainConfig(**({"model": model, "progress": False} | offline_recipe() | overrides))


COLUMNS = [
    "pair",
    "source",
    "target",
    "setting",
    "method",
    "aligner",
    "model",
    "seed",
    "n_train_sentences",
    "n_sentences",
    "precision",
    "recall",
    "f1",
    "f1_low",
    "f1_high",
    "delta_vs_zero_shot",
    "delta_low",
    "delta_high",
    "p_value",
]


def train_model(model: str, train: Any, dev: Any | None, *, seed: int, train_config: TrainConfig | None = None) -> Any:
    """A NER model with ``predict``: the feature CRF (``model="crf"``) or a fine-tuned encoder (stage 04)."""
    if model == "crf":
        return train_crf(train, dev, CRFConfig())
    base = train_config or recipe_config(model)
    cfg = dataclasses.replace(base, model=model, seed=seed, max_train_samples=None)
    return train_ner(train, dev, cfg, run_name=f"{model} seed {seed}").model


def _concat(a: Any, b: Any) -> Any:
    """Two datasets of one label set, one after the other."""
    return from_lists(
        [list(t) for t in a["tokens"]] + [list(t) for t in b["tokens"]],
        tag_names(a) + tag_names(b),
        langs=list(a["langs"]) + list(b["langs"]),
        label_set=label_set_of(a),
    )


def score_row(gold: list[list[str]], pred: list[list[str]], base: list[list[str]] | None, seed: int) -> dict:
    """Strict P/R/F1 with a bootstrap CI and, given the zero-shot predictions ``base``, the paired test."""
    s = score(gold, pred, mode="strict")
    ci = bootstrap_ci(gold, pred, seed=seed)
    row = {"precision": s.precision, "recall": s.recall, "f1": s.f1, "f1_low": ci.low, "f1_high": ci.high}
    if base is not None:
        pr = paired_bootstrap(gold, pred, base, seed=seed)
        row |= {"delta_vs_zero_shot": pr.delta, "delta_low": pr.low, "delta_high": pr.high, "p_value": pr.p_value}
    return row


def align_test_sentences(
    names: Sequence[str] | dict[str, Aligner],
    translator: Translator,
    target_train: Any,
    translations: list[list[str]],
    target_tokens: list[list[str]],
    *,
    src_lang: str,
    tgt_lang: str,
    n_extra: int = 2000,
) -> dict[str, Aligner]:
    """The aligners of translate-test, each aligned once (translation → target sentence) and kept.

    eflomal is fitted with ``n_extra`` more target train sentences and their translations as extra text
    (unlabelled target text: no target labels are used). Sentences with an empty translation are skipped.
    """
    keep = [k for k, t in enumerate(translations) if t]
    src = [translations[k] for k in keep]
    tgt = [target_tokens[k] for k in keep]
    out: dict[str, Aligner] = {}
    if isinstance(names, dict):
        return {name: PrecomputedAligner(a.align(src, tgt), name=name) for name, a in names.items()}
    for name in names:
        if name == "e5":
            aligner: Aligner = e5_aligner()
        elif name == "eflomal":
            extra_tgt = [list(t) for t in cap(target_train, n_extra)["tokens"]]
            extra_src = translate_sentences(extra_tgt, translator, tgt_lang=tgt_lang, src_lang=src_lang)
            pairs = [(s, t) for s, t in zip(extra_src, extra_tgt, strict=True) if s and t]
            aligner = EflomalAligner(extra_src=[s for s, _ in pairs], extra_tgt=[t for _, t in pairs])
        else:
            raise ValueError(f"unknown translate-test aligner {name!r}; expected 'e5' or 'eflomal'")
        out[name] = PrecomputedAligner(aligner.align(src, tgt), name=name)
    return out


#: Translate-test projection methods by name (the labels of :data:`TEST_METHODS`).
TEST_METHOD_NAMES = {c.label: c for c in TEST_METHODS}


def translate_test_tagger(
    model: Any,
    translator: Translator,
    *,
    src_lang: str,
    tgt_lang: str,
    method: str = "heuristic",
    aligner: str | Aligner = "e5",
    target_train: Any | None = None,
    n_extra: int = 2000,
) -> Callable[[list[list[str]]], list[list[str]]]:
    """A tagger of target sentences through translate-test with one method and aligner (stage 04's setting
    ``translate-test``): translate into the source language, tag with the source ``model``, project back.

    ``method`` is a name of :data:`TEST_METHOD_NAMES` (``model-ilp`` takes its candidates from ``model`` run on
    the target sentences, as zero-shot does); ``aligner`` is ``"e5"``, ``"eflomal"`` (fitted with ``n_extra``
    sentences of ``target_train`` and their translations, unlabelled) or a ready aligner.
    """
    if method not in TEST_METHOD_NAMES:
        raise ValueError(f"unknown translate-test method {method!r}; expected one of {', '.join(TEST_METHOD_NAMES)}")
    if aligner == "eflomal" and target_train is None:
        raise ValueError("the eflomal aligner of translate-test needs target_train (unlabelled target text)")
    cfg = TEST_METHOD_NAMES[method]

    def tag(sentences: list[list[str]]) -> list[list[str]]:
        tokens = [list(t) for t in sentences]
        translations = translate_sentences(tokens, translator, tgt_lang=tgt_lang, src_lang=src_lang)
        names = [aligner] if isinstance(aligner, str) else {getattr(aligner, "name", "aligner"): aligner}
        aligned = align_test_sentences(
            names, translator, target_train, translations, tokens, src_lang=src_lang, tgt_lang=tgt_lang, n_extra=n_extra
        )
        res = translate_test(
            tokens, translator, model, aligned, [cfg], src_lang=src_lang, tgt_lang=tgt_lang, target_tagger=model
        )
        return res.runs[0].tags

    return tag


def _load(pair: str, n_train: int, n_test: int | None, loader: Callable[..., Any], n_dev: int | None) -> dict[str, Any]:
    if pair in PAIRS:
        src, tgt, src_ds, ds = PAIRS[pair]
    elif pair.count("-") == 1 and all(pair.split("-")):
        (src, tgt), src_ds, ds = pair.split("-"), "wikiann", "wikiann"
    else:
        raise ValueError(f"pair {pair!r} is not of the form <source>-<target> (e.g. {', '.join(PAIRS)})")
    data = {
        "src": src,
        "tgt": tgt,
        "dataset": ds,
        "train": cap(loader(src, "train", src_ds), n_train),
        "dev": cap(loader(src, "dev", src_ds), n_dev),
        "test": cap(loader(tgt, "test", ds), n_test),
        "target_train": loader(tgt, "train", ds),
    }
    if label_set_of(data["train"]).labels != label_set_of(data["test"]).labels:
        raise ValueError(f"{pair}: the source train and target test label sets differ")
    return data


def compare_transfer(
    pair: str,
    *,
    models: Sequence[str] = ("crf",),
    seeds: Sequence[int] = (0,),
    translator: str | Translator = "apertium",
    aligners: Sequence[str] | dict[str, Aligner] = ("e5", "eflomal"),
    methods: Sequence[ProjectionConfig] = TEST_METHODS,
    train_aligner: str | Aligner = "e5",
    n_train: int = 1000,
    n_test: int | None = None,
    train_config: TrainConfig | None = None,
    loader: Callable[..., Any] = load_split,
    log: Callable[[str], None] = print,
) -> pd.DataFrame:
    """The comparison table of one pair (see the module docstring): one row per setting x method x model x seed.

    ``pair`` is ``"<source>-<target>"`` (WikiANN unless :data:`PAIRS` says otherwise); ``translator``,
    ``aligners`` and ``train_aligner`` are names or ready objects (a dict name → aligner for ``aligners``).
    """
    train_config = train_config or recipe_config()
    d = _load(pair, n_train, n_test, loader, train_config.max_eval_samples)
    src, tgt = d["src"], d["tgt"]
    mt = get_translator(translator) if isinstance(translator, str) else translator
    tokens = [list(t) for t in d["test"]["tokens"]]
    gold = tag_names(d["test"])
    t0 = time.perf_counter()
    translations = translate_sentences(tokens, mt, tgt_lang=tgt, src_lang=src)
    test_al = align_test_sentences(aligners, mt, d["target_train"], translations, tokens, src_lang=src, tgt_lang=tgt)
    projected = translate_train(d["train"], mt, src_lang=src, tgt_lang=tgt, aligner=_train_aligner(train_aligner))
    log(f"{pair}: translation, alignment and translate-train data in {time.perf_counter() - t0:.0f} s")
    log(f"{pair}: names in translation: {name_handling(tokens, gold, translations)}")
    tt_train = {"translate-train": projected.dataset, "translate-train+source": _concat(projected.dataset, d["train"])}
    rows = []
    for model in models:
        for seed in seeds:
            t0 = time.perf_counter()
            meta = {
                "pair": pair,
                "source": src,
                "target": tgt,
                "model": model,
                "seed": seed,
                "n_sentences": len(tokens),
                "n_train_sentences": len(d["train"]),
            }
            source_model = train_model(model, d["train"], d["dev"], seed=seed, train_config=train_config)
            base = source_model.predict(tokens)
            rows.append(
                meta | {"setting": "zero-shot", "method": "-", "aligner": "-"} | score_row(gold, base, None, seed)
            )
            rows[-1]["n_train_sentences"] = len(d["train"])
            res = translate_test(
                tokens, mt, source_model, test_al, methods, src_lang=src, tgt_lang=tgt, target_tagger=source_model
            )
            for run in res.runs:
                extra = {"setting": "translate-test", "method": run.method, "aligner": run.aligner}
                rows.append(
                    meta | extra | {"n_train_sentences": len(d["train"])} | score_row(gold, run.tags, base, seed)
                )
            for setting, train in tt_train.items():
                tgt_model = train_model(model, train, d["dev"], seed=seed, train_config=train_config)
                extra = {
                    "setting": setting,
                    "method": "heuristic",
                    "aligner": getattr(train_aligner, "name", train_aligner),
                }
                pred = tgt_model.predict(tokens)
                rows.append(meta | extra | {"n_train_sentences": len(train)} | score_row(gold, pred, base, seed))
            log(f"{pair} {model} seed {seed}: {time.perf_counter() - t0:.0f} s")
    df = pd.DataFrame(rows)
    return df[[c for c in COLUMNS if c in df.columns]]


def _script(word: str) -> str:
    """The Unicode script of a word's first letter (``LATIN``, ``ARABIC``, ``DEVANAGARI``), ``-`` without one."""
    import unicodedata

    return next((unicodedata.name(ch, "?").split()[0] for ch in word if ch.isalpha()), "-")


def name_handling(
    tokens: Sequence[Sequence[str]], gold: Sequence[Sequence[str]], translations: Sequence[Sequence[str]]
) -> dict[str, Any]:
    """What the translator did with the target's entity words: the share copied verbatim into the translation
    (names kept: anchors for projection) and the scripts of the translation's words (hi→ur: Apertium writes
    the names it knows in Devanagari and copies unknown ones in Arabic script)."""
    n = kept = 0
    scripts: dict[str, int] = {}
    for toks, tags, trans in zip(tokens, gold, translations, strict=True):
        bag = set(trans)
        for w, t in zip(toks, tags, strict=True):
            if t != "O" and any(ch.isalpha() for ch in w):
                n += 1
                kept += w in bag
        for w in trans:
            sc = _script(w)
            if sc != "-":
                scripts[sc] = scripts.get(sc, 0) + 1
    total = sum(scripts.values()) or 1
    return {
        "entity_words": n,
        "entity_words_kept_verbatim": kept / n if n else float("nan"),
        **{f"translation_words_{k.lower()}": v / total for k, v in sorted(scripts.items())},
    }


def _train_aligner(name: str | Aligner) -> Aligner:
    if not isinstance(name, str):
        return name
    if name == "e5":
        return e5_aligner()
    if name == "eflomal":
        return EflomalAligner()
    raise ValueError(f"unknown translate-train aligner {name!r}; expected 'e5' or 'eflomal'")


def _with_pair(df: pd.DataFrame) -> pd.DataFrame:
    """``df`` with its ``pair`` column (``<source>-<target>`` where a table has none) and ``pair_label`` for
    display: ``en→es``, or ``en→es (conll)`` for a pair named beyond its languages (two pairs of the same
    languages on different data stay apart)."""
    if "pair" not in df.columns:
        df = df.assign(pair=df.source + "-" + df.target)
    lang_pair = df.source + "-" + df.target
    extra = [
        "" if p == lp else p[len(lp) + 1 :] if p.startswith(lp + "-") else p
        for p, lp in zip(df.pair, lang_pair, strict=True)
    ]
    label = [f"{s}→{t}" + (f" ({e})" if e else "") for s, t, e in zip(df.source, df.target, extra, strict=True)]
    return df.assign(pair_label=label)


def summarise(df: pd.DataFrame, alpha: float = 0.05) -> pd.DataFrame:
    """Mean F1 over seeds per pair x model x setting x method x aligner, with the mean CI and delta bounds, and
    the number of seeds whose own paired test is significant (p < ``alpha``) in each direction (``n_better``,
    ``n_worse``): the mean p-value alone hides a seed that disagrees with the others."""
    df = _with_pair(df)
    keys = ["pair", "pair_label", "source", "target", "model", "setting", "method", "aligner"]
    num = ["f1", "f1_low", "f1_high", "delta_vs_zero_shot", "delta_low", "delta_high", "p_value"]
    num = [c for c in num if c in df.columns]
    out = df.groupby(keys, sort=False)[num].mean().reset_index()
    out.insert(len(keys), "n_seeds", df.groupby(keys, sort=False)["seed"].nunique().to_numpy())
    if "p_value" in df.columns:
        sig = df.p_value < alpha
        flags = df.assign(n_better=sig & (df.delta_vs_zero_shot > 0), n_worse=sig & (df.delta_vs_zero_shot < 0))
        counts = flags.groupby(keys, sort=False)[["n_better", "n_worse"]].sum().to_numpy()
        out["n_better"], out["n_worse"] = counts[:, 0].astype(int), counts[:, 1].astype(int)
    return out


def verdict(df: pd.DataFrame, alpha: float = 0.05) -> list[str]:
    """One plain sentence per pair and model: the best data transfer against zero-shot, with the paired CI.

    A transfer *wins* only when its paired test against zero-shot is significant (p < ``alpha``) in the same
    direction for every seed; when seeds disagree the sentence says so. (A mean of per-seed p-values is no test: on
    hi→ur it called a variant significant whose three seeds went one up and two down.) The variants counted as
    significantly better or worse follow the same rule.
    """
    lines = []
    summ = summarise(df, alpha)
    for (label, model), g in summ.groupby(["pair_label", "model"], sort=False):
        zs = g[g.setting == "zero-shot"].iloc[0]
        dt = g[g.setting != "zero-shot"].sort_values("f1", ascending=False).iloc[0]
        name = dt.setting + (f" ({dt.method}, {dt.aligner})" if dt.setting == "translate-test" else "")
        n = int(dt.n_seeds)
        if dt.n_better == n or dt.n_worse == n:
            winner = "data transfer wins" if dt.n_better == n else "model transfer wins"
            sig = f"significant in all {n} seed(s)"
        else:
            ahead = "data" if dt.delta_vs_zero_shot > 0 else "model"
            winner = f"no significant winner ({ahead} transfer ahead)"
            sig = "seeds disagree" if dt.n_better and dt.n_worse else "not significant in every seed"
        rest = g[g.setting != "zero-shot"]
        better = int((rest.n_better == rest.n_seeds).sum())
        worse = int((rest.n_worse == rest.n_seeds).sum())
        lines.append(
            f"{label}, {model}: {winner} — best data transfer {name} F1 {dt.f1:.3f} vs zero-shot "
            f"{zs.f1:.3f}, Δ {dt.delta_vs_zero_shot:+.3f} [{dt.delta_low:+.3f}, {dt.delta_high:+.3f}] "
            f"(paired bootstrap per seed, means over {n} seed(s); {sig}: significantly better in {dt.n_better}, "
            f"worse in {dt.n_worse}); of {len(rest)} data-transfer variants {better} are significantly better and "
            f"{worse} significantly worse in every seed"
        )
    return lines


def comparison_figure(df: pd.DataFrame, *, title: str = "") -> Any:
    """Per pair (panels) the F1 of each setting/method (rows) with its CI, one colour per model."""
    import matplotlib.pyplot as plt

    summ = summarise(df)
    summ["label"] = np.where(
        summ.setting == "translate-test", "tt: " + summ.method + " / " + summ.aligner, summ.setting
    )
    pairs = list(dict.fromkeys(summ.pair_label))
    models = list(dict.fromkeys(summ.model))
    with style():
        fig, axes = plt.subplots(1, len(pairs), figsize=(3.6 * len(pairs), 0.25 * summ.label.nunique() + 1.5))
        axes = np.atleast_1d(axes)
        for ax, p in zip(axes, pairs, strict=True):
            g = summ[summ.pair_label == p]
            labels = list(dict.fromkeys(g.label))
            for m, model in enumerate(models):
                gm = g[g.model == model].set_index("label").reindex(labels)
                y = np.arange(len(labels)) + (m - (len(models) - 1) / 2) * 0.3
                err = [gm.f1 - gm.f1_low, gm.f1_high - gm.f1]
                ax.errorbar(gm.f1, y, xerr=err, fmt="o", ms=3, color=PALETTE[m % len(PALETTE)], label=model)
            ax.set_yticks(np.arange(len(labels)), labels)
            ax.invert_yaxis()
            ax.set_xlabel("strict F1 (target test)")
            ax.set_title(p)
        axes[0].legend(loc="lower right")
        if title:
            fig.suptitle(title)
        fig.tight_layout()
    return fig


def read_tables(paths: Sequence[str | Path]) -> pd.DataFrame:
    """Comparison tables written by :func:`main` (``<pair>.csv``; folders: every CSV in them but ``summary.csv``),
    concatenated without their signature column."""
    files = [f for p in map(Path, paths) for f in (sorted(p.glob("*.csv")) if p.is_dir() else [p])]
    files = [f for f in files if f.name != "summary.csv"]
    if not files:
        raise FileNotFoundError(f"no comparison tables (<pair>.csv) in {[str(p) for p in paths]}")
    missing = [str(f) for f in files if not f.is_file()]
    if missing:
        raise FileNotFoundError(f"comparison tables not found: {missing}")
    tables = []
    for f in files:
        t = pd.read_csv(f)
        if "pair" not in t.columns:  # tables written before the column: the pair is the file's name
            t.insert(0, "pair", f.stem)
        tables.append(t)
    return pd.concat(tables, ignore_index=True).drop(columns=["signature"], errors="ignore")


def write_summary(tables: Sequence[str | Path], summary: str | Path, figure: str | Path) -> list[Path]:
    """The tables of several pairs → ``summary`` (:func:`summarise`, with signature), the verdicts beside it
    (``<summary stem>.txt``) and the figure (``<figure>.pdf`` / ``.png``); returns the files written."""
    df = read_tables(tables)
    sig = signature(
        data="datatransfer",
        split="test",
        languages=sorted(set(df.source) | set(df.target)),
        model=sorted(set(df.model)),
        seed=sorted(int(s) for s in set(df.seed)),
        mode="strict",
        stage="datatransfer",
    )
    path = write_table(summarise(df), summary, sig)
    lines = verdict(df)
    text = path.with_suffix(".txt")
    text.write_text("\n".join(lines) + "\n", encoding="utf-8")
    for line in lines:
        print(line)
    return [path, text, *save_figure(comparison_figure(df, title="Data transfer vs model transfer"), figure)]


def main(argv: Sequence[str] | None = None) -> None:
    """Command line: run :func:`compare_transfer` on pairs and write ``<out>/<pair>.csv`` with signature; or, with
    ``--summarise``, read such tables and write the summary, verdicts and figure (:func:`write_summary`)."""
    ap = argparse.ArgumentParser(prog="python -m xner.projection.compare", description=__doc__.split("\n")[0])
    todo = ap.add_mutually_exclusive_group(required=True)
    todo.add_argument("--pair", nargs="+", help=f"<source>-<target>, e.g. {' '.join(PAIRS)}")
    todo.add_argument("--summarise", nargs="+", metavar="TABLE", help="<pair>.csv tables or folders holding them")
    ap.add_argument("--models", nargs="+", default=["crf"])
    ap.add_argument("--seeds", nargs="+", type=int, default=[0])
    ap.add_argument("--aligners", nargs="+", default=["e5", "eflomal"])
    ap.add_argument("--n-train", type=int, default=1000)
    ap.add_argument("--n-test", type=int, default=None)
    ap.add_argument("--out", default="results/datatransfer")
    ap.add_argument("--threads", type=int, default=None, help="torch CPU threads (alignment, encoder; default: all)")
    ap.add_argument("--summary", default="results/datatransfer/summary.csv", help="with --summarise: the table")
    ap.add_argument("--figure", default="figures/paper/datatransfer", help="with --summarise: figure stem")
    args = ap.parse_args(argv)
    if args.summarise:
        for path in write_summary(args.summarise, args.summary, args.figure):
            print(f"wrote {path}")
        return
    if args.threads:
        # the whole run, not only the encoder's training: the e5 aligner runs before any training and would
        # otherwise take every CPU (the workflow promises --threads)
        import torch

        torch.set_num_threads(args.threads)
    cfg = recipe_config(num_threads=args.threads)
    for pair in args.pair:
        df = compare_transfer(
            pair,
            models=args.models,
            seeds=args.seeds,
            aligners=args.aligners,
            n_train=args.n_train,
            n_test=args.n_test,
            train_config=cfg,
        )
        src, tgt = df.source.iloc[0], df.target.iloc[0]
        sig = signature(
            data=PAIRS.get(pair, (src, tgt, "wikiann", "wikiann"))[2:],
            split="test",
            languages=[src, tgt],
            model=args.models,
            seed=args.seeds,
            mode="strict",
            stage="datatransfer",
            translator="apertium",
            n_train=args.n_train,
        )
        path = write_table(df, Path(args.out) / f"{pair}.csv", sig)
        print(f"wrote {path}")
        for line in verdict(df):
            print(line)


if __name__ == "__main__":
    main()
