"""Intrinsic evaluation of projection on parallel gold: project the source gold labels onto the target
sentences and score them against the target gold (strict span F1, per type, bootstrap CI).

Europarl en→es (Agerri et al. 2018) is the default parallel gold (:func:`load_europarl`); any other pair of
line-parallel CoNLL/TSV files a user has loads with :func:`read_parallel_gold` and scores with the same
:func:`evaluate_methods`.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from xner.data import load_split, read_conll, tag_names
from xner.figures import style
from xner.metrics import bootstrap_ci, score
from xner.modeling.crf import CRFTagger, train_crf
from xner.modeling.predict import NERModel
from xner.projection.align import (
    Aligner,
    Alignment,
    EflomalAligner,
    StringAligner,
    awesome_aligner,
    check_parallel,
    e5_aligner,
    simalign_aligner,
)
from xner.projection.candidates import Predictor
from xner.projection.project import CorpusProjection, ProjectionConfig, project_corpus
from xner.projection.translate import Translator, parallel_by_translation


@dataclass
class ParallelGold:
    """Line-parallel labelled sentences in two languages."""

    src_tokens: list[list[str]]
    src_tags: list[list[str]]
    tgt_tokens: list[list[str]]
    tgt_tags: list[list[str]]
    src_lang: str
    tgt_lang: str
    name: str = "parallel"

    def __post_init__(self) -> None:
        check_parallel(self.src_tokens, self.tgt_tokens, what=self.name)

    def __len__(self) -> int:
        return len(self.src_tokens)

    def subset(self, indices: Sequence[int], name: str | None = None) -> ParallelGold:
        """The sentences at ``indices`` (e.g. a development half), in that order."""
        pick = list(indices)
        return ParallelGold(
            [self.src_tokens[k] for k in pick],
            [self.src_tags[k] for k in pick],
            [self.tgt_tokens[k] for k in pick],
            [self.tgt_tags[k] for k in pick],
            self.src_lang,
            self.tgt_lang,
            name or f"{self.name}[{len(pick)}]",
        )


def read_parallel_gold(src_path: str | Path, tgt_path: str | Path, *, src_lang: str, tgt_lang: str) -> ParallelGold:
    """Read two line-parallel CoNLL/TSV files (sentence i of one translates sentence i of the other).

    Raises ``ValueError`` naming both files when their sentence counts differ, and naming the sentence when
    one side is empty.
    """
    a = read_conll(src_path, lang=src_lang)
    b = read_conll(tgt_path, lang=tgt_lang)
    if len(a) != len(b):
        raise ValueError(
            f"{src_path} holds {len(a)} sentences but {tgt_path} holds {len(b)}: parallel gold files must hold "
            "the same sentences in the same order"
        )
    return ParallelGold(
        [list(t) for t in a["tokens"]],
        tag_names(a),
        [list(t) for t in b["tokens"]],
        tag_names(b),
        src_lang,
        tgt_lang,
        f"{Path(src_path).name}->{Path(tgt_path).name}",
    )


def load_europarl(src_lang: str = "en", tgt_lang: str = "es") -> ParallelGold:
    """The Europarl NER parallel gold (799 sentences) from ``XNER_DATA_DIR/europarl/<lang>.tsv``."""
    a = load_split(src_lang, "test", dataset="europarl")
    b = load_split(tgt_lang, "test", dataset="europarl")
    if len(a) != len(b):
        raise ValueError(f"europarl/{src_lang}.tsv has {len(a)} sentences but europarl/{tgt_lang}.tsv has {len(b)}")
    return ParallelGold(
        [list(t) for t in a["tokens"]],
        tag_names(a),
        [list(t) for t in b["tokens"]],
        tag_names(b),
        src_lang,
        tgt_lang,
        f"europarl-{src_lang}-{tgt_lang}",
    )


def score_projection(
    gold: Sequence[Sequence[str]], pred: Sequence[Sequence[str]], *, seed: int = 0, n_resamples: int = 1000
) -> dict[str, Any]:
    """Strict P/R/F1 with a bootstrap CI, lenient F1, and strict F1 per type, as a flat dictionary."""
    strict = score(gold, pred, mode="strict")
    lenient = score(gold, pred, mode="lenient")
    ci = bootstrap_ci(gold, pred, n_resamples=n_resamples, seed=seed)
    row: dict[str, Any] = {
        "precision": strict.precision,
        "recall": strict.recall,
        "f1": strict.f1,
        "f1_low": ci.low,
        "f1_high": ci.high,
        "lenient_f1": lenient.f1,
        "n_gold": strict.n_gold,
        "n_pred": strict.n_pred,
        "n_correct": strict.n_correct,
    }
    for typ, s in sorted(strict.per_type.items()):
        row[f"f1_{typ}"] = s.f1
    return row


def evaluate_methods(
    gold: ParallelGold,
    alignments: dict[str, Sequence[Alignment]],
    methods: Sequence[ProjectionConfig],
    *,
    align_seconds: dict[str, float] | None = None,
    aligner_free: Sequence[str] = ("mark",),
    seed: int = 0,
    **resources: Any,
) -> tuple[pd.DataFrame, dict[tuple[str, str], CorpusProjection]]:
    """Score every method with every set of alignments on parallel gold; one row per (aligner, method).

    ``alignments`` maps an aligner name to its alignments of ``gold``; methods listed in ``aligner_free``
    (mark-then-translate) do not use them and run once (aligner ``"-"``). ``resources`` go to
    :func:`~xner.projection.project.project_corpus` (predictor, translator, scorer, mono_aligner).
    """
    rows = []
    runs: dict[tuple[str, str], CorpusProjection] = {}
    jobs: list[tuple[str, ProjectionConfig]] = []
    for cfg in methods:
        if cfg.method in aligner_free:
            jobs.append(("-", cfg))
        else:
            jobs.extend((name, cfg) for name in alignments)
    for name, cfg in jobs:
        links = alignments.get(name) if name != "-" else None
        res = project_corpus(
            gold.src_tokens,
            gold.src_tags,
            gold.tgt_tokens,
            cfg,
            alignments=links,
            src_lang=gold.src_lang,
            tgt_lang=gold.tgt_lang,
            **resources,
        )
        label = method_label(cfg)
        runs[(name, label)] = res
        row = {
            "data": gold.name,
            "source": gold.src_lang,
            "target": gold.tgt_lang,
            "aligner": name,
            "method": label,
            "n_sentences": len(gold),
            **score_projection(gold.tgt_tags, res.tags, seed=seed),
            "source_entities": res.report.n_source_entities,
            "projected": res.report.projected,
            "split": res.report.split,
            "dropped": res.report.dropped,
            "seconds_align": (align_seconds or {}).get(name, float("nan")),
            "seconds_project": res.timings.get("total", float("nan")),
            "matching_gap": res.matching.gap if res.matching else float("nan"),
            "matching_differ": res.matching.n_different if res.matching else float("nan"),
        }
        rows.append(row)
    return pd.DataFrame(rows), runs


def method_label(cfg: ProjectionConfig) -> str:
    """A table label naming the method and the settings that differ from the defaults."""
    default = ProjectionConfig(method=cfg.method, solver=cfg.solver)
    changed = [
        f"{k}={getattr(cfg, k)}"
        for k in (
            "merge_distance",
            "length_ratio_threshold",
            "max_ngram",
            "min_score",
            "dice_weight",
            "string_weight",
            "likelihood_weight",
            "refine_mode",
        )
        if getattr(cfg, k) != getattr(default, k)
    ]
    return cfg.label + (f" ({', '.join(changed)})" if changed else "")


def align_all(aligners: dict[str, Aligner], gold: ParallelGold) -> tuple[dict[str, list[Alignment]], dict[str, float]]:
    """Run each aligner on the gold corpus; return alignments and seconds per aligner."""
    out, secs = {}, {}
    for name, aligner in aligners.items():
        t0 = time.perf_counter()
        out[name] = aligner.align(gold.src_tokens, gold.tgt_tokens)
        secs[name] = time.perf_counter() - t0
    return out, secs


ALIGNER_NAMES = ("eflomal", "eflomal+mt", "e5-small", "simalign", "awesome", "string")


def build_aligner(name: str, gold: ParallelGold | None = None, translator: Translator | None = None) -> Aligner:
    """An aligner by name, as the notebook and the benchmark use them.

    ``eflomal`` fits on the corpus alone; ``eflomal+mt`` also on a translator's translations of both sides of
    ``gold`` (machine-made parallel text, no labels); ``e5-small`` is the SimAlign-style aligner over the
    offline multilingual-e5-small (layer 8, IterMax); ``simalign`` / ``awesome`` use mBERT (hub);
    ``string`` links similar words only.
    """
    if name == "eflomal":
        return EflomalAligner()
    if name == "eflomal+mt":
        if gold is None or translator is None:
            raise ValueError("aligner 'eflomal+mt' needs the corpus (gold=...) and a translator")
        xs1, xt1, _ = parallel_by_translation(gold.src_tokens, translator, gold.src_lang, gold.tgt_lang)
        xt2, xs2, _ = parallel_by_translation(gold.tgt_tokens, translator, gold.tgt_lang, gold.src_lang)
        return EflomalAligner(extra_src=xs1 + xs2, extra_tgt=xt1 + xt2, name="eflomal+mt")
    if name == "e5-small":
        return e5_aligner(layer=8, extraction="itermax")
    if name == "simalign":
        return simalign_aligner()
    if name == "awesome":
        return awesome_aligner()
    if name == "string":
        return StringAligner()
    raise ValueError(f"unknown aligner {name!r}; expected one of {ALIGNER_NAMES}")


def load_predictor(spec: str | None, lang: str) -> Predictor | None:
    """A NER predictor on the target language for model candidates.

    ``None``: none (the ``model`` method is then unavailable); ``"crf:<dataset>"``: a CRF trained on that
    dataset's ``lang`` train split (e.g. ``"crf:conll2002"``); a folder: a CRF saved by
    :meth:`xner.modeling.crf.CRFTagger.save`, or a fine-tuned token-classification checkpoint.
    """
    if spec is None:
        return None
    if spec.startswith("crf:"):
        return train_crf(load_split(lang, "train", dataset=spec[4:])).predict
    path = Path(spec)
    if (path / "crf_config.json").is_file():
        return CRFTagger.load(path).predict
    return NERModel.load(path).predict


def plot_projection_f1(table: pd.DataFrame, *, title: str = "Projection on parallel gold") -> Any:
    """Bar chart of strict span F1 (with bootstrap CI) per method, one bar per aligner; returns the figure."""
    import matplotlib.pyplot as plt

    with style():
        methods = list(dict.fromkeys(table["method"]))
        aligners = list(dict.fromkeys(table["aligner"]))
        fig, ax = plt.subplots(figsize=(max(4.0, 0.9 * len(methods) + 1.5), 3.0))
        width = 0.8 / max(1, len(aligners))
        colours = {a: f"C{i}" for i, a in enumerate(aligners)}
        labelled: set[str] = set()
        for m_i, m in enumerate(methods):
            sub = table[table["method"] == m]
            present = [a for a in aligners if a in set(sub["aligner"])]
            for k, aligner in enumerate(present):
                r = sub[sub["aligner"] == aligner].iloc[0]
                x = m_i + (k - (len(present) - 1) / 2) * width
                name = aligner if aligner != "-" else "none (translation)"
                ax.bar(
                    x,
                    r["f1"],
                    width=width,
                    color=colours[aligner],
                    yerr=[[r["f1"] - r["f1_low"]], [r["f1_high"] - r["f1"]]],
                    capsize=2,
                    label=None if aligner in labelled else name,
                )
                labelled.add(aligner)
        ax.set_xticks(range(len(methods)))
        ax.set_xticklabels(methods, rotation=30, ha="right")
        ax.set_ylabel("strict span F1")
        ax.set_ylim(0, 1)
        ax.set_title(title)
        ax.legend(title="aligner", loc="upper left", bbox_to_anchor=(1.01, 1.0))
        fig.tight_layout()
    return fig
