"""Translate-train data: translate a labelled source training set, project its labels, write a dataset.

:func:`translate_train` translates each sentence (any :class:`~xner.projection.translate.Translator`),
projects the labels with a projection method — the alignment heuristic or matching over an
:class:`~xner.projection.align.Aligner`'s alignments, or mark-then-translate (``method="mark"``), which
needs no aligner — and returns a standard ``datasets.Dataset`` (same label set as the source) with a
report of entities projected, split and dropped. :func:`write_translate_train` writes it as a CoNLL file
(``train.tsv``, via :func:`xner.data.write_conll`), a ``datasets`` folder (``save_to_disk``) and
``projection_report.json``; the training stage trains on either.

A sentence whose translation is empty is left out of the dataset, and counted (with its entities) in the
report; nothing else is left out.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import datasets

from xner.data import from_lists, label_set_of, tag_names, write_conll
from xner.projection.align import Aligner
from xner.projection.mark import mark_then_translate
from xner.projection.project import ProjectionConfig, project_corpus
from xner.projection.spans import ProjectionReport, entities_from_tags
from xner.projection.translate import Translator
from xner.projection.translate_test import strip_unknown_marks


@dataclass
class TranslateTrainResult:
    """The projected target dataset, its report, and what was left out."""

    dataset: datasets.Dataset
    report: ProjectionReport
    source_indices: list[int]
    empty_translations: list[int] = field(default_factory=list)
    entities_in_empty: int = 0
    timings: dict[str, float] = field(default_factory=dict)
    settings: dict[str, Any] = field(default_factory=dict)

    def report_dict(self) -> dict[str, Any]:
        """The projection report plus the sentences left out, JSON-ready."""
        return {
            **self.report.as_dict(),
            "n_source_sentences": len(self.source_indices) + len(self.empty_translations),
            "n_target_sentences": len(self.dataset),
            "empty_translations": len(self.empty_translations),
            "entities_in_empty_translations": self.entities_in_empty,
            "seconds": self.timings,
            "settings": self.settings,
        }


def translate_train(
    ds: datasets.Dataset,
    translator: Translator,
    *,
    src_lang: str,
    tgt_lang: str,
    aligner: Aligner | None = None,
    config: ProjectionConfig | None = None,
    max_sentences: int | None = None,
) -> TranslateTrainResult:
    """Translate ``ds`` into ``tgt_lang`` and project its labels (see the module docstring)."""
    cfg = config or ProjectionConfig()
    n = len(ds) if max_sentences is None else min(len(ds), max_sentences)
    if n == 0:
        raise ValueError("the source dataset is empty")
    part = ds.select(range(n))
    tokens = [list(t) for t in part["tokens"]]
    tags = tag_names(part)
    for k, t in enumerate(tokens):
        if not t:
            raise ValueError(f"source sentence {k} is empty")
    label_set = label_set_of(ds)
    timings: dict[str, float] = {}
    settings = {
        "translator": translator.key,
        "source": src_lang,
        "target": tgt_lang,
        "method": cfg.label,
        "aligner": getattr(aligner, "name", None),
        "n_sentences": n,
    }
    t0 = time.perf_counter()
    if cfg.method == "mark":
        marked = mark_then_translate(tokens, tags, translator, src_lang, tgt_lang)
        timings["translate+mark"] = time.perf_counter() - t0
        keep = [k for k, m in enumerate(marked) if m.tokens]
        empty = [k for k, m in enumerate(marked) if not m.tokens]
        out_tokens = [marked[k].tokens for k in keep]
        out_tags = [marked[k].tags for k in keep]
        outcomes = [o for k in keep for o in marked[k].outcomes]
        report = ProjectionReport.from_outcomes(outcomes, len(keep))
    else:
        if aligner is None:
            raise ValueError(f"projection method {cfg.method!r} needs an aligner (or use method='mark')")
        # unknown-word marks and tokens of invisible characters only (ZWNJ from Apertium hin-urd) are no words
        translated = [strip_unknown_marks(t) for t in translator.translate_tokens(tokens, src_lang, tgt_lang)]
        timings["translate"] = time.perf_counter() - t0
        keep = [k for k, t in enumerate(translated) if t]
        empty = [k for k, t in enumerate(translated) if not t]
        src_t = [tokens[k] for k in keep]
        src_g = [tags[k] for k in keep]
        out_tokens = [translated[k] for k in keep]
        t0 = time.perf_counter()
        links = aligner.align(src_t, out_tokens)
        timings["align"] = time.perf_counter() - t0
        res = project_corpus(
            src_t,
            src_g,
            out_tokens,
            cfg,
            alignments=links,
            translator=translator,
            src_lang=src_lang,
            tgt_lang=tgt_lang,
        )
        timings.update({f"project:{k}": v for k, v in res.timings.items()})
        out_tags = res.tags
        report = res.report
    dataset = from_lists(out_tokens, out_tags, lang=tgt_lang, label_set=label_set)
    in_empty = sum(len(entities_from_tags(tags[k])) for k in empty)
    return TranslateTrainResult(dataset, report, keep, empty, in_empty, timings, settings)


def write_translate_train(
    result: TranslateTrainResult, out_dir: str | Path, *, signature: dict[str, Any] | None = None
) -> dict[str, Path]:
    """Write ``train.tsv`` (CoNLL), ``dataset/`` (``save_to_disk``) and ``projection_report.json``."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = {
        "conll": write_conll(result.dataset, out / "train.tsv"),
        "dataset": out / "dataset",
        "report": out / "projection_report.json",
    }
    result.dataset.save_to_disk(str(paths["dataset"]))
    payload = {"report": result.report_dict(), "signature": signature or {}}
    paths["report"].write_text(json.dumps(payload, indent=2, default=str) + "\n", encoding="utf-8")
    return paths


def projected_counts(results: Sequence[TranslateTrainResult]) -> list[dict[str, Any]]:
    """Flat rows of the main counts of several translate-train runs (for a table)."""
    rows = []
    for r in results:
        d = r.report_dict()
        rows.append(
            {
                k: d[k]
                for k in (
                    "n_source_sentences",
                    "n_target_sentences",
                    "n_source_entities",
                    "projected",
                    "split",
                    "dropped",
                    "empty_translations",
                )
            }
            | r.settings
        )
    return rows
